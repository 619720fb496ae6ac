using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Gnttab;

/// <summary>
/// XENMEM_exchange's checks (docs/pv-abi.md §13.7), measured on Xen 4.17.7: an all-zero request
/// exchanges nothing (0); an order above 18 is -EPERM (dom0's max_order); unequal domids or sizes, or nr_exchanged
/// beyond nr_extents, -EINVAL; nr_exchanged = nr_extents is 0 at once; an output list whose
/// remaining part starts in Xen's range (XSA-212's shape) -EFAULT; an unknown domain -ESRCH; a
/// frame dom0 does not own -EINVAL with nr_exchanged 0; a start extent in the command -EINVAL; an
/// unreadable request -EFAULT.
/// </summary>
public sealed class MemoryExchangeErrors : XtfTest
{
    public override string Name => "gnttab-memory-exchange";
    public override string Title => "XENMEM_exchange: argument checks and errors";
    public override string Category => "gnttab";

    public override void Body(GuestProgram g)
    {
        var x = g.Alloc(XenMemoryExchange.Layout.Size, name: "exchange");
        var inList = g.Alloc(8, name: "in_list");
        var outList = g.Alloc(8, name: "out_list");
        const int In = XenMemoryExchange.Layout.In, Out = XenMemoryExchange.Layout.Out;
        Val Exchange() => g.Hypercall(Hypercall.MemoryOp, (int)MemoryOp.Exchange, x.Ptr);
        void Half(int at, Val list, Val extents, Val order, Val dom)
        {
            g.Set(x.U64(at + XenMemoryReservation.Layout.ExtentStart), list);
            g.Set(x.U64(at + XenMemoryReservation.Layout.NrExtents), extents);
            g.Set(x.U32(at + XenMemoryReservation.Layout.ExtentOrder), order);
            g.Set(x.U16(at + XenMemoryReservation.Layout.DomId), dom);
        }
        void Request(Val inOrder, Val outOrder, Val inExtents, Val outExtents, Val inDom, Val outDom, Val exchanged)
        {
            Half(In, inList.Ptr, inExtents, inOrder, inDom);
            Half(Out, outList.Ptr, outExtents, outOrder, outDom);
            g.Set(x.U64(XenMemoryExchange.Layout.NrExchanged), exchanged);
        }
        Val Exchanged() => x.U64(XenMemoryExchange.Layout.NrExchanged);

        g.ExpectEq(Exchange(), 0, "all-zero request");
        Request(19, 0, 1, 1 << 19, DomId.Self, DomId.Self, 0);
        g.ExpectEq(Exchange(), -Errno.EPERM, "in order 19");
        Request(0, 19, 1 << 19, 1, DomId.Self, DomId.Self, 0);
        g.ExpectEq(Exchange(), -Errno.EPERM, "out order 19");
        Request(0, 18, 1 << 18, 2, DomId.Self, DomId.Self, 0);
        g.ExpectEq(Exchange(), -Errno.EINVAL, "order 18: allowed, but sizes differ");
        Request(0, 0, 1, 2, DomId.Self, DomId.Self, 0);
        g.ExpectEq(Exchange(), -Errno.EINVAL, "1 extent for 2");
        Request(0, 0, 1, 1, DomId.Self, 0, 0);
        g.ExpectEq(Exchange(), -Errno.EINVAL, "in and out domids differ (DOMID_SELF vs 0)");
        Request(0, 0, 1, 1, DomId.Self, DomId.Self, 2);
        g.ExpectEq(Exchange(), -Errno.EINVAL, "nr_exchanged beyond nr_extents");
        Request(0, 0, 1, 1, DomId.Self, DomId.Self, 1);
        g.ExpectEq(Exchange(), 0, "nothing left to exchange");

        // XSA-212's shape: nr_exchanged so large that the output list's remaining part starts in Xen's range.
        const long xenAddress = unchecked((long)0xFFFF_82D0_4000_0000UL);
        Request(0, 0, (xenAddress >> 3) + 1, (xenAddress >> 3) + 1, DomId.Self, DomId.Self, xenAddress >> 3);
        g.Set(x.U64(In + XenMemoryReservation.Layout.ExtentStart), inList.Ptr - xenAddress);
        g.Set(x.U64(Out + XenMemoryReservation.Layout.ExtentStart), 0);
        g.ExpectEq(Exchange(), -Errno.EFAULT, "output list in Xen's range");
        g.ExpectEq(Exchanged(), xenAddress >> 3, "nr_exchanged written back unchanged");

        g.Set(inList.U64(0), 0x7FFFF);
        Request(0, 0, 1, 1, 5, 5, 0);
        g.ExpectEq(Exchange(), -Errno.ESRCH, "domain 5");
        Request(0, 0, 1, 1, DomId.Self, DomId.Self, 0);
        g.ExpectEq(Exchange(), -Errno.EINVAL, "a frame beyond RAM");
        g.ExpectEq(Exchanged(), 0, "nr_exchanged 0");
        g.ExpectEq(g.Hypercall(Hypercall.MemoryOp, (int)MemoryOp.Exchange | (1 << 6), x.Ptr), -Errno.EINVAL, "a start extent in the command");
        g.ExpectEq(g.Hypercall(Hypercall.MemoryOp, (int)MemoryOp.Exchange, 0x4000_0000), -Errno.EFAULT, "unreadable request");
        g.Success();
    }
}
