using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Hvm.Hypercalls;

/// <summary>
/// XENMEM_add_to_physmap for an HVM guest: shared_info placed over one of the guest's own RAM pages frees
/// that page (current_reservation drops by one), placing it again at another gfn moves it (the contents
/// follow), and a map space or index Xen does not have is refused.
/// </summary>
public sealed class SharedInfoPhysmap : XtfTest
{
    public override string Name => "shared-info-physmap";
    public override string Title => "XENMEM_add_to_physmap of shared_info";
    public override string Category => "hvm_hypercall";
    public override Environments Environments => Environments.Hvm64;

    public override void Body(GuestProgram g)
    {
        var dom = g.Alloc(8, 8, "domid");
        g.Set(dom.U16(0), DomId.Self);
        var before = g.Var("before");
        g.Set(before, g.Hypercall(Hypercall.MemoryOp, (long)MemoryOp.CurrentReservation, dom.Ptr));

        var first = g.Page("first");
        var second = g.Page("second");
        g.Set(first.U64(0), 0x1111);
        var x = g.Alloc(XenAddToPhysmap.Layout.Size, 8, "xatp");
        Val Map(long space, long idx, ulong gpfn)
        {
            g.Set(x.U16(XenAddToPhysmap.Layout.Domid), DomId.Self);
            g.Set(x.U16(XenAddToPhysmap.Layout.Pages), 0);
            g.Set(x.U32(XenAddToPhysmap.Layout.Space), space);
            g.Set(x.U64(XenAddToPhysmap.Layout.Idx), idx);
            g.Set(x.U64(XenAddToPhysmap.Layout.Gpfn), (long)gpfn);
            return g.Hypercall(Hypercall.MemoryOp, (long)MemoryOp.AddToPhysmap, x.Ptr);
        }
        g.ExpectEq(Map(XenAddToPhysmap.SpaceSharedInfo, 0, first.Address >> 12), 0, "shared_info over the first page");
        g.ExpectNe(first.U64(0), 0x1111, "the page now shows shared_info");
        g.Print("current_reservation: before - after = %d\n", before - g.Hypercall(Hypercall.MemoryOp, (long)MemoryOp.CurrentReservation, dom.Ptr));
        g.Print("wc_version %u\n", first.U32(SharedInfo.Layout.WcVersion));
        g.Set(first.U64(SharedInfo.Layout.EvtchnMask + 8 * 63), 0x5a5a);
        g.ExpectEq(Map(XenAddToPhysmap.SpaceSharedInfo, 0, second.Address >> 12), 0, "shared_info moved to the second page");
        g.ExpectEq(second.U64(SharedInfo.Layout.EvtchnMask + 8 * 63), 0x5a5a, "the contents followed");
        g.Print("the first page reads %#lx\n", first.U64(SharedInfo.Layout.EvtchnMask + 8 * 63));
        g.Print("shared_info index 1: %e\n", Map(XenAddToPhysmap.SpaceSharedInfo, 1, second.Address >> 12));
        g.Print("map space 99: %e\n", Map(99, 0, second.Address >> 12));
        g.Success();
    }
}
