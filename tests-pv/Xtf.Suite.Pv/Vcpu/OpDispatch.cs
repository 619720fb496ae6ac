using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Vcpu;

/// <summary>
/// HYPERVISOR_vcpu_op dispatch (docs/pv-abi.md §4.0, docs/dom0.md §2.13): with 2 vCPUs, every command 0..13 and
/// unknown commands on vCPU 2 or 0xffffffff give -ENOENT (the vCPU is looked up before the
/// command), unknown commands on a real vCPU give -ENOSYS, and the 32-bit cmd and vcpuid
/// parameters ignore the upper halves of their registers.
/// </summary>
public sealed class OpDispatch : XtfTest
{
    public override string Name => "vcpu-op-dispatch";
    public override bool NeedsExactVcpus => true;
    public override string Title => "VCPUOP dispatch: ENOENT before ENOSYS, 32-bit arguments";
    public override string Category => "vcpu";
    public override int Vcpus => 2;

    public override void Body(GuestProgram g)
    {
        var cmd = g.Var("cmd");
        var scratch = g.Page("scratch");
        // Bad vCPU ids: every known command, with a harmless (zeroed) argument buffer.
        foreach (long vcpu in new[] { 2L, 0xFFFF_FFFFL, 0x8000_0000L })
            g.For(cmd, 0, 14, () =>
                g.If(g.Hypercall(Hypercall.VcpuOp, cmd, vcpu, scratch.Ptr) != -Errno.ENOENT,
                    () => g.Failure($"Fail: vcpu_op(cmd %d, vCPU 0x{vcpu:x}): expected -ENOENT", cmd)));
        foreach (long c in new[] { 14L, 15L, 0x7FFF_FFFFL, -1L })
            g.ExpectEq(g.Hypercall(Hypercall.VcpuOp, c, 2, scratch.Ptr), -Errno.ENOENT, $"vcpu_op(cmd {c}, vCPU 2): ENOENT before ENOSYS");

        // Unknown commands on existing vCPUs.
        foreach (long c in new[] { 14L, 15L, 64L, 0x7FFF_FFFFL, -1L, int.MinValue })
        {
            g.ExpectEq(g.Hypercall(Hypercall.VcpuOp, c, 0, scratch.Ptr), -Errno.ENOSYS, $"vcpu_op(cmd {c}, vCPU 0)");
            g.ExpectEq(g.Hypercall(Hypercall.VcpuOp, c, 1, 0), -Errno.ENOSYS, $"vcpu_op(cmd {c}, vCPU 1)");
        }

        // cmd is an int and vcpuid an unsigned int: the upper 32 bits of rdi/rsi are ignored
        // (real Xen: is_up(vcpuid 2^32) answers for vCPU 0; cmd 2^32 | 3 is is_up).
        g.ExpectEq(g.Hypercall(Hypercall.VcpuOp, (long)VcpuOp.IsUp, 1L << 32, 0), 1, "is_up(vcpuid 2^32) is is_up(0)");
        g.ExpectEq(g.Hypercall(Hypercall.VcpuOp, (long)VcpuOp.IsUp, (1L << 32) | 1, 0), 0, "is_up(vcpuid 2^32 + 1) is is_up(1)");
        g.ExpectEq(g.Hypercall(Hypercall.VcpuOp, (1L << 32) | (long)VcpuOp.IsUp, 0, 0), 1, "cmd 2^32 + 3 is VCPUOP_is_up");
        g.ExpectEq(g.Hypercall(Hypercall.VcpuOp, (1L << 32) | 14, 0, 0), -Errno.ENOSYS, "cmd 2^32 + 14 is unknown");
        g.Print("vcpu_op: 42 bad-vCPU calls ENOENT, unknown commands ENOSYS\n");
        g.Success();
    }
}
