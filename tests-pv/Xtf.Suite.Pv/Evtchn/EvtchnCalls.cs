using Xtf.Abi;
using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Pv.Evtchn;

/// <summary>The return code of an event-channel operation and the port it wrote back (a field of its own argument buffer).</summary>
public sealed record PortResult(Val Rc, Val Port, GuestBuffer Arg);

/// <summary>EVTCHNOP_status: the return code and the fields of the written-back struct.</summary>
public sealed record StatusResult(Val Rc, GuestBuffer Arg)
{
    public Val Status => Arg.U32(EvtchnStatusArgs.Layout.Status);
    public Val Vcpu => Arg.U32(EvtchnStatusArgs.Layout.Vcpu);
    /// <summary>u.unbound.dom / u.interdomain.dom (16 bits).</summary>
    public Val Dom => Arg.U16(EvtchnStatusArgs.Layout.UnboundDom);
    public Val RemotePort => Arg.U32(EvtchnStatusArgs.Layout.InterdomainPort);
    public Val Virq => Arg.U32(EvtchnStatusArgs.Layout.Virq);
}

/// <summary>
/// Event-channel operations as one-line calls. Every call site gets its own argument buffer
/// (allocated when the kernel is built), so a returned port stays readable until the same call
/// site runs again (in a loop).
/// </summary>
public static class EvtchnCalls
{
    /// <summary>Fill for output fields before a call: a value Xen never writes, so "untouched" is visible.</summary>
    public const uint Poison = 0xA5A5A5A5;

    public static PortResult AllocUnbound(this GuestProgram g, Val dom, Val remoteDom)
    {
        var a = g.Alloc(EvtchnAllocUnbound.Layout.Size, name: "alloc_unbound");
        g.Set(a.U16(EvtchnAllocUnbound.Layout.Dom), dom);
        g.Set(a.U16(EvtchnAllocUnbound.Layout.RemoteDom), remoteDom);
        g.Set(a.U32(EvtchnAllocUnbound.Layout.Port), Poison);
        var rc = g.EvtchnOp(EvtchnOp.AllocUnbound, a.Ptr);
        return new(rc, a.U32(EvtchnAllocUnbound.Layout.Port), a);
    }

    /// <summary>alloc_unbound(DOMID_SELF, DOMID_SELF): the usual way to take one port.</summary>
    public static PortResult AllocSelf(this GuestProgram g) => g.AllocUnbound(DomId.Self, DomId.Self);

    public static PortResult BindVirq(this GuestProgram g, Val virq, Val vcpu)
    {
        var a = g.Alloc(EvtchnBindVirq.Layout.Size, name: "bind_virq");
        g.Set(a.U32(EvtchnBindVirq.Layout.Virq), virq);
        g.Set(a.U32(EvtchnBindVirq.Layout.Vcpu), vcpu);
        g.Set(a.U32(EvtchnBindVirq.Layout.Port), Poison);
        var rc = g.EvtchnOp(EvtchnOp.BindVirq, a.Ptr);
        return new(rc, a.U32(EvtchnBindVirq.Layout.Port), a);
    }

    public static PortResult BindIpi(this GuestProgram g, Val vcpu)
    {
        var a = g.Alloc(EvtchnBindIpi.Layout.Size, name: "bind_ipi");
        g.Set(a.U32(EvtchnBindIpi.Layout.Vcpu), vcpu);
        g.Set(a.U32(EvtchnBindIpi.Layout.Port), Poison);
        var rc = g.EvtchnOp(EvtchnOp.BindIpi, a.Ptr);
        return new(rc, a.U32(EvtchnBindIpi.Layout.Port), a);
    }

    public static PortResult BindInterdomain(this GuestProgram g, Val remoteDom, Val remotePort)
    {
        var a = g.Alloc(EvtchnBindInterdomain.Layout.Size, name: "bind_interdomain");
        g.Set(a.U16(EvtchnBindInterdomain.Layout.RemoteDom), remoteDom);
        g.Set(a.U32(EvtchnBindInterdomain.Layout.RemotePort), remotePort);
        g.Set(a.U32(EvtchnBindInterdomain.Layout.LocalPort), Poison);
        var rc = g.EvtchnOp(EvtchnOp.BindInterdomain, a.Ptr);
        return new(rc, a.U32(EvtchnBindInterdomain.Layout.LocalPort), a);
    }

    private static Val PortOp(GuestProgram g, EvtchnOp op, Val port, string name)
    {
        var a = g.Alloc(4, name: name);
        g.Set(a.U32(0), port);
        return g.EvtchnOp(op, a.Ptr);
    }

    public static Val Close(this GuestProgram g, Val port) => PortOp(g, EvtchnOp.Close, port, "close");
    public static Val Send(this GuestProgram g, Val port) => PortOp(g, EvtchnOp.Send, port, "send");
    public static Val Unmask(this GuestProgram g, Val port) => PortOp(g, EvtchnOp.Unmask, port, "unmask");

