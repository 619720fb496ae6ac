using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Evtchn;

/// <summary>
/// EVTCHNOP_send on IPI ports and the 2-level set-pending algorithm step by step (docs/pv-abi.md §7.9),
/// read through shared_info: pending bit, then (unmasked only) selector bit p/64, then
/// upcall_pending; an already-pending port changes nothing; a set selector bit stops before
/// upcall_pending; a masked port only gets its pending bit (the edge is lost).
/// </summary>
public sealed class EvtchnSendPending : XtfTest
{
    public override string Name => "evtchn-send-pending";
    public override string Title => "EVTCHNOP_send: the 2-level set-pending steps";
    public override string Category => "evtchn";

    public override void Body(GuestProgram g)
    {
        var ipi = g.BindIpi(0);
        g.ExpectEq(ipi.Port, 1, "IPI port");

        // 1. Unmasked, nothing pending: pending, selector bit 0, upcall_pending.
        g.ExpectEq(g.Send(1), 0, "send(1)");
        g.ExpectEq(g.PendingWord(0), 1 << 1, "pending word 0");
        g.ExpectEq(g.PendingSel(), 1, "selector");
        g.ExpectEq(g.UpcallPending(), 1, "upcall_pending");
        g.ExpectEq(g.UpcallMask(), 1, "upcall_mask untouched");

        // 2. Already pending: nothing else happens, even with selector and upcall_pending cleared.
        g.ClearUpcallState();
        g.ExpectEq(g.Send(1), 0, "send(1) while pending");
        g.ExpectEq(g.PendingWord(0), 1 << 1, "still pending");
        g.ExpectEq(g.PendingSel(), 0, "selector not set again for a pending port");
        g.ExpectEq(g.UpcallPending(), 0, "upcall_pending not set again for a pending port");

        // 3. Selector bit already set: pending is set but upcall_pending is left alone.
        g.SetPending(1, false);
        g.Set(g.PendingSel(), 1);
        g.ExpectEq(g.Send(1), 0, "send(1) with selector bit 0 already set");
        g.ExpectEq(g.PortPending(1), 1, "pending");
        g.ExpectEq(g.UpcallPending(), 0, "upcall_pending left at 0");

        // 4. Selector bit clear, upcall_pending already 1: the selector bit is set, upcall_pending stays 1.
        g.SetPending(1, false);
        g.Set(g.PendingSel(), 0);
        g.Set(g.UpcallPending(), 1);
        g.ExpectEq(g.Send(1), 0, "send(1) with upcall_pending already set");
        g.ExpectEq(g.PendingSel(), 1, "selector set");
        g.ExpectEq(g.UpcallPending(), 1, "upcall_pending still 1");

        // 5. Masked: only the pending bit.
        g.SetPending(1, false);
        g.ClearUpcallState();
        g.SetMask(1, true);
        g.ExpectEq(g.Send(1), 0, "send(1) while masked");
        g.ExpectEq(g.PortPending(1), 1, "masked port pending");
        g.ExpectEq(g.PendingSel(), 0, "no selector for a masked port");
        g.ExpectEq(g.UpcallPending(), 0, "no upcall_pending for a masked port");
        // The guest clearing the mask itself does not bring the edge back...
        g.SetMask(1, false);
        g.XenVersion(XenVer.Version, 0);
        g.ExpectEq(g.PendingSel(), 0, "lost edge: selector still clear after the guest unmasked");
        g.ExpectEq(g.UpcallPending(), 0, "lost edge: upcall_pending still clear");
        // ...and a send while still pending does not either.
        g.ExpectEq(g.Send(1), 0, "send(1) pending and unmasked");
        g.ExpectEq(g.PendingSel(), 0, "lost edge: a second send does not raise it");

        // A port in the second bucket sets selector bit 1 and bit 0 of pending word 1.
        g.SetPending(1, false);
        g.ClearUpcallState();
        var i = g.Var("i");
        g.For(i, 0, 62, () => g.AllocSelf());          // ports 2..63
        var high = g.BindIpi(0);
        g.ExpectEq(high.Rc, 0, "bind_ipi for port 64");
        g.ExpectEq(high.Port, 64, "port 64");
        g.ExpectEq(g.Send(64), 0, "send(64)");
        g.ExpectEq(g.PendingWord(0), 0, "pending word 0 untouched");
        g.ExpectEq(g.PendingWord(64), 1, "pending word 1 bit 0");
        g.ExpectEq(g.PendingSel(), 2, "selector bit 1");
        g.ExpectEq(g.UpcallPending(), 1, "upcall_pending");
        // Then port 1 adds selector bit 0 without touching anything else.
        g.Set(g.UpcallPending(), 0);
        g.ExpectEq(g.Send(1), 0, "send(1) after send(64)");
        g.ExpectEq(g.PendingSel(), 3, "selector bits 0 and 1");
        g.ExpectEq(g.UpcallPending(), 1, "upcall_pending set again by the new selector bit");
        g.Print("pending words %#x %#x, selector %#x\n", g.PendingWord(0), g.PendingWord(64), g.PendingSel());
        g.Success();
    }
}
