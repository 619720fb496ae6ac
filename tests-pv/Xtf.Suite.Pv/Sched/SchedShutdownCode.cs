using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Sched;

/// <summary>
/// SCHEDOP_shutdown_code latches the first code only (docs/pv-abi.md §5.6, §10.1): bad pointers are -EFAULT
/// and latch nothing; shutdown_code(0x102) latches 2 (low byte), a later shutdown_code(3) is a
/// silent no-op, and the final SCHEDOP_shutdown(poweroff) reports the latched 2.
/// </summary>
public sealed class SchedShutdownCode : XtfTest
{
    public override string Name => "sched-shutdown-code";
    public override string Title => "SCHEDOP_shutdown_code: first code latched, overrides the later shutdown";
    public override string Category => "sched";
    public override int ExpectedShutdownReason => (int)ShutdownReason.Suspend;

    public override void Body(GuestProgram g)
    {
        foreach (var (address, what) in SchedKit.BadPointers)
            g.ExpectEq(g.SchedOp(SchedOp.ShutdownCode, (long)address), -Errno.EFAULT, $"SCHEDOP_shutdown_code({what})");
        var hole = SchedKit.UnmappedPage(g);
        g.ExpectEq(g.SchedOp(SchedOp.ShutdownCode, hole - 2), -Errno.EFAULT, "SCHEDOP_shutdown_code(struct straddling into an unmapped page)");

        var first = SchedKit.ShutdownArg(g, 0x102, "code_first");
        var second = SchedKit.ShutdownArg(g, (int)ShutdownReason.Crash, "code_second");
        g.ExpectEq(g.SchedOp(SchedOp.ShutdownCode, first.Ptr), 0, "SCHEDOP_shutdown_code(0x102)");
        g.ExpectEq(g.SchedOp(SchedOp.Yield, 0), 0, "still running after shutdown_code");
        g.ExpectEq(g.SchedOp(SchedOp.ShutdownCode, second.Ptr), 0, "SCHEDOP_shutdown_code(3) again: silent no-op");
        g.ExpectEq(g.SchedOp(SchedOp.ShutdownCode, (long)SchedKit.BadPointers[0].Address), -Errno.EFAULT,
            "SCHEDOP_shutdown_code(bad pointer) after latching");
        g.Print("latched 0x102, then shutdown(poweroff): Xen must report reason 2\n");
        g.Success();
        g.FinishWith((int)ShutdownReason.Poweroff);
    }
}
