using Iced.Intel;
using Xtf.Sim.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static Xtf.Sim.Tests.Cpu.TestMachine;

namespace Xtf.Sim.Tests.Cpu;

/// <summary>Less common forms and fault atomicity of multi-step instructions.</summary>
[Parallelizable(ParallelScope.All)]
public sealed class EdgeCaseTests
{
    [Test]
    public void ARepStosFaultingMidwayKeepsTheCompletedIterations()
    {
        var m = new TestMachine();
        ulong end = DataVa + DataPages * 0x1000UL;   // the first unmapped page after the data pages
        m.Load(a =>
        {
            a.mov(rdi, (long)(end - 16));
            a.mov(ecx, 5);
            a.mov(rax, -1L);
            a.rep.stosq();
            a.int3();
        });
        m.Run(3);
        ulong rip = m.Cpu.Rip;
        var e = m.Run();
        Assert.That((e.Vector, e.ErrorCode, e.Cr2), Is.EqualTo((14, 6u, end)));
        Assert.That(m.Cpu.Rip, Is.EqualTo(rip), "rip stays at the rep instruction");
        Assert.That(m[Reg.Rcx], Is.EqualTo(3UL), "two iterations completed");
        Assert.That(m[Reg.Rdi], Is.EqualTo(end));
        Assert.That(m.ReadData(end - 8), Is.EqualTo(ulong.MaxValue));
    }

    [Test]
    public void AddressSize32StringsAndFsOverride()
    {
        var m = new TestMachine();
        m.Cpu.FsBase = DataVa;
        m.WriteData(DataVa + 0x40, 0x1122_3344);
        m.Load(a =>
        {
            a.mov(rsi, unchecked((long)0xFFFF_FFFF_0000_0040));   // upper half ignored with a 0x67 prefix
            a.mov(rdi, (long)(DataVa + 0x80) | unchecked((long)0xAAAA_0000_0000_0000));
            a.mov(rcx, unchecked((long)0x5555_5555_0000_0004));
            a.db(0x64, 0x67, 0xF3, 0xA4);                          // fs: rep movsb with 32-bit addressing
            a.int3();
        });
        m.RunToEnd();
        Assert.That(m.ReadData(DataVa + 0x80, 4), Is.EqualTo(0x1122_3344UL));
        Assert.That(m[Reg.Rsi], Is.EqualTo(0x44UL));
        Assert.That(m[Reg.Rdi], Is.EqualTo(DataVa + 0x84));
        Assert.That(m[Reg.Rcx], Is.Zero);
    }

