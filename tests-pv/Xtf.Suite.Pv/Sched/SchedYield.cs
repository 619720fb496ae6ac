using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Sched;

/// <summary>
/// SCHEDOP_yield always returns 0, ignores its argument (even an unreadable pointer) and changes
/// no guest-visible state (docs/pv-abi.md §5.1, §5.9): with events masked, a pending IPI stays pending
/// with its selector and upcall_pending, and the upcall mask stays set.
/// </summary>
public sealed class SchedYield : XtfTest
{
    public override string Name => "sched-yield";
    public override string Title => "SCHEDOP_yield: returns 0, no state change";
    public override string Category => "sched";

    private const int Rounds = 200;

    public override void Body(GuestProgram g)
    {
        var (upcalls, _) = SchedKit.RecordingCallback(g);
        g.ExpectEq(g.UpcallMask(), 1, "dom0 starts with events masked");

        g.ExpectEq(g.SchedOp(SchedOp.Yield, 0), 0, "SCHEDOP_yield(NULL)");
        g.ExpectEq(g.SchedOp(SchedOp.Yield, 0xdeadbeef), 0, "SCHEDOP_yield(junk argument)");
        g.ExpectEq(g.SchedOp(SchedOp.Yield, (long)SchedKit.BadPointers[0].Address), 0, "SCHEDOP_yield(unmapped pointer)");
        g.ExpectEq(g.SchedOp(SchedOp.Yield, (long)SchedKit.BadPointers[2].Address), 0, "SCHEDOP_yield(pointer into Xen's hole)");

        var i = g.Var("i");
        var nonzero = g.Var("nonzero");
        g.For(i, 0, Rounds, () =>
        {
            var rc = g.SchedOp(SchedOp.Yield, 0);
            g.If(rc != 0, () => g.Set(nonzero, nonzero + 1));
        });
        g.ExpectEq(nonzero, 0, $"{Rounds} yields all returned 0");
        g.Print("%u yields returned 0\n", Rounds - nonzero);

        // A pending event survives yields untouched while events are masked.
        var port = SchedKit.BindIpi(g, "yield");
        SchedKit.Send(g, port, "yield");
        g.ExpectEq(g.PortPending(port), 1, "IPI pending before yield");
        g.For(i, 0, 10, () => g.ExpectEq(g.SchedOp(SchedOp.Yield, 0), 0, "SCHEDOP_yield with an event pending"));
        g.ExpectEq(g.PortPending(port), 1, "pending bit unchanged by yield");
        g.ExpectEq(g.PendingSel(), 1, "selector unchanged by yield");
        g.ExpectEq(g.UpcallPending(), 1, "upcall_pending unchanged by yield");
        g.ExpectEq(g.UpcallMask(), 1, "upcall mask unchanged by yield");
        g.ExpectEq(g.PortMasked(port), 0, "port mask unchanged by yield");
        g.ExpectEq(upcalls, 0, "no upcall while masked");
        g.Success();
    }
}
