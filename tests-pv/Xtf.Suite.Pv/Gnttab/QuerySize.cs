using Xtf.Abi;
using Xtf.Guest;
using static Xtf.Suite.Pv.Gnttab.GnttabKit;

namespace Xtf.Suite.Pv.Gnttab;

/// <summary>
/// GNTTABOP_query_size (docs/pv-abi.md §13.3): dom0 starts with 1 shared frame of at most 64
/// (measured on Xen 4.17.7); an unknown domain is status GNTST_bad_domain with rc 0; a count other
/// than 1 or a negative count is -EINVAL, as are bits above the command's 12; command 13 is -ENOSYS.
/// </summary>
public sealed class QuerySizeLimits : XtfTest
{
    public override string Name => "gnttab-query-size";
    public override string Title => "GNTTABOP_query_size: dom0's initial and maximum frames";
    public override string Category => "gnttab";

    public override void Body(GuestProgram g)
    {
        var q = g.Alloc(GnttabQuerySize.Layout.Size, name: "query_size");
        g.Set(q.U16(GnttabQuerySize.Layout.Dom), DomId.Self);
        g.Set(q.U16(GnttabQuerySize.Layout.Status), 0x5555);
        g.ExpectEq(Op(g, GnttabOp.QuerySize, q.Ptr, 1), 0, "query_size(self)");
        g.ExpectEq(q.U16(GnttabQuerySize.Layout.Status), St(GnttabStatus.Okay), "status okay");
        g.ExpectEq(q.U32(GnttabQuerySize.Layout.NrFrames), 1, "nr_frames: one initial frame");
        g.ExpectEq(q.U32(GnttabQuerySize.Layout.MaxNrFrames), 64, "max_nr_frames: the default limit");

        g.Set(q.U16(GnttabQuerySize.Layout.Dom), 0);
        g.ExpectEq(Op(g, GnttabOp.QuerySize, q.Ptr, 1), 0, "query_size(0)");
        g.ExpectEq(q.U32(GnttabQuerySize.Layout.NrFrames), 1, "dom 0 by its id");
        g.Set(q.U16(GnttabQuerySize.Layout.Dom), 9);
        g.ExpectEq(Op(g, GnttabOp.QuerySize, q.Ptr, 1), 0, "query_size(9): rc 0");
        g.ExpectEq(q.U16(GnttabQuerySize.Layout.Status), St(GnttabStatus.BadDomain), "query_size(9): GNTST_bad_domain");

        g.ExpectEq(Op(g, GnttabOp.QuerySize, q.Ptr, 2), -Errno.EINVAL, "count 2");
        g.ExpectEq(Op(g, GnttabOp.QuerySize, q.Ptr, -1), -Errno.EINVAL, "count -1");
        g.ExpectEq(g.Hypercall(Hypercall.GrantTableOp, (int)GnttabOp.QuerySize | (1 << 12), q.Ptr, 1), -Errno.EINVAL,
            "continuation bits on query_size");
        g.ExpectEq(Op(g, (GnttabOp)13, q.Ptr, 1), -Errno.ENOSYS, "command 13");
        g.ExpectEq(Op(g, GnttabOp.QuerySize, 0x4000_0000, 1), -Errno.EFAULT, "query_size from an unmapped address");
        g.Success();
    }
}
