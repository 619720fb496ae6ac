using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Evtchn;

/// <summary>
/// EVTCHNOP_init_control switches dom0 to the FIFO ABI (docs/pv-abi.md §7.15) and EVTCHNOP_reset switches
/// it back (docs/pv-abi.md §7.14 step 8). After the switch: link_bits 17 is written back, a second control block
/// for the same vCPU is -EINVAL, set_priority works (range, usable and priority checks),
/// expand_array accepts a page and refuses a bad frame. After reset(DOMID_SELF) the domain is on
/// the 2-level ABI again with every port closed. No event is sent while FIFO is active.
/// </summary>
public sealed class EvtchnFifoSwitch : XtfTest
{
    public override string Name => "evtchn-fifo-switch";
    public override string Title => "EVTCHNOP_init_control to FIFO, EVTCHNOP_reset back to 2-level";
    public override string Category => "evtchn";

    public override void Body(GuestProgram g)
    {
        g.ExpectEq(g.BindIpi(0).Port, 1, "port 1: IPI, bound under 2-level");

        var mfnList = Val.At(g.StartInfo, StartInfo.Layout.MfnList);
        Val Mfn(GuestBuffer page) => Val.At(mfnList + ((page.Ptr >> 12) << 3));
        var control = g.Page("control_block");
        var array = g.Page("event_array");

        var init = g.Alloc(EvtchnInitControl.Layout.Size, name: "init_control");
        Val InitControl(Val frame, Val offset)
        {
            g.MemSet(init.Ptr, 0xA5, EvtchnInitControl.Layout.Size);
            g.Set(init.U64(EvtchnInitControl.Layout.ControlGfn), frame);
            g.Set(init.U32(EvtchnInitControl.Layout.Offset), offset);
            g.Set(init.U32(EvtchnInitControl.Layout.Vcpu), 0);
            return g.EvtchnOp(EvtchnOp.InitControl, init.Ptr);
        }
        var prio = g.Alloc(EvtchnSetPriority.Layout.Size, name: "set_priority");
        Val SetPriority(Val port, Val priority)
        {
            g.Set(prio.U32(EvtchnSetPriority.Layout.Port), port);
            g.Set(prio.U32(EvtchnSetPriority.Layout.Priority), priority);
            return g.EvtchnOp(EvtchnOp.SetPriority, prio.Ptr);
        }
        var expand = g.Alloc(EvtchnExpandArray.Layout.Size, name: "expand_array");
        Val ExpandArray(Val frame)
        {
            g.Set(expand.U64(EvtchnExpandArray.Layout.ArrayGfn), frame);
            return g.EvtchnOp(EvtchnOp.ExpandArray, expand.Ptr);
        }

        // The control block at the highest offset that still fits (4096 - 72).
        g.ExpectEq(InitControl(Mfn(control), 4096 - 72), 0, "init_control(vcpu 0, offset 4024)");
        g.ExpectEq(init.U8(EvtchnInitControl.Layout.LinkBits), 17, "link_bits written back");
        g.ExpectEq(init.U8(EvtchnInitControl.Layout.Pad), 0xA5, "padding echoed");
        g.ExpectEq(init.U32(EvtchnInitControl.Layout.Offset), 4096 - 72, "offset echoed");
        g.Print("FIFO ABI active, link_bits %u\n", init.U8(EvtchnInitControl.Layout.LinkBits));
        g.ExpectEq(InitControl(Mfn(control), 0), -Errno.EINVAL, "a second control block for vCPU 0");

        // FIFO commands now work.
        g.ExpectEq(SetPriority(1, 3), 0, "set_priority(1, 3)");
        g.ExpectEq(SetPriority(1, 15), 0, "set_priority(1, 15)");
        g.ExpectEq(SetPriority(1, 16), -Errno.EINVAL, "set_priority(1, 16)");
        g.ExpectEq(SetPriority(2, 3), -Errno.EACCES, "set_priority(free 2, 3)");
        g.ExpectEq(SetPriority(0, 3), -Errno.EACCES, "set_priority(reserved 0, 3)");
        g.ExpectEq(SetPriority(64, 3), -Errno.EINVAL, "set_priority(64, 3)");
        g.ExpectEq(ExpandArray(-1), -Errno.EINVAL, "expand_array(gfn -1)");
        g.ExpectEq(ExpandArray(Mfn(array)), 0, "expand_array(a page)");
        g.ExpectStatus(1, EvtchnStatus.Ipi, 0, "1 under FIFO");

        // Reset: back to 2-level, every port closed.
        g.ExpectEq(g.Reset(DomId.Self), 0, "reset(SELF)");
        g.ExpectEq(SetPriority(1, 3), -Errno.ENOSYS, "set_priority(1) after reset: 2-level again");
        g.ExpectEq(SetPriority(64, 3), -Errno.EINVAL, "set_priority(64) after reset");
        g.ExpectEq(ExpandArray(Mfn(array)), -Errno.EOPNOTSUPP, "expand_array after reset");
        g.ExpectClosed(0, "0 after reset");
        var ipi = g.BindIpi(0);
        g.ExpectEq(ipi.Rc, 0, "bind_ipi under 2-level again");
        g.ExpectEq(ipi.Port, 1, "port 1");
        g.ExpectEq(g.Send(1), 0, "send(1)");
        g.ExpectEq(g.PortPending(1), 1, "2-level pending bit in shared_info");
        g.ExpectEq(g.PendingSel(), 1, "2-level selector");

        // And init_control can switch again.
        g.MemSet(control.Ptr, 0, 4096);
        g.ExpectEq(InitControl(Mfn(control), 0), 0, "init_control again after reset");
        g.ExpectEq(SetPriority(1, 3), 0, "set_priority under FIFO again");
        g.Success();
    }
}
