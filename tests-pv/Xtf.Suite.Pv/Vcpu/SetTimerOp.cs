using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Vcpu;

/// <summary>
/// HYPERVISOR_set_timer_op (hypercall 15, docs/pv-abi.md §6.3), observed through VIRQ_TIMER's pending bit
/// with the periodic timer stopped: it always returns 0; a future time fires once, not early;
/// a past time fires before the guest resumes; 0 cancels; a negative time or one more than 2^50
/// ns ahead fires after 100 ms instead; it drives the same timer as VCPUOP_set_singleshot_timer
/// (each cancels the other's deadline).
/// </summary>
public sealed class SetTimerOp : XtfTest
{
    public override string Name => "time-set-timer-op";
    public override string Title => "set_timer_op: the single-shot timer through hypercall 15";
    public override string Category => "time";

    private const long Ms = 1_000_000;

    public override void Body(GuestProgram g)
    {
        var port = TimerEvents.BindVirq(g, Virq.Timer, 0);
        g.ExpectEq(g.VcpuOp(VcpuOp.StopPeriodicTimer, 0, 0), 0, "stop the periodic timer");
        TimerEvents.TakePending(g, port);
        var deadline = g.Var("deadline");
        var start = g.Var("start");
        var seen = g.Var("seen");

        g.Set(deadline, PvClock.Now(g) + 30 * Ms);
        g.ExpectEq(TimerEvents.SetTimerOp(g, deadline), 0, "set_timer_op(now + 30 ms)");
        g.Set(seen, TimerEvents.WaitPending(g, port, 2000 * Ms));
        g.Expect((seen != 0) & seen.UGe(deadline - Ms / 2), "fires at the deadline");
        g.ExpectEq(TimerEvents.QuietUntil(g, port, PvClock.Now(g) + 50 * Ms), 1, "fires once");

        g.ExpectEq(TimerEvents.SetTimerOp(g, 1), 0, "set_timer_op(1): in the past");
        g.ExpectEq(TimerEvents.TakePending(g, port), 1, "a past time is pending when the guest resumes");
        g.ExpectEq(TimerEvents.SetTimerOp(g, PvClock.Now(g) - Ms), 0, "set_timer_op(now - 1 ms)");
        g.ExpectEq(TimerEvents.TakePending(g, port), 1, "pending when the guest resumes");

        g.ExpectEq(TimerEvents.SetTimerOp(g, PvClock.Now(g) + 100 * Ms), 0, "set_timer_op(now + 100 ms)");
        g.ExpectEq(TimerEvents.SetTimerOp(g, 0), 0, "set_timer_op(0)");
        g.ExpectEq(TimerEvents.QuietUntil(g, port, PvClock.Now(g) + 200 * Ms), 1, "0 cancelled the timer");
        g.ExpectEq(TimerEvents.SetTimerOp(g, 0), 0, "set_timer_op(0) with nothing armed");

        // Out-of-range timeouts become "now + 100 ms" (a workaround for old Linux kernels).
        foreach (var (what, timeout) in new (string, Func<Val>)[]
        {
            ("set_timer_op(-1)", () => -1),
            ("set_timer_op(2^63 + 5)", () => long.MinValue + 5),
            ("set_timer_op(now + 2^51)", () => PvClock.Now(g) + (1L << 51)),
        })
        {
            g.Set(start, PvClock.Now(g));
            g.ExpectEq(TimerEvents.SetTimerOp(g, timeout()), 0, what);
            g.Set(seen, TimerEvents.WaitPending(g, port, 2000 * Ms));
            g.Expect(seen != 0, $"{what} fires within 2 s");
            g.Expect(seen.UGe(start + 100 * Ms - Ms / 2), $"{what} fires no earlier than 100 ms later");
        }

        // The same timer as VCPUOP_set_singleshot_timer.
        g.ExpectEq(TimerEvents.SetSingleshot(g, 0, PvClock.Now(g) + 100 * Ms), 0, "VCPUOP_set_singleshot_timer(now + 100 ms)");
        g.ExpectEq(TimerEvents.SetTimerOp(g, 0), 0, "set_timer_op(0)");
        g.ExpectEq(TimerEvents.QuietUntil(g, port, PvClock.Now(g) + 200 * Ms), 1, "set_timer_op(0) cancelled the VCPUOP deadline");
        g.ExpectEq(TimerEvents.SetTimerOp(g, PvClock.Now(g) + 100 * Ms), 0, "set_timer_op(now + 100 ms)");
        g.ExpectEq(g.VcpuOp(VcpuOp.StopSingleshotTimer, 0, 0), 0, "VCPUOP_stop_singleshot_timer");
        g.ExpectEq(TimerEvents.QuietUntil(g, port, PvClock.Now(g) + 200 * Ms), 1, "VCPUOP_stop cancelled the set_timer_op deadline");
        g.Set(deadline, PvClock.Now(g) + 150 * Ms);
        g.ExpectEq(TimerEvents.SetTimerOp(g, PvClock.Now(g) + 30 * Ms), 0, "set_timer_op(now + 30 ms)");
        g.ExpectEq(TimerEvents.SetSingleshot(g, 0, deadline), 0, "then VCPUOP_set_singleshot_timer(now + 150 ms)");
        g.Set(seen, TimerEvents.WaitPending(g, port, 2000 * Ms));
        g.Expect((seen != 0) & seen.UGe(deadline - Ms / 2), "only the later VCPUOP deadline fires");
        g.Print("set_timer_op: returns 0, fires, cancels\n");
        g.Success();
    }
}
