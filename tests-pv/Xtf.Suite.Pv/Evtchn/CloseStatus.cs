using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Evtchn;

/// <summary>
/// EVTCHNOP_status and EVTCHNOP_close for every port state (docs/pv-abi.md §7.8, §7.12): unbound, both
/// interdomain ends, VIRQ, IPI, reserved and free ports inside the allocated bucket (closed) and
/// ports beyond it (-EINVAL). Closing an interdomain end turns the other end back into an unbound
/// port for dom0; closing a VIRQ port frees the VIRQ for a new bind; closed ports read closed/vCPU 0.
/// </summary>
public sealed class EvtchnCloseStatus : XtfTest
{
    public override string Name => "evtchn-close-status";
    public override bool NeedsExactVcpus => true;
    public override string Title => "EVTCHNOP_close and EVTCHNOP_status for every port state";
    public override string Category => "evtchn";

    public override void Body(GuestProgram g)
    {
        g.ExpectEq(g.AllocUnbound(DomId.Self, 3).Port, 1, "port 1: unbound for dom 3");
        g.ExpectEq(g.AllocSelf().Port, 2, "port 2: unbound for dom0");
        g.ExpectEq(g.BindInterdomain(DomId.Self, 2).Port, 3, "port 3: interdomain with 2");
        g.ExpectEq(g.BindVirq(Virq.Arch7, 0).Port, 4, "port 4: VIRQ 23");
        g.ExpectEq(g.BindIpi(0).Port, 5, "port 5: IPI");
        g.ExpectEq(g.BindVirq(Virq.Debug, 0).Port, 6, "port 6: VIRQ_DEBUG");

        g.ExpectEq(g.ExpectStatus(1, EvtchnStatus.Unbound, 0, "unbound 1").Dom, 3, "status(1).u.unbound.dom");
        var s3 = g.ExpectStatus(3, EvtchnStatus.Interdomain, 0, "interdomain 3");
        g.ExpectEq(s3.Dom, 0, "status(3).u.interdomain.dom");
        g.ExpectEq(s3.RemotePort, 2, "status(3).u.interdomain.port");
        g.ExpectEq(g.ExpectStatus(4, EvtchnStatus.Virq, 0, "VIRQ 4").Virq, (int)Virq.Arch7, "status(4).u.virq");
        g.ExpectStatus(5, EvtchnStatus.Ipi, 0, "IPI 5");
        g.ExpectClosed(0, "reserved 0");
        g.ExpectClosed(7, "free 7");
        g.ExpectClosed(63, "free 63");
        g.ExpectInvalidPort(64, "64");

        // Ports that cannot be closed.
        g.ExpectEq(g.Close(0), -Errno.EINVAL, "close(0), reserved");
        g.ExpectEq(g.Close(7), -Errno.EINVAL, "close(7), free");
        g.ExpectEq(g.Close(63), -Errno.EINVAL, "close(63), free");
        g.ExpectEq(g.Close(64), -Errno.EINVAL, "close(64), beyond the bucket");
        g.ExpectEq(g.Close(4096), -Errno.EINVAL, "close(4096)");
        g.ExpectEq(g.Close(0xFFFFFFFF), -Errno.EINVAL, "close(0xffffffff)");
        g.ExpectEq(g.Close(0x80000000), -Errno.EINVAL, "close(0x80000000)");

        // Unbound.
        g.ExpectEq(g.Close(1), 0, "close(unbound 1)");
        g.ExpectClosed(1, "1 after close");
        g.ExpectEq(g.Close(1), -Errno.EINVAL, "close(1) twice");

        // Interdomain: the other end becomes unbound for the closing domain (dom0), then closes normally.
        g.ExpectEq(g.Close(3), 0, "close(interdomain 3)");
        g.ExpectClosed(3, "3 after close");
        var s2 = g.ExpectStatus(2, EvtchnStatus.Unbound, 0, "2 after its peer closed");
        g.ExpectEq(s2.Dom, 0, "status(2).u.unbound.dom is dom0");
        g.ExpectEq(g.Send(2), 0, "send(2) on the now unbound end");
        g.ExpectEq(g.PortPending(3), 0, "the closed peer gets nothing");
        // ...and can be bound again.
        var rebound = g.BindInterdomain(DomId.Self, 2);
        g.ExpectEq(rebound.Rc, 0, "bind_interdomain(SELF, 2) again");
        g.ExpectEq(rebound.Port, 1, "the lowest free port, 1");
        g.ExpectEq(g.ExpectStatus(2, EvtchnStatus.Interdomain, 0, "2 rebound").RemotePort, 1, "status(2).u.interdomain.port");
        g.ExpectEq(g.Close(2), 0, "close(interdomain 2)");
        g.ExpectEq(g.ExpectStatus(1, EvtchnStatus.Unbound, 0, "1 after its peer closed").Dom, 0, "status(1).u.unbound.dom");

        // VIRQ: closing frees the VIRQ for another bind.
        g.ExpectEq(g.BindVirq(Virq.Arch7, 0).Rc, -Errno.EEXIST, "VIRQ 23 bound");
        g.ExpectEq(g.Close(4), 0, "close(VIRQ 4)");
        g.ExpectClosed(4, "4 after close");
        var v = g.BindVirq(Virq.Arch7, 0);
        g.ExpectEq(v.Rc, 0, "bind_virq(23) after close");
        g.ExpectEq(v.Port, 2, "VIRQ 23 now on the lowest free port, 2");
        g.ExpectEq(g.Close(6), 0, "close(VIRQ_DEBUG 6)");
        g.ExpectEq(g.BindVirq(Virq.Debug, 0).Port, 3, "VIRQ_DEBUG rebound on port 3");

        // IPI.
        g.ExpectEq(g.Close(5), 0, "close(IPI 5)");
        g.ExpectClosed(5, "5 after close");
        g.ExpectEq(g.Close(5), -Errno.EINVAL, "close(5) twice");

        // PIRQs: this dom0 maps none, so binding stops at the range or permission checks (no
        // PIRQ port can be made here, so its status is not covered).
        var pirq = g.Alloc(EvtchnBindPirq.Layout.Size, name: "bind_pirq");
        void BindPirq(uint n, int expected, string what)
        {
            g.Set(pirq.U32(EvtchnBindPirq.Layout.Pirq), n);
            g.Set(pirq.U32(EvtchnBindPirq.Layout.Port), EvtchnCalls.Poison);
            g.ExpectEq(g.EvtchnOp(EvtchnOp.BindPirq, pirq.Ptr), expected, what);
        }
        BindPirq(0xFFFFFFFF, -Errno.EINVAL, "bind_pirq(-1)");
        BindPirq(0x7FFFFFFF, -Errno.EINVAL, "bind_pirq(0x7fffffff)");
        // With one pCPU Xen gives dom0 208 PIRQs ("d0 has maximum 208 PIRQs" in its boot log):
        // 208 is out of range, 207 in range but not mapped to an IRQ dom0 may use.
        BindPirq(208, -Errno.EINVAL, "bind_pirq(208), the first beyond nr_pirqs");
        BindPirq(207, -Errno.EPERM, "bind_pirq(207), not mapped");
        BindPirq(100, -Errno.EPERM, "bind_pirq(100), not mapped");
        g.ExpectEq(pirq.U32(EvtchnBindPirq.Layout.Port), EvtchnCalls.Poison, "bind_pirq wrote nothing back");

        var p = g.Var("p");
        var closed = g.Var("closed");
        g.For(p, 4, 64, () =>
        {
            var s = g.Status(p);
            g.If((s.Rc == 0) & (s.Status == (int)EvtchnStatus.Closed), () => g.Set(closed, closed + 1));
        });
        g.Print("closed ports among 4..63: %u\n", closed);
        g.ExpectEq(closed, 60, "ports 4..63 closed");
        g.Success();
    }
}
