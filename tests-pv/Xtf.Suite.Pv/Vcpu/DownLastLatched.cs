using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Vcpu;

/// <summary>
/// A shutdown code latched with SCHEDOP_shutdown_code wins over the poweroff that VCPUOP_down
/// of the last running vCPU requests (docs/pv-abi.md §4.4 case 1, docs/dom0.md §3): after shutdown_code(reboot),
/// vCPU 0 downing itself ends the domain with reason reboot.
/// </summary>
public sealed class DownLastLatched : XtfTest
{
    public override string Name => "vcpu-down-last-latched";
    public override string Title => "VCPUOP_down of the last vCPU uses a latched shutdown code";
    public override string Category => "vcpu";
    public override int ExpectedShutdownReason => (int)ShutdownReason.Reboot;

    public override void Body(GuestProgram g)
    {
        var code = g.Alloc(SchedShutdown.Layout.Size, 4, "shutdown_code");
        g.Set(code.U32(SchedShutdown.Layout.Reason), ShutdownReason.Reboot);
        g.ExpectEq(g.SchedOp(SchedOp.ShutdownCode, code.Ptr), 0, "SCHEDOP_shutdown_code(reboot)");
        g.ExpectEq(g.VcpuOp(VcpuOp.IsUp, 0, 0), 1, "the code only latches: vCPU 0 still runs");
        g.Print("vCPU 0 goes down; Xen uses the latched reboot code\n");
        g.Success();
        g.ReportResultNow();
        g.VcpuOp(VcpuOp.Down, 0, 0);
        g.FinishWith(ShutdownReason.Crash);
    }
}
