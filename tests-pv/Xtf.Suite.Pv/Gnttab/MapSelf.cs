using Xtf.Abi;
using Xtf.Guest;
using static Xtf.Suite.Pv.Gnttab.GnttabKit;

namespace Xtf.Suite.Pv.Gnttab;

/// <summary>
/// GNTTABOP_map_grant_ref / unmap_grant_ref of dom0's own grants (docs/pv-abi.md §13.5): a host
/// mapping at a linear address shows the granted page, sets GTF_reading|GTF_writing in the v1 entry
/// and returns the frame's machine address and handle 0 (handles are taken in order, a freed one is
/// reused last, and a map that fails once it holds a handle still uses one up); unmapping clears them and frees the handle (a second
/// unmap is GNTST_bad_handle). Refusals: no map flags (bad_gntref), DOMID_SELF (bad_domain), a ref
/// past the table (bad_gntref), an entry not granted (general_error), a write map of a read-only
/// grant (general_error; a read-only map works), a misaligned GNTMAP_contains_pte address
/// (general_error, the entry left clean); a device mapping is unmapped by its bus address only
/// (another address is bad_dev_addr).
/// </summary>
public sealed class MapOwnGrants : XtfTest
{
    public override string Name => "gnttab-map-self";
    public override string Title => "GNTTABOP_map_grant_ref / unmap_grant_ref of own grants";
    public override string Category => "gnttab";

