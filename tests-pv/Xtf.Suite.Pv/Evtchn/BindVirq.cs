using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Evtchn;

/// <summary>
/// EVTCHNOP_bind_virq (docs/pv-abi.md §7.5, §2.1) in Xen's order of checks: VIRQ number, global VIRQ on a
/// vCPU other than 0, vCPU existence, already bound. Every number 0..23 is bindable on vCPU 0;
/// the per-vCPU class is exactly {0, 1, 7, 13}.
/// </summary>
public sealed class EvtchnBindVirqChecks : XtfTest
{
    public override string Name => "evtchn-bind-virq";
    public override bool NeedsExactVcpus => true;
    public override string Title => "EVTCHNOP_bind_virq: classes, order of checks, rebinding";
    public override string Category => "evtchn";

    public override void Body(GuestProgram g)
    {
        // No ticks on the VIRQ_TIMER port while this test runs.
        g.ExpectEq(g.VcpuOp(VcpuOp.StopPeriodicTimer, 0, 0), 0, "stop the periodic timer");

        // Per-vCPU VIRQs on vCPU 0.
        var timer = g.BindVirq(Virq.Timer, 0);
        g.ExpectEq(timer.Rc, 0, "bind_virq(TIMER, 0)");
        g.ExpectEq(timer.Port, 1, "TIMER port");
        g.ExpectEq(timer.Arg.U32(EvtchnBindVirq.Layout.Virq), (int)Virq.Timer, "virq echoed");
        g.ExpectEq(timer.Arg.U32(EvtchnBindVirq.Layout.Vcpu), 0, "vcpu echoed");
        var debug = g.BindVirq(Virq.Debug, 0);
        g.ExpectEq(debug.Rc, 0, "bind_virq(DEBUG, 0)");
        g.ExpectEq(debug.Port, 2, "DEBUG port");
        g.ExpectEq(g.ExpectStatus(1, EvtchnStatus.Virq, 0, "TIMER").Virq, (int)Virq.Timer, "status(TIMER).u.virq");
        var sd = g.ExpectStatus(2, EvtchnStatus.Virq, 0, "DEBUG");
        g.ExpectEq(sd.Virq, (int)Virq.Debug, "status(DEBUG).u.virq");
        g.ExpectEq(sd.Arg.U32(EvtchnStatusArgs.Layout.Union + 4), EvtchnCalls.Poison, "status(DEBUG): only u.virq written");

        // Global VIRQs Xen never raises on this host: 5 (unassigned) and 23 (ARCH_7).
        var v5 = g.BindVirq(5, 0);
        g.ExpectEq(v5.Rc, 0, "bind_virq(5, 0)");
        g.ExpectEq(v5.Port, 3, "VIRQ 5 port");
        var v23 = g.BindVirq(Virq.Arch7, 0);
        g.ExpectEq(v23.Rc, 0, "bind_virq(ARCH_7, 0)");
        g.ExpectEq(v23.Port, 4, "VIRQ 23 port");
        g.ExpectEq(g.ExpectStatus(4, EvtchnStatus.Virq, 0, "ARCH_7").Virq, (int)Virq.Arch7, "status(ARCH_7).u.virq");
        g.ExpectEq(g.PortPending(3) | g.PortPending(4), 0, "binding sets nothing pending");

        // Already bound: -EEXIST, port field untouched, no port consumed.
        var twice = g.BindVirq(Virq.Timer, 0);
        g.ExpectEq(twice.Rc, -Errno.EEXIST, "bind_virq(TIMER, 0) twice");
        g.ExpectEq(twice.Port, EvtchnCalls.Poison, "a failed bind writes nothing back");
        g.ExpectEq(g.BindVirq(Virq.Debug, 0).Rc, -Errno.EEXIST, "bind_virq(DEBUG, 0) twice");
        g.ExpectEq(g.BindVirq(5, 0).Rc, -Errno.EEXIST, "bind_virq(5, 0) twice");
        g.ExpectEq(g.BindVirq(Virq.Arch7, 0).Rc, -Errno.EEXIST, "bind_virq(ARCH_7, 0) twice");

        // Number checks come first: >= 24 or negative as a signed int.
        g.ExpectEq(g.BindVirq(24, 0).Rc, -Errno.EINVAL, "bind_virq(24, 0)");
        g.ExpectEq(g.BindVirq(1000, 0).Rc, -Errno.EINVAL, "bind_virq(1000, 0)");
        g.ExpectEq(g.BindVirq(0xFFFFFFFF, 0).Rc, -Errno.EINVAL, "bind_virq(-1, 0)");
        g.ExpectEq(g.BindVirq(0x80000000, 0).Rc, -Errno.EINVAL, "bind_virq(0x80000000, 0)");
        g.ExpectEq(g.BindVirq(24, 99).Rc, -Errno.EINVAL, "bind_virq(24, vcpu 99): EINVAL before ENOENT");

        // Global VIRQ on vCPU != 0: -EINVAL, even when the vCPU does not exist (checked before it)
        // and when the VIRQ is already bound (checked before EEXIST).
        g.ExpectEq(g.BindVirq(5, 1).Rc, -Errno.EINVAL, "bind_virq(5, vcpu 1)");
        g.ExpectEq(g.BindVirq(Virq.Arch7, 0xFFFFFFFF).Rc, -Errno.EINVAL, "bind_virq(ARCH_7, vcpu -1)");
        g.ExpectEq(g.BindVirq(14, 99).Rc, -Errno.EINVAL, "bind_virq(14, vcpu 99)");

        // Per-vCPU VIRQ on a vCPU that does not exist (this domain has one): -ENOENT, before EEXIST.
        g.ExpectEq(g.BindVirq(Virq.Timer, 1).Rc, -Errno.ENOENT, "bind_virq(TIMER, vcpu 1): ENOENT before EEXIST");
        g.ExpectEq(g.BindVirq(Virq.Debug, 0xFFFFFFFF).Rc, -Errno.ENOENT, "bind_virq(DEBUG, vcpu -1)");
        g.ExpectEq(g.BindVirq(Virq.Xenoprof, 1).Rc, -Errno.ENOENT, "bind_virq(XENOPROF, vcpu 1)");
        g.ExpectEq(g.BindVirq(Virq.Xenpmu, 4096).Rc, -Errno.ENOENT, "bind_virq(XENPMU, vcpu 4096)");

        // The classification, number by number: vCPU 1 does not exist, so a global VIRQ answers
        // -EINVAL and a per-vCPU one -ENOENT.
        var v = g.Var("v");
        var perVcpu = g.Var("per_vcpu_mask");
        g.For(v, 0, VirqClass.Count, () =>
        {
            var rc = g.BindVirq(v, 1).Rc;
            g.If(rc == -Errno.ENOENT, () => g.Set(perVcpu, perVcpu | Val.Const(1).ShiftLeft(v)),
                () => g.If(rc != -Errno.EINVAL, () => g.Failure("Fail: bind_virq(%u, vcpu 1): %e", v, rc)));
        });
        g.Print("per-vCPU VIRQs (bind on a missing vCPU is ENOENT): %#x\n", perVcpu);
        g.ExpectEq(perVcpu, (1 << 0) | (1 << 1) | (1 << 7) | (1 << 13), "per-vCPU VIRQ set");

        // Close and rebind: the same port comes back, bound to the same VIRQ again.
        g.ExpectEq(g.Close(1), 0, "close(TIMER port)");
        g.ExpectClosed(1, "1 after close");
        var again = g.BindVirq(Virq.Timer, 0);
        g.ExpectEq(again.Rc, 0, "bind_virq(TIMER, 0) after close");
        g.ExpectEq(again.Port, 1, "TIMER rebound on port 1");
        g.ExpectEq(g.Close(3), 0, "close(VIRQ 5 port)");
        var again5 = g.BindVirq(5, 0);
        g.ExpectEq(again5.Rc, 0, "bind_virq(5, 0) after close");
        g.ExpectEq(again5.Port, 3, "VIRQ 5 rebound on port 3");

        // Every remaining number binds on vCPU 0; the ports follow in order from 5.
        var port = g.Var("port");
        var bound = g.Var("bound");
        g.Set(port, 5);
        g.For(v, 0, VirqClass.Count, () =>
        {
            g.If((v == (int)Virq.Timer) | (v == (int)Virq.Debug) | (v == 5) | (v == (int)Virq.Arch7), () => g.Continue());
            var r = g.BindVirq(v, 0);
            g.If((r.Rc == 0) & (r.Port == port), () => { g.Set(bound, bound + 1); g.Set(port, port + 1); },
                () => g.Failure("Fail: bind_virq(%u, 0): %e port %u", v, r.Rc, r.Port));
        });
        g.Print("other VIRQs bound on vCPU 0: %u\n", bound);
        g.ExpectEq(bound, VirqClass.Count - 4, "all other VIRQ numbers bindable");
        g.ExpectEq(g.Status(24).Virq, 23 - 1, "status(24): the last one bound is VIRQ 22");
        g.Success();
    }
}
