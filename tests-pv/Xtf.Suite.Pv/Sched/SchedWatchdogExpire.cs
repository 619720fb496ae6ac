using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Sched;

/// <summary>
/// A domain watchdog that is not poked in time shuts the domain down with SHUTDOWN_watchdog
/// (docs/pv-abi.md §5.7): the guest allocates a 3600 s watchdog (id 1), prints its result, pokes it down
/// to 1 s and blocks; Xen prints "Watchdog timer fired for domain 0" and reason 4.
/// </summary>
public sealed class SchedWatchdogExpire : XtfTest
{
    public override string Name => "sched-watchdog-expire";
    public override string Title => "SCHEDOP_watchdog: expiry shuts the domain down with reason watchdog";
    public override string Category => "sched";
    public override int ExpectedShutdownReason => (int)ShutdownReason.Watchdog;

    public override void Body(GuestProgram g)
    {
        var arg = g.Alloc(global::Xtf.Abi.SchedWatchdog.Layout.Size, 4, "watchdog");
        g.Set(arg.U32(global::Xtf.Abi.SchedWatchdog.Layout.Id), 0);
        g.Set(arg.U32(global::Xtf.Abi.SchedWatchdog.Layout.Timeout), 3600);
        g.ExpectEq(g.SchedOp(SchedOp.Watchdog, arg.Ptr), 1, "allocate a watchdog");
        g.Print("watchdog 1 armed; poking it to 1 s and blocking\n");
        g.Success();
        g.ReportResultNow();

        g.Set(arg.U32(global::Xtf.Abi.SchedWatchdog.Layout.Id), 1);
        g.Set(arg.U32(global::Xtf.Abi.SchedWatchdog.Layout.Timeout), 1);
        g.SchedOp(SchedOp.Watchdog, arg.Ptr);
        g.While(Val.Const(1) == 1, () => g.SchedOp(SchedOp.Block, 0));
    }
}
