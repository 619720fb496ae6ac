using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Mm;

/// <summary>
/// MMUEXT_PIN_L1..L4_TABLE and MMUEXT_UNPIN_TABLE (xen/arch/x86/mm.c, do_mmuext_op): a page still
/// mapped writable cannot take a page-table type (-EINVAL); once read-only it pins; a second pin and an
/// unpin of an unpinned page are -EINVAL; a pinned L1 cannot be mapped writable (-EBUSY) until it is
/// unpinned. Pinning an L2 validates its entries: one pointing at a writable page is refused, and
/// once it holds, the L1 below it has the L1 type (not mappable writable) until the L2 is unpinned.
/// A frame typed as one level cannot be pinned as another; a page once an L4 keeps Xen's slot 258
/// (itself, writable) and no longer validates as an L3; an L1 mapping the L4 writable fails to
/// validate with -EBUSY, one mapping it read-only pins (the entry rewritten with mmu_update, which
/// writes an untyped page as plain memory); a frame beyond RAM is -EINVAL; foreign domain 0 (its own
/// id) is -ESRCH.
/// </summary>
public sealed class PinUnpin : XtfTest
{
    public override string Name => "mm-pin-unpin";
    public override string Title => "mmuext_op pin and unpin at every level";
    public override string Category => "mm";

    public override void Body(GuestProgram g)
    {
        var mm = new MmKit(g);
        var a = g.Page("pin_a");
        var b = g.Page("pin_b");
        var c = g.Page("pin_c");
        var d = g.Page("pin_d");

        g.ExpectEq(mm.Ext(MmuextCmd.PinL1Table, mm.Mfn(a.Ptr)), -Errno.EINVAL, "pin L1 of a page mapped writable");
        g.ExpectEq(mm.Remap(a.Ptr, MmKit.ReadOnly), 0, "remap it read-only");
        g.ExpectEq(mm.Ext(MmuextCmd.PinL1Table, mm.Mfn(a.Ptr)), 0, "pin L1");
        g.ExpectEq(mm.Ext(MmuextCmd.PinL1Table, mm.Mfn(a.Ptr)), -Errno.EINVAL, "pin L1 again");
        g.ExpectEq(mm.Remap(a.Ptr, MmKit.Writable), -Errno.EBUSY, "map the pinned L1 writable");
        g.ExpectEq(mm.Ext(MmuextCmd.PinL2Table, mm.Mfn(a.Ptr)), -Errno.EINVAL, "pin the L1 as an L2");
        g.ExpectEq(mm.Ext(MmuextCmd.UnpinTable, mm.Mfn(a.Ptr)), 0, "unpin");
        g.ExpectEq(mm.Ext(MmuextCmd.UnpinTable, mm.Mfn(a.Ptr)), -Errno.EINVAL, "unpin again");
        g.ExpectEq(mm.Remap(a.Ptr, MmKit.Writable), 0, "map it writable again");

        // An L2 whose entry points at a (writable) page.
        g.Set(b.U64(0), mm.Pte(a.Ptr, MmKit.Writable | MmKit.User));
        g.ExpectEq(mm.Remap(b.Ptr, MmKit.ReadOnly), 0, "remap the L2 read-only");
        g.ExpectEq(mm.Ext(MmuextCmd.PinL2Table, mm.Mfn(b.Ptr)), -Errno.EINVAL, "pin L2 whose L1 is mapped writable");
        g.ExpectEq(mm.Remap(a.Ptr, MmKit.ReadOnly), 0, "remap the L1 read-only");
        g.ExpectEq(mm.Ext(MmuextCmd.PinL2Table, mm.Mfn(b.Ptr)), 0, "pin L2");
        g.ExpectEq(mm.Remap(a.Ptr, MmKit.Writable), -Errno.EBUSY, "map the L1 under the pinned L2 writable");
        g.ExpectEq(mm.Ext(MmuextCmd.PinL1Table, mm.Mfn(a.Ptr)), 0, "pin that L1 too");
        g.ExpectEq(mm.Ext(MmuextCmd.UnpinTable, mm.Mfn(b.Ptr)), 0, "unpin the L2");
        g.ExpectEq(mm.Remap(a.Ptr, MmKit.Writable), -Errno.EBUSY, "the L1 is still pinned");
        g.ExpectEq(mm.Ext(MmuextCmd.UnpinTable, mm.Mfn(a.Ptr)), 0, "unpin the L1");
        g.ExpectEq(mm.Remap(a.Ptr, MmKit.Writable), 0, "the L1 maps writable once nothing holds it");

        // Empty upper-level tables.
        g.ExpectEq(mm.Remap(c.Ptr, MmKit.ReadOnly), 0, "remap an empty page read-only");
        g.ExpectEq(mm.Ext(MmuextCmd.PinL4Table, mm.Mfn(c.Ptr)), 0, "pin it as an L4");
        g.ExpectEq(mm.Ext(MmuextCmd.PinL3Table, mm.Mfn(c.Ptr)), -Errno.EINVAL, "pin the L4 as an L3");
        g.ExpectEq(mm.Ext(MmuextCmd.UnpinTable, mm.Mfn(c.Ptr)), 0, "unpin the L4");
        g.ExpectEq(mm.Ext(MmuextCmd.PinL3Table, mm.Mfn(c.Ptr)), -Errno.EINVAL, "pin the former L4 as an L3 (Xen's slot 258 maps it writable)");
        g.ExpectEq(mm.Ext(MmuextCmd.PinL4Table, mm.Mfn(c.Ptr)), 0, "pin it as an L4 again");
        g.ExpectEq(mm.Ext(MmuextCmd.UnpinTable, mm.Mfn(c.Ptr)), 0, "unpin");
        g.ExpectEq(mm.Remap(c.Ptr, MmKit.Writable), 0, "it maps writable once unpinned");
        g.ExpectEq(Val.At(c.Ptr + 8 * 258), mm.Pte(c.Ptr, MmKit.Writable) | unchecked((long)(1UL << 63)),
            "Xen's linear slot 258 stays in the page: the page itself, writable, NX");

        // An L1 that would map the L4 writable does not validate.
        g.Set(d.U64(8), mm.Pte(mm.PtBase, MmKit.Writable));
        g.ExpectEq(mm.Remap(d.Ptr, MmKit.ReadOnly), 0, "remap a page read-only");
        g.ExpectEq(mm.Ext(MmuextCmd.PinL1Table, mm.Mfn(d.Ptr)), -Errno.EBUSY, "pin L1 mapping the L4 writable");
        g.ExpectEq(mm.Update((mm.Mfn(d.Ptr) << 12) + 8, mm.Pte(mm.PtBase, MmKit.ReadOnly)), 0,
            "mmu_update on the untyped page: the entry made read-only");
        g.ExpectEq(mm.Ext(MmuextCmd.PinL1Table, mm.Mfn(d.Ptr)), 0, "pin L1 mapping the L4 read-only");
        g.ExpectEq(mm.Ext(MmuextCmd.UnpinTable, mm.Mfn(d.Ptr)), 0, "unpin it");

        g.ExpectEq(mm.Ext(MmuextCmd.PinL1Table, mm.Mfn(a.Ptr), foreignDom: 0), -Errno.ESRCH, "foreign domain = its own id 0");
        g.ExpectEq(mm.Ext(MmuextCmd.PinL1Table, 0x7FFF_FFFF), -Errno.EINVAL, "pin a frame beyond RAM");
        g.ExpectEq(mm.Ext(MmuextCmd.UnpinTable, 0x7FFF_FFFF), -Errno.EINVAL, "unpin a frame beyond RAM");
        g.Success();
    }
}
