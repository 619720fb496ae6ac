using System.Buffers.Binary;
using System.Diagnostics;
using Xtf.Abi;

namespace Xtf.Sim.Xen;

/// <summary>
/// A domain's event channels (xen/common/event_channel.c): the port table, the hypercalls on it,
/// and the 2-level delivery through shared_info's pending and mask words and each vCPU's selector
/// (xen/common/event_2l.c). The FIFO ABI's control state is <see cref="Fifo"/>.
/// Invariants: port 0 stays reserved; a per-vCPU VIRQ is bound to at most one port, which is in
/// the VIRQ state; a freed port is not pending.
/// </summary>
public sealed class EventChannels
{
    private readonly Domain domain;
    private readonly GuestMemory guest;
    private readonly VcpuInfoArea vcpuInfo;
    private readonly Scheduler scheduler;
    private readonly SimTrace trace;
    /// <summary>Which port each (vCPU, VIRQ) is bound to (v->virq_to_evtchn).</summary>
    private readonly Dictionary<(int Vcpu, int Virq), int> virqPorts = new();

    public EventChannels(Domain domain, GuestMemory guest, VcpuInfoArea vcpuInfo, Scheduler scheduler, Mmu mmu, SimTrace trace)
    {
        this.domain = domain;
        this.guest = guest;
        this.vcpuInfo = vcpuInfo;
        this.scheduler = scheduler;
        this.trace = trace;
        Fifo = new EventFifo(domain, mmu, trace);
    }

    /// <summary>The port table; dom0's max_evtchn_port is unlimited, so the ABI's 4095.</summary>
    public EventChannelTable Ports { get; } = new(int.MaxValue);

    public EventFifo Fifo { get; }

    /// <summary>d->nr_pirqs for dom0: 208 with one CPU, 416 with two (Xen's boot log: "d0 has maximum N PIRQs").</summary>
    private int NrPirqs => domain.Pcpus >= 2 ? 416 : 208;

    // ------------------------------------------------------------ 2-level bits in shared_info (xen/common/event_2l.c)

    private ulong PendingWordAddress(int port) => domain.SharedInfo + (ulong)SharedInfo.Layout.EvtchnPending + (ulong)(8 * (port / 64));
    private ulong MaskWordAddress(int port) => domain.SharedInfo + (ulong)SharedInfo.Layout.EvtchnMask + (ulong)(8 * (port / 64));

    public bool EvtchnPending(int port) => (domain.Memory.ReadU64(PendingWordAddress(port)) & (1UL << (port % 64))) != 0;
    public bool EvtchnMasked(int port) => (domain.Memory.ReadU64(MaskWordAddress(port)) & (1UL << (port % 64))) != 0;

    /// <summary>shared_info's evtchn_pending word <paramref name="word"/>.</summary>
    public ulong PendingWord(int word) => domain.Memory.ReadU64(domain.SharedInfo + (ulong)SharedInfo.Layout.EvtchnPending + (ulong)(8 * word));

    /// <summary>shared_info's evtchn_mask word <paramref name="word"/>.</summary>
    public ulong MaskWord(int word) => domain.Memory.ReadU64(domain.SharedInfo + (ulong)SharedInfo.Layout.EvtchnMask + (ulong)(8 * word));

    private void SetBit(ulong address, int port, bool value)
    {
        Debug.Assert(port >= 0 && port < EventChannelTable.AbiMaxPorts);
        ulong w = domain.Memory.ReadU64(address);
        ulong bit = 1UL << (port % 64);
        domain.Memory.WriteU64(address, value ? w | bit : w & ~bit);
    }

    /// <summary>Sets or clears a port's pending bit, nothing else.</summary>
    public void SetPendingBit(int port, bool pending) => SetBit(PendingWordAddress(port), port, pending);

    /// <summary>evtchn_2l_set_pending: pending bit, then selector and upcall unless masked; pollers regardless.</summary>
    public void SetPending(int port, int vcpuId)
    {
        if (EvtchnPending(port)) return;              // already pending: nothing more happens
        SetBit(PendingWordAddress(port), port, true);
        trace.Event(port, vcpuId);
        var v = domain.Vcpus[vcpuId];
        if (!EvtchnMasked(port)) MarkSelector(v, port / 64);
        foreach (var p in domain.Vcpus)
            if (p.Polling && (p.PollPort is null || p.PollPort == port)) scheduler.WakePoller(p);
    }

    /// <summary>Sets selector bit <paramref name="word"/>; if it was clear, marks events pending on the vCPU.</summary>
    public void MarkSelector(Vcpu v, int word)
    {
        Debug.Assert(word >= 0 && word < 64);
        ulong sel = vcpuInfo.PendingSel(v);
        ulong bit = 1UL << word;
        if ((sel & bit) != 0) return;
        vcpuInfo.SetPendingSel(v, sel | bit);
        MarkEventsPending(v);
    }

