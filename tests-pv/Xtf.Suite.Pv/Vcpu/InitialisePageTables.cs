using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Vcpu;

/// <summary>
/// VCPUOP_initialise page-table checks (docs/pv-abi.md §4.2 rows 12, 14-16): starting in user mode without
/// ctrlreg[1], a CR3 of MFN 0, of a frame far above memory, of a writable data page and of an L1
/// page-table frame, and a bad user CR3 (ctrlreg[1]) in either mode are each -EINVAL. The low
/// 12 bits of ctrlreg[3] are not checked: a CR3 with PWT/PCD set is accepted and the vCPU runs.
/// </summary>
public sealed class InitialisePageTables : XtfTest
{
    public override string Name => "vcpu-initialise-page-tables";
    public override bool NeedsExactVcpus => true;
    public override string Title => "VCPUOP_initialise: CR3, user CR3 and user-mode start";
    public override string Category => "vcpu";
    public override int Vcpus => 2;

    public override void Body(GuestProgram g)
    {
        var ran = g.Var("ap_ran");
        var ap = g.Function("ap_entry", () =>
        {
            g.Set(ran, 1);
            g.DownSelf(1);
            g.Spin();
        });
        var b = new ContextBench(g, 1, ap);
        var flags = b.U64(VcpuGuestContext.Layout.Flags);
        var dataPage = g.Page("plain_page");
        var dataMfn = g.Var("data_mfn");
        var l1Mfn = g.Var("l1_mfn");
        g.Set(dataMfn, ContextBench.MfnOf(g, dataPage.Ptr));
        // docs/dom0.md §2.6: the page after the L4 at pt_base is the first L1.
        g.Set(l1Mfn, ContextBench.MfnOf(g, Val.At(g.StartInfo, StartInfo.Layout.PtBase) + 0x1000));

        b.Expect("user mode (no VGCF_in_kernel) with ctrlreg[1] = 0", () => g.Set(flags, 0));
        b.Expect("user mode with ctrlreg[1] = MFN 1", () => { g.Set(flags, 0); g.Set(b.Cr(1), 0x1000); });
        b.Expect("user mode with ctrlreg[1] = a writable data page", () => { g.Set(flags, 0); g.Set(b.Cr(1), dataMfn << 12); });
        b.Expect("ctrlreg[3] = 0", () => g.Set(b.Cr(3), 0));
        b.Expect("ctrlreg[3] = MFN 2^39", () => g.Set(b.Cr(3), 1L << 51));
        b.Expect("ctrlreg[3] = a writable data page", () => g.Set(b.Cr(3), dataMfn << 12));
        b.Expect("ctrlreg[3] = an L1 page-table frame", () => g.Set(b.Cr(3), l1Mfn << 12));
        b.Expect("kernel mode with ctrlreg[1] = MFN 1", () => g.Set(b.Cr(1), 0x1000));
        b.Expect("kernel mode with ctrlreg[1] = a writable data page", () => g.Set(b.Cr(1), dataMfn << 12));
        g.ExpectEq(g.VcpuOp(VcpuOp.Up, 1, 0), -Errno.EINVAL, "up(1): no failed initialise left vCPU 1 initialised");

        // Real Xen 4.17.7 ignores the low 12 bits of a 64-bit PV guest's CR3 (measured: 0).
        var rc = b.Try(() => g.Set(b.Cr(3), g.CurrentCr3() | 0x18));
        g.ExpectEq(rc, 0, "initialise(1) with PWT|PCD in ctrlreg[3]");
        g.ExpectEq(g.VcpuOp(VcpuOp.Up, 1, 0), 0, "up(1)");
        g.Expect(PvClock.WaitFor(g, () => ran == 1) == 1, "vCPU 1 ran on the accepted page tables");
        g.Print("initialise: page-table checks enforced\n");
        g.Success();
    }
}
