using Xtf.Abi;
using Xtf.Guest;
using static Xtf.Suite.Pv.Gnttab.GnttabKit;

namespace Xtf.Suite.Pv.Gnttab;

/// <summary>
/// Grant table version 2 (docs/pv-abi.md §13.2, §13.4): switching keeps the 8 reserved entries
/// (converted between the 8- and 16-byte forms) and clears the rest; a v2 mapping sets
/// GTF_reading|GTF_writing in the entry's status word, not in its flags, and unmapping clears
/// them; switching back to 1 with a reserved entry whose frame needs more than 32 bits is -ERANGE.
/// </summary>
public sealed class V2Entries : XtfTest
{
    public override string Name => "gnttab-v2-entries";
    public override string Title => "Grant table v2: entry layout, status words, version switches";
    public override string Category => "gnttab";

    public override void Body(GuestProgram g)
    {
        var list = g.Alloc(8, name: "frame_list");
        var st = g.Alloc(GnttabSetupTable.Layout.Size, name: "setup_table");
        var gsf = g.Alloc(GnttabGetStatusFrames.Layout.Size, name: "get_status_frames");
        var ver = g.Alloc(GnttabSetVersion.Layout.Size, name: "set_version");
        var table = g.Page("gnttab");
        var status = g.Page("status");
        var granted = g.Page("granted");
        var target = g.Page("target");
        var map = g.Alloc(GnttabMapGrantRef.Layout.Size, name: "map");
        var unmap = g.Alloc(GnttabUnmapGrantRef.Layout.Size, name: "unmap");
        Val SetVersion(Val v)
        {
            g.Set(ver.U32(GnttabSetVersion.Layout.Version), v);
            return Op(g, GnttabOp.SetVersion, ver.Ptr, 1);
        }
        Val Map(int reference)
        {
            g.Set(map.U64(GnttabMapGrantRef.Layout.HostAddr), target.Ptr);
            g.Set(map.U32(GnttabMapGrantRef.Layout.Flags), (long)GntMap.HostMap);
            g.Set(map.U32(GnttabMapGrantRef.Layout.Ref), reference);
            g.Set(map.U16(GnttabMapGrantRef.Layout.Dom), 0);
            return Op(g, GnttabOp.MapGrantRef, map.Ptr, 1);
        }
        const int V1 = GrantEntryV1.Layout.Size, V2 = GrantEntryV2.Layout.Size;

        g.Set(st.U16(GnttabSetupTable.Layout.Dom), DomId.Self);
        g.Set(st.U32(GnttabSetupTable.Layout.NrFrames), 1);
        g.Set(st.U64(GnttabSetupTable.Layout.FrameList), list.Ptr);
        g.ExpectEq(Op(g, GnttabOp.SetupTable, st.Ptr, 1), 0, "setup_table(1)");
        g.ExpectEq(MapVa(g, table.Ptr, (list.U64(0) << 12) | (long)GuestProgram.KernelRwPte), 0, "map the table");

        // v1: reserved entry 3 and ordinary entry 8.
        g.Set(table.U16(3 * V1 + GrantEntryV1.Layout.DomId), 0);
        g.Set(table.U32(3 * V1 + GrantEntryV1.Layout.Frame), 0x1234);
        g.Set(table.U16(3 * V1 + GrantEntryV1.Layout.Flags), (long)Gtf.PermitAccess);
        g.Set(table.U64(8 * V1), 0x0000_5678_0000_0001L);
        g.ExpectEq(SetVersion(2), 0, "set_version(2)");
        g.ExpectEq(table.U16(3 * V2 + GrantEntryV2.Layout.Flags), (long)Gtf.PermitAccess, "reserved entry 3 kept: flags");
        g.ExpectEq(table.U64(3 * V2 + GrantEntryV2.Layout.Frame), 0x1234, "reserved entry 3 kept: frame, now at offset 8");
        g.ExpectEq(table.U64(8 * V1), 0, "the rest cleared");

        g.Set(gsf.U32(GnttabGetStatusFrames.Layout.NrFrames), 1);
        g.Set(gsf.U16(GnttabGetStatusFrames.Layout.Dom), DomId.Self);
        g.Set(gsf.U64(GnttabGetStatusFrames.Layout.FrameList), list.Ptr);
        g.ExpectEq(Op(g, GnttabOp.GetStatusFrames, gsf.Ptr, 1), 0, "get_status_frames(1)");
        g.ExpectEq(MapVa(g, status.Ptr, (list.U64(0) << 12) | 0x65), 0, "map the status frame read-only");

        g.Set(table.U16(8 * V2 + GrantEntryV2.Layout.DomId), 0);
        g.Set(table.U64(8 * V2 + GrantEntryV2.Layout.Frame), Mfn(g, granted.Ptr));
        g.Set(table.U16(8 * V2 + GrantEntryV2.Layout.Flags), (long)Gtf.PermitAccess);
        g.Set(granted.U64(0), 0x2222);
        g.ExpectEq(Map(8), 0, "map v2 ref 8");
        g.ExpectEq(map.U16(GnttabMapGrantRef.Layout.Status), St(GnttabStatus.Okay), "v2 map status");
        g.ExpectEq(target.U64(0), 0x2222, "the target shows the granted page");
        g.ExpectEq(status.U16(2 * 8), (long)(Gtf.Reading | Gtf.Writing), "status word 8: reading and writing");
        g.ExpectEq(table.U16(8 * V2 + GrantEntryV2.Layout.Flags), (long)Gtf.PermitAccess, "entry 8's flags untouched");
        g.Set(unmap.U64(GnttabUnmapGrantRef.Layout.HostAddr), target.Ptr);
        g.Set(unmap.U32(GnttabUnmapGrantRef.Layout.Handle), map.U32(GnttabMapGrantRef.Layout.Handle));
        g.ExpectEq(Op(g, GnttabOp.UnmapGrantRef, unmap.Ptr, 1), 0, "unmap");
        g.ExpectEq(unmap.U16(GnttabUnmapGrantRef.Layout.Status), St(GnttabStatus.Okay), "unmap status");
        g.ExpectEq(status.U16(2 * 8), 0, "status word 8 cleared");
        g.ExpectEq(MapVa(g, target.Ptr, (Mfn(g, target.Ptr) << 12) | (long)GuestProgram.KernelRwPte), 0, "the target's own page back");

        g.Set(table.U64(3 * V2 + GrantEntryV2.Layout.Frame), 1L << 32);
        g.ExpectEq(SetVersion(1), -Errno.ERANGE, "set_version(1) with reserved frame 2^32");
        g.Set(table.U64(3 * V2 + GrantEntryV2.Layout.Frame), 0x1234);
        g.ExpectEq(MapVa(g, status.Ptr, (Mfn(g, status.Ptr) << 12) | (long)GuestProgram.KernelRwPte), 0, "unmap the status frame");
        g.ExpectEq(SetVersion(1), 0, "set_version(1)");
        g.ExpectEq(table.U64(3 * V1), 0x0000_1234_0000_0001L, "reserved entry 3 back in v1 form");
        g.ExpectEq(table.U64(8 * V2 + GrantEntryV2.Layout.Frame), 0, "v2 entry 8 cleared");
        g.Success();
    }
}
