using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Vcpu;

/// <summary>
/// VCPUOP_up/down/is_up state machine (docs/pv-abi.md §4.3-4.5, docs/dom0.md §2.13): is_up of vCPU 0 (1), of a
/// never-initialised vCPU (0) and of a nonexistent one (-ENOENT); down of a never-initialised
/// vCPU is 0 and changes nothing; up before initialise is -EINVAL; after initialise the vCPU is
/// down until up; up is idempotent; vCPU 0 downs the spinning vCPU 1 (is_up 0 at once, its
/// counter stops), a second down is 0, and up resumes it where it stopped.
/// </summary>
public sealed class UpDownIsUp : XtfTest
{
    public override string Name => "vcpu-up-down";
    public override bool NeedsExactVcpus => true;
    public override string Title => "VCPUOP_up/down/is_up: states of a second vCPU";
    public override string Category => "vcpu";
    public override int Vcpus => 2;

    public override void Body(GuestProgram g)
    {
        var counter = g.Var("ap_counter");
        var ap = g.Function("ap_entry", () =>
        {
            var l = g.NewLabel("ap_loop");
            g.Mark(l);
            g.AtomicAdd(counter, 1);
            g.Asm.pause();
            g.Goto(l);
        });

        g.ExpectEq(g.VcpuOp(VcpuOp.IsUp, 0, 0), 1, "is_up(0): the running vCPU");
        g.ExpectEq(g.VcpuOp(VcpuOp.IsUp, 1, 0), 0, "is_up(1): never initialised");
        g.ExpectEq(g.VcpuOp(VcpuOp.IsUp, 2, 0), -Errno.ENOENT, "is_up(2): no such vCPU");
        g.ExpectEq(g.VcpuOp(VcpuOp.Down, 1, 0), 0, "down(1) of a never-initialised vCPU");
        g.ExpectEq(g.VcpuOp(VcpuOp.IsUp, 1, 0), 0, "is_up(1) after that down");
        g.ExpectEq(g.VcpuOp(VcpuOp.Up, 1, 0), -Errno.EINVAL, "up(1) before initialise");
        g.ExpectEq(g.VcpuOp(VcpuOp.Down, 2, 0), -Errno.ENOENT, "down(2)");
        g.ExpectEq(g.VcpuOp(VcpuOp.Up, 2, 0), -Errno.ENOENT, "up(2)");

        var ctx = g.VcpuContext(1, ap);
        g.ExpectEq(g.VcpuOp(VcpuOp.Initialise, 1, ctx.Ptr), 0, "initialise(1)");
        g.ExpectEq(g.VcpuOp(VcpuOp.IsUp, 1, 0), 0, "is_up(1): initialised but not up");
        g.ExpectEq(counter, 0, "vCPU 1 did not run before up");
        g.ExpectEq(g.VcpuOp(VcpuOp.Up, 1, 0), 0, "up(1)");
        g.ExpectEq(g.VcpuOp(VcpuOp.IsUp, 1, 0), 1, "is_up(1) after up");
        g.ExpectEq(g.VcpuOp(VcpuOp.Up, 1, 0), 0, "up(1) again (idempotent)");
        g.ExpectEq(g.VcpuOp(VcpuOp.IsUp, 1, 0), 1, "is_up(1) still 1");
        g.Expect(PvClock.WaitFor(g, () => counter > 1000) == 1, "vCPU 1 runs its loop");

        // Down from vCPU 0: is_up drops at once; the vCPU stops soon after (asynchronous).
        g.ExpectEq(g.VcpuOp(VcpuOp.Down, 1, 0), 0, "down(1) from vCPU 0");
        g.ExpectEq(g.VcpuOp(VcpuOp.IsUp, 1, 0), 0, "is_up(1) right after down");
        var before = g.Var("count_before");
        var after = g.Var("count_after");
        // Asynchronous: wait until Xen has switched it out (runstate offline), then sample.
        var rs = g.Alloc(VcpuRunstateInfo.Layout.Size, name: "rs");
        g.Expect(PvClock.WaitFor(g, () =>
        {
            g.VcpuOp(VcpuOp.GetRunstateInfo, 1, rs.Ptr);
            return rs.S32(VcpuRunstateInfo.Layout.State) == (int)RunState.Offline;
        }) == 1, "vCPU 1 is switched out (offline) after the down");
        g.Set(before, counter);
        PvClock.SpinFor(g, 50_000_000);
        g.Set(after, counter);
        g.ExpectEq(after, before, "vCPU 1's counter is frozen while it is down");
        g.ExpectEq(g.VcpuOp(VcpuOp.Down, 1, 0), 0, "down(1) again");
        g.ExpectEq(g.VcpuOp(VcpuOp.IsUp, 1, 0), 0, "is_up(1) still 0");
        g.ExpectEq(g.VcpuOp(VcpuOp.IsUp, 0, 0), 1, "is_up(0) unaffected");

        // Up again: it resumes its loop (no re-initialise needed).
        g.ExpectEq(g.VcpuOp(VcpuOp.Up, 1, 0), 0, "up(1) after down");
        g.ExpectEq(g.VcpuOp(VcpuOp.IsUp, 1, 0), 1, "is_up(1) after the second up");
        g.Expect(PvClock.WaitFor(g, () => counter > after + 1000) == 1, "vCPU 1 continues counting");
        g.ExpectEq(g.VcpuOp(VcpuOp.Initialise, 1, ctx.Ptr), -Errno.EEXIST, "initialise(1) of a running vCPU");
        g.ExpectEq(g.VcpuOp(VcpuOp.Down, 1, 0), 0, "down(1) at the end");
        g.Print("up/down/is_up: states as expected\n");
        g.Success();
    }
}
