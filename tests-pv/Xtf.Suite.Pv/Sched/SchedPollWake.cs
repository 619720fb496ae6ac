using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Sched;

/// <summary>
/// What ends a blocked SCHEDOP_poll (docs/pv-abi.md §5.4 wake-up conditions). VIRQ_TIMER is bound on
/// vCPU 0 (periodic timer stopped, events masked) and the single-shot timer fires 30 ms after
/// each poll starts; every poll also has a 2 s safety timeout:
/// - poll [timer port], timer port masked in evtchn_mask: the specific port wakes it;
/// - poll [idle, idle] (any-port poll), timer port masked: a port not in the list wakes it;
/// - poll of no ports, timer port masked: likewise;
/// - poll [idle] with the timer port masked: NOT woken by the other port, ends at its own
///   timeout (100 ms);
/// - poll [idle] with the timer port unmasked: the vCPU's upcall_pending going 0 to 1 wakes it
///   even though the upcall mask is set.
/// Every poll returns 0 and leaves the upcall mask set. One pCPU: the guest's clock is the NOW()
/// Xen compares deadlines with (docs/timing.md).
/// </summary>
public sealed class SchedPollWake : XtfTest
{
    public override string Name => "sched-poll-wake";
    public override string Title => "SCHEDOP_poll: woken by a polled port, any port, or an upcall";
    public override string Category => "sched";

    private const long Fire = 30_000_000;        // single-shot timer: 30 ms (margin for a slow host)
    private const long Short = 100_000_000;      // poll timeout that must end the poll: 100 ms
    private const long Far = 2_000_000_000;      // safety timeout for polls an event must end: 2 s

    public override void Body(GuestProgram g)
    {
        g.ExpectEq(g.UpcallMask(), 1, "events masked at start");
        SchedKit.StopPeriodicTimer(g);
        var timer = SchedKit.BindVirqTimer(g);
        var idle1 = SchedKit.BindIpi(g, "idle 1");
        var idle2 = SchedKit.BindIpi(g, "idle 2");
        g.Print("VIRQ_TIMER port %u, idle ports %u %u\n", timer, idle1, idle2);

        var fire = g.Var("fire");
        var limit = g.Var("limit");
        var after = g.Var("after");

        // Arms the single-shot timer Fire ns ahead and the poll timeout pollDelay ns ahead. If
        // the host stalled so long that the timer already fired, clear it and arm again (at
        // most 5 times), so the event always arrives while the poll is blocked.
        var tries = g.Var("tries");
        void Arm(long pollDelay, string what)
        {
            g.Set(tries, 0);
            g.While(tries < 5, () =>
            {
                SchedKit.ClearPending(g, timer);
                var now = SchedKit.Now(g);
                g.Set(fire, now + Fire);
                g.Set(limit, now + pollDelay);
                SchedKit.SingleShot(g, fire, what);
                g.If(g.PortPending(timer) == 0, () => g.Break());
                g.Set(tries, tries + 1);
            });
            g.Expect(tries < 5, what + ": armed the timer before it fired");
        }

        // A poll that ends at or after its 2 s safety timeout was either not woken by the event
        // (the bug this looks for) or held by the host for 2 s after the event; it is repeated,
        // and only a poll that every attempt leaves to its timeout fails.
        void Woken(Val[] ports, bool timerMasked, string what)
        {
            SchedKit.MaskPort(g, timer, timerMasked);
            var woken = Xtf.Suite.Pv.Vcpu.PvClock.Attempts(g, 3, () =>
            {
                Arm(Far, what);
                g.ExpectEq(SchedKit.Poll(g, ports, limit), 0, what);
                g.Set(after, SchedKit.Now(g));
                g.Expect(after >= fire, what + ": not before the timer fired");
                g.ExpectEq(g.PortPending(timer), 1, what + ": timer port pending");
                g.ExpectEq(g.UpcallPending(), timerMasked ? 0 : 1, what + ": upcall_pending");
                g.ExpectEq(g.UpcallMask(), 1, what + ": upcall mask still set");
                var early = g.Var("woken_early");
                g.Set(early, 0);
                g.If(after < limit, () => g.Set(early, 1));
                return early;
            });
            g.ExpectEq(woken, 1, what + ": woken before the safety timeout (in one of 3 attempts)");
        }

        Woken([timer], true, "poll [timer port], port masked");
        Woken([idle1, idle2], true, "poll [idle, idle], timer port masked");
        Woken([], true, "poll of no ports, timer port masked");
        Woken([idle1], false, "poll [idle], timer port unmasked");

        // A one-port poll is specific: the masked timer port going pending does not end it.
        SchedKit.MaskPort(g, timer, true);
        Arm(Short, "specific poll");
        g.ExpectEq(SchedKit.Poll(g, [idle1], limit), 0, "poll [idle] while the masked timer port fires");
        g.Set(after, SchedKit.Now(g));
        g.Expect(after >= limit, "poll [idle] ran to its own timeout");
        g.ExpectEq(g.PortPending(timer), 1, "the timer port fired meanwhile");
        g.ExpectEq(g.PortPending(idle1), 0, "the polled port is still idle");
        g.ExpectEq(g.UpcallMask(), 1, "upcall mask still set");
        g.Success();
    }
}
