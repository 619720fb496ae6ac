using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Evtchn;

/// <summary>
/// EVTCHNOP_send by port state (docs/pv-abi.md §7.9): an unbound port swallows the event and returns 0;
/// VIRQ, free and reserved ports are -EINVAL, as is any port beyond the allocated buckets.
/// No failing send changes a pending, selector or upcall bit.
/// </summary>
public sealed class EvtchnSendErrors : XtfTest
{
    public override string Name => "evtchn-send-errors";
    public override string Title => "EVTCHNOP_send: unbound, VIRQ, free and out-of-range ports";
    public override string Category => "evtchn";

    public override void Body(GuestProgram g)
    {
        g.ExpectEq(g.AllocSelf().Port, 1, "port 1: unbound (remote dom0)");
        g.ExpectEq(g.AllocUnbound(DomId.Self, 9).Port, 2, "port 2: unbound (remote dom 9)");
        g.ExpectEq(g.BindVirq(5, 0).Port, 3, "port 3: VIRQ 5");
        g.ExpectEq(g.BindVirq(Virq.Debug, 0).Port, 4, "port 4: VIRQ_DEBUG");

        g.ExpectEq(g.Send(1), 0, "send(unbound 1) is dropped");
        g.ExpectEq(g.Send(2), 0, "send(unbound 2) is dropped");
        g.ExpectEq(g.Send(3), -Errno.EINVAL, "send(VIRQ 5)");
        g.ExpectEq(g.Send(4), -Errno.EINVAL, "send(VIRQ_DEBUG)");
        g.ExpectEq(g.Send(0), -Errno.EINVAL, "send(0), reserved");
        g.ExpectEq(g.Send(5), -Errno.EINVAL, "send(5), free");
        g.ExpectEq(g.Send(63), -Errno.EINVAL, "send(63), free");
        g.ExpectEq(g.Send(64), -Errno.EINVAL, "send(64), beyond the bucket");
        g.ExpectEq(g.Send(4095), -Errno.EINVAL, "send(4095)");
        g.ExpectEq(g.Send(4096), -Errno.EINVAL, "send(4096)");
        g.ExpectEq(g.Send(0xFFFFFFFF), -Errno.EINVAL, "send(0xffffffff)");

        // A closed port: what was an IPI and is now free.
        var ipi = g.BindIpi(0);
        g.ExpectEq(ipi.Port, 5, "port 5: IPI");
        g.ExpectEq(g.Close(5), 0, "close(5)");
        g.ExpectEq(g.Send(5), -Errno.EINVAL, "send(5) after close");

        g.Print("send: unbound %e, VIRQ %e, reserved %e, beyond the bucket %e\n", g.Send(1), g.Send(3), g.Send(0), g.Send(64));
        g.ExpectEq(g.PendingWord(0), 0, "nothing pending");
        g.ExpectEq(g.PendingWord(64), 0, "nothing pending in word 1");
        g.ExpectEq(g.PendingSel(), 0, "selector clear");
        g.ExpectEq(g.UpcallPending(), 0, "upcall_pending clear");

        // An unbound port with its pending bit already set by the guest stays as it is.
        g.SetPending(1, true);
        g.ExpectEq(g.Send(1), 0, "send(unbound 1) while pending");
        g.ExpectEq(g.PendingWord(0), 1 << 1, "pending word unchanged");
        g.ExpectEq(g.PendingSel(), 0, "selector still clear");
        g.Success();
    }
}
