using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Vcpu;

/// <summary>
/// VCPUOP_register_vcpu_time_memory_area (docs/pv-abi.md §4.14): an unreadable argument, a non-canonical
/// address and an address in Xen's hole are -EFAULT; 0 and an unmapped address are accepted.
/// A registered area is written at once with the same 32 bytes as vcpu_info.time (version
/// even), and Xen keeps it equal to vcpu_info.time when it next updates the time.
/// </summary>
public sealed class TimeArea : XtfTest
{
    public override string Name => "vcpu-time-area";
    public override bool NeedsExactVcpus => true;
    public override string Title => "VCPUOP_register_vcpu_time_memory_area: a second copy of the time";
    public override string Category => "vcpu";

    private const int S = VcpuTimeInfo.Layout.Size;

    public override void Body(GuestProgram g)
    {
        var area = g.Alloc(S, 64, "time_area");
        var arg = g.Alloc(VcpuRegisterTimeMemoryArea.Layout.Size, name: "time_area_arg");
        var timeInfo = Val.Const((long)PvClock.TimeInfo(g));
        Val Register(Val address)
        {
            g.Set(arg.U64(VcpuRegisterTimeMemoryArea.Layout.Addr), address);
            return g.VcpuOp(VcpuOp.RegisterVcpuTimeMemoryArea, 0, arg.Ptr);
        }
        // Equal copies; retried a few times in case Xen updates both between the two reads.
        Val SameAsVcpuInfo()
        {
            var same = g.Var("same");
            var i = g.Var("try");
            g.Set(same, 0);
            g.For(i, 0, 3, () => g.If(g.MemCmp(area.Ptr, timeInfo, S) == 0, () => { g.Set(same, 1); g.Break(); }));
            return same;
        }

        g.ExpectEq(g.VcpuOp(VcpuOp.RegisterVcpuTimeMemoryArea, 0, 0x4000_0000), -Errno.EFAULT, "argument at an unmapped address");
        g.ExpectEq(Register(0x0000_8000_0000_0000), -Errno.EFAULT, "area at a non-canonical address");
        g.ExpectEq(Register(unchecked((long)0xFFFF_8000_0000_0000)), -Errno.EFAULT, "area at the start of Xen's hole");
        g.ExpectEq(Register(unchecked((long)0xFFFF_87FF_FFFF_FFE0)), -Errno.EFAULT, "area at the end of Xen's hole");
        g.ExpectEq(g.VcpuOp(VcpuOp.RegisterVcpuTimeMemoryArea, 1, arg.Ptr), -Errno.ENOENT, "vCPU 1 with one vCPU");
        g.ExpectEq(Register(0x4000_0000), 0, "area at an unmapped address (writes are lost)");
        // VA 0 is mapped in this dom0 (Xen maps 0..4 MiB one to one), so this copy lands there.
        g.ExpectEq(Register(0), 0, "area at 0");

        g.MemSet(area.Ptr, 0xaa, S);
        g.ExpectEq(Register(area.Ptr), 0, "area in the image");
        var ver = area.U32(VcpuTimeInfo.Layout.Version);
        g.Expect((ver != 0) & ver.NoBits(1) & (ver != 0xaaaaaaaa), "the area was written at once, version even");
        g.ExpectEq(SameAsVcpuInfo(), 1, "the area equals vcpu_info.time");
        g.Expect(area.U32(VcpuTimeInfo.Layout.TscToSystemMul) != 0, "tsc_to_system_mul is non-zero");

        // Xen's next time update (its per-CPU calibration runs once a second of system time and
        // refreshes the running vCPU's copy, xen/arch/x86/time.c) rewrites both copies, the area
        // right after vcpu_info. One pCPU: Xen finishes both before the guest runs again.
        var oldVer = g.Var("old_version");
        g.Set(oldVer, ver);
        g.Expect(PvClock.WaitFor(g, () => Val.Mem((ulong)timeInfo.Constant, 4) != oldVer) == 1,
            "vcpu_info.time is updated (calibration)");
        PvClock.SpinFor(g, 1_000_000);
        g.Expect(ver != oldVer, "the area's version moved too");
        g.ExpectEq(SameAsVcpuInfo(), 1, "the area still equals vcpu_info.time");
        g.Print("time area: written at registration and kept in step\n");
        g.Success();
    }
}
