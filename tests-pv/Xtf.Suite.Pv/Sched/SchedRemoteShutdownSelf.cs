using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Sched;

/// <summary>
/// Dom0 is the control domain, so SCHEDOP_remote_shutdown naming its own id 0 passes the
/// privilege check and shuts it down (docs/pv-abi.md §5.5, §10.1) with the reason given (low byte of
/// 0x102 = 2, "unknown reason 2" for the hardware domain). The result line is printed before
/// the call, since nothing returns from it.
/// </summary>
public sealed class SchedRemoteShutdownSelf : XtfTest
{
    public override string Name => "sched-remote-shutdown-self";
    public override string Title => "SCHEDOP_remote_shutdown: dom0 shuts down domain 0 (itself)";
    public override string Category => "sched";
    public override int ExpectedShutdownReason => (int)ShutdownReason.Suspend;

    public override void Body(GuestProgram g)
    {
        var arg = g.Alloc(SchedRemoteShutdown.Layout.Size, 4, "remote_shutdown");
        g.Set(arg.U16(SchedRemoteShutdown.Layout.DomainId), DomId.Self);
        g.Set(arg.U32(SchedRemoteShutdown.Layout.Reason), 0x102);
        g.ExpectEq(g.SchedOp(SchedOp.RemoteShutdown, arg.Ptr), -Errno.ESRCH, "DOMID_SELF is not domain 0 here");
        g.Set(arg.U16(SchedRemoteShutdown.Layout.DomainId), 0);
        g.Print("remote_shutdown(domain 0, reason 0x102)\n");
        g.Success();
        g.ReportResultNow();
        g.SchedOp(SchedOp.RemoteShutdown, arg.Ptr);
        g.Spin();
    }
}
