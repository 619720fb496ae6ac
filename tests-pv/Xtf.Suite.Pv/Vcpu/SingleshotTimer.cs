using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Vcpu;

/// <summary>
/// VCPUOP_set_singleshot_timer / stop_singleshot_timer (docs/pv-abi.md §4.9, §6.2, docs/timing.md),
/// observed through VIRQ_TIMER's pending bit with events masked and the periodic timer stopped:
/// a future deadline fires once, never before the deadline (Xen runs a timer only once NOW() is
/// past it; vCPU 0 stays on pCPU 0, the pCPU its timer lives on, so its clock is that NOW()); a
/// deadline in the past (or 0) fires before the call returns and returns 0, also with
/// VCPU_SSHOTTMR_future (no -ETIME since 4.17.3); unknown flag bits are ignored; a new deadline
/// replaces the old one; stop cancels (both judged only when the guest's clock shows the call
/// came before the first deadline, else repeated). Another vCPU as target is -EINVAL before the
/// argument is read; a bad argument for the caller is -EFAULT; vCPU 2 is -ENOENT.
/// </summary>
public sealed class SingleshotTimer : XtfTest
{
    public override string Name => "vcpu-singleshot-timer";
    public override bool NeedsExactVcpus => true;
    public override string Title => "VCPUOP_set/stop_singleshot_timer: one VIRQ_TIMER at the deadline";
    public override string Category => "vcpu";
    public override int Vcpus => 2;

    private const long Ms = 1_000_000;

