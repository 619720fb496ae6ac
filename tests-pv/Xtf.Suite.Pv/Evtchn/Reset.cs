using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Evtchn;

/// <summary>
/// EVTCHNOP_reset (docs/pv-abi.md §7.14): reset of dom0 itself (DOMID_SELF or 0) closes every port in every
/// state, clears their pending bits and leaves the mask bits and the allocated buckets; unknown
/// domains are -ESRCH; the continuation command 14 is -EBUSY when no reset is in progress.
/// </summary>
public sealed class EvtchnResetSelf : XtfTest
{
    public override string Name => "evtchn-reset";
    public override string Title => "EVTCHNOP_reset: closing every port of dom0";
    public override string Category => "evtchn";

    public override void Body(GuestProgram g)
    {
        // With nothing bound, reset succeeds and changes nothing.
        g.ExpectEq(g.Reset(DomId.Self), 0, "reset(SELF) with no ports");
        g.ExpectInvalidPort(64, "64 after an empty reset");

        // Unknown domains, and the continuation with nothing to continue.
        g.ExpectEq(g.Reset(1), -Errno.ESRCH, "reset(dom 1)");
        g.ExpectEq(g.Reset(DomId.Xen), -Errno.ESRCH, "reset(DOMID_XEN)");
        g.ExpectEq(g.Reset(DomId.Invalid), -Errno.ESRCH, "reset(DOMID_INVALID)");
        g.ExpectEq(g.Reset(DomId.Self, EvtchnOp.ResetCont), -Errno.EBUSY, "reset_cont(SELF) with no reset in progress");
        g.ExpectEq(g.Reset(0, EvtchnOp.ResetCont), -Errno.EBUSY, "reset_cont(0) with no reset in progress");
        g.ExpectEq(g.Reset(1, EvtchnOp.ResetCont), -Errno.ESRCH, "reset_cont(dom 1): ESRCH first");

        // One port of every kind, plus ports in the second bucket.
        g.ExpectEq(g.AllocUnbound(DomId.Self, 5).Port, 1, "port 1: unbound");
        g.ExpectEq(g.AllocSelf().Port, 2, "port 2: unbound");
        g.ExpectEq(g.BindInterdomain(DomId.Self, 2).Port, 3, "port 3: interdomain");
        g.ExpectEq(g.BindVirq(5, 0).Port, 4, "port 4: VIRQ 5");
        g.ExpectEq(g.BindVirq(Virq.Debug, 0).Port, 5, "port 5: VIRQ_DEBUG");
        g.ExpectEq(g.BindIpi(0).Port, 6, "port 6: IPI");
        var i = g.Var("i");
        g.For(i, 7, 70, () => g.AllocSelf());           // ports 7..69
        g.ExpectStatus(69, EvtchnStatus.Unbound, 0, "69");
        g.SetMask(6, true);
        g.SetMask(69, true);
        g.ExpectEq(g.Send(6), 0, "send(6)");
        g.SetPending(69, true);
        g.SetPending(1, true);
        g.ExpectEq(g.PendingWord(0), (1 << 1) | (1 << 3) | (1 << 6), "pending before the reset");

        g.ExpectEq(g.Reset(DomId.Self), 0, "reset(SELF)");

        var p = g.Var("p");
        var closed = g.Var("closed");
        g.For(p, 0, 128, () =>
        {
            var s = g.Status(p);
            g.If((s.Rc == 0) & (s.Status == (int)EvtchnStatus.Closed) & (s.Vcpu == 0), () => g.Set(closed, closed + 1),
                () => g.Failure("Fail: status(%u) after reset: rc %e status %u", p, s.Rc, s.Status));
        });
        g.Print("closed after reset among 0..127: %u\n", closed);
        g.ExpectInvalidPort(128, "128: the buckets stay as they were");
        g.ExpectEq(g.PendingWord(0), 0, "reset cleared the pending bits of word 0");
        g.ExpectEq(g.PendingWord(64), 0, "reset cleared the pending bits of word 1");
        g.ExpectEq(g.MaskWord(0), 1 << 6, "reset kept mask bit 6");
        g.ExpectEq(g.MaskWord(64), 1 << 5, "reset kept mask bit 69");
        g.SetMask(6, false);
        g.SetMask(69, false);

        // The VIRQs are free again and allocation starts over at 1.
        var v = g.BindVirq(Virq.Debug, 0);
        g.ExpectEq(v.Rc, 0, "bind_virq(DEBUG) after reset");
        g.ExpectEq(v.Port, 1, "port 1 after reset");
        g.ExpectEq(g.BindVirq(5, 0).Port, 2, "bind_virq(5) after reset: port 2");

        // reset by dom0's own id works the same way; then reset_cont is -EBUSY again.
        g.ExpectEq(g.Reset(0), 0, "reset(0)");
        g.ExpectClosed(1, "1 after reset(0)");
        g.ExpectClosed(2, "2 after reset(0)");
        g.ExpectEq(g.Reset(DomId.Self, EvtchnOp.ResetCont), -Errno.EBUSY, "reset_cont(SELF) after a finished reset");
        g.ExpectEq(g.AllocSelf().Port, 1, "allocation after reset(0)");
        g.Success();
    }
}