    public static Val BindVcpu(this GuestProgram g, Val port, Val vcpu)
    {
        var a = g.Alloc(EvtchnBindVcpu.Layout.Size, name: "bind_vcpu");
        g.Set(a.U32(EvtchnBindVcpu.Layout.Port), port);
        g.Set(a.U32(EvtchnBindVcpu.Layout.Vcpu), vcpu);
        return g.EvtchnOp(EvtchnOp.BindVcpu, a.Ptr);
    }

    public static Val Reset(this GuestProgram g, Val dom, EvtchnOp cmd = EvtchnOp.Reset)
    {
        var a = g.Alloc(EvtchnReset.Layout.Size, name: "reset");
        g.Set(a.U16(EvtchnReset.Layout.Dom), dom);
        return g.EvtchnOp(cmd, a.Ptr);
    }

    /// <summary>EVTCHNOP_status with every output field (and the union) pre-filled with <see cref="Poison"/>.</summary>
    public static StatusResult Status(this GuestProgram g, Val port, Val? dom = null)
    {
        var a = g.Alloc(EvtchnStatusArgs.Layout.Size, name: "status");
        g.MemSet(a.Ptr, 0xA5, EvtchnStatusArgs.Layout.Size);
        g.Set(a.U16(EvtchnStatusArgs.Layout.Dom), dom ?? DomId.Self);
        g.Set(a.U32(EvtchnStatusArgs.Layout.Port), port);
        var rc = g.EvtchnOp(EvtchnOp.Status, a.Ptr);
        return new(rc, a);
    }

    /// <summary>Checks status(port) = 0 with the given state and notify vCPU; returns the result for more checks.</summary>
    public static StatusResult ExpectStatus(this GuestProgram g, Val port, EvtchnStatus state, Val vcpu, string what)
    {
        var s = g.Status(port);
        g.ExpectEq(s.Rc, 0, $"status({what})");
        g.ExpectEq(s.Status, (int)state, $"status({what}).status");
        g.ExpectEq(s.Vcpu, vcpu, $"status({what}).vcpu");
        return s;
    }

    /// <summary>Checks that status(port) reports a closed port on vCPU 0.</summary>
    public static void ExpectClosed(this GuestProgram g, Val port, string what) =>
        g.ExpectStatus(port, EvtchnStatus.Closed, 0, what);

    /// <summary>Checks that status(port) is -EINVAL: the port lies beyond the allocated buckets.</summary>
    public static void ExpectInvalidPort(this GuestProgram g, Val port, string what) =>
        g.ExpectEq(g.Status(port).Rc, -Errno.EINVAL, $"status({what})");

    /// <summary>Sets or clears a port's 2-level mask bit as a guest kernel would (a plain read-modify-write).</summary>
    public static void SetMask(this GuestProgram g, Val port, bool masked)
    {
        var word = g.MaskWord(port);
        var bit = Val.Const(1).ShiftLeft(port & 63);
        g.Set(word, masked ? word | bit : word & ~bit);
    }

    /// <summary>Sets or clears a port's 2-level pending bit from the guest side.</summary>
    public static void SetPending(this GuestProgram g, Val port, bool pending)
    {
        var word = g.PendingWord(port);
        var bit = Val.Const(1).ShiftLeft(port & 63);
        g.Set(word, pending ? word | bit : word & ~bit);
    }

    /// <summary>Clears vCPU <paramref name="vcpu"/>'s selector word and upcall_pending byte.</summary>
    public static void ClearUpcallState(this GuestProgram g, int vcpu = 0)
    {
        g.Set(g.PendingSel(vcpu), 0);
        g.Set(g.UpcallPending(vcpu), 0);
    }

    /// <summary>
    /// Inside an <see cref="GuestProgram.EventCallback"/> body: copies word <paramref name="index"/>
    /// of Xen's bounce frame (0 rcx, 1 r11, 2 rip, 3 cs, 4 rflags, 5 rsp, 6 ss) into a variable.
    /// The callback prologue pushed 13 registers above the frame (GuestProgram.SavedByCallbacks).
    /// </summary>
    public static void SaveFrameWord(this GuestProgram g, Val variable, int index)
    {
        const int pushedByPrologue = 13;
        g.Asm.mov(rax, __qword_ptr[rsp + (pushedByPrologue + index) * 8]);
        g.Asm.mov(__qword_ptr[(long)variable.Address], rax);
    }

    /// <summary>Stores the current rsp into a variable (raw mov, no stack use).</summary>
    public static void SaveRsp(this GuestProgram g, Val variable) =>
        g.Asm.mov(__qword_ptr[(long)variable.Address], rsp);
}
