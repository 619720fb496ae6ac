using System.Diagnostics;
using Xtf.Abi;

namespace Xtf.Sim.Xen;

/// <summary>
/// The FIFO event-channel ABI's control state (xen/common/event_fifo.c): switching to it, the
/// per-vCPU control blocks, the event array pages. FIFO event queues are not modelled: no event is
/// delivered while a domain uses the FIFO ABI. Invariant: at most <see cref="FifoMaxArrayPages"/>
/// array pages, and array pages only once a control block exists.
/// </summary>
public sealed class EventFifo
{
    public const int FifoLinkBits = 17, FifoMaxArrayPages = 128, FifoControlBlockSize = 72;
    private const uint PageSize = 4096;

    private readonly Domain domain;
    private readonly Mmu mmu;
    private readonly SimTrace trace;
    /// <summary>Each vCPU's control block, as a machine address (sorted: deterministic).</summary>
    private readonly SortedDictionary<int, ulong> controlBlocks = new();
    private int arrayPages;

    public EventFifo(Domain domain, Mmu mmu, SimTrace trace)
    {
        this.domain = domain;
        this.mmu = mmu;
        this.trace = trace;
    }

    /// <summary>The domain switched to the FIFO ABI (the first EVTCHNOP_init_control).</summary>
    public bool Active => controlBlocks.Count > 0;

    public long InitControl(Vcpu v, GuestMemory guest, ulong arg)
    {
        Span<byte> a = stackalloc byte[EvtchnInitControl.Layout.Size];
        if (!guest.CopyFromGuest(v, arg, a)) return -Errno.EFAULT;
        var args = EvtchnInitControl.Read(a);
        ulong gfn = args.ControlGfn;
        uint offset = args.Offset;
        uint vcpu = args.Vcpu;
        if (vcpu >= domain.Vcpus.Count) return -Errno.ENOENT;
        if (offset > PageSize - FifoControlBlockSize || offset % 8 != 0) return -Errno.EINVAL;
        if (controlBlocks.ContainsKey((int)vcpu)) return -Errno.EINVAL;
        if (!mmu.GetPage(gfn) || mmu.IsPageTableFrame(gfn)) return -Errno.EINVAL;   // PV: gfn is an MFN
        controlBlocks[(int)vcpu] = (gfn << 12) + offset;
        a[EvtchnInitControl.Layout.LinkBits] = FifoLinkBits;
        trace.Note($"evtchn: FIFO ABI, control block for v{vcpu}");
        return guest.CopyToGuest(v, arg, a) ? 0 : -Errno.EFAULT;
    }

    public long ExpandArray(ulong gfn)
    {
        if (!Active) return -Errno.EOPNOTSUPP;
        if (arrayPages >= FifoMaxArrayPages) return -Errno.ENOSPC;
        if (!mmu.GetPage(gfn) || mmu.IsPageTableFrame(gfn)) return -Errno.EINVAL;
        arrayPages++;
        Debug.Assert(arrayPages <= FifoMaxArrayPages);
        return 0;
    }

    /// <summary>EVTCHNOP_reset: back to the 2-level ABI.</summary>
    public void Reset()
    {
        controlBlocks.Clear();
        arrayPages = 0;
    }
}
