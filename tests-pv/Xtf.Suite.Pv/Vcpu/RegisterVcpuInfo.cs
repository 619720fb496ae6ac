using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Vcpu;

/// <summary>
/// VCPUOP_register_vcpu_info for the calling vCPU (docs/pv-abi.md §4.11): an offset above 4032 or not a
/// multiple of 8 is -ENXIO before the frame is looked at; a frame the domain does not own (MFN
/// 0, a huge MFN) or one that cannot be a plain writable page (the L4 at pt_base, an L1) is
/// -EINVAL; an unreadable argument is -EFAULT. Moving vCPU 0's vcpu_info into a page of the
/// image copies the shared_info slot (including a marker in arch.pad), then sets
/// evtchn_pending_sel to all ones and evtchn_upcall_pending to 1; the old slot is no longer
/// written. Events then go to the new location, and its upcall mask is the one Xen obeys. A
/// second registration is -EINVAL, but a bad offset still gives -ENXIO first.
/// </summary>
public sealed class RegisterVcpuInfo : XtfTest
{
    public override string Name => "vcpu-register-vcpu-info";
    public override bool NeedsExactVcpus => true;
    public override string Title => "VCPUOP_register_vcpu_info: move vCPU 0's vcpu_info";
    public override string Category => "vcpu";

    private const int Offset = 128;

