using Xtf.Abi;

namespace Xtf.Suite.Pv.Sched;

/// <summary>Reason 3 asked for by the guest itself (not a Xen-detected crash): "Hardware Dom0 crashed".</summary>
public sealed class SchedShutdownCrash : ShutdownReasonTest
{
    public override string Name => "sched-shutdown-crash";
    public override string Title => "SCHEDOP_shutdown: SHUTDOWN_crash (3)";
    protected override uint Reason => (uint)ShutdownReason.Crash;
}
