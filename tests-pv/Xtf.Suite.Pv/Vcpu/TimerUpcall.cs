using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Vcpu;

/// <summary>
/// VIRQ_TIMER delivered as an upcall (docs/pv-abi.md §6, §7.10): with the event callback registered and
/// events unmasked, a single-shot deadline in the past enters the callback before the
/// hypercall returns; SCHEDOP_block (entered masked: it unmasks) with a single-shot timer 20 ms
/// ahead sleeps until then and the callback runs on the way out; the periodic timer's ticks enter the callback while the
/// vCPU spins. The callback sees selector bit 0 and the timer port pending each time. One pCPU:
/// the guest's clock is the NOW() Xen compares deadlines with (docs/timing.md); if the host holds
/// the vCPU past the deadline before the block, the timer fires first and block returns at once,
/// which the checks allow.
/// </summary>
public sealed class TimerUpcall : XtfTest
{
    public override string Name => "time-timer-upcall";
    public override string Title => "VIRQ_TIMER upcalls from the single-shot and periodic timers";
    public override string Category => "time";

    private const long Ms = 1_000_000;

    public override void Body(GuestProgram g)
    {
        var upcalls = g.Var("upcalls");
        var timerSeen = g.Var("timer_seen");
        var selSeen = g.Var("sel_seen");
        var port = g.Var("timer_port");
        var callback = g.EventCallback("event_callback", () =>
        {
            g.Set(upcalls, upcalls + 1);
            g.Set(g.UpcallPending(), 0);
            g.Set(selSeen, selSeen | g.PendingSel());
            g.Set(g.PendingSel(), 0);
            g.If(TimerEvents.TakePending(g, port) == 1, () => g.Set(timerSeen, timerSeen + 1));
        });
        g.ExpectEq(g.SetEventCallback(callback), 0, "set_callbacks");
        g.Set(port, TimerEvents.BindVirq(g, Virq.Timer, 0));
        g.ExpectEq(g.VcpuOp(VcpuOp.StopPeriodicTimer, 0, 0), 0, "stop the periodic timer");
        TimerEvents.TakePending(g, port);
        g.Set(g.PendingSel(), 0);
        g.Set(g.UpcallPending(), 0);

        g.Set(g.UpcallMask(), 0);                                  // events on
        g.ExpectEq(upcalls, 0, "no upcall before a timer fires");
        g.ExpectEq(TimerEvents.SetSingleshot(g, 0, 1), 0, "single-shot deadline in the past");
        g.ExpectEq(upcalls, 1, "the callback ran before the hypercall returned");
        g.ExpectEq(timerSeen, 1, "it saw the timer port pending");
        g.ExpectEq(selSeen, 1, "it saw selector bit 0");

        var deadline = g.Var("deadline");
        var woke = g.Var("woke");
        // Masked until block, which unmasks and sleeps in one step: a timer that fires early
        // (the host held the vCPU past the deadline) is then delivered when block returns, not
        // before it, where block would sleep with nothing left to wake it.
        g.Set(g.UpcallMask(), 1);
        g.Set(deadline, PvClock.Now(g) + 20 * Ms);
        g.ExpectEq(TimerEvents.SetSingleshot(g, 0, deadline), 0, "single-shot deadline now + 20 ms");
        g.ExpectEq(g.SchedOp(SchedOp.Block, 0), 0, "SCHEDOP_block");
        g.ExpectEq(g.UpcallMask(), 0, "block unmasked events");
        g.Set(woke, PvClock.Now(g));
        g.Expect(woke.UGe(deadline), "block returned at the deadline, not before");
        g.ExpectEq(upcalls, 2, "the timer's upcall ran when block returned");
        g.ExpectEq(timerSeen, 2, "the callback saw the timer port");

        g.ExpectEq(TimerEvents.SetPeriodic(g, 0, 10 * Ms), 0, "periodic timer 10 ms");
        var before = g.Var("before");
        g.Set(before, timerSeen);
        g.Expect(PvClock.WaitFor(g, () => timerSeen.UGe(before + 3)) == 1, "three periodic ticks arrive as upcalls while spinning");
        g.ExpectEq(g.VcpuOp(VcpuOp.StopPeriodicTimer, 0, 0), 0, "stop the periodic timer");
        g.Set(g.UpcallMask(), 1);
        g.ExpectEq(upcalls, timerSeen, "every upcall was for the timer");
        g.Print("timer upcalls: single-shot, block wake-up and periodic delivered\n");
        g.Success();
    }
}