    public override void Body(GuestProgram g)
    {
        var arg = g.Alloc(VcpuRegisterVcpuInfo.Layout.Size, name: "rvi");
        var page = g.Page("vcpu_info_page");
        var pageMfn = g.Var("page_mfn");
        g.Set(pageMfn, ContextBench.MfnOf(g, page.Ptr));
        var ptBase = Val.At(g.StartInfo, StartInfo.Layout.PtBase);
        Val Register(Val mfn, Val offset, Val rsvd)
        {
            g.Set(arg.U64(VcpuRegisterVcpuInfo.Layout.Mfn), mfn);
            g.Set(arg.U32(VcpuRegisterVcpuInfo.Layout.Offset), offset);
            g.Set(arg.U32(VcpuRegisterVcpuInfo.Layout.Rsvd), rsvd);
            return g.VcpuOp(VcpuOp.RegisterVcpuInfo, 0, arg.Ptr);
        }

        // Offset checks come first, whatever the frame.
        g.ExpectEq(Register(0, 4033, 0), -Errno.ENXIO, "offset 4033 with MFN 0");
        g.ExpectEq(Register(0, 4, 0), -Errno.ENXIO, "offset 4 with MFN 0");
        g.ExpectEq(Register(pageMfn, 4040, 0), -Errno.ENXIO, "offset 4040 (vcpu_info would cross the page)");
        g.ExpectEq(Register(pageMfn, 4036, 0), -Errno.ENXIO, "offset 4036");
        g.ExpectEq(Register(pageMfn, 0xFFFF_FFF8, 0), -Errno.ENXIO, "offset 0xfffffff8");
        g.ExpectEq(Register(pageMfn, 12, 0), -Errno.ENXIO, "offset 12 (not a multiple of 8)");
        // Then the frame.
        g.ExpectEq(Register(0, Offset, 0), -Errno.EINVAL, "MFN 0 (not dom0's)");
        g.ExpectEq(Register(1L << 40, Offset, 0), -Errno.EINVAL, "MFN 2^40");
        g.ExpectEq(Register(-1, Offset, 0), -Errno.EINVAL, "MFN ~0");
        g.ExpectEq(Register(ContextBench.MfnOf(g, ptBase), Offset, 0), -Errno.EINVAL, "the L4 page table at pt_base");
        g.ExpectEq(Register(ContextBench.MfnOf(g, ptBase + 0x1000), Offset, 0), -Errno.EINVAL, "an L1 page table");
        g.ExpectEq(g.VcpuOp(VcpuOp.RegisterVcpuInfo, 0, 0x4000_0000), -Errno.EFAULT, "argument at an unmapped address");
        g.ExpectEq(g.VcpuOp(VcpuOp.RegisterVcpuInfo, 1, arg.Ptr), -Errno.ENOENT, "vCPU 1 with one vCPU");

        // Mark the old slot, fill the target with garbage, then move (rsvd is not checked).
        var oldPad = g.SharedInfo.U64(SharedInfo.Layout.VcpuInfoAt(0) + VcpuInfo.Layout.ArchPad);
        g.Set(oldPad, 0x1122_3344_5566_7788);
        g.MemSet(page.Ptr, 0xee, 4096);
        Val New(int field, int width) => page.Field(Offset + field, width);
        g.ExpectEq(Register(pageMfn, Offset, 0xFFFF_FFFF), 0, "register_vcpu_info(page, offset 128, rsvd ~0)");

        g.ExpectEq(New(VcpuInfo.Layout.EvtchnUpcallPending, 1), 1, "new evtchn_upcall_pending = 1");
        g.ExpectEq(New(VcpuInfo.Layout.EvtchnUpcallMask, 1), 1, "new evtchn_upcall_mask copied (1)");
        g.ExpectEq(New(VcpuInfo.Layout.EvtchnPendingSel, 8), -1, "new evtchn_pending_sel = all ones");
        g.ExpectEq(New(VcpuInfo.Layout.ArchPad, 8), 0x1122_3344_5566_7788, "arch.pad copied from the old slot");
        g.ExpectEq(New(VcpuInfo.Layout.ArchCr2, 8), g.SharedInfo.U64(VcpuInfo.Layout.ArchCr2), "arch.cr2 copied");
        var ver = New(VcpuInfo.Layout.Time + VcpuTimeInfo.Layout.Version, 4);
        g.Expect((ver != 0) & ver.NoBits(1), "new time.version non-zero and even");
        g.ExpectEq(New(VcpuInfo.Layout.Time + VcpuTimeInfo.Layout.TscToSystemMul, 4),
            g.SharedInfo.U32(VcpuInfo.Layout.Time + VcpuTimeInfo.Layout.TscToSystemMul), "time.tsc_to_system_mul as in the old slot");
        g.ExpectEq(page.U64(Offset - 8), unchecked((long)0xeeeeeeeeeeeeeeee), "the bytes before the new vcpu_info are untouched");
        g.ExpectEq(page.U64(Offset + 64), unchecked((long)0xeeeeeeeeeeeeeeee), "the bytes after it are untouched");
        g.ExpectEq(g.PendingSel(), 0, "the old slot's selector is not set");
        g.ExpectEq(g.UpcallPending(), 0, "the old slot's upcall_pending is not set");

        // Events now land in the new location.
        g.Set(New(VcpuInfo.Layout.EvtchnPendingSel, 8), 0);
        g.Set(New(VcpuInfo.Layout.EvtchnUpcallPending, 1), 0);
        var ipi = g.Alloc(EvtchnBindIpi.Layout.Size, name: "bind_ipi");
        g.ExpectEq(g.EvtchnOp(EvtchnOp.BindIpi, ipi.Ptr), 0, "EVTCHNOP_bind_ipi");
        var port = ipi.U32(EvtchnBindIpi.Layout.Port);
        var send = g.Alloc(EvtchnSend.Layout.Size, name: "send");
        g.Set(send.U32(EvtchnSend.Layout.Port), port);
        g.ExpectEq(g.EvtchnOp(EvtchnOp.Send, send.Ptr), 0, "EVTCHNOP_send");
        g.ExpectEq(New(VcpuInfo.Layout.EvtchnPendingSel, 8), 1, "new selector bit 0 after send");
        g.ExpectEq(New(VcpuInfo.Layout.EvtchnUpcallPending, 1), 1, "new upcall_pending after send");
        g.ExpectEq(g.PendingSel(), 0, "old slot's selector still 0");
        g.ExpectEq(g.UpcallPending(), 0, "old slot's upcall_pending still 0");

        // The new mask is the one Xen reads: clearing it delivers the upcall.
        var upcalls = g.Var("upcalls");
        var callback = g.EventCallback("event_callback", () =>
        {
            g.Set(upcalls, upcalls + 1);
            g.Set(New(VcpuInfo.Layout.EvtchnUpcallPending, 1), 0);
            g.Set(New(VcpuInfo.Layout.EvtchnPendingSel, 8), 0);
            g.Set(g.PendingWord(0), 0);
        });
        g.ExpectEq(g.SetEventCallback(callback), 0, "set_callbacks");
        g.Set(g.UpcallMask(), 0);
        g.XenVersion(XenVer.Version, 0);
        g.ExpectEq(upcalls, 0, "clearing the old slot's mask delivers nothing");
        g.Set(New(VcpuInfo.Layout.EvtchnUpcallMask, 1), 0);
        g.XenVersion(XenVer.Version, 0);
        g.ExpectEq(upcalls, 1, "clearing the new mask delivers the upcall");
        g.ExpectEq(New(VcpuInfo.Layout.EvtchnUpcallMask, 1), 0, "iret restored the new mask from IF");
        g.Set(New(VcpuInfo.Layout.EvtchnUpcallMask, 1), 1);

        // Only once; the offset is still checked first.
        g.ExpectEq(Register(pageMfn, Offset, 0), -Errno.EINVAL, "a second registration");
        g.ExpectEq(Register(pageMfn, 256, 0), -Errno.EINVAL, "a second registration elsewhere");
        g.ExpectEq(Register(pageMfn, 4, 0), -Errno.ENXIO, "a second registration with a bad offset: ENXIO first");
        g.Print("register_vcpu_info: moved, copied, marked pending\n");
        g.Success();
    }
}
