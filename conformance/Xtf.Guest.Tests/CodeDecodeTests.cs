using Iced.Intel;
using Xtf.Guest;

namespace Xtf.Guest.Tests;

/// <summary>The code region decodes cleanly, and its control flow stays inside the image.</summary>
[TestFixture]
public sealed class CodeDecodeTests
{
    [TestCaseSource(typeof(Kernels), nameof(Kernels.CorpusNames))]
    public void EveryInstructionDecodes(string name) =>
        CodeDecodeChecks.EveryInstructionDecodes(Kernels.Corpus(name));

    [TestCaseSource(typeof(Kernels), nameof(Kernels.CorpusNames))]
    public void HypercallsTargetStubBoundaries(string name) =>
        CodeDecodeChecks.HypercallsTargetStubBoundaries(Kernels.Corpus(name));

    [TestCaseSource(typeof(Kernels), nameof(Kernels.CorpusNames))]
    public void BranchesStayInsideTheCode(string name) =>
        CodeDecodeChecks.BranchesStayInsideTheCode(Kernels.Corpus(name));

    [TestCaseSource(typeof(Kernels), nameof(Kernels.CorpusNames))]
    public void PrologueSavesStartInfoThenSwitchesStacks(string name) =>
        CodeDecodeChecks.PrologueSavesStartInfoThenSwitchesStacks(Kernels.Corpus(name));

    [Test]
    public void PrologueStoresRsiIntoTheStartInfoVariable()
    {
        ulong startInfo = 0;
        var k = new LoadedKernel(Kernels.Build(g =>
        {
            startInfo = g.StartInfo.Address;
            g.Success();
        }));
        Assert.That(FirstStoreAddress(k), Is.EqualTo(startInfo));

        static ulong FirstStoreAddress(LoadedKernel k)
        {
            var first = k.Decode()[0];
            Assert.That(first.Code, Is.EqualTo(Code.Mov_rm64_r64));
            Assert.That(first.Op1Register, Is.EqualTo(Register.RSI));
            return LoadedKernel.MemoryAddress(first);
        }
    }

    [TestCaseSource(typeof(Kernels), nameof(Kernels.CorpusNames))]
    public void PrologueChecksTheHypercallPageBeforeAnyCall(string name) =>
        CodeDecodeChecks.PrologueChecksTheHypercallPageBeforeAnyCall(Kernels.Corpus(name));

    [Test]
    public void CallsToHypercallNumbersOutsideThePageAreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.Build(g => g.Hypercall((Abi.Hypercall)128)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.Build(g => g.Hypercall((Abi.Hypercall)(-1))));
        Assert.Throws<ArgumentException>(() => Kernels.Build(g => g.Hypercall(Abi.Hypercall.XenVersion, 1, 2, 3, 4, 5, 6)));
    }

    [Test]
    public void HypercallArgumentsGoToTheXenRegisters()
    {
        // xen_version(cmd, arg) through stub 17: rdi, rsi; five arguments use rdi, rsi, rdx, r10, r8.
        var k = new LoadedKernel(Kernels.Build(g =>
        {
            var v = g.Var("v", 5);
            g.Hypercall(Abi.Hypercall.MmuextOp, v, 0x11, v + 1, 0x33, v + 2);
            g.Success();
        }));
        var code = k.Decode();
        int call = code.FindIndex(i => i.FlowControl == FlowControl.Call && i.NearBranchTarget == GuestLayout.StubAddress((int)Abi.Hypercall.MmuextOp));
        Assert.That(call, Is.Positive);
        // The instructions between the argument evaluation and the call write exactly the five argument registers.
        var tail = code.Take(call).Reverse().TakeWhile(i => i.Mnemonic is Mnemonic.Pop or Mnemonic.Mov or Mnemonic.Xor).ToList();
        var written = tail.Select(i => i.Op0Register.GetFullRegister()).ToHashSet();
        Assert.That(written, Is.EquivalentTo(new[] { Register.RDI, Register.RSI, Register.RDX, Register.R10, Register.R8 }));
    }

    [Test]
    public void EventCallbackLeavesAnIretFrameForTheIretStub()
    {
        // Xen's event frame is rcx, r11, rip, cs, rflags, rsp, ss. The iret stub pushes rcx, r11, rax
        // itself, so at the jmp the callback must have dropped rcx and r11 and pushed the iret flags:
        // rsp is 8 above its value at entry, and every register it saved is restored.
        var image = Kernels.Corpus("event-callback");
        var k = new LoadedKernel(image);
        var code = k.Decode();
        int at = code.FindIndex(i => i.IP == image.Symbols["cb"]);
        Assert.That(at, Is.GreaterThanOrEqualTo(0));
        int delta = 0, jmpAt = -1;
        for (int n = at; n < code.Count; n++)
        {
            var ins = code[n];
            if (ins.FlowControl == FlowControl.UnconditionalBranch &&
                ins.NearBranchTarget == GuestLayout.StubAddress((int)Abi.Hypercall.Iret)) { jmpAt = n; break; }
            Assert.That(ins.FlowControl, Is.Not.EqualTo(FlowControl.Return), $"0x{ins.IP:x}: a callback must not ret");
            if (ins.FlowControl != FlowControl.Call) delta += ins.StackPointerIncrement;   // callees are balanced
        }
        Assert.That(jmpAt, Is.Positive, "ends in a jmp to the iret stub");
        Assert.That(delta, Is.EqualTo(8), "rcx and r11 popped, the iret flags pushed");

        var saves = code.Skip(at).TakeWhile(i => i.Mnemonic == Mnemonic.Push).Select(i => i.Op0Register).ToList();
        var tail = code.Take(jmpAt).Reverse().ToList();
        Assert.That(tail[0].Mnemonic, Is.EqualTo(Mnemonic.Push), "the iret flags");
        Assert.That(tail[0].GetImmediate(0), Is.Zero, "flags 0: not returning from a syscall");
        Assert.That(tail.Skip(1).Take(2).Select(i => (i.Mnemonic, i.Op0Register)),
            Is.EqualTo(new[] { (Mnemonic.Pop, Register.R11), (Mnemonic.Pop, Register.RCX) }), "rcx, r11 of Xen's frame");
        var restores = tail.Skip(3).Take(saves.Count).ToList();
        Assert.That(restores.Select(i => i.Mnemonic), Has.All.EqualTo(Mnemonic.Pop));
        Assert.That(restores.Select(i => i.Op0Register), Is.EqualTo(saves), "saved registers restored in reverse order");
        Assert.That(saves, Does.Contain(Register.RAX).And.Contain(Register.RDI).And.Contain(Register.RSI)
            .And.Contain(Register.RDX).And.Contain(Register.R8).And.Contain(Register.R10),
            "the registers generated code and runtime calls clobber");
    }
}
