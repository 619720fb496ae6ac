using Xtf.Abi;
using Xtf.Guest;
using Xtf.Suite.Pv.Vcpu;

namespace Xtf.Suite.Pv.Sched;

/// <summary>
/// The poll timer is not cancelled when a poll ends early (docs/pv-abi.md §5.4 quirk): poll [timer port]
/// with a timeout T is ended by the single-shot timer well before T; a following poll [idle]
/// with no timeout is then ended by the still-armed timer at T. A single-shot timer 5 s after T
/// on an unmasked port is the safety net: if it ends the second poll instead, Xen cancelled
/// the timer and the check fails rather than hanging.
/// Xen arms the poll timer only when the poll blocks, so the first poll must have blocked
/// (time[blocked] grew) and ended before T by the guest's clock (one pCPU: Xen's NOW(), see
/// docs/timing.md); when the host held the vCPU so long that either failed, the first step is
/// repeated (up to 3 times) instead of judged.
/// </summary>
public sealed class SchedPollStaleTimer : XtfTest
{
    public override string Name => "sched-poll-stale-timer";
    public override string Title => "SCHEDOP_poll: an early-ended poll's timer ends a later poll";
    public override string Category => "sched";

    private const long Fire = 20_000_000;       // first wake-up: 20 ms
    private const long Stale = 300_000_000;     // first poll's timeout: 300 ms
    private const long Safety = PvClock.Patience;   // safety single-shot: T + 5 s

    public override void Body(GuestProgram g)
    {
        g.ExpectEq(g.UpcallMask(), 1, "events masked at start");
        SchedKit.StopPeriodicTimer(g);
        var timer = SchedKit.BindVirqTimer(g);
        var idle = SchedKit.BindIpi(g, "idle");
        var t = g.Var("stale_deadline");
        var after = g.Var("after");
        var blocked = g.Var("blocked_before");
        var runstate = g.Alloc(VcpuRunstateInfo.Layout.Size, name: "runstate");

        // First poll: ended early by the timer port, after Xen blocked it (and so armed T).
        SchedKit.MaskPort(g, timer, true);
        var armed = PvClock.Attempts(g, 3, () =>
        {
            SchedKit.ClearPending(g, timer);
            var now = SchedKit.Now(g);
            g.Set(t, now + Stale);
            SchedKit.SingleShot(g, now + Fire, "early wake-up");
            g.Set(blocked, TimerEvents.BlockedTime(g, runstate, 0));
            g.ExpectEq(SchedKit.Poll(g, [timer], t), 0, "poll [timer port] with timeout T");
            g.Set(after, SchedKit.Now(g));
            var usable = g.Var("first_poll_usable");
            g.Set(usable, 0);
            g.If(TimerEvents.BlockedTime(g, runstate, 0).UGt(blocked) & (after < t), () => g.Set(usable, 1));
            return usable;
        });
        g.ExpectEq(armed, 1, "the first poll blocked and ended before T (in one of 3 attempts)");
        g.ExpectEq(g.PortPending(timer), 1, "woken by the timer port");

        // Second poll: no timeout of its own.
        SchedKit.ClearPending(g, timer);
        SchedKit.MaskPort(g, timer, false);
        SchedKit.SingleShot(g, t + Safety, "safety net");
        g.ExpectEq(SchedKit.Poll(g, [idle], 0), 0, "poll [idle] without a timeout");
        g.Set(after, SchedKit.Now(g));
        g.Expect(after >= t, "the second poll lasted until T");
        g.ExpectEq(g.VcpuOp(VcpuOp.StopSingleshotTimer, 0, 0), 0, "VCPUOP_stop_singleshot_timer");
        g.Expect(after < t + Safety, "the second poll was ended by the first poll's timer, not the safety net");
        g.ExpectEq(g.PortPending(timer), 0, "the safety single-shot had not fired");
        g.ExpectEq(g.UpcallMask(), 1, "upcall mask still set");
        g.Print("second poll ended by the stale poll timer\n");
        g.Success();
    }
}