    /// <summary>vcpu_mark_events_pending: upcall_pending 0→1 kicks the vCPU (unblocks it, ends a poll).</summary>
    public void MarkEventsPending(Vcpu v)
    {
        if (vcpuInfo.UpcallPending(v)) return;
        vcpuInfo.SetUpcallPending(v, true);
        if (v.Polling) scheduler.WakePoller(v);
        else scheduler.Wake(v);
        scheduler.Reschedule = true;
    }

    /// <summary>evtchn_free: the pending bit is cleared and the port's bookkeeping forgotten (its mask bit stays).</summary>
    private void FreePort(int port)
    {
        SetBit(PendingWordAddress(port), port, false);
        ref var p = ref Ports[port];
        p = default;
    }

    /// <summary>send_guest_vcpu_virq: a per-vCPU VIRQ (the timer); lost when nothing is bound.</summary>
    public void SendVirq(Vcpu v, Virq virq)
    {
        if (virqPorts.TryGetValue((v.Id, (int)virq), out int port)) SetPending(port, v.Id);
    }

    // ------------------------------------------------------------ event_channel_op (xen/common/event_channel.c)

    public long EventChannelOp(Vcpu v, int cmd, ulong arg)
    {
        switch (cmd)
        {
            case (int)EvtchnOp.BindInterdomain: return BindInterdomain(v, arg);
            case (int)EvtchnOp.BindVirq: return BindVirq(v, arg);
            case (int)EvtchnOp.BindPirq:
                if (!guest.TryRead(v, arg, out EvtchnBindPirq pirq)) return -Errno.EFAULT;
                return pirq.Pirq >= NrPirqs ? -Errno.EINVAL : -Errno.EPERM;
            case (int)EvtchnOp.Close:
                return guest.TryRead(v, arg, out EvtchnClose close) ? Close(close.Port) : -Errno.EFAULT;
            case (int)EvtchnOp.Send:
                return guest.TryRead(v, arg, out EvtchnSend send) ? Send(send.Port) : -Errno.EFAULT;
            case (int)EvtchnOp.Status: return Status(v, arg);
            case (int)EvtchnOp.AllocUnbound: return AllocUnbound(v, arg);
            case (int)EvtchnOp.BindIpi: return BindIpi(v, arg);
            case (int)EvtchnOp.BindVcpu:
                return guest.TryRead(v, arg, out EvtchnBindVcpu bind) ? BindVcpu(bind.Port, bind.Vcpu) : -Errno.EFAULT;
            case (int)EvtchnOp.Unmask:
                return guest.TryRead(v, arg, out EvtchnUnmask unmask) ? Unmask(unmask.Port) : -Errno.EFAULT;
            case (int)EvtchnOp.Reset or (int)EvtchnOp.ResetCont:
                return guest.TryRead(v, arg, out EvtchnReset reset) ? Reset(reset.Dom, cmd == (int)EvtchnOp.ResetCont) : -Errno.EFAULT;
            case (int)EvtchnOp.InitControl: return Fifo.InitControl(v, guest, arg);
            case (int)EvtchnOp.ExpandArray:
                return guest.TryRead(v, arg, out EvtchnExpandArray expand) ? Fifo.ExpandArray(expand.ArrayGfn) : -Errno.EFAULT;
            case (int)EvtchnOp.SetPriority:
                return guest.TryRead(v, arg, out EvtchnSetPriority priority) ? SetPriority(priority.Port, priority.Priority) : -Errno.EFAULT;
            default: return -Errno.ENOSYS;
        }
    }

    /// <summary>Legacy event_channel_op_compat: { u32 cmd; union } forwarded for cmds 0..9.</summary>
    public long EventChannelOpCompat(Vcpu v, ulong arg)
    {
        if (!guest.ReadU32(v, arg, out uint cmd)) return -Errno.EFAULT;
        if (cmd > 9) return -Errno.ENOSYS;
        return EventChannelOp(v, (int)cmd, arg + 4);
    }

    private long AllocUnbound(Vcpu v, ulong arg)
    {
        Span<byte> a = stackalloc byte[EvtchnAllocUnbound.Layout.Size];
        if (!guest.CopyFromGuest(v, arg, a)) return -Errno.EFAULT;
        var args = EvtchnAllocUnbound.Read(a);
        if (!domain.Is(args.Dom)) return -Errno.ESRCH;
        int port = Ports.Allocate();
        if (port < 0) return port;
        ref var p = ref Ports[port];
        p = new Port { State = PortState.Unbound, NotifyVcpu = 0, RemoteDomain = args.RemoteDom == DomId.Self ? domain.Id : args.RemoteDom };
        BinaryPrimitives.WriteUInt32LittleEndian(a[EvtchnAllocUnbound.Layout.Port..], (uint)port);
        return guest.CopyToGuest(v, arg, a) ? 0 : -Errno.EFAULT;
    }

