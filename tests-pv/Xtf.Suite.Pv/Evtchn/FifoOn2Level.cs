using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Evtchn;

/// <summary>
/// FIFO-ABI commands while dom0 is still on the 2-level ABI (docs/pv-abi.md §7.1, §7.15): set_priority is
/// -EINVAL beyond the buckets and -ENOSYS otherwise; expand_array is -EOPNOTSUPP; init_control's
/// argument checks fail without switching the ABI (vCPU, offset range, alignment, frame) and
/// write nothing back; unknown commands are -ENOSYS.
/// </summary>
public sealed class EvtchnFifoOn2Level : XtfTest
{
    public override string Name => "evtchn-fifo-on-2level";
    public override bool NeedsExactVcpus => true;
    public override string Title => "Event channels: FIFO and unknown commands on the 2-level ABI";
    public override string Category => "evtchn";

    public override void Body(GuestProgram g)
    {
        g.ExpectEq(g.BindIpi(0).Port, 1, "port 1: IPI");

        var prio = g.Alloc(EvtchnSetPriority.Layout.Size, name: "set_priority");
        Val SetPriority(Val port, Val priority)
        {
            g.Set(prio.U32(EvtchnSetPriority.Layout.Port), port);
            g.Set(prio.U32(EvtchnSetPriority.Layout.Priority), priority);
            return g.EvtchnOp(EvtchnOp.SetPriority, prio.Ptr);
        }
        g.ExpectEq(SetPriority(1, 3), -Errno.ENOSYS, "set_priority(IPI 1, 3)");
        g.ExpectEq(SetPriority(1, 99), -Errno.ENOSYS, "set_priority(IPI 1, 99): ENOSYS before the priority check");
        g.ExpectEq(SetPriority(0, 7), -Errno.ENOSYS, "set_priority(0, 7): ENOSYS before the usable check");
        g.ExpectEq(SetPriority(63, 7), -Errno.ENOSYS, "set_priority(free 63, 7)");
        g.ExpectEq(SetPriority(64, 7), -Errno.EINVAL, "set_priority(64, 7): port range first");
        g.ExpectEq(SetPriority(0xFFFFFFFF, 7), -Errno.EINVAL, "set_priority(0xffffffff, 7)");

        var expand = g.Alloc(EvtchnExpandArray.Layout.Size, name: "expand_array");
        g.Set(expand.U64(EvtchnExpandArray.Layout.ArrayGfn), 0);
        g.ExpectEq(g.EvtchnOp(EvtchnOp.ExpandArray, expand.Ptr), -Errno.EOPNOTSUPP, "expand_array(gfn 0)");
        g.Set(expand.U64(EvtchnExpandArray.Layout.ArrayGfn), -1);
        g.ExpectEq(g.EvtchnOp(EvtchnOp.ExpandArray, expand.Ptr), -Errno.EOPNOTSUPP, "expand_array(gfn -1)");

        // init_control with bad arguments: each is refused before the ABI changes.
        var page = g.Page("control_block");
        var mfnList = Val.At(g.StartInfo, StartInfo.Layout.MfnList);
        var gfn = g.Var("control_gfn");
        g.Set(gfn, Val.At(mfnList + ((page.Ptr >> 12) << 3)));   // PV: the frame number is the MFN
        var init = g.Alloc(EvtchnInitControl.Layout.Size, name: "init_control");
        Val InitControl(Val frame, Val offset, Val vcpu)
        {
            g.MemSet(init.Ptr, 0xA5, EvtchnInitControl.Layout.Size);
            g.Set(init.U64(EvtchnInitControl.Layout.ControlGfn), frame);
            g.Set(init.U32(EvtchnInitControl.Layout.Offset), offset);
            g.Set(init.U32(EvtchnInitControl.Layout.Vcpu), vcpu);
            return g.EvtchnOp(EvtchnOp.InitControl, init.Ptr);
        }
        g.ExpectEq(InitControl(gfn, 0, 1), -Errno.ENOENT, "init_control(vcpu 1)");
        g.ExpectEq(InitControl(gfn, 4096, 0xFFFFFFFF), -Errno.ENOENT, "init_control(vcpu -1, offset 4096): vCPU first");
        g.ExpectEq(InitControl(gfn, 4096 - 64, 0), -Errno.EINVAL, "init_control(offset 4032): block would cross the page");
        g.ExpectEq(InitControl(gfn, 4096 - 72 + 4, 0), -Errno.EINVAL, "init_control(offset 4028)");
        g.ExpectEq(InitControl(gfn, 0xFFFFFFF8, 0), -Errno.EINVAL, "init_control(offset 0xfffffff8)");
        g.ExpectEq(InitControl(gfn, 4, 0), -Errno.EINVAL, "init_control(offset 4): misaligned");
        g.ExpectEq(InitControl(gfn, 4096 - 72 + 1, 0), -Errno.EINVAL, "init_control(offset 4025): misaligned");
        g.ExpectEq(InitControl(-1, 0, 0), -Errno.EINVAL, "init_control(gfn -1)");
        g.ExpectEq(InitControl(0xFFFFFFFFFL, 0, 0), -Errno.EINVAL, "init_control(gfn beyond memory)");
        var l4 = Val.At(mfnList + ((Val.At(g.StartInfo, StartInfo.Layout.PtBase) >> 12) << 3));
        g.ExpectEq(InitControl(l4, 0, 0), -Errno.EINVAL, "init_control(gfn of the L4 page table): not writable");
        g.ExpectEq(init.U8(EvtchnInitControl.Layout.LinkBits), 0xA5, "a failed init_control writes nothing back");
        g.ExpectEq(page.U64(0), 0, "the control block page is untouched");

        // Still 2-level.
        g.ExpectEq(SetPriority(1, 3), -Errno.ENOSYS, "set_priority after the failed init_controls");
        g.Set(expand.U64(EvtchnExpandArray.Layout.ArrayGfn), gfn);
        g.ExpectEq(g.EvtchnOp(EvtchnOp.ExpandArray, expand.Ptr), -Errno.EOPNOTSUPP, "expand_array after the failed init_controls");
        g.ExpectEq(g.Send(1), 0, "send(1)");
        g.ExpectEq(g.PendingWord(0), 1 << 1, "2-level pending bit after send");

        g.Print("2-level: set_priority %e, expand_array %e\n", SetPriority(1, 3), g.EvtchnOp(EvtchnOp.ExpandArray, expand.Ptr));

        // Unknown commands.
        g.ExpectEq(g.EvtchnOp((EvtchnOp)15, init.Ptr), -Errno.ENOSYS, "EVTCHNOP 15");
        g.ExpectEq(g.EvtchnOp((EvtchnOp)16, init.Ptr), -Errno.ENOSYS, "EVTCHNOP 16");
        g.ExpectEq(g.EvtchnOp((EvtchnOp)1000, init.Ptr), -Errno.ENOSYS, "EVTCHNOP 1000");
        g.ExpectEq(g.Hypercall(Hypercall.EventChannelOp, -1, init.Ptr), -Errno.ENOSYS, "EVTCHNOP -1");
        g.ExpectEq(g.EvtchnOp((EvtchnOp)15, 0x40000000), -Errno.ENOSYS, "EVTCHNOP 15 with an unmapped argument: no copy");
        g.Success();
    }
}
