using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Evtchn;

/// <summary>
/// dom0 starts with no event channels (docs/dom0.md §2.14): ports 0..63 report closed on vCPU 0,
/// everything from 64 up is -EINVAL (one 64-port bucket exists), shared_info holds no pending or
/// mask bits, and status's own checks come in Xen's order: domain look-up, port range.
/// </summary>
public sealed class EvtchnInitialState : XtfTest
{
    public override string Name => "evtchn-initial-state";
    public override string Title => "Event channels: dom0's initial ports and EVTCHNOP_status look-ups";
    public override string Category => "evtchn";

    public override void Body(GuestProgram g)
    {
        // Every port of the first bucket: closed, notify vCPU 0, status's union echoed untouched.
        var p = g.Var("p");
        var closed = g.Var("closed");
        g.For(p, 0, 64, () =>
        {
            var s = g.Status(p);
            g.If((s.Rc == 0) & (s.Status == (int)EvtchnStatus.Closed) & (s.Vcpu == 0), () => g.Set(closed, closed + 1),
                () => g.Failure("Fail: status(%u): rc %e status %u vcpu %u", p, s.Rc, s.Status, s.Vcpu));
        });
        g.Print("ports 0..63 closed: %u\n", closed);

        var s0 = g.Status(0);
        g.ExpectEq(s0.Rc, 0, "status(0)");
        g.ExpectEq(s0.Arg.U64(EvtchnStatusArgs.Layout.Union), unchecked((long)0xA5A5A5A5A5A5A5A5), "status(0) leaves the union untouched");
        g.ExpectEq(s0.Arg.U16(EvtchnStatusArgs.Layout.Dom), DomId.Self, "status echoes dom");
        g.ExpectEq(s0.Arg.U16(2), 0xA5A5, "status echoes the padding");

        // Beyond the first bucket.
        g.ExpectInvalidPort(64, "64");
        g.ExpectInvalidPort(4095, "4095");
        g.ExpectInvalidPort(4096, "4096");
        g.ExpectInvalidPort(0xFFFFFFFF, "0xffffffff");
        var bad = g.Status(64);
        g.ExpectEq(bad.Status, EvtchnCalls.Poison, "a failed status writes nothing back");

        // dom = 0 is dom0 itself, found by id.
        var byId = g.Status(0, dom: 0);
        g.ExpectEq(byId.Rc, 0, "status(dom 0, port 0)");
        g.ExpectEq(byId.Status, (int)EvtchnStatus.Closed, "status(dom 0, port 0).status");
        g.ExpectEq(g.Status(64, dom: 0).Rc, -Errno.EINVAL, "status(dom 0, port 64)");

        // Unknown domains: -ESRCH, before the port is looked at.
        g.ExpectEq(g.Status(0, dom: 1).Rc, -Errno.ESRCH, "status(dom 1)");
        g.ExpectEq(g.Status(4096, dom: 1).Rc, -Errno.ESRCH, "status(dom 1, port 4096): ESRCH before EINVAL");
        g.ExpectEq(g.Status(0, dom: DomId.Xen).Rc, -Errno.ESRCH, "status(DOMID_XEN)");
        g.ExpectEq(g.Status(0, dom: DomId.Io).Rc, -Errno.ESRCH, "status(DOMID_IO)");
        g.ExpectEq(g.Status(0, dom: DomId.Invalid).Rc, -Errno.ESRCH, "status(DOMID_INVALID)");
        g.ExpectEq(g.Status(0, dom: 0x7FEF).Rc, -Errno.ESRCH, "status(dom 0x7fef)");

        // shared_info: no pending or mask bits, no selector bits, upcall_pending 0.
        var w = g.Var("w");
        var nonzero = g.Var("nonzero");
        g.For(w, 0, 64, () =>
        {
            g.If(g.PendingWord(w << 6) != 0, () => g.Set(nonzero, nonzero + 1));
            g.If(g.MaskWord(w << 6) != 0, () => g.Set(nonzero, nonzero + 1));
        });
        g.ExpectEq(nonzero, 0, "pending and mask words all zero");
        g.ExpectEq(g.PendingSel(), 0, "evtchn_pending_sel");
        g.ExpectEq(g.UpcallPending(), 0, "evtchn_upcall_pending");
        g.ExpectEq(g.UpcallMask(), 1, "evtchn_upcall_mask");
        g.Success();
    }
}
