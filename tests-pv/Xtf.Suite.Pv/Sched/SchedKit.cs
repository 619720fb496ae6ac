using Xtf.Abi;
using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Pv.Sched;

/// <summary>
/// Building blocks shared by the SCHEDOP tests: argument structs, bad guest pointers, event
/// channels, an event callback that records what it saw, and Xen's system time read in the guest.
/// </summary>
public static class SchedKit
{
    /// <summary>
    /// Guest addresses every copy from the guest must refuse with -EFAULT: a canonical address
    /// the initial page tables do not map, the first non-canonical address, the start and the
    /// last page of Xen's reserved hole, and an unmapped canonical address above the hole.
    /// (Address 0 is not in the list: dom0's initial mapping covers 0..4 MiB one to one.)
    /// </summary>
    public static readonly (ulong Address, string What)[] BadPointers =
    [
        (0x0000_0000_4000_0000UL, "unmapped 0x40000000"),
        (0x0000_8000_0000_0000UL, "non-canonical 1<<47"),
        (0xFFFF_8000_0000_0000UL, "Xen hole start"),
        (0xFFFF_87FF_FFFF_F000UL, "Xen hole last page"),
        (0xFFFF_FFFF_8000_0000UL, "unmapped kernel-half address"),
    ];

    /// <summary>A 4-byte sched_shutdown holding <paramref name="reason"/>.</summary>
    public static GuestBuffer ShutdownArg(GuestProgram g, Val reason, string name = "sched_shutdown")
    {
        var arg = g.Alloc(SchedShutdown.Layout.Size, 4, name);
        g.Set(arg.U32(SchedShutdown.Layout.Reason), reason);
        return arg;
    }

    /// <summary>
    /// Two pages whose second page is unmapped with update_va_mapping; returns the address of
    /// the unmapped page, so a struct placed a few bytes below it straddles the boundary.
    /// </summary>
    public static Val UnmappedPage(GuestProgram g)
    {
        var pages = g.Page("straddle", pages: 2);
        var hole = pages.Address + (ulong)PvLayout.PageSize;
        var rc = g.Hypercall(Hypercall.UpdateVaMapping, (long)hole, 0, (long)GuestProgram.UvmfInvlpg);
        g.If(rc != 0, () => g.Panic("update_va_mapping(unmap) failed: %e", rc));
        return (long)hole;
    }

    /// <summary>EVTCHNOP_bind_ipi to vCPU 0; checks the call and returns the new port.</summary>
    public static Val BindIpi(GuestProgram g, string what)
    {
        var arg = g.Alloc(EvtchnBindIpi.Layout.Size, name: "bind_ipi");
        g.Set(arg.U32(EvtchnBindIpi.Layout.Vcpu), 0);
        g.ExpectEq(g.EvtchnOp(EvtchnOp.BindIpi, arg.Ptr), 0, $"EVTCHNOP_bind_ipi ({what})");
        return arg.U32(EvtchnBindIpi.Layout.Port);
    }

    /// <summary>EVTCHNOP_bind_virq(VIRQ_TIMER, vCPU 0); checks the call and returns the port.</summary>
    public static Val BindVirqTimer(GuestProgram g)
    {
        var arg = g.Alloc(EvtchnBindVirq.Layout.Size, name: "bind_virq");
        g.Set(arg.U32(EvtchnBindVirq.Layout.Virq), Virq.Timer);
        g.Set(arg.U32(EvtchnBindVirq.Layout.Vcpu), 0);
        g.ExpectEq(g.EvtchnOp(EvtchnOp.BindVirq, arg.Ptr), 0, "EVTCHNOP_bind_virq(VIRQ_TIMER)");
        return arg.U32(EvtchnBindVirq.Layout.Port);
    }

    /// <summary>EVTCHNOP_send on <paramref name="port"/>; checks the call.</summary>
    public static void Send(GuestProgram g, Val port, string what)
    {
        var arg = g.Alloc(EvtchnSend.Layout.Size, name: "send");
        g.Set(arg.U32(EvtchnSend.Layout.Port), port);
        g.ExpectEq(g.EvtchnOp(EvtchnOp.Send, arg.Ptr), 0, $"EVTCHNOP_send ({what})");
    }

    /// <summary>
    /// Stops vCPU 0's periodic timer so that a bound VIRQ_TIMER only fires from the single-shot
    /// timer or set_timer_op (the 10 ms tick would otherwise add events at run-dependent times).
    /// </summary>
    public static void StopPeriodicTimer(GuestProgram g) =>
        g.ExpectEq(g.VcpuOp(VcpuOp.StopPeriodicTimer, 0, 0), 0, "VCPUOP_stop_periodic_timer");

    /// <summary>VCPUOP_set_singleshot_timer on vCPU 0 at absolute time <paramref name="deadline"/> (flags 0); checks the call.</summary>
    public static void SingleShot(GuestProgram g, Val deadline, string what)
    {
        var arg = g.Alloc(VcpuSetSingleshotTimer.Layout.Size, name: "singleshot");
        g.Set(arg.U64(VcpuSetSingleshotTimer.Layout.TimeoutAbsNs), deadline);
        g.Set(arg.U32(VcpuSetSingleshotTimer.Layout.Flags), 0);
        g.ExpectEq(g.VcpuOp(VcpuOp.SetSingleshotTimer, 0, arg.Ptr), 0, $"VCPUOP_set_singleshot_timer ({what})");
    }

    /// <summary>Sets or clears the evtchn_mask bit of a port below 64 (plain guest store, events are per-port).</summary>
    public static void MaskPort(GuestProgram g, Val port, bool masked)
    {
        var word = g.MaskWord(port);
        var bit = Val.Const(1).ShiftLeft(port & 63);
        g.Set(word, masked ? word | bit : word & ~bit);
    }

