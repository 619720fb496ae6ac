using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv;

/// <summary>
/// An IPI port sent while events are masked sets pending, selector and upcall_pending but
/// delivers nothing; after unmasking, the next return from Xen enters the event callback once.
/// </summary>
public sealed class EvtchnIpiUpcall : XtfTest
{
    public override string Name => "evtchn-ipi-upcall";
    public override string Title => "Event channel: IPI send, masked then delivered upcall";
    public override string Category => "evtchn";

    public override void Body(GuestProgram g)
    {
        var upcalls = g.Var("upcalls");
        var seenSel = g.Var("seen_sel");
        var callback = g.EventCallback("event_callback", () =>
        {
            g.Set(upcalls, upcalls + 1);
            g.Set(g.UpcallPending(), 0);
            g.Set(seenSel, g.PendingSel());
            g.Set(g.PendingSel(), 0);
            g.Set(g.PendingWord(0), 0);
        });
        g.ExpectEq(g.SetEventCallback(callback), 0, "set_callbacks");

        g.ExpectEq(g.UpcallMask(), 1, "dom0 starts with events masked");
        var ipi = g.Alloc(EvtchnBindIpi.Layout.Size, name: "bind_ipi");
        g.Set(ipi.U32(EvtchnBindIpi.Layout.Vcpu), 0);
        g.ExpectEq(g.EvtchnOp(EvtchnOp.BindIpi, ipi.Ptr), 0, "EVTCHNOP_bind_ipi");
        var port = ipi.U32(EvtchnBindIpi.Layout.Port);
        g.ExpectEq(port, 1, "the first port dom0 allocates");

        var send = g.Alloc(EvtchnSend.Layout.Size, name: "send");
        g.Set(send.U32(EvtchnSend.Layout.Port), port);
        g.ExpectEq(g.EvtchnOp(EvtchnOp.Send, send.Ptr), 0, "EVTCHNOP_send");
        g.ExpectEq(g.PortPending(port), 1, "pending bit after send");
        g.ExpectEq(g.PendingSel(), 1, "selector bit 0 after send");
        g.ExpectEq(g.UpcallPending(), 1, "upcall_pending after send");
        g.ExpectEq(upcalls, 0, "no upcall while masked");

        g.Set(g.UpcallMask(), 0);
        g.XenVersion(XenVer.Version, 0);                      // any return from Xen delivers it
        g.ExpectEq(upcalls, 1, "exactly one upcall after unmasking");
        g.ExpectEq(seenSel, 1, "the callback saw selector bit 0");
        g.ExpectEq(g.UpcallMask(), 0, "iret restored the mask from the frame's IF");
        g.ExpectEq(g.PortPending(port), 0, "the callback cleared the pending bit");
        g.Success();
    }
}
