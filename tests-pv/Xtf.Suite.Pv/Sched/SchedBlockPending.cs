using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Sched;

/// <summary>
/// SCHEDOP_block with events masked and an upcall already pending (docs/pv-abi.md §5.2): block clears the
/// upcall mask, finds the pending upcall, returns 0 at once, and the event callback runs before
/// the guest continues; the callback's iret leaves the mask clear.
/// </summary>
public sealed class SchedBlockPending : XtfTest
{
    public override string Name => "sched-block-pending";
    public override string Title => "SCHEDOP_block: clears the upcall mask, returns at once on a pending event";
    public override string Category => "sched";

    public override void Body(GuestProgram g)
    {
        var (upcalls, seen) = SchedKit.RecordingCallback(g);
        g.ExpectEq(g.UpcallMask(), 1, "dom0 starts with events masked");
        var port = SchedKit.BindIpi(g, "block");
        g.Print("IPI port %u\n", port);

        // Round 1: masked, pending, then block.
        SchedKit.Send(g, port, "round 1");
        g.ExpectEq(g.UpcallPending(), 1, "upcall_pending set while masked");
        g.ExpectEq(upcalls, 0, "no upcall while masked");
        g.ExpectEq(g.SchedOp(SchedOp.Block, 0), 0, "SCHEDOP_block with an upcall pending (round 1)");
        g.ExpectEq(upcalls, 1, "the callback ran once on return from block");
        g.ExpectEq(seen, Val.Const(1).ShiftLeft(port), "the callback saw the IPI port");
        g.ExpectEq(g.UpcallMask(), 0, "upcall mask clear after block");
        g.ExpectEq(g.PortPending(port), 0, "the callback consumed the pending bit");

        // Round 2: the same again after re-masking; block ignores its argument.
        g.Set(g.UpcallMask(), 1);
        g.Set(seen, 0);
        SchedKit.Send(g, port, "round 2");
        g.ExpectEq(upcalls, 1, "no upcall after re-masking");
        g.ExpectEq(g.SchedOp(SchedOp.Block, (long)SchedKit.BadPointers[0].Address), 0, "SCHEDOP_block(junk argument) with an upcall pending");
        g.ExpectEq(upcalls, 2, "the callback ran again");
        g.ExpectEq(seen, Val.Const(1).ShiftLeft(port), "the callback saw the IPI port again");
        g.ExpectEq(g.UpcallMask(), 0, "upcall mask clear after the second block");

        // Round 3: two events pending on two ports are consumed by one upcall.
        var port2 = SchedKit.BindIpi(g, "second port");
        g.Set(g.UpcallMask(), 1);
        g.Set(seen, 0);
        SchedKit.Send(g, port, "round 3, first port");
        SchedKit.Send(g, port2, "round 3, second port");
        g.ExpectEq(g.SchedOp(SchedOp.Block, 0), 0, "SCHEDOP_block with two ports pending");
        g.ExpectEq(upcalls, 3, "one upcall for both ports");
        g.ExpectEq(seen, Val.Const(1).ShiftLeft(port) | Val.Const(1).ShiftLeft(port2), "the callback saw both ports");
        g.ExpectEq(g.UpcallMask(), 0, "upcall mask clear after the third block");
        g.Print("upcalls after three blocks: %u\n", upcalls);
        g.Success();
    }
}
