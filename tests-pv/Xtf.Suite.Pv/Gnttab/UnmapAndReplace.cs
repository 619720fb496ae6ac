using Xtf.Abi;
using Xtf.Guest;
using static Xtf.Suite.Pv.Gnttab.GnttabKit;

namespace Xtf.Suite.Pv.Gnttab;

/// <summary>
/// GNTTABOP_unmap_and_replace (docs/pv-abi.md §13.5): the PTE at new_addr is stolen into the grant
/// mapping's place, so new_addr is left unmapped (a read is a #PF) and host_addr now shows what
/// new_addr showed; the replaced grant is unpinned. Unmapping a grant at an address whose PTE no
/// longer maps its frame is GNTST_general_error; and when unmap_and_replace fails that check, the
/// stolen PTE is lost all the same (XSA-234's setting: new_addr ends up unmapped).
/// </summary>
public sealed class UnmapAndReplace : XtfTest
{
    public override string Name => "gnttab-unmap-and-replace";
    public override string Title => "GNTTABOP_unmap_and_replace: stealing a PTE";
    public override string Category => "gnttab";

    public override void Body(GuestProgram g)
    {
        var list = g.Alloc(8, name: "frame_list");
        var st = g.Alloc(GnttabSetupTable.Layout.Size, name: "setup_table");
        var table = g.Page("gnttab");
        var pageA = g.Page("page_a");
        var pageB = g.Page("page_b");
        var t1 = g.Page("target1");
        var t2 = g.Page("target2");
        var map = g.Alloc(GnttabMapGrantRef.Layout.Size, name: "map");
        var unmap = g.Alloc(GnttabUnmapAndReplace.Layout.Size, name: "unmap");
        var h1 = g.Var("h1");
        var h2 = g.Var("h2");

        g.Set(st.U16(GnttabSetupTable.Layout.Dom), DomId.Self);
        g.Set(st.U32(GnttabSetupTable.Layout.NrFrames), 1);
        g.Set(st.U64(GnttabSetupTable.Layout.FrameList), list.Ptr);
        g.ExpectEq(Op(g, GnttabOp.SetupTable, st.Ptr, 1), 0, "setup_table(1)");
        g.ExpectEq(MapVa(g, table.Ptr, (list.U64(0) << 12) | (long)GuestProgram.KernelRwPte), 0, "map the table");
        Val Flags(int reference) => table.U16(GrantEntryV1.Layout.Size * reference + GrantEntryV1.Layout.Flags);
        void Grant(int reference, GuestBuffer page)
        {
            int at = GrantEntryV1.Layout.Size * reference;
            g.Set(table.U16(at + GrantEntryV1.Layout.DomId), 0);
            g.Set(table.U32(at + GrantEntryV1.Layout.Frame), Mfn(g, page.Ptr));
            g.Set(table.U16(at + GrantEntryV1.Layout.Flags), (long)Gtf.PermitAccess);
        }
        Val Map(Val hostAddr, GntMap flags, int reference)
        {
            g.Set(map.U64(GnttabMapGrantRef.Layout.HostAddr), hostAddr);
            g.Set(map.U32(GnttabMapGrantRef.Layout.Flags), (long)flags);
            g.Set(map.U32(GnttabMapGrantRef.Layout.Ref), reference);
            g.Set(map.U16(GnttabMapGrantRef.Layout.Dom), 0);
            return Op(g, GnttabOp.MapGrantRef, map.Ptr, 1);
        }
        Val Replace(GnttabOp op, Val hostAddr, Val newAddr, Val handle)
        {
            g.Set(unmap.U64(GnttabUnmapAndReplace.Layout.HostAddr), hostAddr);
            g.Set(unmap.U64(GnttabUnmapAndReplace.Layout.NewAddr), newAddr);   // dev_bus_addr for unmap_grant_ref
            g.Set(unmap.U32(GnttabUnmapAndReplace.Layout.Handle), handle);
            g.Set(unmap.U16(GnttabUnmapAndReplace.Layout.Status), 0x5555);
            return Op(g, op, unmap.Ptr, 1);
        }
        Val Status() => unmap.U16(GnttabUnmapAndReplace.Layout.Status);
        Val Own(GuestBuffer page) => (Mfn(g, page.Ptr) << 12) | (long)GuestProgram.KernelRwPte;

        g.Set(pageA.U64(0), 0xAAAA);
        g.Set(pageB.U64(0), 0xBBBB);
        Grant(8, pageA);
        Grant(9, pageB);
        g.ExpectEq(Map(t1.Ptr, GntMap.HostMap, 8), 0, "map A writable at target1");
        g.ExpectEq(map.U16(GnttabMapGrantRef.Layout.Status), St(GnttabStatus.Okay), "map A status");
        g.Set(h1, map.U32(GnttabMapGrantRef.Layout.Handle));
        g.ExpectEq(Map(t2.Ptr, GntMap.HostMap | GntMap.Readonly, 9), 0, "map B read-only at target2");
        g.ExpectEq(map.U16(GnttabMapGrantRef.Layout.Status), St(GnttabStatus.Okay), "map B status");
        g.Set(h2, map.U32(GnttabMapGrantRef.Layout.Handle));
        g.ExpectEq(t1.U64(0), 0xAAAA, "target1 shows A");
        g.ExpectEq(t2.U64(0), 0xBBBB, "target2 shows B");

        g.ExpectEq(Replace(GnttabOp.UnmapAndReplace, t2.Ptr, t1.Ptr, h2), 0, "unmap_and_replace(target2, new target1)");
        g.ExpectEq(Status(), St(GnttabStatus.Okay), "replaced");
        g.ExpectEq(t2.U64(0), 0xAAAA, "target2 now shows A");
        var (fault, _) = g.GuardedRead(t1.Ptr);
        g.ExpectEq(fault.Vector, 14, "target1 is unmapped: #PF");
        g.ExpectEq(Flags(9), (long)Gtf.PermitAccess, "grant 9 unpinned");
        g.ExpectEq(Flags(8), (long)(Gtf.PermitAccess | Gtf.Reading | Gtf.Writing), "grant 8 still mapped");

        g.ExpectEq(Replace(GnttabOp.UnmapGrantRef, t1.Ptr, 0, h1), 0, "unmap A at target1");
        g.ExpectEq(Status(), St(GnttabStatus.GeneralError), "target1's PTE no longer maps A");
        g.ExpectEq(Replace(GnttabOp.UnmapGrantRef, t2.Ptr, 0, h1), 0, "unmap A at target2, where its PTE went");
        g.ExpectEq(Status(), St(GnttabStatus.Okay), "unmapped");
        g.ExpectEq(Flags(8), (long)Gtf.PermitAccess, "grant 8 unpinned");
        g.ExpectEq(MapVa(g, t1.Ptr, Own(t1)), 0, "target1's own page back");
        g.ExpectEq(MapVa(g, t2.Ptr, Own(t2)), 0, "target2's own page back");

        // A failed replace still takes the PTE from new_addr.
        g.ExpectEq(Map(t2.Ptr, GntMap.HostMap | GntMap.Readonly, 9), 0, "map B read-only at target2 again");
        g.Set(h2, map.U32(GnttabMapGrantRef.Layout.Handle));
        g.ExpectEq(MapVa(g, t2.Ptr, Own(t2)), 0, "target2 back to its own page behind the grant's back");
        g.ExpectEq(Replace(GnttabOp.UnmapAndReplace, t2.Ptr, t1.Ptr, h2), 0, "unmap_and_replace onto a PTE that is not the grant's");
        g.ExpectEq(Status(), St(GnttabStatus.GeneralError), "refused");
        var (lost, _) = g.GuardedRead(t1.Ptr);
        g.ExpectEq(lost.Vector, 14, "target1's PTE was taken anyway: #PF");
        g.ExpectEq(MapVa(g, t1.Ptr, Own(t1)), 0, "target1's own page back");
        g.Success();
    }
}
