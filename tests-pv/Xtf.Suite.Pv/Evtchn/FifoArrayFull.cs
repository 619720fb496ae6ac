using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Evtchn;

/// <summary>
/// EVTCHNOP_expand_array's limit (docs/pv-abi.md §7.15): the FIFO event array holds at most 128 pages
/// (2^17 ports / 1024 words per page); the 129th expand_array is -ENOSPC. The pages are the
/// builder's padding after the boot stack (at least 512 KiB = 128 pages, mapped writable and
/// dom0's own), zeroed first. reset(DOMID_SELF) then returns dom0 to the 2-level ABI.
/// </summary>
public sealed class FifoArrayFull : XtfTest
{
    public override string Name => "evtchn-fifo-array-full";
    public override string Title => "EVTCHNOP_expand_array: 128 pages, then -ENOSPC";
    public override string Category => "evtchn";

    public override void Body(GuestProgram g)
    {
        var mfnList = Val.At(g.StartInfo, StartInfo.Layout.MfnList);
        Val Mfn(Val va) => Val.At(mfnList + ((va >> 12) << 3));
        var control = g.Page("control_block");

        var init = g.Alloc(EvtchnInitControl.Layout.Size, name: "init_control");
        g.Set(init.U64(EvtchnInitControl.Layout.ControlGfn), Mfn(control.Ptr));
        g.Set(init.U32(EvtchnInitControl.Layout.Offset), 0);
        g.Set(init.U32(EvtchnInitControl.Layout.Vcpu), 0);
        g.ExpectEq(g.EvtchnOp(EvtchnOp.InitControl, init.Ptr), 0, "init_control(vcpu 0)");

        var expand = g.Alloc(EvtchnExpandArray.Layout.Size, name: "expand_array");
        var page = g.Var("page");
        var i = g.Var("i");
        var failed = g.Var("failed");
        var firstRc = g.Var("first_rc");
        g.For(i, 0, 128, () =>
        {
            g.Set(page, g.BootStackPointer + (i << 12));
            g.MemSet(page, 0, 4096);
            g.Set(expand.U64(EvtchnExpandArray.Layout.ArrayGfn), Mfn(page));
            var rc = g.EvtchnOp(EvtchnOp.ExpandArray, expand.Ptr);
            g.If(rc != 0, () =>
            {
                g.If(failed == 0, () => g.Set(firstRc, rc));
                g.Set(failed, failed + 1);
            });
        });
        g.ExpectEq(failed, 0, "128 expand_array calls succeed");
        g.If(failed != 0, () => g.Print("first failure: %e\n", firstRc));
        g.Set(expand.U64(EvtchnExpandArray.Layout.ArrayGfn), Mfn(control.Ptr + 0));
        g.ExpectEq(g.EvtchnOp(EvtchnOp.ExpandArray, expand.Ptr), -Errno.ENOSPC, "the 129th expand_array");

        var reset = g.Alloc(EvtchnReset.Layout.Size, name: "reset");
        g.Set(reset.U16(EvtchnReset.Layout.Dom), DomId.Self);
        g.ExpectEq(g.EvtchnOp(EvtchnOp.Reset, reset.Ptr), 0, "reset(SELF): back to 2-level");
        var prio = g.Alloc(EvtchnSetPriority.Layout.Size, name: "set_priority");
        g.Set(prio.U32(EvtchnSetPriority.Layout.Port), 1);
        g.Set(prio.U32(EvtchnSetPriority.Layout.Priority), 3);
        g.ExpectEq(g.EvtchnOp(EvtchnOp.SetPriority, prio.Ptr), -Errno.ENOSYS, "set_priority after reset: 2-level again");
        g.Success();
    }
}
