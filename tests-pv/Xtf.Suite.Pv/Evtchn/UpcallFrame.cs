using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Evtchn;

/// <summary>
/// The event upcall (docs/pv-abi.md §7.10): with events unmasked, an IPI sent to vCPU 0 enters the
/// callback registered with set_callbacks once, on the return from that very hypercall, with
/// Xen's 7-word frame (rcx, r11, rip, cs, rflags, rsp, ss) describing the interrupted code and
/// the upcall mask set; Xen clears none of pending, selector or upcall_pending.
/// </summary>
public sealed class EvtchnUpcallFrame : XtfTest
{
    public override string Name => "evtchn-upcall-frame";
    public override string Title => "Event upcall: delivered once with Xen's bounce frame";
    public override string Category => "evtchn";

    public override void Body(GuestProgram g)
    {
        var upcalls = g.Var("upcalls");
        var frame = Enumerable.Range(0, 7).Select(i => g.Var($"frame{i}")).ToArray();
        var maskInside = g.Var("mask_inside");
        var pendingInside = g.Var("pending_inside");
        var selInside = g.Var("sel_inside");
        var upInside = g.Var("up_inside");
        var callback = g.EventCallback("event_callback", () =>
        {
            g.Set(upcalls, upcalls + 1);
            g.If(upcalls == 1, () =>
            {
                for (int i = 0; i < 7; i++) g.SaveFrameWord(frame[i], i);
                g.Set(maskInside, g.UpcallMask());
                g.Set(pendingInside, g.PendingWord(0));
                g.Set(selInside, g.PendingSel());
                g.Set(upInside, g.UpcallPending());
            });
            g.Set(g.UpcallPending(), 0);
            g.Set(g.PendingSel(), 0);
            g.Set(g.PendingWord(0), 0);
        });
        g.ExpectEq(g.SetEventCallback(callback), 0, "set_callbacks");

        g.ExpectEq(g.BindIpi(0).Port, 1, "port 1: IPI");
        g.Set(g.UpcallMask(), 0);
        g.ExpectEq(upcalls, 0, "no upcall while nothing is pending");

        // The send hypercall itself returns into the callback.
        var send = g.Alloc(EvtchnSend.Layout.Size, name: "send_arg");
        g.Set(send.U32(EvtchnSend.Layout.Port), 1);
        var rspBefore = g.Var("rsp_before");
        g.SaveRsp(rspBefore);
        var rc = g.EvtchnOp(EvtchnOp.Send, send.Ptr);
        g.ExpectEq(rc, 0, "send(1)");
        g.ExpectEq(upcalls, 1, "exactly one upcall, on the return from send");

        // Frame: rip after the syscall in the event_channel_op stub (push rcx; push r11; mov eax; syscall),
        // rsp as it was there (below the call's return address and the two pushes).
        long stub = (long)GuestLayout.StubAddress((int)Hypercall.EventChannelOp);
        g.Print("frame: rip = stub + %u, cs %#x, rflags %#x, ss %#x, rsp = caller - %u\n",
            frame[2] - stub, frame[3], frame[4], frame[6], rspBefore - frame[5]);
        g.ExpectEq(frame[2], stub + 10, "frame rip: after the stub's syscall");
        g.ExpectEq(frame[3], 0xE030, "frame cs: RPL cleared, saved upcall mask 0 in bits 32-39");
        g.Expect(frame[4].AnyBits(0x200), "frame rflags.IF set (events were unmasked)");
        g.Expect(frame[4].AnyBits(0x2), "frame rflags bit 1 set");
        g.Expect(frame[4].NoBits(0x100 | 0x4000 | 0x10000 | 0x40000), "frame rflags: no TF/NT/RF/AC");
        g.ExpectEq(frame[5], rspBefore - 24, "frame rsp: the stub's rsp at the syscall");
        g.ExpectEq(frame[6], 0xE02B, "frame ss");
        g.ExpectEq(frame[0], frame[2], "frame rcx: the syscall's return address");
        g.ExpectEq(frame[1], frame[4], "frame r11: the syscall's rflags");
        g.ExpectEq(maskInside, 1, "upcall mask set inside the callback");
        g.ExpectEq(pendingInside, 1 << 1, "pending bit still set on entry");
        g.ExpectEq(selInside, 1, "selector still set on entry");
        g.ExpectEq(upInside, 1, "upcall_pending still set on entry");

        // After the callback's iret, events are enabled again and nothing more arrives.
        g.ExpectEq(g.UpcallMask(), 0, "iret restored the mask from rflags.IF");
        g.XenVersion(XenVer.Version, 0);
        g.SchedOp(SchedOp.Yield, 0);
        g.ExpectEq(upcalls, 1, "still one upcall after more hypercalls");

        // A second send: a second upcall.
        g.ExpectEq(g.Send(1), 0, "send(1) again");
        g.ExpectEq(upcalls, 2, "second upcall");
        g.Set(g.UpcallMask(), 1);
        g.Success();
    }
}
