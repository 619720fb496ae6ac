using Xtf.Abi;

namespace Xtf.Sim.Xen;

/// <summary>mmuext_op (xen/arch/x86/mm.c, do_mmuext_op): pinning, base pointers, TLB and cache flushes, the LDT, page clears and copies.</summary>
public sealed partial class Mmu
{
    /// <summary>Requests one mmuext_op handles before it stops (Xen would preempt and continue).</summary>
    private const uint MaxMmuextRequests = 4096;

    /// <summary>do_mmuext_op: the requests in order; the first failure stops the batch; *pdone counts those done.</summary>
    public long MmuextOp(Vcpu v, ulong requests, uint count, ulong doneAddress, uint foreignDom)
    {
        if (!PgOwnerIsSelf((ushort)foreignDom, allowIo: false)) return -Errno.ESRCH;   // get_pg_owner (its own id: measured -ESRCH)
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
                // pin_page: a type reference of the level, then _PGT_pinned (already set: the reference goes back, -EINVAL).
                ulong mfn = op.Arg1;
                if (!GetPage(mfn)) return -Errno.EINVAL;
                long rc = GetPageType(mfn, (PageType)((int)op.Cmd + 1));
                if (rc != 0) return rc;
                var p = Info(mfn);
                if (p.Pinned)
                {
                    PutPageType(mfn);
                    return -Errno.EINVAL;                             // "mfn already pinned"
                }
                p.Pinned = true;
                return 0;
            }
            case MmuextCmd.UnpinTable:
            {
                ulong mfn = op.Arg1;
                if (!GetPage(mfn)) return -Errno.EINVAL;
                if (!IsPinned(mfn)) return -Errno.EINVAL;             // "mfn not pinned"
                Info(mfn).Pinned = false;
                PutPageType(mfn);
                cpu.FlushTlb();
                return 0;
            }
            case MmuextCmd.NewBaseptr:
                return NewGuestCr3(v, op.Arg1);
            case MmuextCmd.NewUserBaseptr:
                return NewUserBaseptr(v, op.Arg1);
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
                if (v.LdtEntries == ents && v.LdtBase == ptr) return 0;
                if (DestroyLdt(v)) cpu.FlushTlb();
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
    /// An emulated mov to CR3 (xen/arch/x86/pv/emul-priv-op.c, write_cr case 3): the frame must be one
    /// the domain owns (get_page_from_gfn, gfn = mfn for PV), then new_guest_cr3; non-zero: #GP(0).
    /// </summary>
    public long WriteCr3(Vcpu v, ulong mfn) => domain.Owns(mfn) ? NewGuestCr3(v, mfn) : -Errno.EINVAL;

    /// <summary>
    /// new_guest_cr3: the same frame again only reloads; otherwise the new frame takes an L4 reference
    /// (validating it when it held none), gets the read-only M2P slot unless m2p_strict is on, becomes the
    /// kernel base pointer, and the old base pointer's reference goes back.
    /// </summary>
    private long NewGuestCr3(Vcpu v, ulong mfn)
    {
        ulong old = v.GuestTable >> 12;
        if (mfn == old && v.GuestTable != 0)
        {
            cpu.FlushTlb();
            return 0;
        }
        if (!GetPage(mfn)) return -Errno.EINVAL;
        long rc = GetPageType(mfn, PageType.L4);
        if (rc != 0) return rc;
        DestroyLdt(v);
        if (!M2pStrict) Info(mfn).RoMpt = true;                       // fill_ro_mpt
        v.GuestTable = mfn << 12;
        if (v.KernelMode) v.Cpu.Cr3 = v.GuestTable;
        if (kernelBaseRefs.Remove(v.Id, out ulong held)) PutPageType(held);
        kernelBaseRefs[v.Id] = mfn;
        cpu.FlushTlb();
        return 0;
    }

    /// <summary>
    /// pv_destroy_ldt (xen/arch/x86/pv/descriptor-tables.c): drops the LDT pages Xen mapped on first use,
    /// with their seg_desc type references. True when any was mapped.
    /// </summary>
    public bool DestroyLdt(Vcpu v)
    {
        bool dropped = false;
        for (int i = 0; i < v.LdtShadow.Length; i++)
        {
            if (v.LdtShadow[i] is not { } mfn) continue;
            v.LdtShadow[i] = null;
            PutSegDescType(mfn);
            dropped = true;
        }
        return dropped;
    }

    /// <summary>
    /// MMUEXT_NEW_USER_BASEPTR: the same frame is a no-op; 0 clears it; otherwise the frame takes an L4
    /// reference (with m2p_strict its read-only M2P slot is cleared) and the old one's reference goes back.
    /// </summary>
    private long NewUserBaseptr(Vcpu v, ulong mfn)
    {
        if (mfn == v.GuestTableUser >> 12) return 0;
        if (mfn != 0)
        {
            if (!GetPage(mfn)) return -Errno.EINVAL;
            long rc = GetPageType(mfn, PageType.L4);
            if (rc != 0) return rc;
            if (M2pStrict) Info(mfn).RoMpt = false;                   // zap_ro_mpt
        }
        v.GuestTableUser = mfn << 12;
        if (!v.KernelMode) v.Cpu.Cr3 = v.GuestTableUser;
        if (userBaseRefs.Remove(v.Id, out ulong held)) PutPageType(held);
        if (mfn != 0) userBaseRefs[v.Id] = mfn;
        cpu.FlushTlb();
        return 0;
    }

    /// <summary>
    /// The page-table part of arch_set_info_guest (xen/arch/x86/domain.c), for VCPUOP_initialise: the
    /// kernel L4 takes the root type (validated if it held none) and the read-only M2P unless
    /// m2p_strict; a user L4 (non-zero <paramref name="userMfn"/>) takes it too, with the M2P slot
    /// cleared under m2p_strict. On failure nothing is held. The vCPU's earlier base-pointer references go back.
    /// The caller sets GuestTable/GuestTableUser and CR3.
    /// </summary>
    public long SetGuestTables(Vcpu v, ulong kernelMfn, ulong userMfn)
    {
        if (!GetPage(kernelMfn)) return -Errno.EINVAL;
        long rc = GetPageType(kernelMfn, PageType.L4);
        if (rc != 0) return rc;
        if (userMfn != 0)
        {
            rc = GetPage(userMfn) ? GetPageType(userMfn, PageType.L4) : -Errno.EINVAL;
            if (rc != 0)
            {
                PutPageType(kernelMfn);
                return rc;
            }
            if (M2pStrict) Info(userMfn).RoMpt = false;
        }
        if (!M2pStrict) Info(kernelMfn).RoMpt = true;
        if (kernelBaseRefs.Remove(v.Id, out ulong oldKernel)) PutPageType(oldKernel);
        if (userBaseRefs.Remove(v.Id, out ulong oldUser)) PutPageType(oldUser);
        kernelBaseRefs[v.Id] = kernelMfn;
        if (userMfn != 0) userBaseRefs[v.Id] = userMfn;
        cpu.FlushTlb();
        return 0;
    }
}
