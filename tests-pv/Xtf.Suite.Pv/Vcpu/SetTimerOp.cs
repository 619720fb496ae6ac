using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Vcpu;

/// <summary>
/// HYPERVISOR_set_timer_op (hypercall 15, docs/pv-abi.md §6.3, docs/timing.md), observed through
/// VIRQ_TIMER's pending bit with the periodic timer stopped: it always returns 0; a future time
/// fires once, never before it (Xen runs a timer only once NOW() is past its deadline; one pCPU,
/// so the guest's clock is that NOW()); a past time fires before the guest resumes; 0 cancels; a
/// negative time or one more than 2^50 ns ahead fires 100 ms after the call instead; it drives
/// the same timer as VCPUOP_set_singleshot_timer (each cancels the other's deadline).
/// A cancel or replacement can only be judged if it reached Xen before the first deadline; the
/// guest's clock after the call tells, and the step is repeated (up to 3 times) when the host
/// held the vCPU past it.
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
        var first = g.Var("first_deadline");
        var start = g.Var("start");
        var seen = g.Var("seen");

        g.Set(deadline, PvClock.Now(g) + 30 * Ms);
        g.ExpectEq(TimerEvents.SetTimerOp(g, deadline), 0, "set_timer_op(now + 30 ms)");
        g.Set(seen, TimerEvents.WaitPending(g, port, PvClock.Patience));
        g.Expect(seen != 0, "set_timer_op(now + 30 ms) fires");
        g.Expect(seen.UGe(deadline), "not before the deadline");
        g.ExpectEq(TimerEvents.QuietUntil(g, port, PvClock.Now(g) + 50 * Ms), 1, "fires once");

        g.ExpectEq(TimerEvents.SetTimerOp(g, 1), 0, "set_timer_op(1): in the past");
        g.ExpectEq(TimerEvents.TakePending(g, port), 1, "a past time is pending when the guest resumes");
        g.ExpectEq(TimerEvents.SetTimerOp(g, PvClock.Now(g) - Ms), 0, "set_timer_op(now - 1 ms)");
        g.ExpectEq(TimerEvents.TakePending(g, port), 1, "pending when the guest resumes");

        // Arms a deadline 100 ms ahead with arm(), cancels it with cancel(); if the guest's clock
        // after the cancel is still before the deadline, Xen had not run the timer, and nothing
        // may fire up to 100 ms past the deadline.
        void Cancelled(Func<Val, Val> arm, Func<Val> cancel, string what)
        {
            var ok = PvClock.Attempts(g, 3, () =>
            {
                TimerEvents.TakePending(g, port);
                g.Set(deadline, PvClock.Now(g) + 100 * Ms);
                g.ExpectEq(arm(deadline), 0, $"{what}: arm now + 100 ms");
                g.ExpectEq(cancel(), 0, $"{what}: cancel");
                var inTime = g.Var("cancelled_in_time");
                g.Set(inTime, 0);
                g.If(PvClock.Now(g).ULt(deadline), () =>
                {
                    g.Set(inTime, 1);
                    g.ExpectEq(TimerEvents.QuietUntil(g, port, deadline + 100 * Ms), 1, what);
                });
                return inTime;
            });
            g.ExpectEq(ok, 1, $"{what}: cancelled before the deadline within 3 attempts");
        }

        Cancelled(d => TimerEvents.SetTimerOp(g, d), () => TimerEvents.SetTimerOp(g, 0), "set_timer_op(0) cancelled the timer");
        g.ExpectEq(TimerEvents.SetTimerOp(g, 0), 0, "set_timer_op(0) with nothing armed");

        // Out-of-range timeouts become "100 ms after the call" (a workaround for old Linux kernels).
        foreach (var (what, timeout) in new (string, Func<Val>)[]
        {
            ("set_timer_op(-1)", () => -1),
            ("set_timer_op(2^63 + 5)", () => long.MinValue + 5),
            ("set_timer_op(now + 2^51)", () => PvClock.Now(g) + (1L << 51)),
        })
        {
            g.Set(start, PvClock.Now(g));
            g.ExpectEq(TimerEvents.SetTimerOp(g, timeout()), 0, what);
            g.Set(seen, TimerEvents.WaitPending(g, port, PvClock.Patience));
            g.Expect(seen != 0, $"{what} fires");
            g.Expect(seen.UGe(start + 100 * Ms), $"{what} fires no earlier than 100 ms later");
        }

        // The same timer as VCPUOP_set_singleshot_timer.
        Cancelled(d => TimerEvents.SetSingleshot(g, 0, d), () => TimerEvents.SetTimerOp(g, 0),
            "set_timer_op(0) cancelled the VCPUOP deadline");
        Cancelled(d => TimerEvents.SetTimerOp(g, d), () => g.VcpuOp(VcpuOp.StopSingleshotTimer, 0, 0),
            "VCPUOP_stop cancelled the set_timer_op deadline");

        // A VCPUOP deadline replaces a set_timer_op one that has not fired yet.
        var replaced = PvClock.Attempts(g, 3, () =>
        {
            g.ExpectEq(g.VcpuOp(VcpuOp.StopSingleshotTimer, 0, 0), 0, "stop the single-shot timer");
            TimerEvents.TakePending(g, port);
            g.Set(first, PvClock.Now(g) + 30 * Ms);
            g.Set(deadline, first + 120 * Ms);
            g.ExpectEq(TimerEvents.SetTimerOp(g, first), 0, "set_timer_op(now + 30 ms)");
            g.ExpectEq(TimerEvents.SetSingleshot(g, 0, deadline), 0, "then VCPUOP_set_singleshot_timer(now + 150 ms)");
            var inTime = g.Var("replaced_in_time");
            g.Set(inTime, 0);
            g.If(PvClock.Now(g).ULt(first), () =>
            {
                g.Set(inTime, 1);
                g.Set(seen, TimerEvents.WaitPending(g, port, PvClock.Patience));
                g.Expect(seen != 0, "the VCPUOP deadline fires");
                g.Expect(seen.UGe(deadline), "only the later VCPUOP deadline fires");
            });
            return inTime;
        });
        g.ExpectEq(replaced, 1, "the VCPUOP deadline replaced set_timer_op's before it fired, within 3 attempts");
        g.Print("set_timer_op: returns 0, fires, cancels\n");
        g.Success();
    }
}
