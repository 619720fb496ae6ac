using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Evtchn;

/// <summary>
/// EVTCHNOP_bind_vcpu (docs/pv-abi.md §7.13) with a second vCPU that exists but is never brought up: global
/// VIRQ, unbound and interdomain ports move to vCPU 1; per-vCPU VIRQs, IPIs, free and reserved
/// ports are -EINVAL; a missing vCPU is -ENOENT before anything else. Events then go to vCPU 1's
/// selector and upcall_pending; pending state is not moved; a closed and reused port is back on vCPU 0.
/// Per-vCPU VIRQs and IPIs bind on the down vCPU 1 too.
/// </summary>
public sealed class EvtchnBindVcpuMove : XtfTest
{
    public override string Name => "evtchn-bind-vcpu";
    public override bool NeedsExactVcpus => true;
    public override string Title => "EVTCHNOP_bind_vcpu: moving ports to vCPU 1";
    public override string Category => "evtchn";
    public override int Vcpus => 2;

    public override void Body(GuestProgram g)
    {
        g.ExpectEq(g.VcpuOp(VcpuOp.IsUp, 1, 0), 0, "vCPU 1 is down");
        g.ExpectEq(g.UpcallMask(1), 1, "vCPU 1 starts with events masked");

        g.ExpectEq(g.BindVirq(5, 0).Port, 1, "port 1: VIRQ 5 (global)");
        g.ExpectEq(g.BindVirq(Virq.Debug, 0).Port, 2, "port 2: VIRQ_DEBUG on vCPU 0");
        g.ExpectEq(g.BindIpi(0).Port, 3, "port 3: IPI on vCPU 0");
        g.ExpectEq(g.AllocSelf().Port, 4, "port 4: unbound");
        g.ExpectEq(g.AllocSelf().Port, 5, "port 5: unbound");
        g.ExpectEq(g.BindInterdomain(DomId.Self, 5).Port, 6, "port 6: interdomain with 5");
        g.SetPending(6, false);
        g.ClearUpcallState();

        // Missing vCPUs: -ENOENT, checked before the port.
        g.ExpectEq(g.BindVcpu(1, 2), -Errno.ENOENT, "bind_vcpu(1, vcpu 2)");
        g.ExpectEq(g.BindVcpu(1, 0xFFFFFFFF), -Errno.ENOENT, "bind_vcpu(1, vcpu -1)");
        g.ExpectEq(g.BindVcpu(9999, 2), -Errno.ENOENT, "bind_vcpu(9999, vcpu 2): ENOENT before EINVAL");
        g.ExpectEq(g.BindVcpu(0, 32), -Errno.ENOENT, "bind_vcpu(0, vcpu 32)");

        // Ports that cannot move.
        g.ExpectEq(g.BindVcpu(2, 1), -Errno.EINVAL, "bind_vcpu(VIRQ_DEBUG, 1)");
        g.ExpectEq(g.BindVcpu(3, 1), -Errno.EINVAL, "bind_vcpu(IPI, 1)");
        g.ExpectEq(g.BindVcpu(0, 1), -Errno.EINVAL, "bind_vcpu(0, 1), reserved");
        g.ExpectEq(g.BindVcpu(7, 1), -Errno.EINVAL, "bind_vcpu(7, 1), free");
        g.ExpectEq(g.BindVcpu(64, 1), -Errno.EINVAL, "bind_vcpu(64, 1), beyond the bucket");
        g.ExpectEq(g.BindVcpu(0xFFFFFFFF, 1), -Errno.EINVAL, "bind_vcpu(0xffffffff, 1)");
        g.ExpectStatus(2, EvtchnStatus.Virq, 0, "VIRQ_DEBUG still on vCPU 0");
        g.ExpectStatus(3, EvtchnStatus.Ipi, 0, "IPI still on vCPU 0");

        // Ports that can.
        g.ExpectEq(g.BindVcpu(1, 1), 0, "bind_vcpu(VIRQ 5, 1)");
        g.ExpectEq(g.ExpectStatus(1, EvtchnStatus.Virq, 1, "VIRQ 5 on vCPU 1").Virq, 5, "status(1).u.virq");
        g.ExpectEq(g.BindVcpu(4, 1), 0, "bind_vcpu(unbound 4, 1)");
        g.ExpectStatus(4, EvtchnStatus.Unbound, 1, "unbound 4 on vCPU 1");
        g.ExpectEq(g.BindVcpu(6, 1), 0, "bind_vcpu(interdomain 6, 1)");
        g.ExpectStatus(6, EvtchnStatus.Interdomain, 1, "interdomain 6 on vCPU 1");
        g.ExpectStatus(5, EvtchnStatus.Interdomain, 0, "its peer 5 stays on vCPU 0");
        g.ExpectEq(g.BindVcpu(1, 1), 0, "bind_vcpu(VIRQ 5, 1) again");
        g.ExpectEq(g.BindVcpu(1, 0), 0, "bind_vcpu(VIRQ 5, 0) moves it back");
        g.ExpectStatus(1, EvtchnStatus.Virq, 0, "VIRQ 5 back on vCPU 0");

        // send(5) raises port 6 on vCPU 1: its selector and upcall_pending, not vCPU 0's.
        g.ExpectEq(g.Send(5), 0, "send(5)");
        g.ExpectEq(g.PortPending(6), 1, "port 6 pending");
        g.ExpectEq(g.PendingSel(1), 1, "vCPU 1 selector bit 0");
        g.ExpectEq(g.UpcallPending(1), 1, "vCPU 1 upcall_pending");
        g.ExpectEq(g.PendingSel(0), 0, "vCPU 0 selector untouched");
        g.ExpectEq(g.UpcallPending(0), 0, "vCPU 0 upcall_pending untouched");
        g.Print("vCPU 1 after send(5): sel %#x upcall_pending %u\n", g.PendingSel(1), g.UpcallPending(1));

        // Pending state is not moved: moving the pending port back to vCPU 0 raises nothing there.
        g.ExpectEq(g.BindVcpu(6, 0), 0, "bind_vcpu(6, 0) while pending");
        g.ExpectEq(g.PendingSel(0), 0, "vCPU 0 selector still clear");
        g.ExpectEq(g.PortPending(6), 1, "port 6 still pending");
        g.ClearUpcallState(1);
        g.SetPending(6, false);
        g.ExpectEq(g.Send(5), 0, "send(5) after moving 6 back");
        g.ExpectEq(g.PendingSel(0), 1, "now vCPU 0's selector");
        g.ExpectEq(g.PendingSel(1), 0, "and not vCPU 1's");
        g.SetPending(6, false);
        g.ClearUpcallState(0);

        // Unmask re-raises on the port's notify vCPU.
        g.ExpectEq(g.BindVcpu(6, 1), 0, "bind_vcpu(6, 1) again");
        g.SetMask(6, true);
        g.ExpectEq(g.Send(5), 0, "send(5) masked");
        g.ExpectEq(g.PendingSel(1), 0, "masked: vCPU 1 selector clear");
        g.ExpectEq(g.Unmask(6), 0, "unmask(6)");
        g.ExpectEq(g.PendingSel(1), 1, "unmask raised vCPU 1's selector");
        g.ExpectEq(g.UpcallPending(1), 1, "unmask raised vCPU 1's upcall_pending");
        g.ExpectEq(g.PendingSel(0), 0, "vCPU 0 untouched by the unmask");

        // A closed port goes back to vCPU 0 when reused.
        g.ExpectEq(g.Close(4), 0, "close(4) (on vCPU 1)");
        g.ExpectClosed(4, "4 after close");
        g.ExpectEq(g.AllocSelf().Port, 4, "4 reallocated");
        g.ExpectStatus(4, EvtchnStatus.Unbound, 0, "reused 4 on vCPU 0");

        // Per-vCPU bindings on the down vCPU 1.
        var t1 = g.BindVirq(Virq.Debug, 1);
        g.ExpectEq(t1.Rc, 0, "bind_virq(DEBUG, vcpu 1)");
        g.ExpectEq(t1.Port, 7, "port 7");
        g.ExpectEq(g.ExpectStatus(7, EvtchnStatus.Virq, 1, "VIRQ_DEBUG on vCPU 1").Virq, (int)Virq.Debug, "status(7).u.virq");
        g.ExpectEq(g.BindVirq(Virq.Debug, 1).Rc, -Errno.EEXIST, "bind_virq(DEBUG, vcpu 1) twice");
        g.ExpectEq(g.BindVirq(Virq.Timer, 1).Rc, 0, "bind_virq(TIMER, vcpu 1)");
        g.ExpectEq(g.BindVirq(5, 1).Rc, -Errno.EINVAL, "bind_virq(global 5, vcpu 1)");
        g.ExpectEq(g.BindVirq(Virq.Debug, 2).Rc, -Errno.ENOENT, "bind_virq(DEBUG, vcpu 2)");
        var i1 = g.BindIpi(1);
        g.ExpectEq(i1.Rc, 0, "bind_ipi(1)");
        g.ExpectEq(i1.Port, 9, "port 9");
        g.ExpectStatus(9, EvtchnStatus.Ipi, 1, "IPI on vCPU 1");
        g.ClearUpcallState(1);
        g.ExpectEq(g.Send(9), 0, "send(IPI 9)");
        g.ExpectEq(g.PendingSel(1), 1, "IPI 9 raised vCPU 1's selector");
        g.ExpectEq(g.PendingSel(0), 0, "not vCPU 0's");
        g.ExpectEq(g.BindVcpu(9, 0), -Errno.EINVAL, "bind_vcpu(IPI on vCPU 1, 0)");
        g.ExpectEq(g.BindIpi(2).Rc, -Errno.ENOENT, "bind_ipi(2)");
        g.Success();
    }
}
