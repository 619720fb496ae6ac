using System.Buffers.Binary;
using Xtf.Abi;

namespace Xtf.Sim.Xen;

public sealed partial class Hypervisor
{
    private EventChannelTable Ports => Domain.Evtchn;

    /// <summary>d->nr_pirqs for dom0: 208 with one CPU, 416 with two (Xen's boot log: "d0 has maximum N PIRQs").</summary>
    private int NrPirqs => Domain.Pcpus >= 2 ? 416 : 208;

    // ------------------------------------------------------------ 2-level bits in shared_info (xen/common/event_2l.c)

    private ulong PendingWordAddress(int port) => Domain.SharedInfo + (ulong)SharedInfo.Layout.EvtchnPending + (ulong)(8 * (port / 64));
    private ulong MaskWordAddress(int port) => Domain.SharedInfo + (ulong)SharedInfo.Layout.EvtchnMask + (ulong)(8 * (port / 64));

    public bool EvtchnPending(int port) => (Memory.ReadU64(PendingWordAddress(port)) & (1UL << (port % 64))) != 0;
    public bool EvtchnMasked(int port) => (Memory.ReadU64(MaskWordAddress(port)) & (1UL << (port % 64))) != 0;

    private void SetBit(ulong address, int port, bool value)
    {
        ulong w = Memory.ReadU64(address);
        ulong bit = 1UL << (port % 64);
        Memory.WriteU64(address, value ? w | bit : w & ~bit);
    }

    /// <summary>evtchn_2l_set_pending: pending bit, then selector and upcall unless masked; pollers regardless.</summary>
    public void SetPending(int port, int vcpuId)
    {
        if (EvtchnPending(port)) return;              // already pending: nothing more happens
        SetBit(PendingWordAddress(port), port, true);
        Trace.Event(port, vcpuId);
        var v = Domain.Vcpus[vcpuId];
        if (!EvtchnMasked(port)) MarkSelector(v, port / 64);
        foreach (var p in Domain.Vcpus)
            if (p.Polling && (p.PollPort is null || p.PollPort == port)) WakePoller(p);
    }

    /// <summary>Sets selector bit <paramref name="word"/>; if it was clear, marks events pending on the vCPU.</summary>
    private void MarkSelector(Vcpu v, int word)
    {
        ulong sel = PendingSel(v);
        ulong bit = 1UL << word;
        if ((sel & bit) != 0) return;
        SetPendingSel(v, sel | bit);
        MarkEventsPending(v);
    }

    /// <summary>vcpu_mark_events_pending: upcall_pending 0→1 kicks the vCPU (unblocks it, ends a poll).</summary>
    private void MarkEventsPending(Vcpu v)
    {
        if (UpcallPending(v)) return;
        SetUpcallPending(v, true);
        if (v.Polling) WakePoller(v);
        else Wake(v);
        Reschedule = true;
    }

    private void FreePort(int port)
    {
        SetBit(PendingWordAddress(port), port, false);
        ref var p = ref Ports[port];
        p = default;
    }

    // ------------------------------------------------------------ event_channel_op (xen/common/event_channel.c)

    private long EventChannelOp(Vcpu v, int cmd, ulong arg) => cmd switch
    {
        (int)EvtchnOp.BindInterdomain => BindInterdomain(v, arg),
        (int)EvtchnOp.BindVirq => BindVirq(v, arg),
        (int)EvtchnOp.BindPirq => WithArg(v, arg, EvtchnBindPirq.Layout.Size, a =>
            BinaryPrimitives.ReadUInt32LittleEndian(a[EvtchnBindPirq.Layout.Pirq..]) >= NrPirqs ? -Errno.EINVAL : -Errno.EPERM),
        (int)EvtchnOp.Close => WithArg(v, arg, 4, a => Close(BinaryPrimitives.ReadUInt32LittleEndian(a))),
        (int)EvtchnOp.Send => WithArg(v, arg, 4, a => Send(BinaryPrimitives.ReadUInt32LittleEndian(a))),
        (int)EvtchnOp.Status => Status(v, arg),
        (int)EvtchnOp.AllocUnbound => AllocUnbound(v, arg),
        (int)EvtchnOp.BindIpi => BindIpi(v, arg),
        (int)EvtchnOp.BindVcpu => WithArg(v, arg, EvtchnBindVcpu.Layout.Size, a => BindVcpu(
            BinaryPrimitives.ReadUInt32LittleEndian(a[EvtchnBindVcpu.Layout.Port..]), BinaryPrimitives.ReadUInt32LittleEndian(a[EvtchnBindVcpu.Layout.Vcpu..]))),
        (int)EvtchnOp.Unmask => WithArg(v, arg, 4, a => Unmask(BinaryPrimitives.ReadUInt32LittleEndian(a))),
        (int)EvtchnOp.Reset or (int)EvtchnOp.ResetCont => WithArg(v, arg, 2, a => Reset(BinaryPrimitives.ReadUInt16LittleEndian(a), cmd == (int)EvtchnOp.ResetCont)),
        (int)EvtchnOp.InitControl => InitControl(v, arg),
        (int)EvtchnOp.ExpandArray => WithArg(v, arg, EvtchnExpandArray.Layout.Size, a =>
            ExpandArray(BinaryPrimitives.ReadUInt64LittleEndian(a[EvtchnExpandArray.Layout.ArrayGfn..]))),
        (int)EvtchnOp.SetPriority => WithArg(v, arg, EvtchnSetPriority.Layout.Size, a => SetPriority(
            BinaryPrimitives.ReadUInt32LittleEndian(a[EvtchnSetPriority.Layout.Port..]),
            BinaryPrimitives.ReadUInt32LittleEndian(a[EvtchnSetPriority.Layout.Priority..]))),
        _ => -Errno.ENOSYS,
    };