    /// <summary>Clears a port's pending bit and vCPU 0's selector and upcall_pending (with events masked).</summary>
    public static void ClearPending(GuestProgram g, Val port)
    {
        var word = g.PendingWord(port);
        g.Set(word, word & ~Val.Const(1).ShiftLeft(port & 63));
        g.Set(g.PendingSel(), 0);
        g.Set(g.UpcallPending(), 0);
    }

    /// <summary>
    /// Declares and registers an event callback that counts its entries and records (ORs) the
    /// pending bits of ports 0..63 it consumed: it clears upcall_pending, then atomically takes
    /// the selector and pending word 0. Only the callback writes the two variables.
    /// </summary>
    public static (Val Count, Val Seen) RecordingCallback(GuestProgram g)
    {
        var count = g.Var("upcalls");
        var seen = g.Var("seen_ports");
        var si = g.SharedInfo;
        ulong sel = si.Address + (ulong)(SharedInfo.Layout.VcpuInfoAt(0) + VcpuInfo.Layout.EvtchnPendingSel);
        ulong word0 = si.Address + (ulong)SharedInfo.Layout.EvtchnPending;
        var cb = g.EventCallback("sched_event_callback", () =>
        {
            g.Set(count, count + 1);
            g.Set(g.UpcallPending(), 0);
            var a = g.Asm;
            a.xor(eax, eax);
            a.xchg(__qword_ptr[(long)sel], rax);
            a.xor(eax, eax);
            a.xchg(__qword_ptr[(long)word0], rax);
            a.or(__qword_ptr[(long)seen.Address], rax);
        });
        g.ExpectEq(g.SetEventCallback(cb), 0, "set_callbacks");
        return (count, seen);
    }

    /// <summary>
    /// Xen system time in ns, computed from vCPU 0's vcpu_time_info: system_time plus the TSC
    /// delta since tsc_timestamp, scaled by tsc_shift and tsc_to_system_mul / 2^32, read under
    /// the version counter. Tests only compare it; it is never printed.
    /// </summary>
    public static Val Now(GuestProgram g) =>
        Xtf.Suite.Pv.Vcpu.PvClock.Now(g, g.SharedInfo.Address + (ulong)(SharedInfo.Layout.VcpuInfoAt(0) + VcpuInfo.Layout.Time));

    /// <summary>A sched_poll in guest memory.</summary>
    public static GuestBuffer PollArg(GuestProgram g, Val ports, Val nrPorts, Val timeout, string name = "sched_poll")
    {
        var arg = g.Alloc(SchedPoll.Layout.Size, 8, name);
        g.Set(arg.U64(SchedPoll.Layout.Ports), ports);
        g.Set(arg.U32(SchedPoll.Layout.NrPorts), nrPorts);
        g.Set(arg.U64(SchedPoll.Layout.Timeout), timeout);
        return arg;
    }

    /// <summary>SCHEDOP_poll on ports held in a fresh array (copied from <paramref name="ports"/>).</summary>
    public static Val Poll(GuestProgram g, Val[] ports, Val timeout)
    {
        var array = g.Alloc(Math.Max(4, 4 * ports.Length), 4, "poll_ports");
        for (int i = 0; i < ports.Length; i++) g.Set(array.U32(4 * i), ports[i]);
        var arg = PollArg(g, array.Ptr, ports.Length, timeout);
        return g.SchedOp(SchedOp.Poll, arg.Ptr);
    }

    /// <summary>
    /// Clears vCPU 0's upcall mask and issues SCHEDOP_block in the very next instruction (an
    /// inline syscall), so the vCPU enters block with events enabled without a window in which a
    /// timer that fires early (the host held the vCPU past its deadline) could be delivered
    /// before the block and leave it asleep with nothing to wake it. Returns rax.
    /// </summary>
    public static Val BlockUnmasking(GuestProgram g)
    {
        var rc = g.Var("block_rc");
        ulong mask = g.SharedInfo.Address + (ulong)(SharedInfo.Layout.VcpuInfoAt(0) + VcpuInfo.Layout.EvtchnUpcallMask);
        var a = g.Asm;
        a.mov(edi, (int)SchedOp.Block);
        a.xor(esi, esi);
        a.mov(eax, (int)Hypercall.SchedOp);
        a.mov(__byte_ptr[(long)mask], 0);
        a.syscall();
        a.mov(__qword_ptr[(long)rc.Address], rax);
        return rc;
    }

    /// <summary>
    /// Clears vCPU 0's upcall mask and issues SCHEDOP_poll(<paramref name="arg"/>) in the very
    /// next instructions, with an inline syscall rather than the hypercall page, so that no
    /// return to the guest can deliver a pending upcall between the two: the poll sees
    /// "upcall pending and unmasked" on entry. Returns rax.
    /// </summary>
    public static Val PollUnmasking(GuestProgram g, Val arg)
    {
        if (arg.Kind != ValKind.Constant) throw new ArgumentException("PollUnmasking needs a constant struct address");
        var rc = g.Var("poll_rc");
        ulong mask = g.SharedInfo.Address + (ulong)(SharedInfo.Layout.VcpuInfoAt(0) + VcpuInfo.Layout.EvtchnUpcallMask);
        var a = g.Asm;
        a.mov(edi, (int)SchedOp.Poll);
        a.mov(rsi, arg.Constant);
        a.mov(eax, (int)Hypercall.SchedOp);
        a.mov(__byte_ptr[(long)mask], 0);
        a.syscall();
        a.mov(__qword_ptr[(long)rc.Address], rax);
        return rc;
    }
}
