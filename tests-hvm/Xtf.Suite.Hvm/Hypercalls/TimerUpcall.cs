using Xtf.Abi;
using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Hvm.Hypercalls;

/// <summary>
/// A singleshot timer wakes a halted HVM guest: VIRQ_TIMER bound to a port, the vector callback set, a
/// deadline 1 ms after the vcpu_info's system time, then <c>sti; hlt</c>. The guest resumes after the
/// upcall with the timer's port pending; stopping the timer afterwards is harmless.
/// </summary>
public sealed class TimerUpcall : XtfTest
{
    public override string Name => "timer-upcall";
    public override string Title => "VCPUOP_set_singleshot_timer wakes a halted HVM vCPU";
    public override string Category => "hvm_hypercall";
    public override Environments Environments => Environments.Hvm64;

    private const int Vector = 0xF3;

    public override void Body(GuestProgram g)
    {
        var a = g.Asm;
        var count = g.Var("upcalls");
        ulong pendingByte = g.SharedInfo.Address + (ulong)(SharedInfo.Layout.VcpuInfoAt(0) + VcpuInfo.Layout.EvtchnUpcallPending);
        var handler = g.Function("upcall", () =>
        {
            a.inc(__qword_ptr[(long)count.Address]);
            a.mov(__byte_ptr[(long)pendingByte], 0);
            a.iretq();
        });
        g.InterruptGate(Vector, handler);

        var p = g.Alloc(XenHvmParam.Layout.Size, 8, "param");
        g.Set(p.U16(XenHvmParam.Layout.Domid), DomId.Self);
        g.Set(p.U32(XenHvmParam.Layout.Index), (long)HvmParam.CallbackIrq);
        g.Set(p.U64(XenHvmParam.Layout.Value), (2L << 56) | Vector);
        g.ExpectEq(g.Hypercall(Hypercall.HvmOp, (long)HvmOp.SetParam, p.Ptr), 0, "set CALLBACK_IRQ to a vector");

        var bind = g.Alloc(EvtchnBindVirq.Layout.Size, 8, "bind_virq");
        g.Set(bind.U32(EvtchnBindVirq.Layout.Virq), (long)Virq.Timer);
        g.ExpectEq(g.EvtchnOp(EvtchnOp.BindVirq, bind.Ptr), 0, "bind_virq(TIMER)");
        var port = bind.U32(EvtchnBindVirq.Layout.Port);

        var timer = g.Alloc(VcpuSetSingleshotTimer.Layout.Size, 8, "timer");
        var now = g.SharedInfo.U64(SharedInfo.Layout.VcpuInfoAt(0) + VcpuInfo.Layout.Time + VcpuTimeInfo.Layout.SystemTime);
        g.Set(timer.U64(VcpuSetSingleshotTimer.Layout.TimeoutAbsNs), now + 1_000_000);
        g.ExpectEq(g.VcpuOp(VcpuOp.SetSingleshotTimer, 0, timer.Ptr), 0, "set_singleshot_timer");
        a.sti();
        a.hlt();
        a.cli();
        g.ExpectEq(count, 1, "one upcall woke the vCPU");
        g.ExpectEq(g.PortPending(port), 1, "the timer's port is pending");
        g.ExpectEq(g.VcpuOp(VcpuOp.StopSingleshotTimer, 0, 0), 0, "stop_singleshot_timer");
        g.Success();
    }
}
