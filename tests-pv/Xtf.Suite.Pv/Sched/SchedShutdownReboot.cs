using Xtf.Abi;

namespace Xtf.Suite.Pv.Sched;

/// <summary>Reason 1: Xen prints "Hardware Dom0 shutdown: rebooting machine" and resets the machine.</summary>
public sealed class SchedShutdownReboot : ShutdownReasonTest
{
    public override string Name => "sched-shutdown-reboot";
    public override string Title => "SCHEDOP_shutdown: SHUTDOWN_reboot (1)";
    protected override uint Reason => (uint)ShutdownReason.Reboot;
}
