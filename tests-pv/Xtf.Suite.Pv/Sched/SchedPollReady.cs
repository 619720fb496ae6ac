using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Sched;

/// <summary>
/// SCHEDOP_poll returns 0 without blocking when a listed port is already pending (docs/pv-abi.md §5.4,
/// §5.9): one port, a pending port after idle ones, duplicates, the maximum of 128 entries, and a
/// port masked in evtchn_mask. Ports are checked strictly in order: [pending, bogus] is 0 but
/// [bogus, pending] is -EINVAL. With nr_ports = 0 and a past timeout the poll returns 0. Poll
/// never changes pending bits, mask bits or the upcall mask. Each poll that should return at
/// once carries a timeout 2 s away (so a poll that wrongly blocks ends), and did not block:
/// get_runstate_info's time[blocked] is unchanged across it (Xen adds to it only when the vCPU
/// was switched out blocked; a clock comparison would depend on the host's speed).
/// </summary>
public sealed class SchedPollReady : XtfTest
{
    public override string Name => "sched-poll-ready";
    public override string Title => "SCHEDOP_poll: pending ports return at once, in order";
    public override string Category => "sched";

    private const long Far = 2_000_000_000;    // 2 s

    public override void Body(GuestProgram g)
    {
        g.ExpectEq(g.UpcallMask(), 1, "events masked at start");
        var idle1 = SchedKit.BindIpi(g, "idle 1");
        var idle2 = SchedKit.BindIpi(g, "idle 2");
        var ready = SchedKit.BindIpi(g, "ready");
        var maskedReady = SchedKit.BindIpi(g, "masked, ready");
        SchedKit.Send(g, ready, "ready");
        SchedKit.MaskPort(g, maskedReady, true);
        SchedKit.Send(g, maskedReady, "masked port");
        var pendingBefore = g.Var("pending_before");
        var maskBefore = g.Var("mask_before");
        g.Set(pendingBefore, g.PendingWord(0));
        g.Set(maskBefore, g.MaskWord(0));
        g.Print("ports: idle %u %u, ready %u, masked+ready %u\n", idle1, idle2, ready, maskedReady);

        var limit = g.Var("limit");
        var blocked = g.Var("blocked_before");
        var runstate = g.Alloc(VcpuRunstateInfo.Layout.Size, name: "runstate");
        Val BlockedTime() => Xtf.Suite.Pv.Vcpu.TimerEvents.BlockedTime(g, runstate, 0);
        void NotBlocked(string what) => g.ExpectEq(BlockedTime(), blocked, what + ": returned without blocking (time[blocked] unchanged)");
        void Immediate(Val[] ports, string what)
        {
            g.Set(limit, SchedKit.Now(g) + Far);
            g.Set(blocked, BlockedTime());
            g.ExpectEq(SchedKit.Poll(g, ports, limit), 0, what);
            NotBlocked(what);
        }

        Immediate([ready], "poll [ready]");
        Immediate([maskedReady], "poll [masked+ready]");
        Immediate([idle1, ready], "poll [idle, ready]");
        Immediate([idle1, idle2, maskedReady], "poll [idle, idle, masked+ready]");
        Immediate([ready, ready], "poll [ready, ready] (duplicates)");
        Immediate([ready, 64], "poll [ready, port 64]: stops at the pending port");
        Immediate([ready, 0xFFFFFFFF], "poll [ready, port 0xffffffff]");
        g.ExpectEq(SchedKit.Poll(g, [64, ready], 1), -Errno.EINVAL, "poll [port 64, ready]: the bogus port first");
        g.ExpectEq(SchedKit.Poll(g, [idle1, 5, ready], 1), -Errno.EINVAL, "poll [idle, free port 5, ready]");

        // 128 entries (the maximum): 127 idle, the pending one last.
        var many = g.Alloc(4 * 128, 4, "many_ports");
        var i = g.Var("i");
        g.For(i, 0, 127, () => g.Set(Val.At(many.Ptr + (i << 2), 0, 4), idle1));
        g.Set(many.U32(4 * 127), ready);
        g.Set(limit, SchedKit.Now(g) + Far);
        var arg = SchedKit.PollArg(g, many.Ptr, 128, limit, "poll_128");
        g.Set(blocked, BlockedTime());
        g.ExpectEq(g.SchedOp(SchedOp.Poll, arg.Ptr), 0, "poll of 128 ports, the last pending");
        NotBlocked("poll of 128 ports");
        g.Set(many.U32(4 * 127), 64);
        g.ExpectEq(g.SchedOp(SchedOp.Poll, arg.Ptr), -Errno.EINVAL, "poll of 128 ports, the last one bogus");

        // No ports at all: only the timeout ends it; a past one fires at once.
        var none = SchedKit.PollArg(g, 0, 0, 1, "poll_none");
        g.ExpectEq(g.SchedOp(SchedOp.Poll, none.Ptr), 0, "poll of no ports (NULL array), timeout in the past");
        g.Set(none.U64(SchedPoll.Layout.Ports), (long)SchedKit.BadPointers[0].Address);
        g.ExpectEq(g.SchedOp(SchedOp.Poll, none.Ptr), 0, "poll of no ports (unmapped array, never read), timeout in the past");

        g.ExpectEq(g.PendingWord(0), pendingBefore, "poll left the pending bits alone");
        g.ExpectEq(g.MaskWord(0), maskBefore, "poll left the mask bits alone");
        g.ExpectEq(g.UpcallMask(), 1, "poll left the upcall mask set");
        g.ExpectEq(g.PortPending(ready), 1, "ready port still pending");
        g.ExpectEq(g.PortPending(maskedReady), 1, "masked port still pending");

        // An upcall that is pending and unmasked on entry ends the poll with 0 before any port
        // is read (even a bogus one), but only after the nr_ports and pointer checks. The
        // callback then runs on the way out.
        var (upcalls, _) = SchedKit.RecordingCallback(g);
        var bogus = SchedKit.PollArg(g, ports: (long)0, nrPorts: 0, timeout: 1, name: "poll_bogus");
        var bogusPorts = g.Alloc(4, 4, "bogus_ports");
        g.Set(bogusPorts.U32(0), 64);
        g.Set(bogus.U64(SchedPoll.Layout.Ports), bogusPorts.Ptr);
        g.Set(bogus.U32(SchedPoll.Layout.NrPorts), 1);
        g.ExpectEq(g.UpcallPending(), 1, "upcall_pending still set from the sends");
        g.ExpectEq(SchedKit.PollUnmasking(g, bogus.Ptr), 0, "poll [port 64] with an unmasked upcall pending");
        g.ExpectEq(upcalls, 1, "the upcall was delivered on return from poll");
        g.ExpectEq(g.UpcallMask(), 0, "events enabled after the callback's iret");
        g.Set(g.UpcallMask(), 1);
        g.Set(g.UpcallPending(), 1);
        g.Set(bogus.U32(SchedPoll.Layout.NrPorts), 129);
        g.ExpectEq(SchedKit.PollUnmasking(g, bogus.Ptr), -Errno.EINVAL, "poll of 129 ports with an unmasked upcall pending");
        g.ExpectEq(upcalls, 2, "the upcall was delivered on return from the failed poll");
        g.Success();
    }
}
