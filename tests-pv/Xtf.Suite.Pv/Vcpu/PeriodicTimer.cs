using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Vcpu;

/// <summary>
/// VCPUOP_set_periodic_timer / stop_periodic_timer (docs/pv-abi.md §4.8, §6.1, docs/timing.md),
/// observed through VIRQ_TIMER's pending bit with events masked. Xen sends a tick only once at
/// least a period has passed since the last one and re-arms from that moment, so N ticks
/// never take less than (N-1) periods, measured from a clock reading taken before the pending
/// bit was cleared (vCPU 0 stays on pCPU 0, where its timer runs, so its clock is that NOW()).
/// There is no upper bound: under QEMU TCG ticks are late and the timer re-arms from the late
/// "now". The default 10 ms period ticks while the vCPU spins; 20 ms and the 1 ms minimum are
/// accepted; periods below 1 ms, above 2^62-1, 0 and 2^64-1 are -EINVAL and keep the previous
/// period; 2^62-1 is accepted and never ticks; stop silences it (its argument is ignored);
/// setting a period whose next tick is overdue ticks before returning; the timer does not run
/// while the vCPU is blocked (a poll on the timer port that Xen really blocked, seen in
/// time[blocked], runs into its timeout) and the overdue tick arrives when it is switched back in.
/// Any vCPU may be targeted; a bad argument is -EFAULT, vCPU 2 -ENOENT.
/// </summary>
public sealed class PeriodicTimer : XtfTest
{
    public override string Name => "vcpu-periodic-timer";
    public override bool NeedsExactVcpus => true;
    public override string Title => "VCPUOP_set/stop_periodic_timer: ticks on VIRQ_TIMER";
    public override string Category => "vcpu";
    public override int Vcpus => 2;

    private const long Ms = 1_000_000;

