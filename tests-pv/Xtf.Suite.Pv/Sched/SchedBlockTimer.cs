using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Sched;

/// <summary>
/// SCHEDOP_block with nothing pending deschedules the vCPU until an event arrives (docs/pv-abi.md §5.2,
/// §6.2, §6.3): VIRQ_TIMER is bound on vCPU 0 with the periodic timer stopped, and each block is
/// ended by the single-shot timer (VCPUOP_set_singleshot_timer or set_timer_op). Each block
/// returns 0 with the upcall mask clear, the callback sees the timer port once, and the time
/// after the block is past the deadline (one pCPU: the guest's clock is the NOW() Xen compares
/// deadlines with, docs/timing.md; a timer that fires before the block because the host held the
/// vCPU makes block return at once, which the checks allow). A past single-shot deadline makes
/// VIRQ_TIMER pending before the block, which then returns at once.
/// </summary>
public sealed class SchedBlockTimer : XtfTest
{
    public override string Name => "sched-block-timer";
    public override string Title => "SCHEDOP_block: woken by the single-shot timer through VIRQ_TIMER";
    public override string Category => "sched";

    private const long Delay = 30_000_000;    // 30 ms

    public override void Body(GuestProgram g)
    {
        var (upcalls, seen) = SchedKit.RecordingCallback(g);
        SchedKit.StopPeriodicTimer(g);
        var timer = SchedKit.BindVirqTimer(g);
        var bit = Val.Const(1).ShiftLeft(timer);
        var deadline = g.Var("deadline");
        var after = g.Var("after");

        // 1: VCPUOP_set_singleshot_timer, events masked before the block.
        g.ExpectEq(g.UpcallMask(), 1, "events masked at start");
        g.Set(deadline, SchedKit.Now(g) + Delay);
        SchedKit.SingleShot(g, deadline, "now + 30 ms");
        g.ExpectEq(g.SchedOp(SchedOp.Block, 0), 0, "SCHEDOP_block until the single-shot timer");
        g.Set(after, SchedKit.Now(g));
        g.ExpectEq(upcalls, 1, "one upcall after the single-shot timer");
        g.ExpectEq(seen, bit, "the upcall carried VIRQ_TIMER's port");
        g.Expect(after >= deadline, "block returned no earlier than the deadline");
        g.ExpectEq(g.UpcallMask(), 0, "upcall mask clear after block");

        // 2: set_timer_op, events masked again.
        g.Set(g.UpcallMask(), 1);
        g.Set(seen, 0);
        g.Set(deadline, SchedKit.Now(g) + Delay);
        g.ExpectEq(g.Hypercall(Hypercall.SetTimerOp, deadline), 0, "set_timer_op(now + 30 ms)");
        g.ExpectEq(g.SchedOp(SchedOp.Block, 0), 0, "SCHEDOP_block until set_timer_op's deadline");
        g.Set(after, SchedKit.Now(g));
        g.ExpectEq(upcalls, 2, "one more upcall after set_timer_op");
        g.ExpectEq(seen, bit, "the upcall carried VIRQ_TIMER's port (set_timer_op)");
        g.Expect(after >= deadline, "block returned no earlier than set_timer_op's deadline");
        g.ExpectEq(g.UpcallMask(), 0, "upcall mask clear after the second block");

        // 3: events already enabled when blocking: armed while masked, then unmasked in the
        // instruction before the block (so an early timer cannot be delivered before it).
        g.Set(g.UpcallMask(), 1);
        g.Set(seen, 0);
        g.Set(deadline, SchedKit.Now(g) + Delay);
        SchedKit.SingleShot(g, deadline, "now + 30 ms, unmasked");
        g.ExpectEq(SchedKit.BlockUnmasking(g), 0, "SCHEDOP_block with events already enabled");
        g.Set(after, SchedKit.Now(g));
        g.ExpectEq(upcalls, 3, "one upcall for the third timer");
        g.Expect(after >= deadline, "third block returned no earlier than the deadline");

        // 4: a past deadline sends VIRQ_TIMER inside the hypercall; block then returns at once.
        g.Set(g.UpcallMask(), 1);
        g.Set(seen, 0);
        SchedKit.SingleShot(g, 1, "deadline 1 ns, in the past");
        g.ExpectEq(g.PortPending(timer), 1, "VIRQ_TIMER pending right after a past single-shot deadline");
        g.ExpectEq(g.UpcallPending(), 1, "upcall_pending set, events still masked");
        g.ExpectEq(upcalls, 3, "no upcall while masked");
        g.ExpectEq(g.SchedOp(SchedOp.Block, 0), 0, "SCHEDOP_block with VIRQ_TIMER already pending");
        g.ExpectEq(upcalls, 4, "the pending VIRQ_TIMER was delivered on return from block");
        g.ExpectEq(seen, bit, "the upcall carried VIRQ_TIMER's port (past deadline)");
        g.ExpectEq(g.UpcallMask(), 0, "upcall mask clear after the fourth block");

        g.Print("VIRQ_TIMER port %u, upcalls %u\n", timer, upcalls);
        g.Success();
    }
}