    private delegate long ArgHandler(Span<byte> arg);

    private long WithArg(Vcpu v, ulong arg, int size, ArgHandler handler)
    {
        Span<byte> b = stackalloc byte[size];
        return CopyFromGuest(v, arg, b) ? handler(b) : -Errno.EFAULT;
    }

    private bool FindDomain(ushort domid) => domid == DomId.Self || domid == Domain.Id;

    private long AllocUnbound(Vcpu v, ulong arg)
    {
        Span<byte> a = stackalloc byte[EvtchnAllocUnbound.Layout.Size];
        if (!CopyFromGuest(v, arg, a)) return -Errno.EFAULT;
        ushort dom = BinaryPrimitives.ReadUInt16LittleEndian(a[EvtchnAllocUnbound.Layout.Dom..]);
        ushort remote = BinaryPrimitives.ReadUInt16LittleEndian(a[EvtchnAllocUnbound.Layout.RemoteDom..]);
        if (!FindDomain(dom)) return -Errno.ESRCH;
        int port = Ports.Allocate();
        if (port < 0) return port;
        ref var p = ref Ports[port];
        p = new Port { State = PortState.Unbound, NotifyVcpu = 0, RemoteDomain = remote == DomId.Self ? Domain.Id : remote };
        BinaryPrimitives.WriteUInt32LittleEndian(a[EvtchnAllocUnbound.Layout.Port..], (uint)port);
        return CopyToGuest(v, arg, a) ? 0 : -Errno.EFAULT;
    }

    private long BindInterdomain(Vcpu v, ulong arg)
    {
        Span<byte> a = stackalloc byte[EvtchnBindInterdomain.Layout.Size];
        if (!CopyFromGuest(v, arg, a)) return -Errno.EFAULT;
        ushort remoteDom = BinaryPrimitives.ReadUInt16LittleEndian(a[EvtchnBindInterdomain.Layout.RemoteDom..]);
        uint remotePort = BinaryPrimitives.ReadUInt32LittleEndian(a[EvtchnBindInterdomain.Layout.RemotePort..]);
        if (!FindDomain(remoteDom)) return -Errno.ESRCH;
        int local = Ports.Allocate();
        if (local < 0) return local;
        if (!Ports.IsValid(remotePort)) return -Errno.EINVAL;
        ref var r = ref Ports[(int)remotePort];
        if (r.State != PortState.Unbound || r.RemoteDomain != Domain.Id) return -Errno.EINVAL;
        ref var l = ref Ports[local];
        l = new Port { State = PortState.Interdomain, NotifyVcpu = 0, RemoteDomain = Domain.Id, RemotePort = (int)remotePort };
        r.State = PortState.Interdomain;
        r.RemoteDomain = Domain.Id;
        r.RemotePort = local;
        SetPending(local, l.NotifyVcpu);     // the new local port is always made pending
        BinaryPrimitives.WriteUInt32LittleEndian(a[EvtchnBindInterdomain.Layout.LocalPort..], (uint)local);
        return CopyToGuest(v, arg, a) ? 0 : -Errno.EFAULT;
    }

    private readonly Dictionary<(int Vcpu, int Virq), int> virqPorts = new();

