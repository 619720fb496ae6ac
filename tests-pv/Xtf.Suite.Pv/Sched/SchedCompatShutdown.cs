using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Sched;

/// <summary>
/// sched_op_compat(SCHEDOP_shutdown, arg) takes the reason in the argument register itself, not
/// through a pointer, and keeps its low byte (docs/pv-abi.md §5.10): 0x101 is SHUTDOWN_reboot. The result
/// line is printed before the call.
/// </summary>
public sealed class SchedCompatShutdown : XtfTest
{
    public override string Name => "sched-compat-shutdown";
    public override string Title => "sched_op_compat: shutdown with the reason in the argument (0x101 = reboot)";
    public override string Category => "sched";
    public override int ExpectedShutdownReason => (int)ShutdownReason.Reboot;

    public override void Body(GuestProgram g)
    {
        g.Print("sched_op_compat(SCHEDOP_shutdown, 0x101)\n");
        g.Success();
        g.ReportResultNow();
        g.Hypercall(Hypercall.SchedOpCompat, SchedOp.Shutdown, 0x101);
        g.Spin();
    }
}
