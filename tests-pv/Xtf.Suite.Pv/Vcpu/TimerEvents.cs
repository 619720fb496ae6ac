using Xtf.Abi;
using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Pv.Vcpu;

/// <summary>
/// Event-channel steps the timer tests share: binding VIRQ_TIMER, atomically taking a pending
/// bit, and the timer hypercalls with their argument structs.
/// </summary>
public static class TimerEvents
{
    /// <summary>EVTCHNOP_bind_virq(<paramref name="virq"/>, <paramref name="vcpu"/>); checks rc 0 and returns the port.</summary>
    public static Val BindVirq(GuestProgram g, Virq virq, int vcpu = 0)
    {
        var arg = g.Alloc(EvtchnBindVirq.Layout.Size, name: "bind_virq");
        g.Set(arg.U32(EvtchnBindVirq.Layout.Virq), virq);
        g.Set(arg.U32(EvtchnBindVirq.Layout.Vcpu), vcpu);
        g.ExpectEq(g.EvtchnOp(EvtchnOp.BindVirq, arg.Ptr), 0, $"EVTCHNOP_bind_virq({virq}, vCPU {vcpu})");
        var port = g.Var("virq_port");
        g.Set(port, arg.U32(EvtchnBindVirq.Layout.Port));
        return port;
    }

    /// <summary>
    /// Atomically clears <paramref name="port"/>'s pending bit in shared_info (lock btr) and
    /// returns 1 if it was set.
    /// </summary>
    public static Val TakePending(GuestProgram g, Val port)
    {
        var was = g.Var("was_pending");
        var a = g.Asm;
        // rax = port; rcx = address of the word; edx = bit.
        g.Set(was, port);
        a.mov(rax, __qword_ptr[(long)was.Address]);
        a.mov(edx, eax);
        a.and(edx, 63);
        a.shr(rax, 6);
        a.mov(rcx, (long)(g.SharedInfo.Address + SharedInfo.Layout.EvtchnPending));
        a.lea(rcx, __[rcx + rax * 8]);
        a.@lock.btr(__qword_ptr[rcx], rdx);
        a.setc(al);
        a.movzx(eax, al);
        a.mov(__qword_ptr[(long)was.Address], rax);
        return was;
    }

    /// <summary>VCPUOP_set_singleshot_timer for <paramref name="vcpu"/> at absolute time <paramref name="deadline"/>.</summary>
    public static Val SetSingleshot(GuestProgram g, Val vcpu, Val deadline, uint flags = 0)
    {
        var arg = g.Alloc(VcpuSetSingleshotTimer.Layout.Size, name: "sshot");
        g.Set(arg.U64(VcpuSetSingleshotTimer.Layout.TimeoutAbsNs), deadline);
        g.Set(arg.U32(VcpuSetSingleshotTimer.Layout.Flags), flags);
        return g.VcpuOp(VcpuOp.SetSingleshotTimer, vcpu, arg.Ptr);
    }

    /// <summary>VCPUOP_set_periodic_timer for <paramref name="vcpu"/> with <paramref name="periodNs"/>.</summary>
    public static Val SetPeriodic(GuestProgram g, Val vcpu, Val periodNs)
    {
        var arg = g.Alloc(VcpuSetPeriodicTimer.Layout.Size, name: "periodic");
        g.Set(arg.U64(VcpuSetPeriodicTimer.Layout.PeriodNs), periodNs);
        return g.VcpuOp(VcpuOp.SetPeriodicTimer, vcpu, arg.Ptr);
    }

    /// <summary>HYPERVISOR_set_timer_op(timeout): hypercall 15, one 64-bit argument.</summary>
    public static Val SetTimerOp(GuestProgram g, Val timeout) => g.Hypercall(Hypercall.SetTimerOp, timeout);

    /// <summary>
    /// Counts VIRQ_TIMER ticks on <paramref name="port"/> (taking the pending bit each time)
    /// while spinning for <paramref name="ns"/> of system time; records the smallest gap between
    /// two ticks in <paramref name="minGap"/> (ns; ulong max when fewer than two).
    /// </summary>
    public static Val CountTicks(GuestProgram g, Val port, long ns, Val minGap)
    {
        var ticks = g.Var("ticks");
        var end = g.Var("ticks_end");
        var last = g.Var("tick_last");
        var now = g.Var("tick_now");
        g.Set(ticks, 0);
        g.Set(minGap, -1);
        g.Set(end, PvClock.Now(g) + ns);
        g.While(Val.Const(1) == 1, () =>
        {
            g.Set(now, PvClock.Now(g));
            g.If(now.UGe(end), () => g.Break());
            g.If(TakePending(g, port) == 1, () =>
            {
                g.If((ticks > 0) & (now - last).ULt(minGap), () => g.Set(minGap, now - last));
                g.Set(last, now);
                g.Set(ticks, ticks + 1);
            });
            g.Asm.pause();
        });
        return ticks;
    }
}
