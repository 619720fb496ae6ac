using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Sched;

/// <summary>
/// SCHEDOP_shutdown whose sched_shutdown cannot be read returns -EFAULT and shuts nothing down
/// (docs/pv-abi.md §5.3: the only error shutdown has); the domain keeps running and finally powers off
/// through the ordinary path (reason 0, the default).
/// </summary>
public sealed class SchedShutdownFault : XtfTest
{
    public override string Name => "sched-shutdown-efault";
    public override string Title => "SCHEDOP_shutdown: unreadable argument is -EFAULT, domain keeps running";
    public override string Category => "sched";

    public override void Body(GuestProgram g)
    {
        foreach (var (address, what) in SchedKit.BadPointers)
            g.ExpectEq(g.SchedOp(SchedOp.Shutdown, (long)address), -Errno.EFAULT, $"SCHEDOP_shutdown({what})");

        // A 4-byte struct whose last two bytes lie on an unmapped page.
        var hole = SchedKit.UnmappedPage(g);
        g.ExpectEq(g.SchedOp(SchedOp.Shutdown, hole - 2), -Errno.EFAULT, "SCHEDOP_shutdown(struct straddling into an unmapped page)");
        g.ExpectEq(g.SchedOp(SchedOp.Shutdown, hole), -Errno.EFAULT, "SCHEDOP_shutdown(unmapped page)");

        // Still running: hypercalls work and the result line is printed by the normal finish.
        g.ExpectEq(g.SchedOp(SchedOp.Yield, 0), 0, "SCHEDOP_yield after the failed shutdowns");
        g.Print("still running after %u failed shutdowns\n", SchedKit.BadPointers.Length + 2);
        g.Success();
    }
}
