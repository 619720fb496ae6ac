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
    /// Spins until <paramref name="port"/> is pending (taking the bit) or <paramref name="timeoutNs"/>
    /// of system time pass. Returns the system time read just after the bit was seen, or 0 on
    /// timeout. Because the time is read after the bit, it is never earlier than the event.
    /// </summary>
    public static Val WaitPending(GuestProgram g, Val port, long timeoutNs)
    {
        var seen = g.Var("seen_at");
        var end = g.Var("wait_end");
        g.Set(seen, 0);
        g.Set(end, PvClock.Now(g) + timeoutNs);
        g.While(Val.Const(1) == 1, () =>
        {
            g.If(TakePending(g, port) == 1, () => { g.Set(seen, PvClock.Now(g)); g.Break(); });
            g.If(PvClock.Now(g).UGe(end), () => g.Break());
            g.Asm.pause();
        });
        return seen;
    }

    /// <summary>
    /// Reads the clock, clears <paramref name="port"/>'s pending bit, then waits for
    /// <paramref name="count"/> more events (at most <paramref name="timeoutNs"/>). Returns the
    /// system time from that first reading to the guest's reading after the last event, or -1 on
    /// timeout. Events on one port collapse into one pending bit, so the events seen were sent
    /// at <paramref name="count"/> distinct times, all after the reading (the bit was cleared
    /// after it); Xen sends a periodic tick only when at least a period has passed since the
    /// last (xen/common/sched/core.c), so with period P the result is never below
    /// (count - 1) * P, however long the host holds the vCPU.
    /// </summary>
    public static Val TimeTicks(GuestProgram g, Val port, int count, long timeoutNs)
    {
        var start = g.Var("ticks_start");
        var n = g.Var("ticks_seen");
        var end = g.Var("ticks_end");
        var result = g.Var("ticks_time");
        g.Set(start, PvClock.Now(g));
        TakePending(g, port);
        g.Set(end, start + timeoutNs);
        g.Set(n, 0);
        g.Set(result, -1);
        g.While(Val.Const(1) == 1, () =>
        {
            g.If(TakePending(g, port) == 1, () =>
            {
                g.Set(n, n + 1);
                g.If(n == count, () => { g.Set(result, PvClock.Now(g) - start); g.Break(); });
            });
            g.If(PvClock.Now(g).UGe(end), () => g.Break());
            g.Asm.pause();
        });
        return result;
    }

    /// <summary>
    /// Spins until system time <paramref name="until"/>; returns 1 if <paramref name="port"/>
    /// never became pending meanwhile (the bit is taken if it did).
    /// </summary>
    public static Val QuietUntil(GuestProgram g, Val port, Val until)
    {
        var quiet = g.Var("quiet");
        var end = g.Var("quiet_end");
        g.Set(quiet, 1);
        g.Set(end, until);
        g.While(Val.Const(1) == 1, () =>
        {
            g.If(TakePending(g, port) == 1, () => { g.Set(quiet, 0); g.Break(); });
            g.If(PvClock.Now(g).UGe(end), () => g.Break());
            g.Asm.pause();
        });
        return quiet;
    }

    /// <summary>
    /// Blocks the calling vCPU until system time <paramref name="deadline"/> with SCHEDOP_poll on
    /// <paramref name="nrPorts"/> ports at <paramref name="ports"/> (0 ports: only the timeout
    /// wakes it). Events stay masked. Returns the hypercall's result.
    /// </summary>
    public static Val PollUntil(GuestProgram g, Val deadline, Val ports, Val nrPorts)
    {
        var arg = g.Alloc(SchedPoll.Layout.Size, name: "poll");
        g.Set(arg.U64(SchedPoll.Layout.Ports), ports);
        g.Set(arg.U32(SchedPoll.Layout.NrPorts), nrPorts);
        g.Set(arg.U64(SchedPoll.Layout.Timeout), deadline);
        return g.SchedOp(SchedOp.Poll, arg.Ptr);
    }

    /// <summary>Blocks the calling vCPU for <paramref name="ns"/> of system time (SCHEDOP_poll, no ports).</summary>
    public static Val BlockFor(GuestProgram g, long ns) => PollUntil(g, PvClock.Now(g) + ns, 0, 0);

    /// <summary>
    /// time[blocked] of <paramref name="vcpu"/> from VCPUOP_get_runstate_info into
    /// <paramref name="buffer"/>. For the calling vCPU (state running) it is the stored counter,
    /// which only grows when Xen wakes the vCPU after it was switched out blocked.
    /// </summary>
    public static Val BlockedTime(GuestProgram g, GuestBuffer buffer, Val vcpu)
    {
        g.VcpuOp(VcpuOp.GetRunstateInfo, vcpu, buffer.Ptr);
        return buffer.U64(VcpuRunstateInfo.Layout.Time + 8 * (int)RunState.Blocked);
    }

    /// <summary>
    /// Sleeps in SCHEDOP_poll (no ports, events masked) for <paramref name="ns"/> and makes sure
    /// Xen really switched the calling vCPU out: if the host held the vCPU past the timeout before
    /// Xen reached its scheduler, the poll timer fires first and the poll returns without a switch
    /// (a correct outcome that a test cannot use). get_runstate_info's time[blocked] tells the two
    /// apart; the poll is repeated, twice as long each time, up to <paramref name="tries"/> times.
    /// Returns 1 once the vCPU was switched out and back in.
    /// </summary>
    public static Val SleepFor(GuestProgram g, long ns, Val vcpu, int tries = 6)
    {
        var info = g.Alloc(VcpuRunstateInfo.Layout.Size, name: "sleep_runstate");
        var before = g.Var("sleep_blocked");
        var length = g.Var("sleep_length");
        g.Set(length, ns);
        return PvClock.Attempts(g, tries, () =>
        {
            g.Set(before, BlockedTime(g, info, vcpu));
            PollUntil(g, PvClock.Now(g) + length, 0, 0);
            var slept = g.Var("slept");
            g.Set(slept, 0);
            g.If(BlockedTime(g, info, vcpu).UGt(before), () => g.Set(slept, 1), () => g.Set(length, length << 1));
            return slept;
        });
    }
}
