using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Vcpu;

/// <summary>
/// VCPUOP_get_physid for a dom0 whose only vCPU can only run on the only pCPU (docs/pv-abi.md §4.13:
/// allowed for the hardware domain when the vCPU's hard affinity is a single CPU). Real Xen
/// 4.17.7 with -smp 1 answers 0 and phys_id 0 (APIC id 0 in the low half, ACPI id 0 in the
/// high half); with two pCPUs the same call is -EINVAL (vcpu-send-nmi-physid). An unwritable
/// buffer is -EFAULT; vCPU 1 does not exist.
/// </summary>
public sealed class GetPhysidPinned : XtfTest
{
    public override string Name => "vcpu-get-physid-one-cpu";
    public override bool NeedsExactVcpus => true;
    public override string Title => "VCPUOP_get_physid on a one-CPU host";
    public override string Category => "vcpu";

    public override void Body(GuestProgram g)
    {
        var buf = g.Alloc(VcpuGetPhysid.Layout.Size, name: "physid");
        g.Set(buf.U64(), -1);
        g.ExpectEq(g.VcpuOp(VcpuOp.GetPhysid, 0, buf.Ptr), 0, "get_physid(0)");
        g.Print("phys_id: apic %u acpi %u\n", buf.U32(0), buf.U32(4));
        g.ExpectEq(buf.U64(), 0, "APIC id 0 and ACPI id 0");
        g.ExpectEq(g.VcpuOp(VcpuOp.GetPhysid, 0, 0x4000_0000), -Errno.EFAULT, "get_physid(0) to an unmapped buffer");
        g.ExpectEq(g.VcpuOp(VcpuOp.GetPhysid, 0, 0x0000_8000_0000_0000), -Errno.EFAULT, "get_physid(0) to a non-canonical buffer");
        g.ExpectEq(g.VcpuOp(VcpuOp.GetPhysid, 1, buf.Ptr), -Errno.ENOENT, "get_physid(1)");
        g.Success();
    }
}
