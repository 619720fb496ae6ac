using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Evtchn;

/// <summary>
/// The legacy event_channel_op_compat hypercall (16, docs/pv-abi.md §7.16): one 28-byte struct, cmd at 0 and
/// the command's own struct at 4. Commands 0..9 are forwarded (outputs written into the union);
/// 10 and above are -ENOSYS; an unreadable struct is -EFAULT.
/// </summary>
public sealed class EvtchnCompat : XtfTest
{
    public override string Name => "evtchn-compat";
    public override bool NeedsExactVcpus => true;
    public override string Title => "event_channel_op_compat: the forwarded commands";
    public override string Category => "evtchn";

    private const int Size = 28, U = 4;

    public override void Body(GuestProgram g)
    {
        var op = g.Alloc(Size, name: "evtchn_op");
        Val Call(EvtchnOp cmd)
        {
            g.Set(op.U32(0), (int)cmd);
            return g.Hypercall(Hypercall.EventChannelOpCompat, op.Ptr);
        }
        void Fill() => g.MemSet(op.Ptr, 0xA5, Size);

        // bind_ipi(vcpu 0): the port comes back in the union.
        Fill();
        g.Set(op.U32(U + EvtchnBindIpi.Layout.Vcpu), 0);
        g.ExpectEq(Call(EvtchnOp.BindIpi), 0, "compat bind_ipi(0)");
        g.ExpectEq(op.U32(U + EvtchnBindIpi.Layout.Port), 1, "compat bind_ipi port");
        g.ExpectEq(op.U32(0), (int)EvtchnOp.BindIpi, "cmd left as it was");
        g.ExpectEq(op.U32(U + 8), EvtchnCalls.Poison, "bytes past evtchn_bind_ipi untouched");

        // status(SELF, 1) through compat.
        Fill();
        g.Set(op.U16(U + EvtchnStatusArgs.Layout.Dom), DomId.Self);
        g.Set(op.U32(U + EvtchnStatusArgs.Layout.Port), 1);
        g.ExpectEq(Call(EvtchnOp.Status), 0, "compat status(1)");
        g.ExpectEq(op.U32(U + EvtchnStatusArgs.Layout.Status), (int)EvtchnStatus.Ipi, "compat status(1).status");
        g.ExpectEq(op.U32(U + EvtchnStatusArgs.Layout.Vcpu), 0, "compat status(1).vcpu");
        g.Print("compat bind_ipi gave port %u, status %u\n", 1, op.U32(U + EvtchnStatusArgs.Layout.Status));

        // alloc_unbound, bind_virq, bind_interdomain.
        Fill();
        g.Set(op.U16(U + EvtchnAllocUnbound.Layout.Dom), DomId.Self);
        g.Set(op.U16(U + EvtchnAllocUnbound.Layout.RemoteDom), DomId.Self);
        g.ExpectEq(Call(EvtchnOp.AllocUnbound), 0, "compat alloc_unbound");
        g.ExpectEq(op.U32(U + EvtchnAllocUnbound.Layout.Port), 2, "compat alloc_unbound port");
        Fill();
        g.Set(op.U32(U + EvtchnBindVirq.Layout.Virq), 5);
        g.Set(op.U32(U + EvtchnBindVirq.Layout.Vcpu), 0);
        g.ExpectEq(Call(EvtchnOp.BindVirq), 0, "compat bind_virq(5)");
        g.ExpectEq(op.U32(U + EvtchnBindVirq.Layout.Port), 3, "compat bind_virq port");
        g.ExpectEq(Call(EvtchnOp.BindVirq), -Errno.EEXIST, "compat bind_virq(5) twice");
        Fill();
        g.Set(op.U16(U + EvtchnBindInterdomain.Layout.RemoteDom), DomId.Self);
        g.Set(op.U32(U + EvtchnBindInterdomain.Layout.RemotePort), 2);
        g.ExpectEq(Call(EvtchnOp.BindInterdomain), 0, "compat bind_interdomain(SELF, 2)");
        g.ExpectEq(op.U32(U + EvtchnBindInterdomain.Layout.LocalPort), 4, "compat bind_interdomain port");
        g.SetPending(4, false);
        g.ClearUpcallState();

        // send, unmask, bind_vcpu, close.
        Fill();
        g.Set(op.U32(U), 1);
        g.ExpectEq(Call(EvtchnOp.Send), 0, "compat send(1)");
        g.ExpectEq(g.PendingWord(0), 1 << 1, "compat send raised port 1");
        g.SetMask(2, true);
        g.Set(op.U32(U), 4);
        g.ExpectEq(Call(EvtchnOp.Send), 0, "compat send(4)");
        g.ExpectEq(g.PortPending(2), 1, "compat send(4) raised port 2");
        g.ClearUpcallState();
        g.Set(op.U32(U), 2);
        g.ExpectEq(Call(EvtchnOp.Unmask), 0, "compat unmask(2)");
        g.ExpectEq(g.PortMasked(2), 0, "compat unmask cleared the mask");
        g.ExpectEq(g.UpcallPending(), 1, "compat unmask re-raised");
        g.Set(op.U32(U + EvtchnBindVcpu.Layout.Port), 3);
        g.Set(op.U32(U + EvtchnBindVcpu.Layout.Vcpu), 0);
        g.ExpectEq(Call(EvtchnOp.BindVcpu), 0, "compat bind_vcpu(VIRQ 5, 0)");
        g.Set(op.U32(U + EvtchnBindVcpu.Layout.Vcpu), 1);
        g.ExpectEq(Call(EvtchnOp.BindVcpu), -Errno.ENOENT, "compat bind_vcpu(3, vcpu 1)");
        g.Set(op.U32(U), 3);
        g.ExpectEq(Call(EvtchnOp.Close), 0, "compat close(3)");
        g.ExpectClosed(3, "3 after compat close");
        g.ExpectEq(Call(EvtchnOp.Close), -Errno.EINVAL, "compat close(3) twice");

        // bind_pirq is forwarded too: out of range.
        g.Set(op.U32(U + EvtchnBindPirq.Layout.Pirq), 0xFFFFFFFF);
        g.ExpectEq(Call(EvtchnOp.BindPirq), -Errno.EINVAL, "compat bind_pirq(-1)");

        // Commands from 10 on are not forwarded.
        g.Set(op.U16(U), DomId.Self);
        g.ExpectEq(Call(EvtchnOp.Reset), -Errno.ENOSYS, "compat reset");
        g.ExpectStatus(1, EvtchnStatus.Ipi, 0, "port 1 still bound (compat reset did nothing)");
        g.ExpectEq(Call(EvtchnOp.InitControl), -Errno.ENOSYS, "compat init_control");
        g.ExpectEq(Call(EvtchnOp.ExpandArray), -Errno.ENOSYS, "compat expand_array");
        g.ExpectEq(Call(EvtchnOp.SetPriority), -Errno.ENOSYS, "compat set_priority");
        g.ExpectEq(Call(EvtchnOp.ResetCont), -Errno.ENOSYS, "compat reset_cont");
        g.ExpectEq(Call((EvtchnOp)99), -Errno.ENOSYS, "compat cmd 99");

        // The whole struct is copied first.
        g.ExpectEq(g.Hypercall(Hypercall.EventChannelOpCompat, 0x40000000), -Errno.EFAULT, "compat with an unmapped struct");
        g.Success();
    }
}
