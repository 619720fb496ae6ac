using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Evtchn;

/// <summary>
/// A loopback interdomain channel inside dom0 (docs/pv-abi.md §7.4): alloc_unbound(self, self), then
/// bind_interdomain(DOMID_SELF or 0, that port). Both ends become interdomain and name each other,
/// the new local port is always set pending (all of docs/pv-abi.md §7.9, on vCPU 0), and a send on either end
/// raises the other.
/// </summary>
public sealed class EvtchnInterdomainLoopback : XtfTest
{
    public override string Name => "evtchn-interdomain-loopback";
    public override string Title => "EVTCHNOP_bind_interdomain: loopback within dom0";
    public override string Category => "evtchn";

    public override void Body(GuestProgram g)
    {
        var u = g.AllocSelf();
        g.ExpectEq(u.Rc, 0, "alloc_unbound(SELF, SELF)");
        g.ExpectEq(u.Port, 1, "unbound port");
        g.ExpectEq(g.PendingWord(0), 0, "nothing pending before the bind");
        g.ExpectEq(g.PendingSel(), 0, "selector clear before the bind");

        var b = g.BindInterdomain(DomId.Self, u.Port);
        g.ExpectEq(b.Rc, 0, "bind_interdomain(SELF, 1)");
        g.ExpectEq(b.Port, 2, "local port");
        g.ExpectEq(b.Arg.U16(EvtchnBindInterdomain.Layout.RemoteDom), DomId.Self, "remote_dom echoed");
        g.ExpectEq(b.Arg.U16(2), 0, "padding echoed");
        g.ExpectEq(b.Arg.U32(EvtchnBindInterdomain.Layout.RemotePort), 1, "remote_port echoed");

        var s1 = g.ExpectStatus(1, EvtchnStatus.Interdomain, 0, "1");
        g.ExpectEq(s1.Dom, 0, "status(1).u.interdomain.dom");
        g.ExpectEq(s1.RemotePort, 2, "status(1).u.interdomain.port");
        g.ExpectEq(s1.Arg.U16(EvtchnStatusArgs.Layout.InterdomainDom + 2), 0xA5A5, "status(1): union padding untouched");
        var s2 = g.ExpectStatus(2, EvtchnStatus.Interdomain, 0, "2");
        g.ExpectEq(s2.Dom, 0, "status(2).u.interdomain.dom");
        g.ExpectEq(s2.RemotePort, 1, "status(2).u.interdomain.port");

        // The bind set the local port pending and ran the whole set-pending path on vCPU 0.
        g.ExpectEq(g.PendingWord(0), 1 << 2, "only the new local port is pending");
        g.ExpectEq(g.PendingSel(), 1, "selector bit 0 after the bind");
        g.ExpectEq(g.UpcallPending(), 1, "upcall_pending after the bind");
        g.Print("after bind: pending %#x sel %#x upcall_pending %u\n", g.PendingWord(0), g.PendingSel(), g.UpcallPending());

        // send on one end makes the other end pending.
        g.SetPending(2, false);
        g.ClearUpcallState();
        g.ExpectEq(g.Send(1), 0, "send(1)");
        g.ExpectEq(g.PendingWord(0), 1 << 2, "send(1) raised port 2");
        g.ExpectEq(g.PendingSel(), 1, "selector after send(1)");
        g.ExpectEq(g.UpcallPending(), 1, "upcall_pending after send(1)");
        g.SetPending(2, false);
        g.ClearUpcallState();
        g.ExpectEq(g.Send(2), 0, "send(2)");
        g.ExpectEq(g.PendingWord(0), 1 << 1, "send(2) raised port 1");
        g.ExpectEq(g.PendingSel(), 1, "selector after send(2)");
        g.SetPending(1, false);
        g.ClearUpcallState();

        // A second pair with remote_dom given as 0 (dom0's own id): the same thing.
        var u2 = g.AllocUnbound(0, 0);
        g.ExpectEq(u2.Port, 3, "second unbound port");
        var b2 = g.BindInterdomain(0, 3);
        g.ExpectEq(b2.Rc, 0, "bind_interdomain(0, 3)");
        g.ExpectEq(b2.Port, 4, "second local port");
        g.ExpectEq(g.ExpectStatus(3, EvtchnStatus.Interdomain, 0, "3").RemotePort, 4, "status(3).u.interdomain.port");
        g.ExpectEq(g.ExpectStatus(4, EvtchnStatus.Interdomain, 0, "4").RemotePort, 3, "status(4).u.interdomain.port");
        g.ExpectEq(g.PendingWord(0), 1 << 4, "the second bind raised port 4 only");

        // The remote end keeps its own pending bit: a pending unbound port stays pending through the bind.
        var u3 = g.AllocSelf();
        g.ExpectEq(u3.Port, 5, "third unbound port");
        g.SetPending(5, true);
        var b3 = g.BindInterdomain(DomId.Self, 5);
        g.ExpectEq(b3.Port, 6, "third local port");
        g.ExpectEq(g.PortPending(5), 1, "remote end's pending bit unchanged");
        g.ExpectEq(g.PortPending(6), 1, "new local end pending");
        g.Success();
    }
}
