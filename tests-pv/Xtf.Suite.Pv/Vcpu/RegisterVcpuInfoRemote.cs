using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Vcpu;

/// <summary>
/// VCPUOP_register_vcpu_info for another vCPU (docs/pv-abi.md §4.11 row 5): refused with -EINVAL while
/// vCPU 1 is up, accepted once it is down; the new location receives vCPU 1's slot (upcall
/// mask 1) with the selector all ones and upcall_pending 1; a second registration is -EINVAL.
/// When vCPU 1 runs again, Xen keeps its time in the new location (version becomes non-zero
/// and even), and vCPU 1 reads its own upcall mask there. vCPU 0 may put its own vcpu_info in
/// the same frame.
/// </summary>
public sealed class RegisterVcpuInfoRemote : XtfTest
{
    public override string Name => "vcpu-register-vcpu-info-remote";
    public override bool NeedsExactVcpus => true;
    public override string Title => "VCPUOP_register_vcpu_info for a second vCPU: only while it is down";
    public override string Category => "vcpu";
    public override int Vcpus => 2;

    private const int Offset = 512;

    public override void Body(GuestProgram g)
    {
        var arg = g.Alloc(VcpuRegisterVcpuInfo.Layout.Size, name: "rvi");
        var page = g.Page("vcpu1_info_page");
        Val New(int field, int width) => page.Field(Offset + field, width);
        var counter = g.Var("ap_counter");
        var apMask = g.Var("ap_mask_seen", -1);
        var readMask = g.Var("ap_read_mask");
        var ap = g.Function("ap_entry", () =>
        {
            g.While(Val.Const(1) == 1, () =>
            {
                g.AtomicAdd(counter, 1);
                g.If(readMask == 1, () => g.Set(apMask, New(VcpuInfo.Layout.EvtchnUpcallMask, 1)));
                g.Asm.pause();
            });
        });
        g.Set(arg.U64(VcpuRegisterVcpuInfo.Layout.Mfn), ContextBench.MfnOf(g, page.Ptr));
        g.Set(arg.U32(VcpuRegisterVcpuInfo.Layout.Offset), Offset);

        g.StartVcpu(1, ap);
        g.Expect(PvClock.WaitFor(g, () => counter > 100) == 1, "vCPU 1 runs");
        g.ExpectEq(g.VcpuOp(VcpuOp.RegisterVcpuInfo, 1, arg.Ptr), -Errno.EINVAL, "register_vcpu_info(1) while vCPU 1 is up");
        g.ExpectEq(g.VcpuOp(VcpuOp.RegisterVcpuInfo, 2, arg.Ptr), -Errno.ENOENT, "register_vcpu_info(2)");

        g.ExpectEq(g.VcpuOp(VcpuOp.Down, 1, 0), 0, "down(1)");
        g.MemSet(page.Ptr, 0xee, 4096);
        g.ExpectEq(g.VcpuOp(VcpuOp.RegisterVcpuInfo, 1, arg.Ptr), 0, "register_vcpu_info(1) while vCPU 1 is down");
        g.ExpectEq(New(VcpuInfo.Layout.EvtchnUpcallPending, 1), 1, "new upcall_pending = 1");
        g.ExpectEq(New(VcpuInfo.Layout.EvtchnUpcallMask, 1), 1, "new upcall_mask copied from slot 1 (1)");
        g.ExpectEq(New(VcpuInfo.Layout.EvtchnPendingSel, 8), -1, "new pending_sel = all ones");
        g.ExpectEq(g.PendingSel(1), 0, "slot 1's selector untouched");
        g.ExpectEq(g.VcpuOp(VcpuOp.RegisterVcpuInfo, 1, arg.Ptr), -Errno.EINVAL, "a second registration for vCPU 1");
        // One frame may hold several vcpu_infos: vCPU 0's goes right after vCPU 1's.
        g.Set(arg.U32(VcpuRegisterVcpuInfo.Layout.Offset), Offset + VcpuInfo.Layout.Size);
        g.ExpectEq(g.VcpuOp(VcpuOp.RegisterVcpuInfo, 0, arg.Ptr), 0, "register_vcpu_info(0) in the same frame, next 64 bytes");
        g.ExpectEq(New(VcpuInfo.Layout.Size + VcpuInfo.Layout.EvtchnPendingSel, 8), -1, "vCPU 0's new pending_sel = all ones");
        g.ExpectEq(New(VcpuInfo.Layout.EvtchnUpcallMask, 1), 1, "vCPU 1's new vcpu_info is left alone");

        // vCPU 1 runs again with its vcpu_info in the page.
        g.Set(New(VcpuInfo.Layout.Time + VcpuTimeInfo.Layout.Version, 4), 0);
        g.Set(New(VcpuInfo.Layout.EvtchnUpcallMask, 1), 0x5a);
        g.Set(readMask, 1);
        g.ExpectEq(g.VcpuOp(VcpuOp.Up, 1, 0), 0, "up(1)");
        g.Expect(PvClock.WaitFor(g, () => apMask == 0x5a) == 1, "vCPU 1 reads its mask in the new location");
        var ver = New(VcpuInfo.Layout.Time + VcpuTimeInfo.Layout.Version, 4);
        g.Expect(PvClock.WaitFor(g, () => (ver != 0) & ver.NoBits(1)) == 1,
            "Xen writes vCPU 1's time into the new location when it runs");
        g.Expect(New(VcpuInfo.Layout.Time + VcpuTimeInfo.Layout.SystemTime, 8) != 0, "new time.system_time is non-zero");
        g.Set(New(VcpuInfo.Layout.EvtchnUpcallMask, 1), 1);
        g.ExpectEq(g.VcpuOp(VcpuOp.Down, 1, 0), 0, "down(1) at the end");
        g.Print("register_vcpu_info(1): refused while up, moved while down\n");
        g.Success();
    }
}