    [Test]
    public void RetAndCallFaultsLeaveTheStateUnchanged()
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            a.mov(rax, unchecked((long)0x8000_0000_0000_0000));
            a.push(rax);                            // a non-canonical return address
            a.ret();
        });
        m.Run(2);
        string before = m.Snapshot();
        var e = m.Run();
        Assert.That(e.Vector, Is.EqualTo(13));
        Assert.That(m.Snapshot(), Is.EqualTo(before));

        var m2 = new TestMachine();
        m2.Load((a, t) =>
        {
            a.mov(rsp, (long)(StackTop - StackPages * 0x1000UL));   // the next push lands below the stack
            a.call(t.Label(a, "f"));
            t.Mark(a, "f");
            a.int3();
        });
        m2.Run(1);
        before = m2.Snapshot();
        e = m2.Run();
        Assert.That((e.Vector, e.ErrorCode), Is.EqualTo((14, 6u)));
        Assert.That(m2.Snapshot(), Is.EqualTo(before));
    }

    [Test]
    public void EnterWithNestingLevelAndSixteenBitPushPop()
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            a.mov(rbp, (long)(StackTop - 0x100));
            a.mov(__qword_ptr[rbp - 8], 0x77);       // the outer frame's saved frame pointer slot
            a.mov(rsp, (long)(StackTop - 0x200));
            a.enter(0x20, 2);
            a.mov(r8, rsp);
            a.mov(r9, rbp);
            a.mov(r10, __qword_ptr[rbp - 8]);        // copied from the outer frame
            a.mov(r11, __qword_ptr[rbp - 16]);       // the new frame pointer
            a.mov(rsp, (long)StackTop);
            a.mov(eax, 0x1234);
            a.push(ax);
            a.pop(bx);
            a.mov(r12, rsp);
            a.int3();
        });
        m.RunToEnd();
        ulong frame = StackTop - 0x200 - 8;
        Assert.That(m[Reg.R9], Is.EqualTo(frame));
        Assert.That(m[Reg.R10], Is.EqualTo(0x77UL));
        Assert.That(m[Reg.R11], Is.EqualTo(frame));
        Assert.That(m[Reg.R8], Is.EqualTo(frame - 16 - 0x20));
        Assert.That(m[Reg.Rbx] & 0xFFFF, Is.EqualTo(0x1234UL));
        Assert.That(m[Reg.R12], Is.EqualTo(StackTop));
    }

    [Test]
    public void LoopeAndLoopne()
    {
        var m = new TestMachine();
        m.Memory.Write(DataVa, new byte[] { 0, 0, 0, 5, 0, 0 });
        m.Load(a =>
        {
            var l1 = a.CreateLabel();
            var l2 = a.CreateLabel();
            a.mov(rsi, (long)DataVa - 1);
            a.mov(ecx, 6);
            a.Label(ref l1);
            a.inc(rsi);
            a.cmp(__byte_ptr[rsi], 0);
            a.loope(l1);                 // stops at the non-zero byte
            a.mov(r8, rcx);
            a.mov(r9, rsi);
            a.mov(ecx, 10);
            a.xor(eax, eax);
            a.Label(ref l2);
            a.inc(eax);
            a.cmp(eax, 4);
            a.loopne(l2);                // stops when eax == 4
            a.int3();
        });
        m.RunToEnd();
        Assert.That(m[Reg.R8], Is.EqualTo(2UL));
        Assert.That(m[Reg.R9], Is.EqualTo(DataVa + 3));
        Assert.That(m[Reg.Rax], Is.EqualTo(4UL));
        Assert.That(m[Reg.Rcx], Is.EqualTo(6UL));
    }

    [Test]
    public void UnalignedCmpxchg16bIsGeneralProtection()
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            a.cmpxchg16b(__xmmword_ptr[DataVa + 8]);
            a.int3();
        });
        var e = m.Run();
        Assert.That((e.Vector, e.ErrorCode, e.HasErrorCode), Is.EqualTo((13, 0u, true)));
    }

    [Test]
    public void MemoryOperandRmwFormsAndSizes()
    {
        var m = new TestMachine();
        m.WriteData(DataVa, 0x0000_0000_FFFF_FFFF);
        m.WriteData(DataVa + 8, 0x80);
        m.Load(a =>
        {
            a.add(__dword_ptr[DataVa], 1);           // wraps within 32 bits: upper dword untouched
            a.setc(r8b);
            a.neg(__byte_ptr[DataVa + 8]);
            a.not(__word_ptr[DataVa + 10]);
            a.shl(__qword_ptr[DataVa + 16], 4);
            a.inc(__qword_ptr[DataVa + 16]);
            a.sar(__byte_ptr[DataVa + 8], 1);
            a.movzx(eax, __word_ptr[DataVa + 10]);
            a.movsx(rbx, __byte_ptr[DataVa + 8]);
            a.test(__byte_ptr[DataVa + 8], 0x40);
            a.setnz(r9b);
            a.int3();
        });
        m.RunToEnd();
        Assert.That(m.ReadData(DataVa), Is.Zero);
        Assert.That(m[Reg.R8] & 0xFF, Is.EqualTo(1UL));
        Assert.That(m.ReadData(DataVa + 8, 1), Is.EqualTo(0xC0UL));
        Assert.That(m[Reg.Rax], Is.EqualTo(0xFFFFUL));
        Assert.That(m[Reg.Rbx], Is.EqualTo(0xFFFF_FFFF_FFFF_FFC0UL));
        Assert.That(m.ReadData(DataVa + 16), Is.EqualTo(1UL));
        Assert.That(m[Reg.R9] & 0xFF, Is.EqualTo(1UL));
    }
}
