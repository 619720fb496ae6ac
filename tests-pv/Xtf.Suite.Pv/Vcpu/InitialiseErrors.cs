using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Vcpu;

/// <summary>
/// VCPUOP_initialise outside the context checks (docs/pv-abi.md §4.0, §4.2 rows 1, 4, 5 and 10): -ENOENT
/// for a vCPU that does not exist before the pointer is read, -EFAULT for an unreadable context
/// before the "already initialised" test, -EEXIST for vCPU 0 and for a vCPU calling it on itself,
/// and vm_assist bits outside the valid set accepted for a vCPU other than 0.
/// </summary>
public sealed class InitialiseErrors : XtfTest
{
    public override string Name => "vcpu-initialise-errors";
    public override bool NeedsExactVcpus => true;
    public override string Title => "VCPUOP_initialise: ENOENT, EFAULT, EEXIST and their order";
    public override string Category => "vcpu";
    public override int Vcpus => 2;

    private const long Unmapped = 0x4000_0000;
    private const long NonCanonical = 0x0000_8000_0000_0000;
    private const long XenHole = unchecked((long)0xFFFF_8000_0000_0000);

    public override void Body(GuestProgram g)
    {
        var ran = g.Var("ap_ran");
        var selfInit = g.Var("ap_self_init");
        var initZero = g.Var("ap_init_zero");
        var ctxForAp = g.Var("ctx_for_ap");
        var ap = g.Function("ap_entry", () =>
        {
            // The running vCPU 1 initialising itself, and vCPU 0, from vCPU 1.
            g.Set(selfInit, g.VcpuOp(VcpuOp.Initialise, 1, ctxForAp));
            g.Set(initZero, g.VcpuOp(VcpuOp.Initialise, 0, ctxForAp));
            g.Set(ran, 1);
            g.DownSelf(1);
            g.Spin();
        });
        var bench = new ContextBench(g, 1, ap);
        var ctx = bench.Context.Ptr;
        g.Set(ctxForAp, ctx);

        // docs/pv-abi.md §4.0: the vCPU id is looked up first, even before the context pointer is read.
        g.ExpectEq(g.VcpuOp(VcpuOp.Initialise, 2, ctx), -Errno.ENOENT, "initialise(vCPU 2, valid context)");
        g.ExpectEq(g.VcpuOp(VcpuOp.Initialise, 2, Unmapped), -Errno.ENOENT, "initialise(vCPU 2, unmapped pointer): ENOENT before EFAULT");
        g.ExpectEq(g.VcpuOp(VcpuOp.Initialise, 0xFFFF_FFFFL, ctx), -Errno.ENOENT, "initialise(vCPU 0xffffffff)");

        // Copying the 5168-byte context faults.
        g.ExpectEq(g.VcpuOp(VcpuOp.Initialise, 1, Unmapped), -Errno.EFAULT, "initialise(1) from an unmapped address");
        g.ExpectEq(g.VcpuOp(VcpuOp.Initialise, 1, NonCanonical), -Errno.EFAULT, "initialise(1) from a non-canonical address");
        g.ExpectEq(g.VcpuOp(VcpuOp.Initialise, 1, XenHole), -Errno.EFAULT, "initialise(1) from Xen's hole");
        // The copy comes before the "already initialised" test.
        g.ExpectEq(g.VcpuOp(VcpuOp.Initialise, 0, Unmapped), -Errno.EFAULT, "initialise(0) from an unmapped address: EFAULT before EEXIST");
        g.ExpectEq(g.VcpuOp(VcpuOp.Initialise, 0, ctx), -Errno.EEXIST, "initialise(0) with a valid context");
        // VA 0 is mapped in dom0's initial mapping (Xen maps 0..4 MiB one to one for this image),
        // so NULL is an ordinary readable context, not -EFAULT: real Xen answers -EEXIST for
        // vCPU 0 (and -EINVAL for vCPU 1, whose all-zero context starts in user mode without
        // ctrlreg[1]; not checked here because it depends on what page 0 holds).
        g.ExpectEq(g.VcpuOp(VcpuOp.Initialise, 0, 0), -Errno.EEXIST, "initialise(0, NULL): VA 0 is readable");

        // None of the failures initialised vCPU 1.
        g.ExpectEq(g.VcpuOp(VcpuOp.Up, 1, 0), -Errno.EINVAL, "up(1) is still refused after failed initialises");
        g.ExpectEq(g.VcpuOp(VcpuOp.IsUp, 1, 0), 0, "is_up(1) after failed initialises");

        // vm_assist is only validated for vCPU 0 (docs/pv-abi.md §4.2 row 10), but vCPU 0 is always
        // initialised in dom0, so -EEXIST comes first (real Xen: -EEXIST); vCPU 1 accepts every bit.
        g.Set(bench.U64(VcpuGuestContext.Layout.VmAssist), -1);
        g.ExpectEq(g.VcpuOp(VcpuOp.Initialise, 0, ctx), -Errno.EEXIST, "initialise(0) with vm_assist = ~0: EEXIST first");
        var rc = bench.Try(() => g.Set(bench.U64(VcpuGuestContext.Layout.VmAssist), -1));
        g.ExpectEq(rc, 0, "initialise(1) with vm_assist = ~0 (not checked for vCPU 1)");
        g.ExpectEq(g.VcpuOp(VcpuOp.IsUp, 1, 0), 0, "is_up(1) after initialise without VGCF_online");
        g.ExpectEq(g.VcpuOp(VcpuOp.Initialise, 1, ctx), -Errno.EEXIST, "initialise(1) a second time");
        g.ExpectEq(g.VcpuOp(VcpuOp.Initialise, 1, Unmapped), -Errno.EFAULT, "initialise(1) again from an unmapped address: still EFAULT first");

        g.ExpectEq(g.VcpuOp(VcpuOp.Up, 1, 0), 0, "up(1)");
        g.Expect(PvClock.WaitFor(g, () => ran == 1) == 1, "vCPU 1 ran");
        g.ExpectEq(selfInit, -Errno.EEXIST, "vCPU 1 initialising itself");
        g.ExpectEq(initZero, -Errno.EEXIST, "vCPU 1 initialising vCPU 0");
        g.Print("initialise: ENOENT, EFAULT, EEXIST as expected\n");
        g.Success();
    }
}
