using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Vcpu;

/// <summary>
/// VCPUOP_down on the caller is synchronous (docs/pv-abi.md §4.4): vCPU 1 downs itself, the call does
/// not return while it is down (is_up 0, the code after the call does not run), and returns 0
/// once vCPU 0 issues VCPUOP_up for it; vCPU 1 then continues after the call.
/// </summary>
public sealed class DownSelfResume : XtfTest
{
    public override string Name => "vcpu-down-self-resume";
    public override bool NeedsExactVcpus => true;
    public override string Title => "VCPUOP_down on itself returns 0 only after VCPUOP_up";
    public override string Category => "vcpu";
    public override int Vcpus => 2;

    public override void Body(GuestProgram g)
    {
        var stage = g.Var("ap_stage");
        var downRc = g.Var("ap_down_rc", 0x5a5a);
        var ap = g.Function("ap_entry", () =>
        {
            g.Set(stage, 1);
            g.Set(downRc, g.VcpuOp(VcpuOp.Down, 1, 0));
            g.Set(stage, 2);
            var isUp = g.VcpuOp(VcpuOp.IsUp, 1, 0);
            g.Set(stage, 2 + isUp);                  // 3 when vCPU 1 sees itself up
            g.Spin();
        });

        g.StartVcpu(1, ap);
        g.Expect(PvClock.WaitFor(g, () => g.VcpuOp(VcpuOp.IsUp, 1, 0) == 0) == 1, "vCPU 1 went down by itself");
        g.ExpectEq(stage, 1, "vCPU 1 is stopped inside VCPUOP_down");
        PvClock.SpinFor(g, 50_000_000);
        g.ExpectEq(stage, 1, "still inside VCPUOP_down 50 ms later");
        g.ExpectEq(downRc, 0x5a5a, "VCPUOP_down has not returned");

        g.ExpectEq(g.VcpuOp(VcpuOp.Up, 1, 0), 0, "up(1) from vCPU 0");
        g.Expect(PvClock.WaitFor(g, () => stage == 3) == 1, "vCPU 1 continued after its down and sees itself up");
        g.ExpectEq(downRc, 0, "VCPUOP_down on itself returned 0 after the up");
        g.ExpectEq(g.VcpuOp(VcpuOp.Down, 1, 0), 0, "down(1) at the end");
        g.Print("down(self): returned after up\n");
        g.Success();
    }
}
