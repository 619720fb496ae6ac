using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Hvm.Hypercalls;

/// <summary>
/// What every hypercall number from 0 to 63 returns to a 64-bit HVM guest when called with zero arguments
/// (xen/arch/x86/hvm/hypercall.c: the HVM table admits a subset of PV's; the rest are -ENOSYS). Zero
/// arguments are harmless everywhere: null guest pointers give -EFAULT, a zero count does nothing, and
/// sched_op 0 is a yield. Stub 23 (iret) is ud2 for HVM and is left out.
/// </summary>
public sealed class HypercallTable : XtfTest
{
    public override string Name => "hypercall-table";
    public override string Title => "Every hypercall number from an HVM guest";
    public override string Category => "hvm_hypercall";
    public override Environments Environments => Environments.Hvm64;

    public override void Body(GuestProgram g)
    {
        for (int n = 0; n < 64; n++)
        {
            if (n == (int)Hypercall.Iret) continue;
            g.Print($"hypercall {n}: %e\n", g.Hypercall((Hypercall)n, 0, 0, 0, 0, 0));
        }
        g.ExpectEq(g.Hypercall(Hypercall.MmuUpdate, 0, 0, 0, DomId.Self), -Errno.ENOSYS, "mmu_update is PV only");
        g.ExpectEq(g.Hypercall(Hypercall.SetTrapTable, 0), -Errno.ENOSYS, "set_trap_table is PV only");
        g.Success();
    }
}
