using Xtf.Abi;
using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Hvm.Hypercalls;

/// <summary>
/// Event delivery to an HVM guest through HVM_PARAM_CALLBACK_IRQ's vector type (2 in bits 56-63): a send
/// to an unmasked port sets upcall_pending, and Xen injects the vector once the guest's interrupts are on
/// (not while IF is clear). The handler sees upcall_pending set and clears it before iretq.
/// </summary>
public sealed class VectorCallback : XtfTest
{
    public override string Name => "evtchn-vector-callback";
    public override string Title => "Event channel upcall through the vector callback";
    public override string Category => "hvm_hypercall";
    public override Environments Environments => Environments.Hvm64;

    private const int Vector = 0xF3;

    public override void Body(GuestProgram g)
    {
        var a = g.Asm;
        var count = g.Var("upcalls");
        var pendingSeen = g.Var("pending_seen");
        ulong pendingByte = g.SharedInfo.Address + (ulong)(SharedInfo.Layout.VcpuInfoAt(0) + VcpuInfo.Layout.EvtchnUpcallPending);
        var handler = g.Function("upcall", () =>
        {
            a.push(rax);
            a.inc(__qword_ptr[(long)count.Address]);
            a.movzx(eax, __byte_ptr[(long)pendingByte]);
            a.mov(__qword_ptr[(long)pendingSeen.Address], rax);
            a.mov(__byte_ptr[(long)pendingByte], 0);
            a.pop(rax);
            a.iretq();
        });
        g.InterruptGate(Vector, handler);

        var p = g.Alloc(XenHvmParam.Layout.Size, 8, "param");
        g.Set(p.U16(XenHvmParam.Layout.Domid), DomId.Self);
        g.Set(p.U32(XenHvmParam.Layout.Index), (long)HvmParam.CallbackIrq);
        g.Set(p.U64(XenHvmParam.Layout.Value), (2L << 56) | Vector);
        g.ExpectEq(g.Hypercall(Hypercall.HvmOp, (long)HvmOp.SetParam, p.Ptr), 0, "set CALLBACK_IRQ to a vector");

        var bind = g.Alloc(EvtchnBindIpi.Layout.Size, name: "bind_ipi");
        g.ExpectEq(g.EvtchnOp(EvtchnOp.BindIpi, bind.Ptr), 0, "bind_ipi(0)");
        var port = g.Alloc(4, name: "port");
        g.Set(port.U32(0), bind.U32(EvtchnBindIpi.Layout.Port));

        g.ExpectEq(g.EvtchnOp(EvtchnOp.Send, port.Ptr), 0, "send with interrupts off");
        g.ExpectEq(count, 0, "no upcall while IF is clear");
        g.ExpectEq(g.UpcallPending(), 1, "upcall_pending set");
        a.sti();
        a.nop();
        a.cli();
        g.ExpectEq(count, 1, "one upcall once interrupts are on");
        g.ExpectEq(pendingSeen, 1, "the handler saw upcall_pending");
        g.ExpectEq(g.PortPending(bind.U32(EvtchnBindIpi.Layout.Port)), 1, "the port stays pending (the guest clears it)");

        g.Set(g.PendingWord(port.U32(0)), 0);                 // the only port: clear its word and the selector
        g.Set(g.PendingSel(), 0);
        a.sti();
        g.ExpectEq(g.EvtchnOp(EvtchnOp.Send, port.Ptr), 0, "send with interrupts on");
        a.cli();
        g.ExpectEq(count, 2, "the second upcall");
        g.Success();
    }
}