    private long BindVirq(Vcpu v, ulong arg)
    {
        Span<byte> a = stackalloc byte[EvtchnBindVirq.Layout.Size];
        if (!CopyFromGuest(v, arg, a)) return -Errno.EFAULT;
        int virq = BinaryPrimitives.ReadInt32LittleEndian(a[EvtchnBindVirq.Layout.Virq..]);
        uint vcpu = BinaryPrimitives.ReadUInt32LittleEndian(a[EvtchnBindVirq.Layout.Vcpu..]);
        if (virq < 0 || virq >= VirqClass.Count) return -Errno.EINVAL;
        bool perVcpu = VirqClass.IsPerVcpu(virq);
        if (!perVcpu && vcpu != 0) return -Errno.EINVAL;
        if (vcpu >= Domain.Vcpus.Count) return -Errno.ENOENT;
        if (virqPorts.ContainsKey(((int)vcpu, virq))) return -Errno.EEXIST;
        int port = Ports.Allocate();
        if (port < 0) return port;
        ref var p = ref Ports[port];
        p = new Port { State = PortState.Virq, NotifyVcpu = (int)vcpu, Virq = virq };
        virqPorts[((int)vcpu, virq)] = port;
        BinaryPrimitives.WriteUInt32LittleEndian(a[EvtchnBindVirq.Layout.Port..], (uint)port);
        return CopyToGuest(v, arg, a) ? 0 : -Errno.EFAULT;
    }