    private long BindInterdomain(Vcpu v, ulong arg)
    {
        Span<byte> a = stackalloc byte[EvtchnBindInterdomain.Layout.Size];
        if (!guest.CopyFromGuest(v, arg, a)) return -Errno.EFAULT;
        var args = EvtchnBindInterdomain.Read(a);
        uint remotePort = args.RemotePort;
        if (!domain.Is(args.RemoteDom)) return -Errno.ESRCH;
        int local = Ports.Allocate();
        if (local < 0) return local;
        if (!Ports.IsValid(remotePort)) return -Errno.EINVAL;
        ref var r = ref Ports[(int)remotePort];
        if (r.State != PortState.Unbound || r.RemoteDomain != domain.Id) return -Errno.EINVAL;
        ref var l = ref Ports[local];
        l = new Port { State = PortState.Interdomain, NotifyVcpu = 0, RemoteDomain = domain.Id, RemotePort = (int)remotePort };
        r.State = PortState.Interdomain;
        r.RemoteDomain = domain.Id;
        r.RemotePort = local;
        SetPending(local, l.NotifyVcpu);     // the new local port is always made pending
        BinaryPrimitives.WriteUInt32LittleEndian(a[EvtchnBindInterdomain.Layout.LocalPort..], (uint)local);
        return guest.CopyToGuest(v, arg, a) ? 0 : -Errno.EFAULT;
    }

    private long BindVirq(Vcpu v, ulong arg)
    {
        Span<byte> a = stackalloc byte[EvtchnBindVirq.Layout.Size];
        if (!guest.CopyFromGuest(v, arg, a)) return -Errno.EFAULT;
        var args = EvtchnBindVirq.Read(a);
        int virq = (int)args.Virq;
        uint vcpu = args.Vcpu;
        if (virq < 0 || virq >= VirqClass.Count) return -Errno.EINVAL;
        bool perVcpu = VirqClass.IsPerVcpu(virq);
        if (!perVcpu && vcpu != 0) return -Errno.EINVAL;
        if (vcpu >= domain.Vcpus.Count) return -Errno.ENOENT;
        if (virqPorts.ContainsKey(((int)vcpu, virq))) return -Errno.EEXIST;
        int port = Ports.Allocate();
        if (port < 0) return port;
        ref var p = ref Ports[port];
        p = new Port { State = PortState.Virq, NotifyVcpu = (int)vcpu, Virq = virq };
        virqPorts[((int)vcpu, virq)] = port;
        BinaryPrimitives.WriteUInt32LittleEndian(a[EvtchnBindVirq.Layout.Port..], (uint)port);
        return guest.CopyToGuest(v, arg, a) ? 0 : -Errno.EFAULT;
    }

    private long BindIpi(Vcpu v, ulong arg)
    {
        Span<byte> a = stackalloc byte[EvtchnBindIpi.Layout.Size];
        if (!guest.CopyFromGuest(v, arg, a)) return -Errno.EFAULT;
        uint vcpu = EvtchnBindIpi.Read(a).Vcpu;
        if (vcpu >= domain.Vcpus.Count) return -Errno.ENOENT;
        int port = Ports.Allocate();
        if (port < 0) return port;
        ref var p = ref Ports[port];
        p = new Port { State = PortState.Ipi, NotifyVcpu = (int)vcpu };
        BinaryPrimitives.WriteUInt32LittleEndian(a[EvtchnBindIpi.Layout.Port..], (uint)port);
        return guest.CopyToGuest(v, arg, a) ? 0 : -Errno.EFAULT;
    }

    private long Close(uint port)
    {
        if (!Ports.IsValid(port)) return -Errno.EINVAL;
        ref var p = ref Ports[(int)port];
        switch (p.State)
        {
            case PortState.Free or PortState.Reserved:
                return -Errno.EINVAL;
            case PortState.Virq:
            {
                int owner = VirqClass.IsPerVcpu(p.Virq) ? p.NotifyVcpu : 0;
                bool bound = virqPorts.Remove((owner, p.Virq));
                Debug.Assert(bound, "a VIRQ port is in the VIRQ table");
                break;
            }
            case PortState.Interdomain:
            {
                ref var other = ref Ports[p.RemotePort];
                if (other.State == PortState.Interdomain && other.RemotePort == (int)port)
                {
                    other.State = PortState.Unbound;
                    other.RemoteDomain = domain.Id;
                    other.RemotePort = 0;
                }
                break;
            }
        }
        FreePort((int)port);
        return 0;
    }

