using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Sched;

/// <summary>
/// SCHEDOP_remote_shutdown errors (docs/pv-abi.md §5.5): an unreadable argument is -EFAULT; a domain id
/// that names no domain is -ESRCH, including DOMID_SELF (not translated by this look-up), the
/// other reserved ids and ordinary ids no domain has (only dom0 exists). Nothing shuts down.
/// </summary>
public sealed class SchedRemoteShutdownErrors : XtfTest
{
    public override string Name => "sched-remote-shutdown-errors";
    public override string Title => "SCHEDOP_remote_shutdown: -EFAULT and -ESRCH";
    public override string Category => "sched";

    public override void Body(GuestProgram g)
    {
        foreach (var (address, what) in SchedKit.BadPointers)
            g.ExpectEq(g.SchedOp(SchedOp.RemoteShutdown, (long)address), -Errno.EFAULT, $"SCHEDOP_remote_shutdown({what})");
        var hole = SchedKit.UnmappedPage(g);
        g.ExpectEq(g.SchedOp(SchedOp.RemoteShutdown, hole - 4), -Errno.EFAULT, "SCHEDOP_remote_shutdown(struct straddling into an unmapped page)");

        var arg = g.Alloc(SchedRemoteShutdown.Layout.Size, 4, "remote_shutdown");
        g.Set(arg.U32(SchedRemoteShutdown.Layout.Reason), (int)ShutdownReason.Crash);
        foreach (var (domid, what) in new (int, string)[]
                 {
                     (DomId.Self, "DOMID_SELF"), (DomId.Io, "DOMID_IO"), (DomId.Xen, "DOMID_XEN"),
                     (DomId.Cow, "DOMID_COW"), (DomId.Invalid, "DOMID_INVALID"), (DomId.Idle, "DOMID_IDLE"),
                     (1, "domain 1"), (5, "domain 5"), (0x7FEF, "domain 0x7fef"), (0xFFFF, "domain 0xffff"),
                 })
        {
            g.Set(arg.U16(SchedRemoteShutdown.Layout.DomainId), domid);
            g.ExpectEq(g.SchedOp(SchedOp.RemoteShutdown, arg.Ptr), -Errno.ESRCH, $"SCHEDOP_remote_shutdown({what})");
        }
        g.ExpectEq(g.SchedOp(SchedOp.Yield, 0), 0, "still running");
        g.Print("no remote_shutdown took effect\n");
        g.Success();
    }
}
