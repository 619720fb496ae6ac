namespace Xtf.Suite.Pv.Sched;

/// <summary>Reason 256: Xen keeps only the low byte, so this is SHUTDOWN_poweroff ("halted"), not "unknown reason 256".</summary>
public sealed class SchedShutdownTruncate : ShutdownReasonTest
{
    public override string Name => "sched-shutdown-truncate";
    public override string Title => "SCHEDOP_shutdown: reason 256 is truncated to poweroff";
    protected override uint Reason => 256u;
}
