using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Mm;

/// <summary>
/// MMUEXT_NEW_BASEPTR and MMUEXT_NEW_USER_BASEPTR (xen/arch/x86/mm.c, new_guest_cr3): the frame takes
/// the L4 type. A page mapped writable is refused (-EINVAL); the current L4 is accepted, twice; 0
/// clears the user base pointer; an empty read-only page validates as an L4 and then holds that type
/// (it cannot be pinned as an L1 or mapped writable) until the user base pointer lets it go; after
/// that Xen's slot 258 (the page itself, writable) stays in it, so it fails to validate as an L1 (-EBUSY).
/// The kernel base pointer moves to a read-only copy of the L4's guest half (which gains Xen's slot
/// 258 and the read-only M2P, and cannot be mapped writable while in use) and back, releasing it.
/// </summary>
public sealed class BasePointers : XtfTest
{
    public override string Name => "mm-base-pointers";
    public override string Title => "mmuext_op new_baseptr and new_user_baseptr";
    public override string Category => "mm";

    public override void Body(GuestProgram g)
    {
        var mm = new MmKit(g);
        var page = g.Page("bp_page");
        var l4 = mm.Mfn(mm.PtBase);

        g.ExpectEq(mm.Ext(MmuextCmd.NewUserBaseptr, mm.Mfn(page.Ptr)), -Errno.EINVAL, "user base pointer: a page mapped writable");
        g.ExpectEq(mm.Ext(MmuextCmd.NewUserBaseptr, l4), 0, "user base pointer: the kernel's L4");
        g.ExpectEq(mm.Ext(MmuextCmd.NewUserBaseptr, l4), 0, "the same again");
        g.ExpectEq(mm.Ext(MmuextCmd.NewUserBaseptr, 0), 0, "user base pointer 0");

        g.ExpectEq(mm.Remap(page.Ptr, MmKit.ReadOnly), 0, "remap the page read-only");
        g.ExpectEq(mm.Ext(MmuextCmd.NewUserBaseptr, mm.Mfn(page.Ptr)), 0, "user base pointer: the empty page");
        g.ExpectEq(mm.Ext(MmuextCmd.PinL1Table, mm.Mfn(page.Ptr)), -Errno.EINVAL, "pin it as an L1");
        g.ExpectEq(mm.Remap(page.Ptr, MmKit.Writable), -Errno.EBUSY, "map it writable");
        g.ExpectEq(mm.Ext(MmuextCmd.NewUserBaseptr, 0), 0, "user base pointer 0 again");
        g.ExpectEq(mm.Ext(MmuextCmd.PinL1Table, mm.Mfn(page.Ptr)), -Errno.EBUSY, "as an L1 it maps itself writable (Xen's slot 258)");
        g.ExpectEq(mm.Remap(page.Ptr, MmKit.Writable), 0, "it maps writable");

        g.ExpectEq(mm.Ext(MmuextCmd.NewBaseptr, mm.Mfn(page.Ptr)), -Errno.EINVAL, "kernel base pointer: a page mapped writable");
        g.ExpectEq(mm.Ext(MmuextCmd.NewBaseptr, l4), 0, "kernel base pointer: the current L4");

        // Switch to a copy of the L4 (its guest half) and back.
        var copy = g.Page("bp_l4_copy");
        g.MemCopy(copy.Ptr, mm.PtBase, 256 * 8);
        g.ExpectEq(mm.Remap(copy.Ptr, MmKit.ReadOnly), 0, "remap the copy read-only");
        g.ExpectEq(mm.Ext(MmuextCmd.NewBaseptr, mm.Mfn(copy.Ptr)), 0, "kernel base pointer: the copy");
        g.ExpectEq(copy.U64(8 * 258), (mm.Mfn(copy.Ptr) << 12) | unchecked((long)0x8000_0000_0000_0063UL), "Xen's slot 258 in the copy");
        var m2p = g.GuardedRead(MmKit.RoMpt + (mm.Mfn(copy.Ptr) << 3));
        g.ExpectEq(m2p.Fault.Vector, -1, "the read-only M2P through the copy");
        g.ExpectEq(m2p.Value, (long)(copy.Address >> 12), "the copy's pfn");
        g.ExpectEq(mm.Remap(copy.Ptr, MmKit.Writable), -Errno.EBUSY, "the copy in use cannot be mapped writable");
        g.ExpectEq(mm.Ext(MmuextCmd.NewBaseptr, l4), 0, "kernel base pointer: the original again");
        g.ExpectEq(mm.Remap(copy.Ptr, MmKit.Writable), 0, "the copy maps writable once released");
        g.Success();
    }
}