    private long BindIpi(Vcpu v, ulong arg)
    {
        Span<byte> a = stackalloc byte[EvtchnBindIpi.Layout.Size];
        if (!CopyFromGuest(v, arg, a)) return -Errno.EFAULT;
        uint vcpu = BinaryPrimitives.ReadUInt32LittleEndian(a[EvtchnBindIpi.Layout.Vcpu..]);
        if (vcpu >= Domain.Vcpus.Count) return -Errno.ENOENT;
        int port = Ports.Allocate();
        if (port < 0) return port;
        ref var p = ref Ports[port];
        p = new Port { State = PortState.Ipi, NotifyVcpu = (int)vcpu };
        BinaryPrimitives.WriteUInt32LittleEndian(a[EvtchnBindIpi.Layout.Port..], (uint)port);
        return CopyToGuest(v, arg, a) ? 0 : -Errno.EFAULT;
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
                virqPorts.Remove((owner, p.Virq));
                break;
            }
            case PortState.Interdomain:
            {
                ref var other = ref Ports[p.RemotePort];
                if (other.State == PortState.Interdomain && other.RemotePort == (int)port)
                {
                    other.State = PortState.Unbound;
                    other.RemoteDomain = Domain.Id;
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
        if (!CopyFromGuest(v, arg, a)) return -Errno.EFAULT;
        ushort dom = BinaryPrimitives.ReadUInt16LittleEndian(a[EvtchnStatusArgs.Layout.Dom..]);
        uint port = BinaryPrimitives.ReadUInt32LittleEndian(a[EvtchnStatusArgs.Layout.Port..]);
        if (!FindDomain(dom)) return -Errno.ESRCH;
        if (!Ports.IsValid(port)) return -Errno.EINVAL;
        var p = Ports[(int)port];
        var union = a[16..];
        EvtchnStatus status;
        switch (p.State)
        {
            case PortState.Free or PortState.Reserved:
                status = EvtchnStatus.Closed;
                break;
            case PortState.Unbound:
                status = EvtchnStatus.Unbound;
                BinaryPrimitives.WriteUInt16LittleEndian(union, p.RemoteDomain);
                break;
            case PortState.Interdomain:
                status = EvtchnStatus.Interdomain;
                BinaryPrimitives.WriteUInt16LittleEndian(union, p.RemoteDomain);
                BinaryPrimitives.WriteUInt32LittleEndian(union[4..], (uint)p.RemotePort);
                break;
            case PortState.Pirq:
                status = EvtchnStatus.Pirq;
                BinaryPrimitives.WriteUInt32LittleEndian(union, (uint)p.Pirq);
                break;
            case PortState.Virq:
                status = EvtchnStatus.Virq;
                BinaryPrimitives.WriteUInt32LittleEndian(union, (uint)p.Virq);
                break;
            default:
                status = EvtchnStatus.Ipi;
                break;
        }
        BinaryPrimitives.WriteUInt32LittleEndian(a[EvtchnStatusArgs.Layout.Status..], (uint)status);
        BinaryPrimitives.WriteUInt32LittleEndian(a[EvtchnStatusArgs.Layout.Vcpu..], (uint)p.NotifyVcpu);
        return CopyToGuest(v, arg, a) ? 0 : -Errno.EFAULT;
    }

    private long BindVcpu(uint port, uint vcpu)
    {
        if (vcpu >= Domain.Vcpus.Count) return -Errno.ENOENT;
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
            MarkSelector(Domain.Vcpus[Ports[(int)port].NotifyVcpu], (int)port / 64);
        return 0;
    }

    private long Reset(ushort dom, bool continuation)
    {
        if (!FindDomain(dom)) return -Errno.ESRCH;
        if (continuation) return -Errno.EBUSY;   // no reset is ever left in progress here
        foreach (int port in Ports.InUse().ToList()) Close((uint)port);
        fifoControl.Clear();                     // a FIFO domain goes back to 2-level
        fifoArrayPages = 0;
        return 0;
    }

    // ------------------------------------------------------------ FIFO ABI (xen/common/event_fifo.c)
    // The control state is modelled (switching, control blocks, array pages, priorities); FIFO
    // event queues are not: no event is delivered while a domain uses the FIFO ABI.

    public const int FifoLinkBits = 17, FifoMaxArrayPages = 128, FifoControlBlockSize = 72;
    private readonly SortedDictionary<int, ulong> fifoControl = new();
    private int fifoArrayPages;

    public bool FifoActive => fifoControl.Count > 0;

    private long InitControl(Vcpu v, ulong arg)
    {
        Span<byte> a = stackalloc byte[EvtchnInitControl.Layout.Size];
        if (!CopyFromGuest(v, arg, a)) return -Errno.EFAULT;
        ulong gfn = BinaryPrimitives.ReadUInt64LittleEndian(a[EvtchnInitControl.Layout.ControlGfn..]);
        uint offset = BinaryPrimitives.ReadUInt32LittleEndian(a[EvtchnInitControl.Layout.Offset..]);
        uint vcpu = BinaryPrimitives.ReadUInt32LittleEndian(a[EvtchnInitControl.Layout.Vcpu..]);
        if (vcpu >= Domain.Vcpus.Count) return -Errno.ENOENT;
        if (offset > MachineMemoryPage - FifoControlBlockSize || offset % 8 != 0) return -Errno.EINVAL;
        if (fifoControl.ContainsKey((int)vcpu)) return -Errno.EINVAL;
        if (!Domain.M2p.ContainsKey(gfn) || IsPageTableFrame(gfn)) return -Errno.EINVAL;   // PV: gfn is an MFN
        fifoControl[(int)vcpu] = (gfn << 12) + offset;
        a[EvtchnInitControl.Layout.LinkBits] = FifoLinkBits;
        Trace.Note($"evtchn: FIFO ABI, control block for v{vcpu}");
        return CopyToGuest(v, arg, a) ? 0 : -Errno.EFAULT;
    }

    private const uint MachineMemoryPage = 4096;

    private long ExpandArray(ulong gfn)
    {
        if (!FifoActive) return -Errno.EOPNOTSUPP;
        if (fifoArrayPages >= FifoMaxArrayPages) return -Errno.ENOSPC;
        if (!Domain.M2p.ContainsKey(gfn) || IsPageTableFrame(gfn)) return -Errno.EINVAL;
        fifoArrayPages++;
        return 0;
    }

    private long SetPriority(uint port, uint priority)
    {
        if (!Ports.IsValid(port)) return -Errno.EINVAL;
        if (!FifoActive) return -Errno.ENOSYS;
        if (!Ports.IsUsable(port)) return -Errno.EACCES;
        if (priority > 15) return -Errno.EINVAL;
        return 0;
    }

    /// <summary>Legacy event_channel_op_compat: { u32 cmd; union } forwarded for cmds 0..9.</summary>
    private long EventChannelOpCompat(Vcpu v, ulong arg)
    {
        if (!ReadU32(v, arg, out uint cmd)) return -Errno.EFAULT;
        if (cmd > 9) return -Errno.ENOSYS;
        return EventChannelOp(v, (int)cmd, arg + 4);
    }

    /// <summary>send_guest_vcpu_virq: a per-vCPU VIRQ (the timer); lost when nothing is bound.</summary>
    public void SendVirq(Vcpu v, Virq virq)
    {
        if (virqPorts.TryGetValue((v.Id, (int)virq), out int port)) SetPending(port, v.Id);
    }
}
