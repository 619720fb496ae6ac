using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Hvm.Hypercalls;

/// <summary>
/// Event channels seen from an HVM guest through the shared_info page it placed with add_to_physmap: at
/// boot every vcpu_info's upcall mask is 0 (Xen does not set it for HVM), an IPI port sends to itself and
/// sets the pending bit, the selector bit and upcall_pending; close clears the port.
/// </summary>
public sealed class EventChannels : XtfTest
{
    public override string Name => "evtchn-ipi";
    public override string Title => "An IPI event channel through an HVM guest's shared_info";
    public override string Category => "hvm_hypercall";
    public override Environments Environments => Environments.Hvm64;

    public override void Body(GuestProgram g)
    {
        g.ExpectEq(g.UpcallMask(), 0, "upcall_mask at boot (HVM)");
        g.ExpectEq(g.UpcallPending(), 0, "upcall_pending at boot");
        g.Print("wc_version %u\n", g.SharedInfo.U32(SharedInfo.Layout.WcVersion));
        var bind = g.Alloc(EvtchnBindIpi.Layout.Size, name: "bind_ipi");
        g.ExpectEq(g.EvtchnOp(EvtchnOp.BindIpi, bind.Ptr), 0, "bind_ipi(0)");
        var port = bind.U32(EvtchnBindIpi.Layout.Port);
        g.ExpectEq(port, 1, "the first port");
        var arg = g.Alloc(4, name: "port");
        g.Set(arg.U32(0), port);
        g.ExpectEq(g.EvtchnOp(EvtchnOp.Send, arg.Ptr), 0, "send");
        g.ExpectEq(g.PortPending(port), 1, "pending");
        g.ExpectEq(g.PendingSel(), 1, "selector bit 0");
        g.ExpectEq(g.UpcallPending(), 1, "upcall_pending");
        g.ExpectEq(g.EvtchnOp(EvtchnOp.Close, arg.Ptr), 0, "close");
        g.ExpectEq(g.PortPending(port), 0, "pending cleared by close");
        g.ExpectEq(g.EvtchnOp(EvtchnOp.Send, arg.Ptr), -Errno.EINVAL, "send on a closed port");
        g.Success();
    }
}
