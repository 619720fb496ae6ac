using Iced.Intel;
using Xtf.Guest;

namespace Xtf.Guest.Tests;

/// <summary>The code region decodes cleanly, and its control flow stays inside the image.</summary>
[TestFixture]
public sealed class CodeDecodeTests
{
    /// <summary>Hypercall numbers Xen 4.17 fills stubs for and this suite may use.</summary>
    private const int HypercallLimit = 56;

    [TestCaseSource(typeof(Kernels), nameof(Kernels.CaseNames))]
    public void EveryInstructionDecodes(string name)
    {
        var k = new LoadedKernel(Kernels.Get(name));
        var code = k.Decode();
        Assert.That(code, Is.Not.Empty);
        var invalid = code.Where(i => i.Code == Code.INVALID).Select(i => $"0x{i.IP:x}").ToList();
        Assert.That(invalid, Is.Empty, "undecodable bytes in the code region");
        Assert.That(code[^1].NextIP, Is.EqualTo(k.Image.CodeBase + (ulong)k.Image.CodeSize),
            "the last instruction ends exactly at the end of the code");
        Assert.That(code[^1].Code, Is.EqualTo(Code.Ud2), "nothing falls off the end of the code");
    }

    [TestCaseSource(typeof(Kernels), nameof(Kernels.CaseNames))]
    public void HypercallsTargetStubBoundaries(string name)
    {
        var k = new LoadedKernel(Kernels.Get(name));
        // Calls, and jmps for hypercalls that do not return (iret from an event callback).
        var calls = k.Decode()
            .Where(i => i.FlowControl is FlowControl.Call or FlowControl.UnconditionalBranch && i.Op0Kind == OpKind.NearBranch64)
            .Where(i => i.NearBranchTarget >= GuestLayout.HypercallPage &&
                        i.NearBranchTarget < GuestLayout.HypercallPage + GuestLayout.PageSize)
            .ToList();
        Assert.That(calls, Is.Not.Empty, "a kernel makes hypercalls");
        var numbers = new HashSet<int>();
        foreach (var call in calls)
        {
            ulong offset = call.NearBranchTarget - GuestLayout.HypercallPage;
            Assert.That(offset % GuestLayout.StubSize, Is.Zero, $"call at 0x{call.IP:x} lands inside a stub (0x{call.NearBranchTarget:x})");
            int nr = (int)(offset / GuestLayout.StubSize);
            Assert.That(nr, Is.LessThan(HypercallLimit), $"call at 0x{call.IP:x}: hypercall {nr}");
            numbers.Add(nr);
        }
        // Every kernel installs its trap table, writes to the console and shuts down.
        Assert.That(numbers, Is.SupersetOf(new[]
        {
            (int)Abi.Hypercall.SetTrapTable, (int)Abi.Hypercall.ConsoleIo, (int)Abi.Hypercall.SchedOp,
        }));
    }

    [TestCaseSource(typeof(Kernels), nameof(Kernels.CaseNames))]
    public void BranchesStayInsideTheCode(string name)
    {
        var k = new LoadedKernel(Kernels.Get(name));
        var code = k.Decode();
        var starts = code.Select(i => i.IP).ToHashSet();
        foreach (var i in code)
        {
            if (i.Op0Kind != OpKind.NearBranch64) continue;
            ulong t = i.NearBranchTarget;
            bool stub = t >= GuestLayout.HypercallPage && t < GuestLayout.HypercallPage + GuestLayout.PageSize;
            if (stub)
            {
                Assert.That(i.FlowControl, Is.EqualTo(FlowControl.Call).Or.EqualTo(FlowControl.UnconditionalBranch),
                    $"0x{i.IP:x}: only calls and jmps (iret) go to the hypercall page");
                Assert.That((t - GuestLayout.HypercallPage) % GuestLayout.StubSize, Is.Zero, $"0x{i.IP:x}: lands inside a stub");
                continue;
            }
            Assert.That(starts, Does.Contain(t), $"0x{i.IP:x} {i}: target 0x{t:x} is not an instruction start in the code");
        }
        Assert.That(code.Any(i => i.FlowControl == FlowControl.IndirectBranch || i.FlowControl == FlowControl.IndirectCall),
            Is.False, "the generator emits no indirect jumps or calls");
    }

