using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Hvm.Hypercalls;

/// <summary>
/// grant_table_op from an HVM guest: query_size, the version (1 at boot, 2 after set_version), and the
/// sub-ops an HVM guest may not use (setup_table's frame list is for PV; an HVM guest maps frames with
/// XENMEM_add_to_physmap instead).
/// </summary>
public sealed class GrantTable : XtfTest
{
    public override string Name => "gnttab";
    public override string Title => "grant_table_op from a PVH dom0";
    public override string Category => "hvm_hypercall";
    public override Environments Environments => Environments.Hvm64;

    public override void Body(GuestProgram g)
    {
        var q = g.Alloc(GnttabQuerySize.Layout.Size, 8, "query");
        g.Set(q.U16(GnttabQuerySize.Layout.Dom), DomId.Self);
        g.ExpectEq(g.Hypercall(Hypercall.GrantTableOp, (long)GnttabOp.QuerySize, q.Ptr, 1), 0, "query_size");
        g.Print("nr_frames %u max %u status %d\n", q.U32(GnttabQuerySize.Layout.NrFrames), q.U32(GnttabQuerySize.Layout.MaxNrFrames),
            q.S32(GnttabQuerySize.Layout.Status));
        var gv = g.Alloc(GnttabGetVersion.Layout.Size, 8, "get_version");
        g.Set(gv.U16(GnttabGetVersion.Layout.Dom), DomId.Self);
        g.ExpectEq(g.Hypercall(Hypercall.GrantTableOp, (long)GnttabOp.GetVersion, gv.Ptr, 1), 0, "get_version");
        g.ExpectEq(gv.U32(GnttabGetVersion.Layout.Version), 1, "version 1 at boot");
        var sv = g.Alloc(GnttabSetVersion.Layout.Size, 8, "set_version");
        g.Set(sv.U32(GnttabSetVersion.Layout.Version), 2);
        g.ExpectEq(g.Hypercall(Hypercall.GrantTableOp, (long)GnttabOp.SetVersion, sv.Ptr, 1), 0, "set_version(2)");
        g.ExpectEq(g.Hypercall(Hypercall.GrantTableOp, (long)GnttabOp.GetVersion, gv.Ptr, 1), 0, "get_version");
        g.ExpectEq(gv.U32(GnttabGetVersion.Layout.Version), 2, "version 2");
        g.Set(sv.U32(GnttabSetVersion.Layout.Version), 3);
        g.Print("set_version(3): %e, version %u\n", g.Hypercall(Hypercall.GrantTableOp, (long)GnttabOp.SetVersion, sv.Ptr, 1),
            sv.U32(GnttabSetVersion.Layout.Version));
        var buf = g.Alloc(64, 8, "buf");
        foreach (var op in new[] { GnttabOp.SetupTable, GnttabOp.GetStatusFrames, GnttabOp.Transfer, GnttabOp.CacheFlush })
            g.Print($"{op} with count 0: %e\n", g.Hypercall(Hypercall.GrantTableOp, (long)op, buf.Ptr, 0));
        g.Print("grant_table_op 99: %e\n", g.Hypercall(Hypercall.GrantTableOp, 99, buf.Ptr, 1));
        g.Success();
    }
}
