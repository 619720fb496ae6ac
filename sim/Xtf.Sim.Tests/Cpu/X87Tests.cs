using Iced.Intel;
using Xtf.Sim.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Sim.Tests.Cpu;

/// <summary>The x87 forms that need no rounding: loads, fstp m80, stack faults, tags, fnstenv, #MF at fwait, #NM.</summary>
[Parallelizable(ParallelScope.All)]
public sealed class X87Tests
{
    private const ulong Data = TestMachine.DataVa;

    private static TestMachine Run(Action<Assembler> build, Action<TestMachine>? setup = null)
    {
        var m = new TestMachine();
        setup?.Invoke(m);
        m.Load(build);
        m.RunToEnd();
        return m;
    }

    [Test]
    public void LoadsAreExactAndStoreAsEightyBits()
    {
        var m = Run(a =>
        {
            a.fninit();
            a.mov(rax, 0x4008_0000_0000_0000);             // 3.0
            a.mov(__qword_ptr[Data], rax);
            a.fld(__qword_ptr[Data]);
            a.fstp(__tword_ptr[Data + 0x10]);
            a.mov(__dword_ptr[Data], 0x0000_0001);         // the smallest binary32 denormal
            a.fld(__dword_ptr[Data]);
            a.fstp(__tword_ptr[Data + 0x20]);
            a.mov(__word_ptr[Data], unchecked((short)-5));
            a.fild(__word_ptr[Data]);
            a.fchs();
            a.fstp(__tword_ptr[Data + 0x30]);
            a.mov(rax, long.MinValue);
            a.mov(__qword_ptr[Data], rax);
            a.fild(__qword_ptr[Data]);
            a.fstp(__tword_ptr[Data + 0x40]);
            a.fnstsw(ax);
            a.int3();
        });
        Assert.That(m.ReadData(Data + 0x10), Is.EqualTo(0xC000_0000_0000_0000UL));
        Assert.That(m.ReadData(Data + 0x18, 2), Is.EqualTo(0x4000UL));
        Assert.That(m.ReadData(Data + 0x20), Is.EqualTo(0x8000_0000_0000_0000UL), "2^-149 normalised");
        Assert.That(m.ReadData(Data + 0x28, 2), Is.EqualTo((ulong)(16383 - 149)));
        Assert.That(m.ReadData(Data + 0x30), Is.EqualTo(0xA000_0000_0000_0000UL));
        Assert.That(m.ReadData(Data + 0x38, 2), Is.EqualTo(0x4001UL), "-(-5) = +5");
        Assert.That(m.ReadData(Data + 0x40), Is.EqualTo(0x8000_0000_0000_0000UL));
        Assert.That(m.ReadData(Data + 0x48, 2), Is.EqualTo(0xC03EUL), "-2^63");
        Assert.That(m[Reg.Rax] & 0xFFFF, Is.EqualTo(0x0000UL), "no DE from the binary32 denormal (measured), TOP 0");
    }

    [Test]
    public void NinePushesWrapWithoutAStackFault()
    {
        var m = Run(a =>
        {
            a.fninit();
            for (int i = 0; i < 9; i++) a.fld1();
            a.fnstsw(ax);
            a.mov(ebx, eax);
            a.fstp(__tword_ptr[Data]);
            a.int3();
        });
        Assert.That(m[Reg.Rbx] & 0xFFFF, Is.EqualTo(0x3800UL), "TOP 7, no IE/SF (measured on QEMU TCG)");
        Assert.That(m.ReadData(Data), Is.EqualTo(0x8000_0000_0000_0000UL));
        Assert.That(m.ReadData(Data + 8, 2), Is.EqualTo(0x3FFFUL));
    }

    [Test]
    public void FnstenvStoresTheMeasuredLayoutAndMasksExceptions()
    {
        var m = Run(a =>
        {
            a.fninit();
            a.mov(rax, 0x4008_0000_0000_0000);
            a.mov(__qword_ptr[Data], rax);
            a.fld(__qword_ptr[Data]);
            a.fldz();
            a.mov(__word_ptr[Data + 8], 0x37A);
            a.fldcw(__word_ptr[Data + 8]);
            a.fnstenv(__[Data + 0x40]);
            a.fnstcw(__word_ptr[Data + 0x80]);
            a.int3();
        });
        Assert.That(m.ReadData(Data + 0x40, 4), Is.EqualTo(0x37AUL));
        Assert.That(m.ReadData(Data + 0x44, 4), Is.EqualTo(0x3000UL), "TOP 6");
        Assert.That(m.ReadData(Data + 0x48, 4), Is.EqualTo(0x1FFFUL), "st0 zero (01) at 6, st1 valid (00) at 7 (measured 0x1fff)");
        Assert.That(m.ReadData(Data + 0x4C, 4), Is.Not.Zero, "FIP: the fldz");
        Assert.That(m.ReadData(Data + 0x50, 4), Is.EqualTo(0xE033UL), "CS, FOP 0");
        Assert.That(m.ReadData(Data + 0x54, 4), Is.EqualTo(Data), "FDP: the fld m64 operand");
        Assert.That(m.ReadData(Data + 0x58, 4), Is.Zero, "FDS 0");
        Assert.That(m.ReadData(Data + 0x80, 2), Is.EqualTo(0x37FUL), "exceptions masked after fnstenv");
    }

    [Test]
    public void APendingExceptionFaultsOnlyAtFwait()
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            a.fninit();
            a.fnstenv(__[Data]);
            a.mov(__dword_ptr[Data + 4], 0x8081);          // FSW: B ES IE
            a.fldenv(__[Data]);
            a.fld1();                                      // no #MF here (measured on QEMU TCG)
            a.wait();
            a.int3();
        });
        var e = m.Run();
        Assert.That(e.Vector, Is.EqualTo(16));
        Assert.That(m.ReadData(m.Cpu.Rip, 1), Is.EqualTo(0x9BUL), "#MF at the wait");
        Assert.That(m.Cpu.Fsw & 0x8081, Is.EqualTo(0x8081), "B ES IE");
    }

    [Test]
    public void FcomiSetsZfPfCfAndFcmovFollowsThem()
    {
        var m = Run(a =>
        {
            a.fninit();
            a.fld1();
            a.fldz();
            a.fcomi(st0, st1); a.pushfq();             // 0 < 1: CF
            a.fucomi(st0, st0); a.pushfq();            // equal: ZF
            a.fcmove(st0, st1);                        // taken: st0 = 1
            a.fstp(__tword_ptr[Data]);
            a.int3();
        });
        ulong sp = m[Reg.Rsp];
        Assert.That(m.ReadData(sp + 8) & F.All, Is.EqualTo(F.CF));
        Assert.That(m.ReadData(sp) & F.All, Is.EqualTo(F.ZF));
        Assert.That(m.ReadData(Data + 8, 2), Is.EqualTo(0x3FFFUL), "fcmove moved 1.0");
    }

    [Test]
    public void TaskSwitchedIsNm()
    {
        var m = new TestMachine();
        m.Cpu.TaskSwitched = true;
        m.Load(a =>
        {
            a.fninit();
            a.int3();
        });
        var e = m.Run();
        Assert.That(e.Vector, Is.EqualTo(7));
    }
}
