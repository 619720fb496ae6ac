using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Vcpu;

/// <summary>
/// VCPUOP_down of the only running vCPU shuts the domain down with SHUTDOWN_poweroff (docs/pv-abi.md §4.4
/// case 1, §10.1): the result line is printed first, then vCPU 0 downs itself; the call never
/// returns (if it did, the test ends with a crash shutdown, which the runner reports as a
/// reason mismatch). The second vCPU exists but was never initialised, so it counts as down.
/// </summary>
public sealed class DownLastPoweroff : XtfTest
{
    public override string Name => "vcpu-down-last-poweroff";
    public override bool NeedsExactVcpus => true;
    public override string Title => "VCPUOP_down of the last running vCPU powers the domain off";
    public override string Category => "vcpu";
    public override int Vcpus => 2;
    public override int ExpectedShutdownReason => (int)ShutdownReason.Poweroff;

    public override void Body(GuestProgram g)
    {
        g.ExpectEq(g.VcpuOp(VcpuOp.IsUp, 1, 0), 0, "vCPU 1 is down (never initialised)");
        g.Print("vCPU 0 goes down; Xen powers the domain off\n");
        g.Success();
        g.ReportResultNow();
        g.VcpuOp(VcpuOp.Down, 0, 0);
        // Not reached on Xen: a return would be a bug, made visible as a crash shutdown.
        g.FinishWith(ShutdownReason.Crash);
    }
}
