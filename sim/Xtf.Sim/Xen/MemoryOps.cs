using System.Buffers.Binary;
using Xtf.Abi;
using Xtf.Sim.Memory;

namespace Xtf.Sim.Xen;

/// <summary>
/// memory_op (xen/common/memory.c, do_memory_op and memory_exchange), docs/pv-abi.md §13.7: the
/// reservation queries, maximum_ram_page, and XENMEM_exchange's checks. The P2M is fixed at build
/// time, so nothing here changes which frames the domain owns: an exchange fails where it would have
/// to steal a page.
/// </summary>
public sealed class MemoryOps
{
    /// <summary>MEMOP_EXTENT_SHIFT: bits above the command carry a continuation's start extent.</summary>
    private const int ExtentShift = 6;
    private const ulong CmdMask = (1 << ExtentShift) - 1;

    /// <summary>max_order() for dom0, the hardware and control domain (measured on Xen 4.17.7: order 18 passes, 19 is -EPERM).</summary>
    public const uint MaxOrder = 18;

    private readonly Domain domain;
    private readonly GuestMemory guest;

    /// <summary>max_page: one past the machine's last usable RAM frame (docs/dom0.md §2.14, §2.17).</summary>
    private readonly ulong maxRamPage;

    public MemoryOps(Domain domain, GuestMemory guest, ulong maxRamPage)
    {
        this.maxRamPage = maxRamPage;
        this.domain = domain;
        this.guest = guest;
    }

    /// <summary>do_memory_op.</summary>
    public long MemoryOp(Vcpu v, ulong cmdWord, ulong arg)
    {
        ulong startExtent = cmdWord >> ExtentShift;
        int cmd = (int)(cmdWord & CmdMask);
        switch (cmd)
        {
            case (int)Abi.MemoryOp.Exchange:
                if (startExtent != 0) return -Errno.EINVAL;
                return Exchange(v, arg);
            case (int)Abi.MemoryOp.MaximumRamPage:
                if (startExtent != 0) return -Errno.EINVAL;
                return (long)maxRamPage;                            // measured 0x1ffe0 @ 512 MiB, 0x3ffe0 @ 1024 MiB
            case (int)Abi.MemoryOp.CurrentReservation:
            case (int)Abi.MemoryOp.MaximumReservation:
            case (int)Abi.MemoryOp.MaximumGpfn:
            {
                if (startExtent != 0) return -Errno.EINVAL;
                Span<byte> d = stackalloc byte[2];
                if (!guest.CopyFromGuest(v, arg, d)) return -Errno.EFAULT;
                ushort domid = BinaryPrimitives.ReadUInt16LittleEndian(d);   // a domid_t
                if (!domain.Is(domid)) return -Errno.ESRCH;
                return cmd switch
                {
                    (int)Abi.MemoryOp.CurrentReservation => domain.P2m.Length,
                    (int)Abi.MemoryOp.MaximumReservation => 0xFFFF_FFFFL,
                    _ => 0,          // a PV domain has no gpfn space beyond its p2m
                };
            }
            case (int)Abi.MemoryOp.MemoryMap:
                return -Errno.ENOSYS;                        // not for a PV dom0 (measured)
            default:
                return -Errno.ENOSYS;                        // not modelled (reservation changes among them)
        }
    }

    /// <summary>guest_handle_subrange_okay(h, first, last) for 8-byte elements: array_access_ok of the sub-range (start address only, §0.3).</summary>
    private static bool SubrangeOk(ulong start, ulong first, ulong last)
    {
        ulong count = unchecked(last - first + 1);
        return count < ulong.MaxValue / 8 && GuestMemory.AccessOk(unchecked(start + first * 8));
    }

    /// <summary>memory_exchange: Xen's checks in order; the exchange itself stops at the first page it cannot steal.</summary>
    private long Exchange(Vcpu v, ulong arg)
    {
        if (!guest.TryRead(v, arg, out XenMemoryExchange x)) return -Errno.EFAULT;
        var (xin, xout) = (x.In, x.Out);
        ulong nrExchanged = x.NrExchanged;

        long rc;
        if (Math.Max(xin.ExtentOrder, xout.ExtentOrder) > MaxOrder) rc = -Errno.EPERM;
        else if (nrExchanged > xin.NrExtents || xin.DomId != xout.DomId
                 || xin.ExtentOrder >= 64 || xout.ExtentOrder >= 64
                 || (ulong.MaxValue >> (int)xin.ExtentOrder) < xin.NrExtents
                 || (ulong.MaxValue >> (int)xout.ExtentOrder) < xout.NrExtents
                 || xin.NrExtents << (int)xin.ExtentOrder != xout.NrExtents << (int)xout.ExtentOrder)
            rc = -Errno.EINVAL;
        else if (nrExchanged == xin.NrExtents) return 0;
        else if (!SubrangeOk(xin.ExtentStart, nrExchanged, unchecked(xin.NrExtents - 1))) rc = -Errno.EFAULT;
        else
        {
            int inChunkOrder = xin.ExtentOrder <= xout.ExtentOrder ? (int)(xout.ExtentOrder - xin.ExtentOrder) : 0;
            int outChunkOrder = xin.ExtentOrder <= xout.ExtentOrder ? 0 : (int)(xin.ExtentOrder - xout.ExtentOrder);
            ulong outFirst = inChunkOrder > 0 ? nrExchanged >> inChunkOrder : nrExchanged << outChunkOrder;
            if (!SubrangeOk(xout.ExtentStart, outFirst, unchecked(xout.NrExtents - 1))) rc = -Errno.EFAULT;
            else if (!domain.Is(xin.DomId)) rc = -Errno.ESRCH;
            else
            {
                // The first chunk: read its first input frame and try to steal it.
                ulong i = nrExchanged >> inChunkOrder;
                // mfn_valid fails beyond RAM and steal_page for a frame the domain does not own: -EINVAL. A frame it
                // owns is not stolen either (not modelled: the simulated P2M cannot change), also -EINVAL.
                rc = guest.ReadU64(v, xin.ExtentStart + 8 * (i << inChunkOrder), out _) ? -Errno.EINVAL : -Errno.EFAULT;
                nrExchanged = i << inChunkOrder;
            }
        }
        // fail / fail_early: tell the caller how far it got.
        if (!guest.WriteU64(v, arg + XenMemoryExchange.Layout.NrExchanged, nrExchanged)) rc = -Errno.EFAULT;
        return rc;
    }
}
