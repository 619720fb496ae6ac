using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Evtchn;

/// <summary>
/// What freeing a port does to shared_info (docs/pv-abi.md §7.8, §7.3): close clears the port's pending
/// bit and nothing else: the mask bit, the selector bit and upcall_pending stay. A new allocation
/// touches neither bit, so a mask left by the previous user, or a pending bit the guest wrote on
/// a free port, is still there on the new port.
/// </summary>
public sealed class EvtchnCloseBits : XtfTest
{
    public override string Name => "evtchn-close-bits";
    public override string Title => "EVTCHNOP_close: pending cleared, mask kept";
    public override string Category => "evtchn";

    public override void Body(GuestProgram g)
    {
        g.ExpectEq(g.BindIpi(0).Port, 1, "port 1: IPI");
        g.ExpectEq(g.BindIpi(0).Port, 2, "port 2: IPI");
        g.SetMask(2, true);
        g.ExpectEq(g.Send(1), 0, "send(1)");
        g.ExpectEq(g.Send(2), 0, "send(2) masked");
        g.ExpectEq(g.PendingWord(0), (1 << 1) | (1 << 2), "both pending");
        g.ExpectEq(g.PendingSel(), 1, "selector set by port 1");
        g.ExpectEq(g.UpcallPending(), 1, "upcall_pending set by port 1");

        g.ExpectEq(g.Close(1), 0, "close(1)");
        g.ExpectEq(g.PortPending(1), 0, "close cleared port 1's pending bit");
        g.ExpectEq(g.PendingSel(), 1, "close left the selector bit");
        g.ExpectEq(g.UpcallPending(), 1, "close left upcall_pending");
        g.ExpectEq(g.Close(2), 0, "close(2)");
        g.ExpectEq(g.PortPending(2), 0, "close cleared port 2's pending bit");
        g.ExpectEq(g.PortMasked(2), 1, "close kept port 2's mask bit");
        g.ExpectEq(g.MaskWord(0), 1 << 2, "mask word unchanged");

        // Reallocation: port 1 comes back unmasked and not pending, port 2 still masked.
        g.ExpectEq(g.BindIpi(0).Port, 1, "port 1 again");
        g.ExpectEq(g.BindIpi(0).Port, 2, "port 2 again");
        g.ExpectEq(g.PortPending(1) | g.PortPending(2), 0, "reallocated ports not pending");
        g.ExpectEq(g.PortMasked(2), 1, "reallocated port 2 still masked");
        g.ClearUpcallState();
        g.ExpectEq(g.Send(2), 0, "send(2) on the masked reallocated port");
        g.ExpectEq(g.PendingSel(), 0, "masked: no selector");
        g.SetMask(2, false);

        // A pending bit written by the guest on a free port survives the allocation of that port.
        g.SetPending(3, true);
        var u = g.AllocSelf();
        g.ExpectEq(u.Port, 3, "port 3: unbound");
        g.ExpectEq(g.PortPending(3), 1, "allocation did not clear the guest's pending bit");
        g.ExpectEq(g.PendingSel(), 0, "allocation raised nothing");
        // Closing it clears the bit like any other.
        g.ExpectEq(g.Close(3), 0, "close(3)");
        g.ExpectEq(g.PortPending(3), 0, "close cleared it");

        // Close of a free port is -EINVAL and leaves a guest-written pending bit alone.
        g.SetPending(4, true);
        g.ExpectEq(g.Close(4), -Errno.EINVAL, "close(4), free");
        g.ExpectEq(g.PortPending(4), 1, "failed close left the pending bit");
        g.Print("pending %#x mask %#x after the closes\n", g.PendingWord(0), g.MaskWord(0));
        g.Success();
    }
}
