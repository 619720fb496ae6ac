using Iced.Intel;
using Xtf.Sim.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static Xtf.Sim.Tests.Cpu.TestMachine;

namespace Xtf.Sim.Tests.Cpu;

/// <summary>The decode cache: self-modifying code, external writes, aliases, page-crossing instructions, unknown instructions.</summary>
[Parallelizable(ParallelScope.All)]
public sealed class CodeCacheTests
{
    [Test]
    public void SelfModifyingCodeRunsTheNewInstruction()
    {
        var m = new TestMachine(codeFlags: P | RW | US);
        m.Load((a, t) =>
        {
            var loop = t.Label(a, "patch");
            a.mov(ecx, 2);
            a.xor(ebx, ebx);
            t.Mark(a, "patch");
            a.mov(eax, 1);                          // B8 imm32: the immediate is at patch + 1
            a.add(ebx, eax);
            a.lea(rdx, __[t.Label(a, "patch")]);
            a.mov(__byte_ptr[rdx + 1], 5);          // now "mov eax, 5"
            a.dec(ecx);
            a.jnz(loop);
            a.int3();
        });
        m.RunToEnd();
        Assert.That(m[Reg.Rbx], Is.EqualTo(6UL), "1 from the first pass, 5 from the patched second pass");
    }

    [Test]
    public void WritingTheNextInstructionTakesEffectImmediately()
    {
        var m = new TestMachine(codeFlags: P | RW | US);
        m.Load((a, t) =>
        {
            a.lea(rdx, __[t.Label(a, "next")]);
            a.mov(__byte_ptr[rdx + 1], 42);
            t.Mark(a, "next");
            a.mov(eax, 1);
            a.int3();
        });
        m.RunToEnd();
        Assert.That(m[Reg.Rax], Is.EqualTo(42UL));
    }

    [Test]
    public void AHypervisorWriteInvalidatesDecodedCode()
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            a.mov(eax, 1);
            a.int3();
        });
        m.RunToEnd();
        Assert.That(m[Reg.Rax], Is.EqualTo(1UL));
        m.Memory.WriteU32(CodeVa + 1, 7);   // the immediate, as the hypervisor would write it
        m.Cpu.Rip = CodeVa;
        m.RunToEnd();
        Assert.That(m[Reg.Rax], Is.EqualTo(7UL));
    }

    [Test]
    public void AliasedCodeUsesEachAliasesRip()
    {
        var m = new TestMachine();
        const ulong alias = 0x50_0000;
        m.Map(alias, CodeVa >> 12, P | US);
        m.Load(a =>
        {
            var next = a.CreateLabel();
            a.lea(rax, __[next]);   // rip-relative: rax = address of the next instruction
            a.Label(ref next);
            a.int3();
        });
        m.RunToEnd();
        ulong first = m[Reg.Rax];
        m.Cpu.Rip = alias;
        m.RunToEnd();
        Assert.That(first, Is.EqualTo(CodeVa + 7));
        Assert.That(m[Reg.Rax], Is.EqualTo(alias + 7));
    }

    [Test]
    public void AnInstructionCrossingAPageBoundaryRuns()
    {
        var m = new TestMachine();
        ulong at = CodeVa + 0xFFC;
        m.Load(a =>
        {
            a.mov(rax, 0x1122_3344_5566_7788);   // 10 bytes: 4 in the first page, 6 in the second
            a.mov(rbx, rax);
            a.int3();
        }, at);
        m.RunToEnd();
        Assert.That(m[Reg.Rbx], Is.EqualTo(0x1122_3344_5566_7788UL));

        // Change the part in the second page: the crossing instruction is not cached stale.
        m.Memory.WriteU8(CodeVa + 0x1000 + 5, 0x99);
        m.Cpu.Rip = at;
        m.RunToEnd();
        Assert.That(m[Reg.Rbx], Is.EqualTo(0x9922_3344_5566_7788UL));
    }

    [Test]
    public void AFetchCrossingIntoANotPresentPageFaultsOnTheSecondPage()
    {
        var m = new TestMachine();
        ulong at = CodeVa + 0xFFC;
        m.Load(a => a.mov(rax, 0x1122_3344_5566_7788), at);
        m.SetEntry(CodeVa + 0x1000, 1, 0);
        var e = m.Run();
        Assert.That(e.Vector, Is.EqualTo(14));
        Assert.That(e.ErrorCode, Is.EqualTo(4u | 16u));
        Assert.That(e.Cr2, Is.EqualTo(CodeVa + 0x1000));
        Assert.That(m.Cpu.Rip, Is.EqualTo(at));
        Assert.That(e.Executed, Is.Zero);
    }

    [Test]
    public void AnInstructionEndingAtThePageEndDoesNotTouchTheNextPage()
    {
        var m = new TestMachine();
        ulong at = CodeVa + 0x1000 - 5;
        m.Load(a => a.mov(eax, 1), at);   // exactly 5 bytes
        m.SetEntry(CodeVa + 0x1000, 1, 0);
        var e = m.Run();
        Assert.That(m[Reg.Rax], Is.EqualTo(1UL));
        Assert.That(e.Executed, Is.EqualTo(1));
        Assert.That(e.Vector, Is.EqualTo(14));
        Assert.That(e.Cr2, Is.EqualTo(CodeVa + 0x1000));
        Assert.That(m.Cpu.Rip, Is.EqualTo(CodeVa + 0x1000));
    }

    [TestCase("c5f877", "Vzeroupper")]
    [TestCase("0f28c1", "Movaps")]
    [TestCase("d9e8", "Fld1")]
    [TestCase("0fc7f0", "Rdrand")]
    [TestCase("0f01d0", "Xgetbv")]
    [TestCase("f30fc7f8", "Rdpid")]
    [TestCase("0f77", "Emms")]
    [TestCase("06", "invalid")]
    [TestCase("f001c0", "invalid")]
    [TestCase("0f0b", "ud2")]
    [TestCase("0f01ca", "Clac")]
    public void AnUnknownOrUndefinedInstructionIsAUdExit(string hex, string detail)
    {
        var m = new TestMachine();
        byte[] bytes = Convert.FromHexString(hex);
        m.Load(a =>
        {
            a.mov(eax, 5);
            a.db(bytes);
            a.int3();
        });
        m.Run(1);
        string before = m.Snapshot();
        var e = m.Run();
        Assert.That(e.Kind, Is.EqualTo(ExitKind.Exception));
        Assert.That(e.Vector, Is.EqualTo(6));
        Assert.That(e.HasErrorCode, Is.False);
        Assert.That(e.Detail, Is.EqualTo(detail));
        Assert.That(e.Executed, Is.Zero);
        Assert.That(m.Snapshot(), Is.EqualTo(before));
    }

    [Test]
    public void IsImplementedReflectsTheInterpretersCoverage()
    {
        static Instruction Decode(string hex)
        {
            var d = Decoder.Create(64, new ByteArrayCodeReader(Convert.FromHexString(hex)));
            d.Decode(out var i);
            return i;
        }
        Assert.That(X86Interpreter.IsImplemented(Decode("4801d8")), Is.True);    // add rax, rbx
        Assert.That(X86Interpreter.IsImplemented(Decode("f4")), Is.True);        // hlt: executed as #GP(0)
        Assert.That(X86Interpreter.IsImplemented(Decode("0f28c1")), Is.False);   // movaps
        Assert.That(X86Interpreter.IsImplemented(Decode("06")), Is.False);       // invalid in 64-bit mode
    }
}

