using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Vcpu;

/// <summary>
/// VCPUOP_set_periodic_timer / stop_periodic_timer (docs/pv-abi.md §4.8, §6.1), observed through
/// VIRQ_TIMER's pending bit with events masked. Timing checks are one-sided so host load cannot
/// break them: N ticks never take less than (N-1) periods, and they come within a generous
/// bound (under QEMU TCG each tick is late by 1-8 ms and Xen re-arms from the late "now", so
/// measured periods are longer than set; upper bounds on the tick rate would be flaky). The default 10 ms period ticks while the vCPU spins; 20 ms and the 1 ms minimum are
/// accepted; periods below 1 ms, above 2^62-1, 0 and 2^64-1 are -EINVAL and keep the previous
/// period; 2^62-1 is accepted and never ticks; stop silences it (its argument is ignored);
/// setting a period whose next tick is overdue ticks before returning; the timer does not run
/// while the vCPU is blocked and the overdue tick arrives when it is switched back in. Any
/// vCPU may be targeted; a bad argument is -EFAULT, vCPU 2 -ENOENT.
/// </summary>
public sealed class PeriodicTimer : XtfTest
{
    public override string Name => "vcpu-periodic-timer";
    public override string Title => "VCPUOP_set/stop_periodic_timer: ticks on VIRQ_TIMER";
    public override string Category => "vcpu";
    public override int Vcpus => 2;

    private const long Ms = 1_000_000;
    private const long Slack = Ms / 2;            // timer slop and clock rounding

    public override void Body(GuestProgram g)
    {
        var port = TimerEvents.BindVirq(g, Virq.Timer, 0);
        var took = g.Var("took");

        // Default period (10 ms, docs/pv-abi.md §4.1, docs/dom0.md §2.10).
        g.Set(took, TimerEvents.TimeTicks(g, port, 5, 2000 * Ms));
        g.Expect(took != -1, "default period: 5 ticks within 2 s");
        g.Expect(took.UGe(4 * 10 * Ms - Slack), "default period: 5 ticks take at least 40 ms");

        g.ExpectEq(TimerEvents.SetPeriodic(g, 0, 20 * Ms), 0, "set_periodic_timer(20 ms)");
        g.Set(took, TimerEvents.TimeTicks(g, port, 4, 2000 * Ms));
        g.Expect(took != -1, "20 ms period: 4 ticks within 2 s");
        g.Expect(took.UGe(3 * 20 * Ms - Slack), "20 ms period: 4 ticks take at least 60 ms");

        // Refused periods leave the 20 ms period in place.
        g.ExpectEq(TimerEvents.SetPeriodic(g, 0, 999_999), -Errno.EINVAL, "period 999999 ns (below 1 ms)");
        g.ExpectEq(TimerEvents.SetPeriodic(g, 0, 0), -Errno.EINVAL, "period 0");
        g.ExpectEq(TimerEvents.SetPeriodic(g, 0, 0x4000_0000_0000_0000), -Errno.EINVAL, "period 2^62 (above STIME_DELTA_MAX)");
        g.ExpectEq(TimerEvents.SetPeriodic(g, 0, -1), -Errno.EINVAL, "period 2^64-1");
        g.ExpectEq(g.VcpuOp(VcpuOp.SetPeriodicTimer, 0, 0x4000_0000), -Errno.EFAULT, "argument at an unmapped address");
        g.ExpectEq(g.VcpuOp(VcpuOp.SetPeriodicTimer, 0, 0x0000_8000_0000_0000), -Errno.EFAULT, "argument at a non-canonical address");
        g.ExpectEq(g.VcpuOp(VcpuOp.SetPeriodicTimer, 2, 0x4000_0000), -Errno.ENOENT, "vCPU 2 (before the argument is read)");
        g.Set(took, TimerEvents.TimeTicks(g, port, 3, 2000 * Ms));
        g.Expect((took != -1) & took.UGe(2 * 20 * Ms - Slack), "still the 20 ms period after the refused sets");

        g.ExpectEq(TimerEvents.SetPeriodic(g, 0, 1 * Ms), 0, "period 1 ms (the minimum)");
        g.Set(took, TimerEvents.TimeTicks(g, port, 10, 2000 * Ms));
        g.Expect(took != -1, "1 ms period: 10 ticks within 2 s");
        g.Expect(took.UGe(9 * Ms - Slack), "1 ms period: 10 ticks take at least 9 ms");

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
        // timer port runs into its 30 ms timeout; the overdue tick comes on the way back in.
        var ports = g.Alloc(4, name: "poll_ports");
        g.Set(ports.U32(0), port);
        var t0 = g.Var("poll_start");
        TimerEvents.TakePending(g, port);
        g.Set(t0, PvClock.Now(g));
        g.ExpectEq(TimerEvents.PollUntil(g, t0 + 30 * Ms, ports.Ptr, 1), 0, "poll on the timer port with a 30 ms timeout");
        g.Expect((PvClock.Now(g) - t0).UGe(30 * Ms - Slack), "the periodic timer did not end the poll early");
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
