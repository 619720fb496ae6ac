using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Sched;

/// <summary>
/// The poll timer is not cancelled when a poll ends early (docs/pv-abi.md §5.4 quirk): poll [timer port]
/// with a timeout T is ended by the single-shot timer well before T; a following poll [idle]
/// with no timeout is then ended by the still-armed timer at T. A single-shot timer 700 ms after
/// T on an unmasked port is the safety net: if it ends the second poll instead, Xen cancelled
/// the timer and the check fails rather than hanging.
/// </summary>
public sealed class SchedPollStaleTimer : XtfTest
{
    public override string Name => "sched-poll-stale-timer";
    public override string Title => "SCHEDOP_poll: an early-ended poll's timer ends a later poll";
    public override string Category => "sched";

    private const long Fire = 20_000_000;       // first wake-up: 20 ms
    private const long Stale = 300_000_000;     // first poll's timeout: 300 ms
    private const long Safety = 700_000_000;    // safety single-shot: T + 700 ms

    public override void Body(GuestProgram g)
    {
        g.ExpectEq(g.UpcallMask(), 1, "events masked at start");
        SchedKit.StopPeriodicTimer(g);
        var timer = SchedKit.BindVirqTimer(g);
        var idle = SchedKit.BindIpi(g, "idle");
        var t = g.Var("stale_deadline");
        var after = g.Var("after");

        // First poll: ended early by the timer port.
        SchedKit.MaskPort(g, timer, true);
        var now = SchedKit.Now(g);
        g.Set(t, now + Stale);
        SchedKit.SingleShot(g, now + Fire, "early wake-up");
        g.ExpectEq(SchedKit.Poll(g, [timer], t), 0, "poll [timer port] with timeout T");
        g.Set(after, SchedKit.Now(g));
        g.Expect(after < t, "the first poll ended before T");
        g.ExpectEq(g.PortPending(timer), 1, "woken by the timer port");

        // Second poll: no timeout of its own.
        SchedKit.ClearPending(g, timer);
        SchedKit.MaskPort(g, timer, false);
        SchedKit.SingleShot(g, t + Safety, "safety net");
        g.ExpectEq(SchedKit.Poll(g, [idle], 0), 0, "poll [idle] without a timeout");
        g.Set(after, SchedKit.Now(g));
        g.Expect(after >= t, "the second poll lasted until T");
        g.Expect(after < t + Safety, "the second poll was ended by the first poll's timer, not the safety net");
        g.ExpectEq(g.PortPending(timer), 0, "the safety single-shot had not fired");
        g.ExpectEq(g.VcpuOp(VcpuOp.StopSingleshotTimer, 0, 0), 0, "VCPUOP_stop_singleshot_timer");
        g.ExpectEq(g.UpcallMask(), 1, "upcall mask still set");
        g.Print("second poll ended by the stale poll timer\n");
        g.Success();
    }
}