    [TestCaseSource(typeof(Kernels), nameof(Kernels.CaseNames))]
    public void PrologueSavesStartInfoThenSwitchesStacks(string name)
    {
        var k = new LoadedKernel(Kernels.Get(name));
        var code = k.Decode();
        var first = code[0];
        Assert.That(first.IP, Is.EqualTo(k.Image.Symbols["rt_entry"]));
        Assert.Multiple(() =>
        {
            Assert.That(first.Code, Is.EqualTo(Code.Mov_rm64_r64), first.ToString());
            Assert.That(first.Op0Kind, Is.EqualTo(OpKind.Memory));
            Assert.That(first.Op1Register, Is.EqualTo(Register.RSI), "start_info arrives in rsi");
            Assert.That(first.MemoryBase, Is.EqualTo(Register.None).Or.EqualTo(Register.RIP));
            Assert.That(first.MemoryIndex, Is.EqualTo(Register.None));
            ulong slot = LoadedKernel.MemoryAddress(first);
            Assert.That(slot, Is.InRange(GuestLayout.DataBase, k.Image.CodeBase - 8), "the start_info variable is in data");
            Assert.That(slot % 8, Is.Zero);
            Assert.That(k.U64(slot), Is.Zero, "start_info starts zeroed");
        });

        // Then Xen's rsp is kept (BootStackPointer) and rsp moves to the kernel stack, which lies
        // in data, before anything is pushed.
        var saved = code[1];
        Assert.That((saved.Code, saved.Op1Register), Is.EqualTo((Code.Mov_rm64_r64, Register.RSP)), saved.ToString());
        Assert.That(LoadedKernel.MemoryAddress(saved), Is.InRange(GuestLayout.DataBase, k.Image.CodeBase - 8), "the boot rsp variable is in data");
        var second = code[2];
        Assert.That(second.Op0Register, Is.EqualTo(Register.ESP).Or.EqualTo(Register.RSP), second.ToString());
        Assert.That(second.Op1Kind, Is.EqualTo(OpKind.Immediate32).Or.EqualTo(OpKind.Immediate64).Or.EqualTo(OpKind.Immediate32to64));
        ulong top = second.GetImmediate(1);
        Assert.That(top % 16, Is.Zero, "the stack top is 16-byte aligned");
        Assert.That(top, Is.InRange(GuestLayout.DataBase + (ulong)GuestLayout.StackSize, k.Image.CodeBase));
        Assert.That(code.Take(3).Any(i => i.StackPointerIncrement != 0), Is.False);
    }

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

    [TestCaseSource(typeof(Kernels), nameof(Kernels.CaseNames))]
    public void PrologueChecksTheHypercallPageBeforeAnyCall(string name)
    {
        var code = new LoadedKernel(Kernels.Get(name)).Decode();
        int firstCall = code.FindIndex(i => i.FlowControl == FlowControl.Call);
        int load = code.FindIndex(i => i.Code is Code.Mov_r64_rm64 or Code.Mov_RAX_moffs64 && i.Op0Register == Register.RAX &&
                                      i.Op1Kind == OpKind.Memory && LoadedKernel.MemoryAddress(i) == GuestLayout.HypercallPage);
        Assert.That(load, Is.GreaterThanOrEqualTo(0), "the prologue reads the first stub");
        Assert.That(load, Is.LessThan(firstCall), "before the first call into the page");
        var cmp = code.Skip(load).First(i => i.Mnemonic == Mnemonic.Cmp);
        var jne = code[code.IndexOf(cmp) + 1];
        Assert.That(jne.ConditionCode, Is.EqualTo(ConditionCode.ne));
        var mov = code.Take(code.IndexOf(cmp)).Last(i => i.Mnemonic == Mnemonic.Mov && i.Op0Kind == OpKind.Register &&
                                                         (i.Op0Register == Register.ECX || i.Op0Register == Register.RCX));
        Assert.That(mov.GetImmediate(1), Is.EqualTo(GuestLayout.FilledStub0));
        Assert.That(BitConverter.GetBytes(GuestLayout.FilledStub0), Is.EqualTo(new byte[] { 0x51, 0x41, 0x53, 0xb8, 0, 0, 0, 0 }),
            "push rcx; push r11; mov eax, 0 (Xen's stub 0)");
    }

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
        var image = Kernels.Build(g =>
        {
            var x = g.Var("x");
            var cb = g.EventCallback("cb", () =>
            {
                g.Set(x, x + 1);
                g.If(x == 2, () => g.Print("two %d\n", x));
            });
            g.SetEventCallback(cb);
            g.Success();
        });
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
