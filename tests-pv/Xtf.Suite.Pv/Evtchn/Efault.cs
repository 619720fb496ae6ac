using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Evtchn;

/// <summary>
/// Argument copies (docs/pv-abi.md §0.3, §7.1): an input struct Xen cannot read is -EFAULT with no state
/// change, for every command; an output struct Xen cannot write back is -EFAULT after the
/// operation took effect. The read-only page used for the second case is dom0's L4 page table at
/// start_info.pt_base (mapped read-only by Xen), at a slot whose entry is zero.
/// </summary>
public sealed class EvtchnEfault : XtfTest
{
    public override string Name => "evtchn-efault";
    public override string Title => "Event channels: -EFAULT on unreadable and unwritable arguments";
    public override string Category => "evtchn";

    public override void Body(GuestProgram g)
    {
        // Unreadable inputs: an unmapped page, an address in Xen's hole, a non-canonical address.
        (long Addr, string Name)[] bad =
        [
            (0x40000000, "unmapped"),
            (unchecked((long)0xFFFF800000000000), "Xen's hole"),
            (unchecked((long)0x8000000000000000), "non-canonical"),
        ];
        EvtchnOp[] ops =
        [
            EvtchnOp.BindInterdomain, EvtchnOp.BindVirq, EvtchnOp.BindPirq, EvtchnOp.Close, EvtchnOp.Send,
            EvtchnOp.Status, EvtchnOp.AllocUnbound, EvtchnOp.BindIpi, EvtchnOp.BindVcpu, EvtchnOp.Unmask,
            EvtchnOp.Reset, EvtchnOp.InitControl, EvtchnOp.ExpandArray, EvtchnOp.SetPriority, EvtchnOp.ResetCont,
        ];
        foreach (var (addr, name) in bad)
            foreach (var op in ops)
                g.ExpectEq(g.EvtchnOp(op, addr), -Errno.EFAULT, $"{op} with the argument at a {name} address");
        g.ExpectClosed(1, "1 after the faulting calls");

        // Unwritable output: the L4 page table is readable but not writable by the guest.
        var ptBase = Val.At(g.StartInfo, StartInfo.Layout.PtBase);
        var slot = g.Var("slot");
        g.Set(slot, ptBase + 8);
        g.ExpectEq(Val.At(slot, 0), 0, "L4 slot 1 is empty (so the struct read from it is all zero)");
        g.ExpectEq(Val.At(slot, 8), 0, "L4 slot 2 is empty");

        // bind_ipi(vcpu 0): the port is bound, then the write-back faults.
        g.ExpectEq(g.EvtchnOp(EvtchnOp.BindIpi, slot), -Errno.EFAULT, "bind_ipi with a read-only argument");
        g.ExpectStatus(1, EvtchnStatus.Ipi, 0, "1: bound despite -EFAULT");
        // alloc_unbound(dom 0, remote 0): likewise.
        g.ExpectEq(g.EvtchnOp(EvtchnOp.AllocUnbound, slot), -Errno.EFAULT, "alloc_unbound with a read-only argument");
        g.ExpectEq(g.ExpectStatus(2, EvtchnStatus.Unbound, 0, "2: allocated despite -EFAULT").Dom, 0, "status(2).u.unbound.dom");
        // bind_virq(VIRQ_TIMER 0, vcpu 0).
        g.ExpectEq(g.VcpuOp(VcpuOp.StopPeriodicTimer, 0, 0), 0, "stop the periodic timer (no ticks on the bound port)");
        g.ExpectEq(g.EvtchnOp(EvtchnOp.BindVirq, slot), -Errno.EFAULT, "bind_virq(TIMER) with a read-only argument");
        g.ExpectEq(g.ExpectStatus(3, EvtchnStatus.Virq, 0, "3: bound despite -EFAULT").Virq, (int)Virq.Timer, "status(3).u.virq");
        g.ExpectEq(g.BindVirq(Virq.Timer, 0).Rc, -Errno.EEXIST, "VIRQ_TIMER is really bound");
        // status(dom 0, port 0): nothing changes, the write-back still faults.
        g.ExpectEq(g.EvtchnOp(EvtchnOp.Status, slot), -Errno.EFAULT, "status with a read-only argument");
        // Input-only commands never write: close(port 0) reads port 0 and fails on its own merits.
        g.ExpectEq(g.EvtchnOp(EvtchnOp.Close, slot), -Errno.EINVAL, "close(0) read from a read-only page");
        g.ExpectEq(g.EvtchnOp(EvtchnOp.Unmask, slot), 0, "unmask(0) read from a read-only page");
        g.Print("ports bound by faulting calls: 1 2 3\n");

        var next = g.AllocSelf();
        g.ExpectEq(next.Port, 4, "next allocation after the three faulting ones");
        g.Success();
    }
}
