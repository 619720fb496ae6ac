using Xtf.Abi;

namespace Xtf.Suite.Pv.Sched;

/// <summary>Reason 2: for the hardware domain Xen has no suspend path and prints "unknown reason 2".</summary>
public sealed class SchedShutdownSuspend : ShutdownReasonTest
{
    public override string Name => "sched-shutdown-suspend";
    public override string Title => "SCHEDOP_shutdown: SHUTDOWN_suspend (2)";
    protected override uint Reason => (uint)ShutdownReason.Suspend;
}
