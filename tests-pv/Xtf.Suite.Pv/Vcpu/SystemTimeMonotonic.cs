using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Vcpu;

/// <summary>
/// Xen system time as a guest computes it from vcpu_time_info (docs/pv-abi.md §3.1, docs/timing.md):
/// 2000 successive readings never go backwards, including across SCHEDOP_yield and 5 ms blocks;
/// the stored system_time field itself never decreases; a 20 ms spin advances the clock by at
/// least 20 ms; and the clock is Xen's own NOW(): a single-shot timer set 10 ms ahead by this
/// clock is seen no earlier than the deadline by this clock, and get_runstate_info's entry time
/// is not in this clock's future. One pCPU: Xen's NOW() on one pCPU never goes back (each
/// calibration continues the line from where it was, or jumps forward) and the guest's copy is
/// refreshed before it runs again, so all of this holds however long the host holds the vCPU.
/// Times are compared in the guest and never printed.
/// </summary>
public sealed class SystemTimeMonotonic : XtfTest
{
    public override string Name => "time-system-time-monotonic";
    public override string Title => "System time from vcpu_time_info is monotonic and matches Xen";
    public override string Category => "time";

    private const long Ms = 1_000_000;

    public override void Body(GuestProgram g)
    {
        var prev = g.Var("prev");
        var now = g.Var("now_t");
        var backwards = g.Var("backwards");
        var fieldPrev = g.Var("field_prev");
        var fieldBack = g.Var("field_back");
        var i = g.Var("i");
        var sysField = Val.Mem(PvClock.TimeInfo(g) + VcpuTimeInfo.Layout.SystemTime, 8);

        g.Set(prev, PvClock.Now(g));
        g.Set(fieldPrev, sysField);
        g.Expect(prev != 0, "system time is non-zero");
        g.For(i, 0, 2000, () =>
        {
            g.If((i & 255) == 128, () => g.SchedOp(SchedOp.Yield, 0));
            g.If((i & 511) == 256, () => TimerEvents.BlockFor(g, 5 * Ms));
            g.Set(now, PvClock.Now(g));
            g.If(now.ULt(prev), () => g.Set(backwards, backwards + 1));
            g.Set(prev, now);
            g.If(sysField.ULt(fieldPrev), () => g.Set(fieldBack, fieldBack + 1));
            g.Set(fieldPrev, sysField);
        });
        g.ExpectEq(backwards, 0, "computed system time never went backwards in 2000 readings");
        g.ExpectEq(fieldBack, 0, "vcpu_time_info.system_time never decreased");

        var t0 = g.Var("t0");
        g.Set(t0, PvClock.Now(g));
        PvClock.SpinFor(g, 20 * Ms);
        g.Expect((PvClock.Now(g) - t0).UGe(20 * Ms), "a 20 ms spin advances the clock by 20 ms");

        // Agreement with Xen's NOW(): the timer must not fire before our clock reaches the
        // deadline, and the runstate entry time is not ahead of our clock.
        var port = TimerEvents.BindVirq(g, Virq.Timer, 0);
        g.ExpectEq(g.VcpuOp(VcpuOp.StopPeriodicTimer, 0, 0), 0, "stop the periodic timer");
        TimerEvents.TakePending(g, port);
        var deadline = g.Var("deadline");
        g.Set(deadline, PvClock.Now(g) + 10 * Ms);
        g.ExpectEq(TimerEvents.SetSingleshot(g, 0, deadline), 0, "single-shot timer 10 ms ahead");
        var seen = TimerEvents.WaitPending(g, port, PvClock.Patience);
        g.Expect(seen != 0, "Xen's timer fired");
        g.Expect(seen.UGe(deadline), "Xen's timer fired no earlier than our clock reached the deadline");
        var rs = g.Alloc(VcpuRunstateInfo.Layout.Size, name: "rs");
        g.ExpectEq(g.VcpuOp(VcpuOp.GetRunstateInfo, 0, rs.Ptr), 0, "get_runstate_info(0)");
        g.Expect(rs.U64(VcpuRunstateInfo.Layout.StateEntryTime).ULe(PvClock.Now(g)), "runstate entry time is not in our clock's future");
        g.Print("system time: monotonic, consistent with Xen's timers\n");
        g.Success();
    }
}
