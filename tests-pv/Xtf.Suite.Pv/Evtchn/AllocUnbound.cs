using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Evtchn;

/// <summary>
/// EVTCHNOP_alloc_unbound on dom0 itself (docs/pv-abi.md §7.3): dom = DOMID_SELF or 0, remote_dom stored
/// as given except DOMID_SELF (replaced by the caller's id 0), the struct written back whole,
/// unknown domains -ESRCH with nothing written back and no port consumed.
/// </summary>
public sealed class EvtchnAllocUnboundSelf : XtfTest
{
    public override string Name => "evtchn-alloc-unbound";
    public override string Title => "EVTCHNOP_alloc_unbound: ports for dom0 itself";
    public override string Category => "evtchn";

    public override void Body(GuestProgram g)
    {
        // dom = DOMID_SELF, remote_dom = DOMID_SELF.
        var a = g.AllocSelf();
        g.ExpectEq(a.Rc, 0, "alloc_unbound(SELF, SELF)");
        g.ExpectEq(a.Port, 1, "the first port");
        g.ExpectEq(a.Arg.U16(EvtchnAllocUnbound.Layout.Dom), DomId.Self, "dom echoed, not replaced");
        g.ExpectEq(a.Arg.U16(EvtchnAllocUnbound.Layout.RemoteDom), DomId.Self, "remote_dom echoed, not replaced");
        var s = g.ExpectStatus(1, EvtchnStatus.Unbound, 0, "1");
        g.ExpectEq(s.Dom, 0, "status(1): remote DOMID_SELF stored as dom0's id");
        g.ExpectEq(s.Arg.U16(EvtchnStatusArgs.Layout.UnboundDom + 2), 0xA5A5, "status(1): only 2 union bytes written");
        g.ExpectEq(s.Arg.U32(EvtchnStatusArgs.Layout.InterdomainPort), EvtchnCalls.Poison, "status(1): u.interdomain.port untouched");
        g.ExpectEq(g.PortPending(1), 0, "new port not pending");
        g.ExpectEq(g.PortMasked(1), 0, "new port not masked");

        // dom = 0 (dom0 by id), remote_dom = 0.
        var b = g.AllocUnbound(0, 0);
        g.ExpectEq(b.Rc, 0, "alloc_unbound(0, 0)");
        g.ExpectEq(b.Port, 2, "the second port");
        g.ExpectEq(g.ExpectStatus(2, EvtchnStatus.Unbound, 0, "2").Dom, 0, "status(2).u.unbound.dom");

        // remote_dom is not validated: a domain that does not exist and a reserved id are stored as given.
        var c = g.AllocUnbound(DomId.Self, 42);
        g.ExpectEq(c.Rc, 0, "alloc_unbound(SELF, 42)");
        g.ExpectEq(c.Port, 3, "the third port");
        g.ExpectEq(g.ExpectStatus(3, EvtchnStatus.Unbound, 0, "3").Dom, 42, "status(3).u.unbound.dom");
        var d = g.AllocUnbound(0, DomId.Invalid);
        g.ExpectEq(d.Rc, 0, "alloc_unbound(0, DOMID_INVALID)");
        g.ExpectEq(d.Port, 4, "the fourth port");
        g.ExpectEq(g.ExpectStatus(4, EvtchnStatus.Unbound, 0, "4").Dom, DomId.Invalid, "status(4).u.unbound.dom");
        var e = g.AllocUnbound(0, DomId.Xen);
        g.ExpectEq(e.Rc, 0, "alloc_unbound(0, DOMID_XEN)");
        g.ExpectEq(g.ExpectStatus(5, EvtchnStatus.Unbound, 0, "5").Dom, DomId.Xen, "status(5).u.unbound.dom");
        g.Print("ports allocated: %u %u %u %u %u\n", a.Port, b.Port, c.Port, d.Port, e.Port);

        // The same port can be asked for through the status of dom 0 by id.
        var byId = g.Status(3, dom: 0);
        g.ExpectEq(byId.Rc, 0, "status(dom 0, port 3)");
        g.ExpectEq(byId.Status, (int)EvtchnStatus.Unbound, "status(dom 0, port 3).status");

        // Unknown dom: -ESRCH, the output field untouched, no port taken.
        var x = g.AllocUnbound(1, DomId.Self);
        g.ExpectEq(x.Rc, -Errno.ESRCH, "alloc_unbound(dom 1)");
        g.ExpectEq(x.Port, EvtchnCalls.Poison, "alloc_unbound(dom 1) writes nothing back");
        g.ExpectEq(g.AllocUnbound(DomId.Xen, DomId.Self).Rc, -Errno.ESRCH, "alloc_unbound(DOMID_XEN)");
        g.ExpectEq(g.AllocUnbound(DomId.Io, DomId.Self).Rc, -Errno.ESRCH, "alloc_unbound(DOMID_IO)");
        g.ExpectEq(g.AllocUnbound(DomId.Invalid, DomId.Self).Rc, -Errno.ESRCH, "alloc_unbound(DOMID_INVALID)");
        g.ExpectEq(g.AllocUnbound(DomId.Idle, DomId.Self).Rc, -Errno.ESRCH, "alloc_unbound(DOMID_IDLE)");
        g.ExpectClosed(6, "6 after the failed allocations");
        var f = g.AllocSelf();
        g.ExpectEq(f.Rc, 0, "alloc_unbound after the failures");
        g.ExpectEq(f.Port, 6, "the failures consumed no port");
        g.Success();
    }
}