/// <summary>TryDecodeAt: what a hypervisor uses to emulate a faulting instruction.</summary>
[Parallelizable(ParallelScope.All)]
public sealed class DecodeForEmulationTests
{
    [Test]
    public void TheFaultingPrivilegedInstructionCanBeDecoded()
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            a.xor(eax, eax);
            a.db(0x0F, 0x20, 0xD8);   // mov rax, cr3
            a.int3();
        });
        var e = m.Run();
        Assert.That(e.Vector, Is.EqualTo(13));
        Assert.That(m.Interp.TryDecodeAt(m.Cpu, m.Cpu.Rip, out var ins), Is.True);
        Assert.That(ins.Code, Is.EqualTo(Code.Mov_r64_cr));
        Assert.That(ins.Op1Register, Is.EqualTo(Register.CR3));
        Assert.That(ins.Length, Is.EqualTo(3));
    }

    [Test]
    public void DecodingAcrossPagesAndFromUnmappedMemory()
    {
        var m = new TestMachine();
        ulong at = CodeVa + 0xFFE;
        m.Load(a => a.mov(rax, 0x1122_3344_5566_7788), at);
        Assert.That(m.Interp.TryDecodeAt(m.Cpu, at, out var ins), Is.True);
        Assert.That(ins.Immediate64, Is.EqualTo(0x1122_3344_5566_7788UL));
        m.SetEntry(CodeVa + 0x1000, 1, 0);
        Assert.That(m.Interp.TryDecodeAt(m.Cpu, at, out _), Is.False, "the tail is not mapped");
        Assert.That(m.Interp.TryDecodeAt(m.Cpu, 0x7F00_0000_0000, out _), Is.False);
        Assert.That(m.Interp.TryDecodeAt(m.Cpu, 0x8000_0000_0000_0000, out _), Is.False);
    }
}
