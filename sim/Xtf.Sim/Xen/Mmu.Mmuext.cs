using Xtf.Abi;

namespace Xtf.Sim.Xen;

/// <summary>mmuext_op (xen/arch/x86/mm.c, do_mmuext_op): pinning, base pointers, TLB and cache flushes, the LDT, page clears and copies.</summary>
public sealed partial class Mmu
{
    /// <summary>Requests one mmuext_op handles before it stops (Xen would preempt and continue).</summary>
    private const uint MaxMmuextRequests = 4096;

    /// <summary>Frames pinned as page tables (_PGT_pinned), ordered so nothing that reaches a trace depends on hashing.</summary>
    private readonly SortedSet<ulong> pinned = new();

    public bool IsPinned(ulong mfn) => pinned.Contains(mfn);

    /// <summary>do_mmuext_op: the requests in order; the first failure stops the batch; *pdone counts those done.</summary>
    public long MmuextOp(Vcpu v, ulong requests, uint count, ulong doneAddress, uint foreignDom)
    {
        if (foreignDom != DomId.Self && foreignDom != domain.Id) return -Errno.ESRCH;   // get_pg_owner
        uint i = 0;
        long rc = 0;
        for (; i < count && i < MaxMmuextRequests; i++)
        {
            if (!guest.TryRead(v, requests + i * (ulong)MmuextRequest.Layout.Size, out MmuextRequest op)) { rc = -Errno.EFAULT; break; }
            rc = One(v, op);
            if (rc != 0) break;
        }
        if (doneAddress != 0 && !guest.WriteU32(v, doneAddress, i)) return -Errno.EFAULT;
        return rc;
    }

    private long One(Vcpu v, MmuextRequest op)
    {
        switch (op.Cmd)
        {
            case MmuextCmd.PinL1Table:
            case MmuextCmd.PinL2Table:
            case MmuextCmd.PinL3Table:
            case MmuextCmd.PinL4Table:
            {
                int level = (int)op.Cmd + 1;
                ulong mfn = op.Arg1;
                if (!GetPage(mfn)) return -Errno.EINVAL;
                if (!TakePageTableType(mfn, level)) return -Errno.EINVAL;
                if (!pinned.Add(mfn)) return -Errno.EINVAL;          // already pinned
                return 0;
            }
            case MmuextCmd.UnpinTable:
            {
                ulong mfn = op.Arg1;
                if (!GetPage(mfn)) return -Errno.EINVAL;
                if (!pinned.Remove(mfn)) return -Errno.EINVAL;       // not pinned
                return 0;
            }
            case MmuextCmd.NewBaseptr:
            {
                // new_guest_cr3: the frame must take the L4 type.
                ulong mfn = op.Arg1;
                if (!GetPage(mfn) || !TakePageTableType(mfn, 4)) return -Errno.EINVAL;
                v.GuestTable = mfn << 12;
                if (v.KernelMode) v.Cpu.Cr3 = v.GuestTable;
                cpu.FlushTlb();
                return 0;
            }
            case MmuextCmd.NewUserBaseptr:
            {
                ulong mfn = op.Arg1;
                if (mfn == v.GuestTableUser >> 12) return 0;
                if (mfn != 0 && (!GetPage(mfn) || !TakePageTableType(mfn, 4))) return -Errno.EINVAL;
                v.GuestTableUser = mfn << 12;
                if (!v.KernelMode) v.Cpu.Cr3 = v.GuestTableUser;
                return 0;
            }
            case MmuextCmd.TlbFlushLocal:
            case MmuextCmd.InvlpgLocal:
            case MmuextCmd.TlbFlushAll:
            case MmuextCmd.InvlpgAll:
                cpu.FlushTlb();
                return 0;
            case MmuextCmd.TlbFlushMulti:
            case MmuextCmd.InvlpgMulti:
                // vcpumask_to_pcpumask: the guest's vCPU bitmap must be readable.
                if (!guest.ReadU64(v, op.Arg2, out ulong mask)) return -Errno.EFAULT;
                _ = mask;
                cpu.FlushTlb();
                return 0;
            case MmuextCmd.FlushCache:
            case MmuextCmd.FlushCacheGlobal:
                return 0;                                             // dom0 may flush caches (cache_flush_permitted)
            case MmuextCmd.SetLdt:
            {
                uint ents = (uint)op.Arg2;
                ulong ptr = ents != 0 ? op.Arg1 : 0;
                if ((ptr & 0xFFF) != 0 || !GuestMemory.AccessOk(ptr) || ents > 8192) return -Errno.EINVAL;
                v.LdtBase = ptr;
                v.LdtEntries = ents;
                return 0;
            }
            case MmuextCmd.ClearPage:
            {
                ulong mfn = op.Arg1;
                if (!GetPage(mfn) || !CanBeWritable(mfn)) return -Errno.EINVAL;
                Memory.Span(mfn << 12, 4096).Clear();
                Memory.NoteWrite(mfn);
                return 0;
            }
            case MmuextCmd.CopyPage:
            {
                ulong dst = op.Arg1, src = op.Arg2;
                if (!GetPage(src)) return -Errno.EINVAL;
                if (!GetPage(dst) || !CanBeWritable(dst)) return -Errno.EINVAL;
                Memory.Span(src << 12, 4096).CopyTo(Memory.Span(dst << 12, 4096));
                Memory.NoteWrite(dst);
                return 0;
            }
            case MmuextCmd.MarkSuper:
            case MmuextCmd.UnmarkSuper:
                return -Errno.EOPNOTSUPP;                             // PV superpages were removed (Xen 4.7)
            default:
                return -Errno.ENOSYS;
        }
    }

    /// <summary>
    /// get_page_type for a page-table level: a frame already of that level qualifies; an untyped
    /// frame qualifies when no writable mapping of it exists, and is then recorded (with the tables below it).
    /// </summary>
    private bool TakePageTableType(ulong mfn, int level)
    {
        if (PageTableFrames.TryGetValue(mfn, out int existing)) return existing == level;
        if (!CanBeTyped(mfn, level)) return false;
        DiscoverTables(mfn, level);
        return true;
    }

    private void DiscoverTables(ulong mfn, int level)
    {
        if (level < 1 || !Memory.Contains(mfn << 12) || !PageTableFrames.TryAdd(mfn, level) || level == 1) return;
        int entries = level == 4 ? 256 : EntriesPerTable;
        for (int i = 0; i < entries; i++)
        {
            ulong e = Memory.ReadU64((mfn << 12) + (ulong)(8 * i));
            if ((e & PtePresent) == 0 || (level <= 3 && (e & PtePse) != 0)) continue;
            DiscoverTables((e & PteAddressMask) >> 12, level - 1);
        }
    }
}
