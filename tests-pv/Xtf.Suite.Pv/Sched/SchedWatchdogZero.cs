using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Sched;

/// <summary>
/// SCHEDOP_watchdog with id 0 and timeout 0 allocates a slot armed to expire at once (docs/pv-abi.md §5.7
/// quirk): the allocation still returns id 1, and the domain is shut down with SHUTDOWN_watchdog
/// as soon as Xen's timer runs. The result line is printed before the call.
/// </summary>
public sealed class SchedWatchdogZero : XtfTest
{
    public override string Name => "sched-watchdog-zero";
    public override string Title => "SCHEDOP_watchdog: id 0 with timeout 0 expires at once";
    public override string Category => "sched";
    public override int ExpectedShutdownReason => (int)ShutdownReason.Watchdog;

    public override void Body(GuestProgram g)
    {
        var arg = g.Alloc(global::Xtf.Abi.SchedWatchdog.Layout.Size, 4, "watchdog");
        g.Print("watchdog(id 0, timeout 0): expect an immediate watchdog shutdown\n");
        g.Success();
        g.ReportResultNow();
        g.SchedOp(SchedOp.Watchdog, arg.Ptr);
        g.While(Val.Const(1) == 1, () => g.SchedOp(SchedOp.Block, 0));
    }
}