    private long Send(uint port)
    {
        if (!Ports.IsValid(port)) return -Errno.EINVAL;
        var p = Ports[(int)port];
        switch (p.State)
        {
            case PortState.Interdomain:
                SetPending(p.RemotePort, Ports[p.RemotePort].NotifyVcpu);
                return 0;
            case PortState.Ipi:
                SetPending((int)port, p.NotifyVcpu);
                return 0;
            case PortState.Unbound:
                return 0;                      // dropped
            default:
                return -Errno.EINVAL;
        }
    }

    private long Status(Vcpu v, ulong arg)
    {
        Span<byte> a = stackalloc byte[EvtchnStatusArgs.Layout.Size];
        if (!guest.CopyFromGuest(v, arg, a)) return -Errno.EFAULT;
        var args = EvtchnStatusArgs.Read(a);
        uint port = args.Port;
        if (!domain.Is(args.Dom)) return -Errno.ESRCH;
        if (!Ports.IsValid(port)) return -Errno.EINVAL;
        var p = Ports[(int)port];
        EvtchnStatus status;
        switch (p.State)      // the union's other bytes go back as the guest passed them
        {
            case PortState.Free or PortState.Reserved:
                status = EvtchnStatus.Closed;
                break;
            case PortState.Unbound:
                status = EvtchnStatus.Unbound;
                BinaryPrimitives.WriteUInt16LittleEndian(a[EvtchnStatusArgs.Layout.UnboundDom..], p.RemoteDomain);
                break;
            case PortState.Interdomain:
                status = EvtchnStatus.Interdomain;
                BinaryPrimitives.WriteUInt16LittleEndian(a[EvtchnStatusArgs.Layout.InterdomainDom..], p.RemoteDomain);
                BinaryPrimitives.WriteUInt32LittleEndian(a[EvtchnStatusArgs.Layout.InterdomainPort..], (uint)p.RemotePort);
                break;
            case PortState.Pirq:
                status = EvtchnStatus.Pirq;
                BinaryPrimitives.WriteUInt32LittleEndian(a[EvtchnStatusArgs.Layout.Pirq..], (uint)p.Pirq);
                break;
            case PortState.Virq:
                status = EvtchnStatus.Virq;
                BinaryPrimitives.WriteUInt32LittleEndian(a[EvtchnStatusArgs.Layout.Virq..], (uint)p.Virq);
                break;
            default:
                status = EvtchnStatus.Ipi;
                break;
        }
        BinaryPrimitives.WriteUInt32LittleEndian(a[EvtchnStatusArgs.Layout.Status..], (uint)status);
        BinaryPrimitives.WriteUInt32LittleEndian(a[EvtchnStatusArgs.Layout.Vcpu..], (uint)p.NotifyVcpu);
        return guest.CopyToGuest(v, arg, a) ? 0 : -Errno.EFAULT;
    }

    private long BindVcpu(uint port, uint vcpu)
    {
        if (vcpu >= domain.Vcpus.Count) return -Errno.ENOENT;
        if (!Ports.IsValid(port)) return -Errno.EINVAL;
        ref var p = ref Ports[(int)port];
        switch (p.State)
        {
            case PortState.Virq when VirqClass.IsPerVcpu(p.Virq):
                return -Errno.EINVAL;
            case PortState.Virq or PortState.Unbound or PortState.Interdomain or PortState.Pirq:
                p.NotifyVcpu = (int)vcpu;
                return 0;
            default:
                return -Errno.EINVAL;
        }
    }

    private long Unmask(uint port)
    {
        if (!Ports.IsValid(port)) return -Errno.EINVAL;
        if (!Ports.IsUsable(port)) return 0;
        bool wasMasked = EvtchnMasked((int)port);
        SetBit(MaskWordAddress((int)port), (int)port, false);
        if (wasMasked && EvtchnPending((int)port))
            MarkSelector(domain.Vcpus[Ports[(int)port].NotifyVcpu], (int)port / 64);
        return 0;
    }

    private long Reset(ushort dom, bool continuation)
    {
        if (!domain.Is(dom)) return -Errno.ESRCH;
        if (continuation) return -Errno.EBUSY;   // no reset is ever left in progress here
        foreach (int port in Ports.InUse().ToList()) Close((uint)port);
        Debug.Assert(virqPorts.Count == 0, "every VIRQ port was closed");
        Fifo.Reset();                            // a FIFO domain goes back to 2-level
        return 0;
    }

    /// <summary>EVTCHNOP_set_priority (xen/common/event_fifo.c): checked here, where the port table is.</summary>
    private long SetPriority(uint port, uint priority)
    {
        if (!Ports.IsValid(port)) return -Errno.EINVAL;
        if (!Fifo.Active) return -Errno.ENOSYS;
        if (!Ports.IsUsable(port)) return -Errno.EACCES;
        if (priority > 15) return -Errno.EINVAL;
        return 0;
    }
}
