using Xtf.Abi;
using Xtf.Guest;
using static Xtf.Suite.Pv.Gnttab.GnttabKit;

namespace Xtf.Suite.Pv.Gnttab;

/// <summary>
/// GNTTABOP_setup_table (docs/pv-abi.md §13.3): growing to 2 frames returns two distinct MFNs and
/// query_size then reports 2; a frame maps writable with update_va_mapping and keeps what is written
/// through the mapping; more than 64 frames is GNTST_general_error; an unknown domain
/// GNTST_bad_domain; a frame list at an unmapped address GNTST_bad_virt_addr; one in Xen's range
/// -EFAULT; a count of 2 -EINVAL.
/// </summary>
public sealed class SetupTableGrow : XtfTest
{
    public override string Name => "gnttab-setup-table";
    public override string Title => "GNTTABOP_setup_table: growing, frame MFNs, mapping a frame";
    public override string Category => "gnttab";

    public override void Body(GuestProgram g)
    {
        var list = g.Alloc(8 * 4, name: "frame_list");
        var st = g.Alloc(GnttabSetupTable.Layout.Size, name: "setup_table");
        var window = g.Page("gnttab_window");
        Val Setup(Val dom, Val frames, Val frameList, Val count)
        {
            g.Set(st.U16(GnttabSetupTable.Layout.Dom), dom);
            g.Set(st.U32(GnttabSetupTable.Layout.NrFrames), frames);
            g.Set(st.U64(GnttabSetupTable.Layout.FrameList), frameList);
            g.Set(st.U16(GnttabSetupTable.Layout.Status), 0x5555);
            return Op(g, GnttabOp.SetupTable, st.Ptr, count);
        }
        Val Status() => st.U16(GnttabSetupTable.Layout.Status);

        g.ExpectEq(Setup(DomId.Self, 2, list.Ptr, 1), 0, "setup_table(2)");
        g.ExpectEq(Status(), St(GnttabStatus.Okay), "setup_table(2) status");
        g.Expect((list.U64(0) != 0) & (list.U64(8) != 0) & (list.U64(0) != list.U64(8)), "two distinct frames");
        var q = g.Alloc(GnttabQuerySize.Layout.Size, name: "query_size");
        g.Set(q.U16(GnttabQuerySize.Layout.Dom), DomId.Self);
        g.ExpectEq(Op(g, GnttabOp.QuerySize, q.Ptr, 1), 0, "query_size");
        g.ExpectEq(q.U32(GnttabQuerySize.Layout.NrFrames), 2, "nr_frames after growing");

        g.ExpectEq(MapVa(g, window.Ptr, (list.U64(0) << 12) | (long)GuestProgram.KernelRwPte), 0, "map frame 0 writable");
        g.ExpectEq(window.U64(0), 0, "a new table is zero");
        g.Set(window.U64(64), 0x0123_4567_89ab_cdefL);
        g.ExpectEq(window.U64(64), 0x0123_4567_89ab_cdefL, "entry 8 reads back");
        g.Set(window.U64(64), 0);

        g.ExpectEq(Setup(DomId.Self, 65, list.Ptr, 1), 0, "setup_table(65)");
        g.ExpectEq(Status(), St(GnttabStatus.GeneralError), "more than max_grant_frames");
        g.ExpectEq(Setup(7, 1, list.Ptr, 1), 0, "setup_table for domain 7");
        g.ExpectEq(Status(), St(GnttabStatus.BadDomain), "unknown domain");
        g.ExpectEq(Setup(DomId.Self, 1, 0x4000_0000, 1), 0, "frame list unmapped");
        g.ExpectEq(Status(), St(GnttabStatus.BadVirtAddr), "unmapped frame list");
        g.ExpectEq(Setup(DomId.Self, 1, unchecked((long)0xFFFF_8000_0000_0000UL), 1), -Errno.EFAULT, "frame list in Xen's range");
        g.ExpectEq(Setup(DomId.Self, 1, list.Ptr, 2), -Errno.EINVAL, "count 2");
        g.ExpectEq(MapVa(g, window.Ptr, (Mfn(g, window.Ptr) << 12) | (long)GuestProgram.KernelRwPte), 0, "the window's own page back");
        g.Success();
    }
}
