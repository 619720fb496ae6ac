using Xtf.Abi;

namespace Xtf.Suite.Pv.Sched;

/// <summary>Reason 4 passed directly (no watchdog timer involved): "watchdog rebooting machine".</summary>
public sealed class SchedShutdownWatchdog : ShutdownReasonTest
{
    public override string Name => "sched-shutdown-watchdog";
    public override string Title => "SCHEDOP_shutdown: SHUTDOWN_watchdog (4)";
    protected override uint Reason => (uint)ShutdownReason.Watchdog;
}
