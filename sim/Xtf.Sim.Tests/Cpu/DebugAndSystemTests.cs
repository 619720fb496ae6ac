using Xtf.Sim.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Sim.Tests.Cpu;

/// <summary>
/// The interpreter's hardware breakpoints, sidt/sgdt/str/smsw at CPL 3, rd/wr fs base gated by
/// CR4.FSGSBASE and #NM while CR0.TS (docs/pv-abi.md §16).
/// </summary>
public sealed class DebugAndSystemTests
{
    [Test]
    public void ADataBreakpointTrapsAfterTheAccess()
    {
        var m = new TestMachine();
        m.Load((a, t) =>
        {
            a.mov(rbx, (long)TestMachine.DataVa + 0x100);
            a.mov(rax, __qword_ptr[rbx + 8]);
            a.mov(rcx, __qword_ptr[rbx]);
            t.Mark(a, "after");
            a.nop();
            a.int3();
        });
        m.Cpu.Dr0 = TestMachine.DataVa + 0x100;
        m.Cpu.Dr7 = 0x000F_0002;   // G0, read/write, 4 bytes
        var e = m.Run();
        while (e.Kind == ExitKind.Budget) e = m.Run();
        Assert.That(e.Vector, Is.EqualTo(1));
        Assert.That(m.Cpu.Rip, Is.EqualTo(m.Address("after")));
        Assert.That(m.Cpu.PendingDr6, Is.EqualTo(1UL));
    }

    [Test]
    public void AnInstructionBreakpointFaultsUnlessRfIsSet()
    {
        var m = new TestMachine();
        m.Load((a, t) =>
        {
            a.nop();
            t.Mark(a, "target");
            a.nop();
            a.int3();
        });
        m.Cpu.Dr1 = m.Address("target");
        m.Cpu.Dr7 = 0x0000_0008;   // G1, execute
        var e = m.Run();
        while (e.Kind == ExitKind.Budget) e = m.Run();
        Assert.That(e.Vector, Is.EqualTo(1));
        Assert.That(m.Cpu.Rip, Is.EqualTo(m.Address("target")));
        Assert.That(m.Cpu.PendingDr6, Is.EqualTo(2UL));
        m.Cpu.Rflags |= CpuState.FlagRf;
        e = m.Run();
        while (e.Kind == ExitKind.Budget) e = m.Run();
        Assert.That(e.Vector, Is.EqualTo(3), "RF suppresses the breakpoint once");
    }

    [Test]
    public void SystemRegisterStoresShowTheValuesInCpuState()
    {
        var m = new TestMachine();
        m.Cpu.IdtBase = 0xffff_82d0_4057_7000;
        m.Cpu.IdtLimit = 0xfff;
        m.Cpu.TaskRegister = 0xe040;
        m.Cpu.MachineStatusWord = 0x8005_003b;
        m.Load(a =>
        {
            a.mov(rbx, (long)TestMachine.DataVa);
            a.sidt(__[rbx]);
            a.mov(rax, -1L);
            a.str(eax);
            a.mov(rcx, -1L);
            a.smsw(ecx);
            a.int3();
        });
        m.RunToEnd();
        Assert.That(m.ReadData(TestMachine.DataVa, 2), Is.EqualTo(0xfffUL));
        Assert.That(m.ReadData(TestMachine.DataVa + 2), Is.EqualTo(0xffff_82d0_4057_7000UL));
        Assert.That(m[Reg.Rax], Is.EqualTo(0xe040UL));
        Assert.That(m[Reg.Rcx], Is.EqualTo(0x8005_003bUL));
    }

    [Test]
    public void FsBaseInstructionsNeedFsGsBase()
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            a.rdfsbase(rax);
            a.int3();
        });
        var e = m.Run();
        Assert.That(e.Vector, Is.EqualTo(6));
        m.Cpu.FsGsBaseEnabled = true;
        m.Cpu.FsBase = 0x1234;
        m.RunToEnd();
        Assert.That(m[Reg.Rax], Is.EqualTo(0x1234UL));
    }

    [Test]
    public void SseWhileTaskSwitchedIsNm()
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            a.xorps(xmm0, xmm0);
            a.int3();
        });
        m.Cpu.TaskSwitched = true;
        Assert.That(m.Run().Vector, Is.EqualTo(7));
        m.Cpu.TaskSwitched = false;
        Assert.That(m.Run().Vector, Is.EqualTo(6), "unimplemented otherwise");
    }
}
