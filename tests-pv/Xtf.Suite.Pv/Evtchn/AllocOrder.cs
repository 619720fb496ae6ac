using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Evtchn;

/// <summary>
/// Every bind/alloc command takes the lowest free port (docs/pv-abi.md §7.2): allocations come out 1, 2, 3...
/// whatever the command, a port closed in the middle is the next one handed out, and a reused
/// port starts over as a fresh port.
/// </summary>
public sealed class EvtchnAllocOrder : XtfTest
{
    public override string Name => "evtchn-alloc-order";
    public override string Title => "Event channels: lowest free port allocation and reuse";
    public override string Category => "evtchn";

    public override void Body(GuestProgram g)
    {
        // Six ports from four different commands share one allocator.
        var p1 = g.AllocSelf();
        var p2 = g.BindIpi(0);
        var p3 = g.BindVirq(Virq.Debug, 0);
        var p4 = g.AllocUnbound(0, DomId.Self);
        var p5 = g.BindVirq(5, 0);
        var p6 = g.BindIpi(0);
        PortResult[] all = [p1, p2, p3, p4, p5, p6];
        for (int i = 0; i < all.Length; i++)
        {
            g.ExpectEq(all[i].Rc, 0, $"allocation {i + 1}");
            g.ExpectEq(all[i].Port, i + 1, $"allocation {i + 1} port");
        }
        g.Print("first ports: %u %u %u %u %u %u\n", p1.Port, p2.Port, p3.Port, p4.Port, p5.Port, p6.Port);

        // Close one in the middle: it is the next one handed out.
        g.ExpectEq(g.Close(3), 0, "close(3)");
        var r3 = g.BindIpi(0);
        g.ExpectEq(r3.Rc, 0, "bind_ipi after close(3)");
        g.ExpectEq(r3.Port, 3, "port 3 reused");
        g.ExpectStatus(3, EvtchnStatus.Ipi, 0, "3 reused as IPI");

        // Close two: they come back lowest first, then allocation carries on above the highest.
        g.ExpectEq(g.Close(5), 0, "close(5)");
        g.ExpectEq(g.Close(2), 0, "close(2)");
        var n1 = g.AllocSelf();
        var n2 = g.BindVirq(5, 0);
        var n3 = g.BindIpi(0);
        g.ExpectEq(n1.Port, 2, "lowest free after closing 5 and 2");
        g.ExpectEq(n2.Port, 5, "then 5");
        g.ExpectEq(n3.Port, 7, "then above the highest used");
        g.ExpectStatus(2, EvtchnStatus.Unbound, 0, "2 reused as unbound");
        g.ExpectEq(g.ExpectStatus(5, EvtchnStatus.Virq, 0, "5 rebound to VIRQ 5").Virq, 5, "status(5).u.virq");
        g.Print("after reuse: %u %u %u\n", n1.Port, n2.Port, n3.Port);

        // Close everything from the top down, then allocate again from port 1.
        var p = g.Var("p");
        g.Set(p, 7);
        g.While(p > 0, () =>
        {
            var rc = g.Close(p);
            g.If(rc != 0, () => g.Failure("Fail: close(%u): %e", p, rc));
            g.Set(p, p - 1);
        });
        var again = g.BindVirq(Virq.Debug, 0);
        g.ExpectEq(again.Rc, 0, "bind_virq(DEBUG) after closing everything");
        g.ExpectEq(again.Port, 1, "allocation restarts at port 1");
        g.ExpectEq(g.AllocSelf().Port, 2, "then port 2");
        g.Success();
    }
}
