using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Evtchn;

/// <summary>
/// EVTCHNOP_unmask (docs/pv-abi.md §7.11): clears the mask bit and re-raises a lost edge exactly once (only
/// when the bit was set and the port is pending with its selector bit clear); does nothing if the
/// guest already cleared the mask; on free/reserved ports it returns 0 without touching the mask;
/// beyond the buckets it is -EINVAL.
/// </summary>
public sealed class EvtchnUnmaskRaise : XtfTest
{
    public override string Name => "evtchn-unmask";
    public override string Title => "EVTCHNOP_unmask: re-raising a lost edge";
    public override string Category => "evtchn";

    public override void Body(GuestProgram g)
    {
        g.ExpectEq(g.BindIpi(0).Port, 1, "port 1: IPI");

        // Masked send, then unmask: mask cleared, selector and upcall_pending raised.
        g.SetMask(1, true);
        g.ExpectEq(g.Send(1), 0, "send(1) masked");
        g.ExpectEq(g.PendingSel(), 0, "masked send raised nothing");
        g.ExpectEq(g.Unmask(1), 0, "unmask(1)");
        g.ExpectEq(g.PortMasked(1), 0, "mask cleared");
        g.ExpectEq(g.PortPending(1), 1, "still pending");
        g.ExpectEq(g.PendingSel(), 1, "selector raised by unmask");
        g.ExpectEq(g.UpcallPending(), 1, "upcall_pending raised by unmask");

        // Exactly once: a second unmask of the now unmasked port raises nothing.
        g.ClearUpcallState();
        g.ExpectEq(g.Unmask(1), 0, "unmask(1) again");
        g.ExpectEq(g.PendingSel(), 0, "second unmask: selector untouched");
        g.ExpectEq(g.UpcallPending(), 0, "second unmask: upcall_pending untouched");

        // The guest cleared the mask itself first: unmask does nothing.
        g.SetPending(1, false);
        g.SetMask(1, true);
        g.ExpectEq(g.Send(1), 0, "send(1) masked again");
        g.SetMask(1, false);
        g.ExpectEq(g.Unmask(1), 0, "unmask(1) after the guest cleared the mask");
        g.ExpectEq(g.PendingSel(), 0, "guest-cleared mask: nothing raised");
        g.ExpectEq(g.UpcallPending(), 0, "guest-cleared mask: upcall_pending clear");

        // Masked but not pending: the mask is cleared, nothing raised.
        g.SetPending(1, false);
        g.SetMask(1, true);
        g.ExpectEq(g.Unmask(1), 0, "unmask(1) masked, not pending");
        g.ExpectEq(g.PortMasked(1), 0, "mask cleared");
        g.ExpectEq(g.PendingSel(), 0, "not pending: nothing raised");

        // Masked and pending with the selector bit already set: mask cleared, upcall_pending left alone.
        g.SetMask(1, true);
        g.SetPending(1, true);
        g.Set(g.PendingSel(), 1);
        g.ExpectEq(g.Unmask(1), 0, "unmask(1) with selector already set");
        g.ExpectEq(g.PortMasked(1), 0, "mask cleared");
        g.ExpectEq(g.UpcallPending(), 0, "selector already set: upcall_pending left at 0");
        g.SetPending(1, false);
        g.ClearUpcallState();

        // Any usable port works the same way: an unbound port with a guest-set pending bit.
        g.ExpectEq(g.AllocSelf().Port, 2, "port 2: unbound");
        g.SetMask(2, true);
        g.SetPending(2, true);
        g.ExpectEq(g.Unmask(2), 0, "unmask(unbound 2)");
        g.ExpectEq(g.PortMasked(2), 0, "unbound: mask cleared");
        g.ExpectEq(g.PendingSel(), 1, "unbound: selector raised");
        g.ExpectEq(g.UpcallPending(), 1, "unbound: upcall_pending raised");
        g.SetPending(2, false);
        g.ClearUpcallState();

        // A VIRQ port too.
        g.ExpectEq(g.BindVirq(5, 0).Port, 3, "port 3: VIRQ 5");
        g.SetMask(3, true);
        g.SetPending(3, true);
        g.ExpectEq(g.Unmask(3), 0, "unmask(VIRQ 3)");
        g.ExpectEq(g.PortMasked(3), 0, "VIRQ: mask cleared");
        g.ExpectEq(g.PendingSel(), 1, "VIRQ: selector raised");
        g.SetPending(3, false);
        g.ClearUpcallState();

        // Free and reserved ports: 0 and nothing changes, not even the mask bit.
        g.SetMask(0, true);
        g.SetPending(0, true);
        g.SetMask(10, true);
        g.SetPending(10, true);
        g.SetMask(63, true);
        g.ExpectEq(g.Unmask(0), 0, "unmask(0), reserved");
        g.ExpectEq(g.Unmask(10), 0, "unmask(10), free");
        g.ExpectEq(g.Unmask(63), 0, "unmask(63), free");
        g.ExpectEq(g.MaskWord(0), 1L | (1L << 10) | (1L << 63), "free/reserved ports keep their mask bits");
        g.ExpectEq(g.PendingSel(), 0, "free/reserved: nothing raised");
        g.ExpectEq(g.UpcallPending(), 0, "free/reserved: upcall_pending clear");

        // Beyond the buckets.
        g.ExpectEq(g.Unmask(64), -Errno.EINVAL, "unmask(64)");
        g.ExpectEq(g.Unmask(4096), -Errno.EINVAL, "unmask(4096)");
        g.ExpectEq(g.Unmask(0xFFFFFFFF), -Errno.EINVAL, "unmask(0xffffffff)");
        g.Print("mask word 0 after the free-port unmasks: %#x\n", g.MaskWord(0));
        g.Success();
    }
}
