using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Sched;

/// <summary>
/// Base of the one-reason shutdown tests: the guest checks that SCHEDOP_shutdown has not ended
/// anything yet, prints the value it passes, reports success and then shuts down with
/// <see cref="Reason"/>. Xen's "Hardware Dom0 ..." line must show <see cref="ExpectedShutdownReason"/>
/// (docs/dom0.md §3): Xen keeps only the low 8 bits of the reason (docs/pv-abi.md §5.3).
/// </summary>
public abstract class ShutdownReasonTest : XtfTest
{
    /// <summary>The 32-bit value written to sched_shutdown.reason.</summary>
    protected abstract uint Reason { get; }

    public override string Category => "sched";
    public override int ExpectedShutdownReason => (int)(Reason & 0xFF);

    public override void Body(GuestProgram g)
    {
        g.Print("SCHEDOP_shutdown reason %u (Xen records %u)\n", Reason, Reason & 0xFF);
        g.ExpectEq(g.SchedOp(SchedOp.Yield, 0), 0, "SCHEDOP_yield before the shutdown");
        g.Success();
        g.FinishWith(Reason);
    }
}