    public override void Body(GuestProgram g)
    {
        PvClock.StayOnPcpu0(g);
        var port = TimerEvents.BindVirq(g, Virq.Timer, 0);
        var took = g.Var("took");

        // Default period (10 ms, docs/pv-abi.md §4.1, docs/dom0.md §2.10).
        g.Set(took, TimerEvents.TimeTicks(g, port, 5, PvClock.Patience));
        g.Expect(took != -1, "default period: 5 ticks arrive");
        g.Expect(took.UGe(4 * 10 * Ms), "default period: 5 ticks take at least 40 ms");

        g.ExpectEq(TimerEvents.SetPeriodic(g, 0, 20 * Ms), 0, "set_periodic_timer(20 ms)");
        g.Set(took, TimerEvents.TimeTicks(g, port, 4, PvClock.Patience));
        g.Expect(took != -1, "20 ms period: 4 ticks arrive");
        g.Expect(took.UGe(3 * 20 * Ms), "20 ms period: 4 ticks take at least 60 ms");

        // Refused periods leave the 20 ms period in place.
        g.ExpectEq(TimerEvents.SetPeriodic(g, 0, 999_999), -Errno.EINVAL, "period 999999 ns (below 1 ms)");
        g.ExpectEq(TimerEvents.SetPeriodic(g, 0, 0), -Errno.EINVAL, "period 0");
        g.ExpectEq(TimerEvents.SetPeriodic(g, 0, 0x4000_0000_0000_0000), -Errno.EINVAL, "period 2^62 (above STIME_DELTA_MAX)");
        g.ExpectEq(TimerEvents.SetPeriodic(g, 0, -1), -Errno.EINVAL, "period 2^64-1");
        g.ExpectEq(g.VcpuOp(VcpuOp.SetPeriodicTimer, 0, 0x4000_0000), -Errno.EFAULT, "argument at an unmapped address");
        g.ExpectEq(g.VcpuOp(VcpuOp.SetPeriodicTimer, 0, 0x0000_8000_0000_0000), -Errno.EFAULT, "argument at a non-canonical address");
        g.ExpectEq(g.VcpuOp(VcpuOp.SetPeriodicTimer, 2, 0x4000_0000), -Errno.ENOENT, "vCPU 2 (before the argument is read)");
        g.Set(took, TimerEvents.TimeTicks(g, port, 3, PvClock.Patience));
        g.Expect((took != -1) & took.UGe(2 * 20 * Ms), "still the 20 ms period after the refused sets");

        g.ExpectEq(TimerEvents.SetPeriodic(g, 0, 1 * Ms), 0, "period 1 ms (the minimum)");
        g.Set(took, TimerEvents.TimeTicks(g, port, 10, PvClock.Patience));
        g.Expect(took != -1, "1 ms period: 10 ticks arrive");
        g.Expect(took.UGe(9 * Ms), "1 ms period: 10 ticks take at least 9 ms");

        g.ExpectEq(TimerEvents.SetPeriodic(g, 0, 0x3FFF_FFFF_FFFF_FFFF), 0, "period 2^62-1 (the maximum)");
        TimerEvents.TakePending(g, port);
        g.ExpectEq(TimerEvents.QuietUntil(g, port, PvClock.Now(g) + 50 * Ms), 1, "no tick with a 2^62-1 period");

        // Stop: no ticks; the argument is not looked at.
        g.ExpectEq(TimerEvents.SetPeriodic(g, 0, 10 * Ms), 0, "period 10 ms");
        g.ExpectEq(g.VcpuOp(VcpuOp.StopPeriodicTimer, 0, 0x4000_0000), 0, "stop_periodic_timer (unmapped argument ignored)");
        TimerEvents.TakePending(g, port);
        g.ExpectEq(TimerEvents.QuietUntil(g, port, PvClock.Now(g) + 50 * Ms), 1, "no tick after stop");
        g.ExpectEq(g.VcpuOp(VcpuOp.StopPeriodicTimer, 0, 0), 0, "stop again");

        // The last tick is more than a period ago: setting the period ticks before returning.
        g.ExpectEq(TimerEvents.SetPeriodic(g, 0, 10 * Ms), 0, "period 10 ms after 50 ms stopped");
        g.ExpectEq(TimerEvents.TakePending(g, port), 1, "the overdue tick is sent by the set itself");

        // Blocked: the periodic timer stops while the vCPU is switched out, so a poll on the
        // timer port that Xen really blocked runs into its 30 ms timeout; the overdue tick comes
        // on the way back in. (If the host holds the vCPU past the next tick before Xen reaches
        // its scheduler, the tick ends the poll before any block: allowed, and repeated.)
        var ports = g.Alloc(4, name: "poll_ports");
        g.Set(ports.U32(0), port);
        var t0 = g.Var("poll_start");
        var blocked = g.Var("blocked_before");
        var runstate = g.Alloc(VcpuRunstateInfo.Layout.Size, name: "poll_runstate");
        var slept = PvClock.Attempts(g, 3, () =>
        {
            g.Set(blocked, TimerEvents.BlockedTime(g, runstate, 0));
            g.Set(t0, PvClock.Now(g));
            TimerEvents.TakePending(g, port);
            g.ExpectEq(TimerEvents.PollUntil(g, t0 + 30 * Ms, ports.Ptr, 1), 0, "poll on the timer port with a 30 ms timeout");
            var wasBlocked = g.Var("poll_blocked");
            g.Set(wasBlocked, 0);
            g.If(TimerEvents.BlockedTime(g, runstate, 0).UGt(blocked), () =>
            {
                g.Set(wasBlocked, 1);
                g.Expect(PvClock.Now(g).UGe(t0 + 30 * Ms), "the periodic timer did not end the poll early");
            });
            return wasBlocked;
        });
        g.ExpectEq(slept, 1, "Xen blocked the poll (time[blocked] grew), within 3 attempts");
        g.ExpectEq(TimerEvents.TakePending(g, port), 1, "the overdue tick is pending after the poll");

        // Other vCPUs may be targeted.
        g.ExpectEq(TimerEvents.SetPeriodic(g, 1, 5 * Ms), 0, "set_periodic_timer on the down vCPU 1");
        g.ExpectEq(g.VcpuOp(VcpuOp.StopPeriodicTimer, 1, 0), 0, "stop_periodic_timer on vCPU 1");
        g.ExpectEq(g.VcpuOp(VcpuOp.StopPeriodicTimer, 2, 0), -Errno.ENOENT, "stop_periodic_timer on vCPU 2");
        g.ExpectEq(g.VcpuOp(VcpuOp.StopPeriodicTimer, 0, 0), 0, "stop");
        g.Print("periodic timer: periods, limits and stop as expected\n");
        g.Success();
    }
}
