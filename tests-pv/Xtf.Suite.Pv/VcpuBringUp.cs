using Xtf.Abi;
using Xtf.Guest;
using Xtf.Suite.Pv.Vcpu;

namespace Xtf.Suite.Pv;

/// <summary>
/// vCPU 1 is brought up from a vcpu_guest_context the guest builds, runs alongside vCPU 0 on
/// shared memory, and takes itself down; is_up follows each step and a second initialise is EEXIST.
/// vCPU 1 waits for vCPU 0's second VCPUOP_up before it can finish, so that up never meets a vCPU
/// that has already taken itself down (which would bring it back).
/// </summary>
public sealed class VcpuBringUp : XtfTest
{
    public override string Name => "vcpu-bring-up";
    public override bool NeedsExactVcpus => true;
    public override string Title => "VCPUOP_initialise/up/down: a second vCPU runs and stops";
    public override string Category => "vcpu";
    public override int Vcpus => 2;

    private const int Rounds = 1000;

    public override void Body(GuestProgram g)
    {
        var counter = g.Var("counter");
        var started = g.Var("ap_started");
        var done = g.Var("ap_done");
        var go = g.Var("ap_go");

        var ap = g.Function("ap_entry", () =>
        {
            g.Set(started, 1);
            g.While(go == 0, () => g.Asm.pause());   // stay up until vCPU 0 has made its second VCPUOP_up (no bound: vCPU 0 sets it)
            var i = g.Var("ap_i");
            g.For(i, 0, Rounds, () => g.AtomicAdd(counter, 1));
            g.Set(done, 1);
            g.DownSelf(1);
            g.Spin();
        });

        g.ExpectEq(g.VcpuOp(VcpuOp.IsUp, 1, 0), 0, "vCPU 1 is down at boot");
        g.ExpectEq(g.VcpuOp(VcpuOp.Up, 1, 0), -Errno.EINVAL, "VCPUOP_up before VCPUOP_initialise");
        g.ExpectEq(g.VcpuOp(VcpuOp.IsUp, 2, 0), -Errno.ENOENT, "VCPUOP_is_up on a vCPU that does not exist");

        g.StartVcpu(1, ap);
        g.ExpectEq(g.VcpuOp(VcpuOp.Up, 1, 0), 0, "VCPUOP_up again is idempotent");
        g.ExpectEq(g.VcpuOp(VcpuOp.IsUp, 1, 0), 1, "vCPU 1 is up while it waits");
        g.Set(go, 1);
        var i0 = g.Var("bsp_i");
        g.For(i0, 0, Rounds, () => g.AtomicAdd(counter, 1));

        g.Expect(PvClock.WaitFor(g, () => done == 1) == 1, "vCPU 1 finished its loop");
        g.ExpectEq(started, 1, "vCPU 1 ran its entry point");
        g.ExpectEq(counter, 2 * Rounds, "both vCPUs' atomic additions");
        g.Expect(PvClock.WaitFor(g, () => g.VcpuOp(VcpuOp.IsUp, 1, 0) == 0) == 1, "vCPU 1 reports down after VCPUOP_down on itself");

        var ctx = g.VcpuContext(1, ap);
        g.ExpectEq(g.VcpuOp(VcpuOp.Initialise, 1, ctx.Ptr), -Errno.EEXIST, "VCPUOP_initialise of an initialised vCPU");
        g.ExpectEq(g.VcpuOp(VcpuOp.Initialise, 0, ctx.Ptr), -Errno.EEXIST, "VCPUOP_initialise of the running vCPU 0");
        g.Success();
    }
}
