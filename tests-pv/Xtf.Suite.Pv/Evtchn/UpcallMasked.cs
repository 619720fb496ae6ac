using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Evtchn;

/// <summary>
/// Upcall delivery follows only the two vcpu_info bytes (docs/pv-abi.md §7.10): with evtchn_upcall_mask set
/// no upcall arrives however many events and hypercalls there are; after clearing the mask in
/// memory the next return from Xen enters the callback, once; an
/// upcall_pending byte the guest sets itself is delivered the same way, with no port pending.
/// </summary>
public sealed class EvtchnUpcallMasked : XtfTest
{
    public override string Name => "evtchn-upcall-masked";
    public override string Title => "Event upcall: masked vCPU, deferred and guest-raised delivery";
    public override string Category => "evtchn";

    public override void Body(GuestProgram g)
    {
        var upcalls = g.Var("upcalls");
        var seenPending = g.Var("seen_pending");
        var seenCs = g.Var("seen_cs");
        var callback = g.EventCallback("event_callback", () =>
        {
            g.Set(upcalls, upcalls + 1);
            g.Set(seenPending, g.PendingWord(0));
            g.SaveFrameWord(seenCs, 3);
            g.Set(g.UpcallPending(), 0);
            g.Set(g.PendingSel(), 0);
            g.Set(g.PendingWord(0), 0);
        });
        g.ExpectEq(g.SetEventCallback(callback), 0, "set_callbacks");
        g.ExpectEq(g.BindIpi(0).Port, 1, "port 1: IPI");
        g.ExpectEq(g.BindIpi(0).Port, 2, "port 2: IPI");

        // Masked: events pile up in shared_info, nothing is delivered.
        g.ExpectEq(g.UpcallMask(), 1, "events masked at boot");
        g.ExpectEq(g.Send(1), 0, "send(1) masked");
        g.ExpectEq(g.Send(2), 0, "send(2) masked");
        var i = g.Var("i");
        g.For(i, 0, 20, () => g.XenVersion(XenVer.Version, 0));
        g.SchedOp(SchedOp.Yield, 0);
        g.ExpectEq(upcalls, 0, "no upcall while masked");
        g.ExpectEq(g.PendingWord(0), (1 << 1) | (1 << 2), "both ports pending");
        g.ExpectEq(g.UpcallPending(), 1, "upcall_pending set");

        // Clearing the mask is only a store; the upcall comes on the next return from Xen. (Not
        // checked in between: a physical interrupt taken by Xen at that moment would legitimately
        // deliver it earlier.)
        g.Set(g.UpcallMask(), 0);
        g.XenVersion(XenVer.Version, 0);
        g.ExpectEq(upcalls, 1, "one upcall on the next return from Xen");
        g.ExpectEq(seenPending, (1 << 1) | (1 << 2), "the callback saw both ports");
        g.ExpectEq(seenCs, 0xE030, "frame cs: saved mask 0");
        g.XenVersion(XenVer.Version, 0);
        g.ExpectEq(upcalls, 1, "and only one");

        // Masked again by the guest: a send sets upcall_pending but is not delivered.
        g.Set(g.UpcallMask(), 1);
        g.ExpectEq(g.Send(1), 0, "send(1) masked again");
        g.ExpectEq(upcalls, 1, "no upcall on the return from the masked send");
        g.ExpectEq(g.UpcallPending(), 1, "upcall_pending waiting");
        g.Set(g.UpcallMask(), 0);
        g.SchedOp(SchedOp.Yield, 0);
        g.ExpectEq(upcalls, 2, "delivered on the return from yield after unmasking");

        // upcall_pending set by the guest with nothing pending: still an upcall.
        g.Set(g.UpcallPending(), 1);
        g.XenVersion(XenVer.Version, 0);
        g.ExpectEq(upcalls, 3, "guest-set upcall_pending delivered");
        g.ExpectEq(seenPending, 0, "with no port pending");

        // A pending port without upcall_pending: nothing.
        g.SetPending(2, true);
        g.Set(g.PendingSel(), 1);
        g.XenVersion(XenVer.Version, 0);
        g.ExpectEq(upcalls, 3, "pending bits alone do not cause an upcall");
        g.Print("upcalls: %u\n", upcalls);
        g.Set(g.UpcallMask(), 1);
        g.Success();
    }
}