    public override void Body(GuestProgram g)
    {
        var list = g.Alloc(8, name: "frame_list");
        var st = g.Alloc(GnttabSetupTable.Layout.Size, name: "setup_table");
        var table = g.Page("gnttab");
        var granted = g.Page("granted");
        var target = g.Page("target");
        var map = g.Alloc(GnttabMapGrantRef.Layout.Size, name: "map");
        var unmap = g.Alloc(GnttabUnmapGrantRef.Layout.Size, name: "unmap");
        var handle = g.Var("handle");

        g.Set(st.U16(GnttabSetupTable.Layout.Dom), DomId.Self);
        g.Set(st.U32(GnttabSetupTable.Layout.NrFrames), 1);
        g.Set(st.U64(GnttabSetupTable.Layout.FrameList), list.Ptr);
        g.ExpectEq(Op(g, GnttabOp.SetupTable, st.Ptr, 1), 0, "setup_table(1)");
        g.ExpectEq(MapVa(g, table.Ptr, (list.U64(0) << 12) | (long)GuestProgram.KernelRwPte), 0, "map the table");

        Val Flags(int reference) => table.U16(GrantEntryV1.Layout.Size * reference + GrantEntryV1.Layout.Flags);
        void Grant(int reference, Gtf flags)
        {
            int at = GrantEntryV1.Layout.Size * reference;
            g.Set(table.U16(at + GrantEntryV1.Layout.DomId), 0);
            g.Set(table.U32(at + GrantEntryV1.Layout.Frame), Mfn(g, granted.Ptr));
            g.Set(table.U16(at + GrantEntryV1.Layout.Flags), (long)flags);
        }
        Val Map(Val hostAddr, GntMap flags, Val reference, Val dom)
        {
            g.Set(map.U64(GnttabMapGrantRef.Layout.HostAddr), hostAddr);
            g.Set(map.U32(GnttabMapGrantRef.Layout.Flags), (long)flags);
            g.Set(map.U32(GnttabMapGrantRef.Layout.Ref), reference);
            g.Set(map.U16(GnttabMapGrantRef.Layout.Dom), dom);
            g.Set(map.U16(GnttabMapGrantRef.Layout.Status), 0x5555);
            return Op(g, GnttabOp.MapGrantRef, map.Ptr, 1);
        }
        Val MapStatus() => map.U16(GnttabMapGrantRef.Layout.Status);
        Val Unmap(Val hostAddr, Val devBusAddr, Val h)
        {
            g.Set(unmap.U64(GnttabUnmapGrantRef.Layout.HostAddr), hostAddr);
            g.Set(unmap.U64(GnttabUnmapGrantRef.Layout.DevBusAddr), devBusAddr);
            g.Set(unmap.U32(GnttabUnmapGrantRef.Layout.Handle), h);
            g.Set(unmap.U16(GnttabUnmapGrantRef.Layout.Status), 0x5555);
            return Op(g, GnttabOp.UnmapGrantRef, unmap.Ptr, 1);
        }
        Val UnmapStatus() => unmap.U16(GnttabUnmapGrantRef.Layout.Status);
        var restoreTarget = (Mfn(g, target.Ptr) << 12) | (long)GuestProgram.KernelRwPte;

        g.Set(granted.U64(0), 0x1234_5678);
        Grant(8, Gtf.PermitAccess);
        g.ExpectEq(Map(target.Ptr, GntMap.HostMap, 8, 0), 0, "map ref 8 at the target page");
        g.ExpectEq(MapStatus(), St(GnttabStatus.Okay), "map status");
        g.ExpectEq(map.U64(GnttabMapGrantRef.Layout.DevBusAddr), Mfn(g, granted.Ptr) << 12, "dev_bus_addr: the frame's machine address");
        g.Set(handle, map.U32(GnttabMapGrantRef.Layout.Handle));
        g.ExpectEq(handle, 0, "the first handle");
        g.ExpectEq(Flags(8), (long)(Gtf.PermitAccess | Gtf.Reading | Gtf.Writing), "entry 8: reading and writing while mapped");
        g.ExpectEq(target.U64(0), 0x1234_5678, "the target page shows the granted page");
        g.ExpectEq(Unmap(target.Ptr, 0, handle), 0, "unmap");
        g.ExpectEq(UnmapStatus(), St(GnttabStatus.Okay), "unmap status");
        g.ExpectEq(Flags(8), (long)Gtf.PermitAccess, "entry 8 clean again");
        g.ExpectEq(Unmap(target.Ptr, 0, handle), 0, "unmap again");
        g.ExpectEq(UnmapStatus(), St(GnttabStatus.BadHandle), "a freed handle");
        g.ExpectEq(MapVa(g, target.Ptr, restoreTarget), 0, "the target's own page back");

        g.ExpectEq(Map(target.Ptr, GntMap.None, 8, 0), 0, "map with no flags");
        g.ExpectEq(MapStatus(), St(GnttabStatus.BadGntref), "no host or device map");
        g.ExpectEq(Map(target.Ptr, GntMap.HostMap, 8, DomId.Self), 0, "map from DOMID_SELF");
        g.ExpectEq(MapStatus(), St(GnttabStatus.BadDomain), "DOMID_SELF is not a domain id here");
        g.ExpectEq(Map(target.Ptr, GntMap.HostMap, 512, 0), 0, "map ref 512");
        g.ExpectEq(MapStatus(), St(GnttabStatus.BadGntref), "past one frame of v1 entries");
        g.ExpectEq(Map(target.Ptr, GntMap.HostMap, 9, 0), 0, "map ref 9");
        g.ExpectEq(MapStatus(), St(GnttabStatus.GeneralError), "an entry not granted");

        Grant(10, Gtf.PermitAccess | Gtf.Readonly);
        g.ExpectEq(Map(target.Ptr, GntMap.HostMap, 10, 0), 0, "write map of a read-only grant");
        g.ExpectEq(MapStatus(), St(GnttabStatus.GeneralError), "refused");
        g.ExpectEq(Flags(10), (long)(Gtf.PermitAccess | Gtf.Readonly), "entry 10 untouched");
        g.ExpectEq(Map(target.Ptr, GntMap.HostMap | GntMap.Readonly, 10, 0), 0, "read-only map");
        g.ExpectEq(MapStatus(), St(GnttabStatus.Okay), "accepted");
        g.ExpectEq(map.U32(GnttabMapGrantRef.Layout.Handle), 4, "handle 4: each failed map from ref 512 on took a handle and put it back at the list's end");
        g.ExpectEq(Flags(10), (long)(Gtf.PermitAccess | Gtf.Readonly | Gtf.Reading), "entry 10: reading only");
        g.ExpectEq(target.U64(0), 0x1234_5678, "read through the read-only grant mapping");
        g.ExpectEq(Unmap(target.Ptr, 0, map.U32(GnttabMapGrantRef.Layout.Handle)), 0, "unmap it");
        g.ExpectEq(UnmapStatus(), St(GnttabStatus.Okay), "unmapped");
        g.ExpectEq(MapVa(g, target.Ptr, restoreTarget), 0, "the target's own page back again");

        var l1 = Val.At(g.StartInfo, StartInfo.Layout.PtBase) + 0x1000;      // the L1 for 0-2 MiB
        g.ExpectEq(Map((Mfn(g, l1) << 12) + (((long)target.Address >> 12 & 511) << 3) + 2, GntMap.HostMap | GntMap.ContainsPte, 8, 0), 0,
            "map by a misaligned PTE address");
        g.ExpectEq(MapStatus(), St(GnttabStatus.GeneralError), "misaligned GNTMAP_contains_pte");
        g.ExpectEq(Flags(8), (long)Gtf.PermitAccess, "entry 8 left clean");
        g.ExpectEq(target.U64(0), 0, "the target page untouched");

        g.ExpectEq(Map(0, GntMap.DeviceMap, 8, 0), 0, "device map of ref 8");
        g.ExpectEq(MapStatus(), St(GnttabStatus.Okay), "device map status");
        g.Set(handle, map.U32(GnttabMapGrantRef.Layout.Handle));
        g.ExpectEq(handle, 6, "handle 6");
        g.ExpectEq(Unmap(0, (Mfn(g, granted.Ptr) << 12) + 0x1000, handle), 0, "unmap another bus address");
        g.ExpectEq(UnmapStatus(), St(GnttabStatus.BadDevAddr), "bad_dev_addr");
        g.ExpectEq(Unmap(0, Mfn(g, granted.Ptr) << 12, handle), 0, "unmap the bus address");
        g.ExpectEq(UnmapStatus(), St(GnttabStatus.Okay), "device mapping gone");
        g.ExpectEq(Flags(8), (long)Gtf.PermitAccess, "entry 8 clean after the device unmap");
        g.Success();
    }
}
