using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Sched;

/// <summary>
/// SCHEDOP_poll with nothing pending blocks until its timeout (docs/pv-abi.md §5.4 steps 8-9): with no
/// ports, one idle port and two idle ports, each poll returns 0 no earlier than the absolute
/// timeout, and the polled ports are still not pending. No event source is active (no VIRQ
/// bound, events masked), so only the poll timer can end the poll.
/// </summary>
public sealed class SchedPollTimeout : XtfTest
{
    public override string Name => "sched-poll-timeout";
    public override string Title => "SCHEDOP_poll: the timeout ends a poll of idle ports";
    public override string Category => "sched";

    private const long Delay = 20_000_000;    // 20 ms

    public override void Body(GuestProgram g)
    {
        g.ExpectEq(g.UpcallMask(), 1, "events masked at start");
        var idle1 = SchedKit.BindIpi(g, "idle 1");
        var idle2 = SchedKit.BindIpi(g, "idle 2");
        var deadline = g.Var("deadline");
        var before = g.Var("before");
        var after = g.Var("after");

        void Timed(Val[] ports, string what)
        {
            g.Set(before, SchedKit.Now(g));
            g.Set(deadline, before + Delay);
            g.ExpectEq(SchedKit.Poll(g, ports, deadline), 0, what);
            g.Set(after, SchedKit.Now(g));
            g.Expect(after >= deadline, what + ": returned no earlier than the timeout");
        }

        Timed([], "poll of no ports");
        Timed([idle1], "poll [idle]");
        Timed([idle1, idle2], "poll [idle, idle]");
        Timed([idle2, idle2, idle1], "poll [idle, idle, idle]");

        g.ExpectEq(g.PortPending(idle1), 0, "idle port 1 not pending");
        g.ExpectEq(g.PortPending(idle2), 0, "idle port 2 not pending");
        g.ExpectEq(g.UpcallPending(), 0, "no upcall pending");
        g.ExpectEq(g.UpcallMask(), 1, "poll left the upcall mask set");
        g.Success();
    }
}
