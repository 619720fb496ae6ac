using Xtf.Abi;

namespace Xtf.Suite.Pv.Sched;

/// <summary>Reason 5: the hardware domain cannot be soft-reset; Xen reports it and reboots.</summary>
public sealed class SchedShutdownSoftReset : ShutdownReasonTest
{
    public override string Name => "sched-shutdown-soft-reset";
    public override string Title => "SCHEDOP_shutdown: SHUTDOWN_soft_reset (5)";
    protected override uint Reason => (uint)ShutdownReason.SoftReset;
}
