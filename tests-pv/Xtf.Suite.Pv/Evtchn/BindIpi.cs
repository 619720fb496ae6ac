using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Evtchn;

/// <summary>
/// EVTCHNOP_bind_ipi (docs/pv-abi.md §7.6): any number of IPI ports per vCPU, each notifying that vCPU and
/// raising only its own bit on send; a vCPU that does not exist is -ENOENT with no port consumed.
/// </summary>
public sealed class EvtchnBindIpiPorts : XtfTest
{
    public override string Name => "evtchn-bind-ipi";
    public override bool NeedsExactVcpus => true;
    public override string Title => "EVTCHNOP_bind_ipi: several ports per vCPU, missing vCPUs";
    public override string Category => "evtchn";

    public override void Body(GuestProgram g)
    {
        var a = g.BindIpi(0);
        var b = g.BindIpi(0);
        var c = g.BindIpi(0);
        g.ExpectEq(a.Rc, 0, "bind_ipi(0) #1");
        g.ExpectEq(b.Rc, 0, "bind_ipi(0) #2");
        g.ExpectEq(c.Rc, 0, "bind_ipi(0) #3");
        g.ExpectEq(a.Port, 1, "#1 port");
        g.ExpectEq(b.Port, 2, "#2 port");
        g.ExpectEq(c.Port, 3, "#3 port");
        g.ExpectEq(a.Arg.U32(EvtchnBindIpi.Layout.Vcpu), 0, "vcpu echoed");
        g.Print("IPI ports on vCPU 0: %u %u %u\n", a.Port, b.Port, c.Port);
        for (int p = 1; p <= 3; p++)
        {
            var s = g.ExpectStatus(p, EvtchnStatus.Ipi, 0, $"{p}");
            g.ExpectEq(s.Arg.U64(EvtchnStatusArgs.Layout.Union), unchecked((long)0xA5A5A5A5A5A5A5A5), $"status({p}): union untouched for an IPI");
        }

        // Each port raises only itself.
        g.ExpectEq(g.Send(2), 0, "send(2)");
        g.ExpectEq(g.PendingWord(0), 1 << 2, "only port 2 pending");
        g.ExpectEq(g.Send(3), 0, "send(3)");
        g.ExpectEq(g.PendingWord(0), (1 << 2) | (1 << 3), "ports 2 and 3 pending");
        g.ExpectEq(g.PendingSel(), 1, "selector bit 0");

        // vCPUs that do not exist (this domain has one).
        var bad = g.BindIpi(1);
        g.ExpectEq(bad.Rc, -Errno.ENOENT, "bind_ipi(1)");
        g.ExpectEq(bad.Port, EvtchnCalls.Poison, "bind_ipi(1) writes nothing back");
        g.ExpectEq(g.BindIpi(0xFFFFFFFF).Rc, -Errno.ENOENT, "bind_ipi(-1)");
        g.ExpectEq(g.BindIpi(4096).Rc, -Errno.ENOENT, "bind_ipi(4096)");
        g.ExpectEq(g.BindIpi(0x80000000).Rc, -Errno.ENOENT, "bind_ipi(0x80000000)");

        var d = g.BindIpi(0);
        g.ExpectEq(d.Port, 4, "the failures consumed no port");

        // An IPI port is fixed to its vCPU: bind_vcpu to the same vCPU is still -EINVAL.
        g.ExpectEq(g.BindVcpu(1, 0), -Errno.EINVAL, "bind_vcpu(IPI port, 0)");
        g.Success();
    }
}
