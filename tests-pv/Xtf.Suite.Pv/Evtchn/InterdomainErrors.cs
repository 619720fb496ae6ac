using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Evtchn;

/// <summary>
/// EVTCHNOP_bind_interdomain failures (docs/pv-abi.md §7.4) in Xen's order: remote domain look-up (-ESRCH),
/// then the remote port's range and state (-EINVAL). The local port taken for the attempt is given
/// back each time, and nothing is written back.
/// </summary>
public sealed class EvtchnInterdomainErrors : XtfTest
{
    public override string Name => "evtchn-interdomain-errors";
    public override string Title => "EVTCHNOP_bind_interdomain: error cases";
    public override string Category => "evtchn";

    public override void Body(GuestProgram g)
    {
        g.ExpectEq(g.AllocSelf().Port, 1, "port 1: unbound, remote dom0");
        g.ExpectEq(g.AllocUnbound(DomId.Self, 7).Port, 2, "port 2: unbound, remote dom 7");
        g.ExpectEq(g.BindIpi(0).Port, 3, "port 3: IPI");
        g.ExpectEq(g.BindVirq(5, 0).Port, 4, "port 4: VIRQ 5");
        g.ExpectEq(g.AllocSelf().Port, 5, "port 5: unbound");
        g.ExpectEq(g.BindInterdomain(DomId.Self, 5).Port, 6, "port 6: bound to 5");
        g.SetPending(6, false);
        g.ClearUpcallState();

        // Unknown remote domains: -ESRCH, even with a bogus port (the domain is looked up first).
        var e = g.BindInterdomain(1, 1);
        g.ExpectEq(e.Rc, -Errno.ESRCH, "bind_interdomain(dom 1, 1)");
        g.ExpectEq(e.Port, EvtchnCalls.Poison, "nothing written back");
        g.ExpectEq(g.BindInterdomain(1, 0xFFFFFFFF).Rc, -Errno.ESRCH, "bind_interdomain(dom 1, bogus port)");
        g.ExpectEq(g.BindInterdomain(DomId.Xen, 1).Rc, -Errno.ESRCH, "bind_interdomain(DOMID_XEN, 1)");
        g.ExpectEq(g.BindInterdomain(DomId.Invalid, 1).Rc, -Errno.ESRCH, "bind_interdomain(DOMID_INVALID, 1)");

        // Remote port beyond the allocated buckets.
        var r = g.BindInterdomain(DomId.Self, 64);
        g.ExpectEq(r.Rc, -Errno.EINVAL, "bind_interdomain(SELF, 64)");
        g.ExpectEq(r.Port, EvtchnCalls.Poison, "nothing written back");
        g.ExpectEq(g.BindInterdomain(DomId.Self, 4096).Rc, -Errno.EINVAL, "bind_interdomain(SELF, 4096)");
        g.ExpectEq(g.BindInterdomain(DomId.Self, 0xFFFFFFFF).Rc, -Errno.EINVAL, "bind_interdomain(SELF, 0xffffffff)");
        g.ExpectEq(g.BindInterdomain(DomId.Self, 0x80000000).Rc, -Errno.EINVAL, "bind_interdomain(SELF, 0x80000000)");

        // Remote port in range but not an unbound port naming dom0.
        g.ExpectEq(g.BindInterdomain(DomId.Self, 0).Rc, -Errno.EINVAL, "remote port 0 (reserved)");
        g.ExpectEq(g.BindInterdomain(DomId.Self, 7).Rc, -Errno.EINVAL, "remote port 7 (the local port being allocated, still free)");
        g.ExpectEq(g.BindInterdomain(DomId.Self, 63).Rc, -Errno.EINVAL, "remote port 63 (free)");
        g.ExpectEq(g.BindInterdomain(DomId.Self, 2).Rc, -Errno.EINVAL, "remote port 2 (unbound for dom 7)");
        g.ExpectEq(g.BindInterdomain(DomId.Self, 3).Rc, -Errno.EINVAL, "remote port 3 (IPI)");
        g.ExpectEq(g.BindInterdomain(DomId.Self, 4).Rc, -Errno.EINVAL, "remote port 4 (VIRQ)");
        g.ExpectEq(g.BindInterdomain(DomId.Self, 5).Rc, -Errno.EINVAL, "remote port 5 (already interdomain)");
        g.ExpectEq(g.BindInterdomain(0, 6).Rc, -Errno.EINVAL, "remote port 6 (already interdomain)");

        // None of the failures changed a port or raised anything.
        g.ExpectEq(g.ExpectStatus(1, EvtchnStatus.Unbound, 0, "1").Dom, 0, "status(1).u.unbound.dom");
        g.ExpectEq(g.ExpectStatus(2, EvtchnStatus.Unbound, 0, "2").Dom, 7, "status(2).u.unbound.dom");
        g.ExpectEq(g.ExpectStatus(5, EvtchnStatus.Interdomain, 0, "5").RemotePort, 6, "status(5) still bound to 6");
        g.ExpectClosed(7, "7");
        g.ExpectEq(g.PendingWord(0), 0, "no failed bind set anything pending");
        g.ExpectEq(g.PendingSel(), 0, "no failed bind touched the selector");

        // Each failure gave its local port back: the next allocation is 7.
        var ok = g.BindInterdomain(DomId.Self, 1);
        g.ExpectEq(ok.Rc, 0, "bind_interdomain(SELF, 1) after the failures");
        g.ExpectEq(ok.Port, 7, "local port 7");
        g.Print("bound 1 <-> %u after 16 failed attempts\n", ok.Port);
        g.Success();
    }
}