    public override void Body(GuestProgram g)
    {
        PvClock.StayOnPcpu0(g);
        var port = TimerEvents.BindVirq(g, Virq.Timer, 0);
        g.ExpectEq(g.VcpuOp(VcpuOp.StopPeriodicTimer, 0, 0), 0, "stop the periodic timer");
        TimerEvents.TakePending(g, port);
        var deadline = g.Var("deadline");
        var seen = g.Var("seen");

        // A future deadline fires once, not before it.
        g.Set(deadline, PvClock.Now(g) + 30 * Ms);
        g.ExpectEq(TimerEvents.SetSingleshot(g, 0, deadline), 0, "set_singleshot_timer(now + 30 ms)");
        g.Set(seen, TimerEvents.WaitPending(g, port, PvClock.Patience));
        g.Expect(seen != 0, "the single-shot timer fired");
        g.Expect(seen.UGe(deadline), "it did not fire before the deadline");
        g.ExpectEq(TimerEvents.QuietUntil(g, port, PvClock.Now(g) + 50 * Ms), 1, "it fires only once");

        // Deadlines in the past fire before the hypercall returns.
        g.ExpectEq(TimerEvents.SetSingleshot(g, 0, PvClock.Now(g) - Ms), 0, "set_singleshot_timer(now - 1 ms)");
        g.ExpectEq(TimerEvents.TakePending(g, port), 1, "a past deadline is pending on return");
        g.ExpectEq(TimerEvents.SetSingleshot(g, 0, PvClock.Now(g) - Ms, (uint)VcpuSshotTmr.Future), 0,
            "a past deadline with VCPU_SSHOTTMR_future returns 0, not -ETIME (Xen >= 4.17.3)");
        g.ExpectEq(TimerEvents.TakePending(g, port), 1, "and is pending on return");
        g.ExpectEq(TimerEvents.SetSingleshot(g, 0, 0), 0, "deadline 0");
        g.ExpectEq(TimerEvents.TakePending(g, port), 1, "deadline 0 is pending on return");
        g.ExpectEq(TimerEvents.SetSingleshot(g, 0, 0, 0xFFFF_FFFF), 0, "deadline 0 with every flag bit set");
        g.ExpectEq(TimerEvents.TakePending(g, port), 1, "pending on return");

        // Unknown flag bits with a future deadline are ignored too.
        g.Set(deadline, PvClock.Now(g) + 20 * Ms);
        g.ExpectEq(TimerEvents.SetSingleshot(g, 0, deadline, 0xFFFF_FFFF), 0, "future deadline with every flag bit set");
        g.Set(seen, TimerEvents.WaitPending(g, port, PvClock.Patience));
        g.Expect((seen != 0) & seen.UGe(deadline), "it fires at its deadline");

        // A new deadline replaces the pending one (if the first had not fired when Xen got the
        // second call: the guest's clock after the call is still before the first deadline).
        var first = g.Var("first_deadline");
        var replaced = PvClock.Attempts(g, 3, () =>
        {
            g.ExpectEq(g.VcpuOp(VcpuOp.StopSingleshotTimer, 0, 0), 0, "stop before arming");
            TimerEvents.TakePending(g, port);
            g.Set(first, PvClock.Now(g) + 30 * Ms);
            g.Set(deadline, first + 170 * Ms);
            g.ExpectEq(TimerEvents.SetSingleshot(g, 0, first), 0, "deadline now + 30 ms");
            g.ExpectEq(TimerEvents.SetSingleshot(g, 0, deadline), 0, "replaced by now + 200 ms");
            var inTime = g.Var("replaced_in_time");
            g.Set(inTime, 0);
            g.If(PvClock.Now(g).ULt(first), () =>
            {
                g.Set(inTime, 1);
                g.Set(seen, TimerEvents.WaitPending(g, port, PvClock.Patience));
                g.Expect((seen != 0) & seen.UGe(deadline), "only the later deadline fires");
            });
            return inTime;
        });
        g.ExpectEq(replaced, 1, "the second deadline reached Xen before the first, within 3 attempts");

        // Stop cancels (judged when the stop came before the deadline); stopping an unarmed
        // timer is fine.
        var stopped = PvClock.Attempts(g, 3, () =>
        {
            TimerEvents.TakePending(g, port);
            g.Set(deadline, PvClock.Now(g) + 100 * Ms);
            g.ExpectEq(TimerEvents.SetSingleshot(g, 0, deadline), 0, "deadline now + 100 ms");
            g.ExpectEq(g.VcpuOp(VcpuOp.StopSingleshotTimer, 0, 0x4000_0000), 0, "stop_singleshot_timer (argument ignored)");
            var inTime = g.Var("stopped_in_time");
            g.Set(inTime, 0);
            g.If(PvClock.Now(g).ULt(deadline), () =>
            {
                g.Set(inTime, 1);
                g.ExpectEq(TimerEvents.QuietUntil(g, port, deadline + 100 * Ms), 1, "no VIRQ_TIMER after stop");
            });
            return inTime;
        });
        g.ExpectEq(stopped, 1, "the stop reached Xen before the deadline, within 3 attempts");
        g.ExpectEq(g.VcpuOp(VcpuOp.StopSingleshotTimer, 0, 0), 0, "stop again (not armed)");

        // Errors: only the calling vCPU's timer can be used; the target test comes first.
        var arg = g.Alloc(VcpuSetSingleshotTimer.Layout.Size, name: "sshot_any");
        g.ExpectEq(g.VcpuOp(VcpuOp.SetSingleshotTimer, 1, arg.Ptr), -Errno.EINVAL, "set_singleshot_timer on vCPU 1");
        g.ExpectEq(g.VcpuOp(VcpuOp.SetSingleshotTimer, 1, 0x4000_0000), -Errno.EINVAL, "vCPU 1 with an unmapped argument: EINVAL before EFAULT");
        g.ExpectEq(g.VcpuOp(VcpuOp.StopSingleshotTimer, 1, 0), -Errno.EINVAL, "stop_singleshot_timer on vCPU 1");
        g.ExpectEq(g.VcpuOp(VcpuOp.SetSingleshotTimer, 0, 0x4000_0000), -Errno.EFAULT, "argument at an unmapped address");
        g.ExpectEq(g.VcpuOp(VcpuOp.SetSingleshotTimer, 0, 0x0000_8000_0000_0000), -Errno.EFAULT, "argument at a non-canonical address");
        g.ExpectEq(g.VcpuOp(VcpuOp.SetSingleshotTimer, 2, arg.Ptr), -Errno.ENOENT, "set_singleshot_timer on vCPU 2");
        g.ExpectEq(g.VcpuOp(VcpuOp.StopSingleshotTimer, 2, 0), -Errno.ENOENT, "stop_singleshot_timer on vCPU 2");
        g.ExpectEq(TimerEvents.QuietUntil(g, port, PvClock.Now(g) + 20 * Ms), 1, "the refused calls armed nothing");
        g.Print("single-shot timer: fires at the deadline, past deadlines at once\n");
        g.Success();
    }
}
