using Xtf.Abi;

namespace Xtf.Sim.Xen;

/// <summary>update_va_mapping and mmu_update (xen/arch/x86/mm.c).</summary>
public sealed partial class Mmu
{
    private const ulong PteUser = 4, PteGuestKernel = 1UL << 52;

    /// <summary>UVMF_FLUSHTYPE_MASK and its values; the rest of the flags is UVMF_LOCAL (0), UVMF_ALL (4) or a vCPU-mask pointer.</summary>
    private const ulong UvmfFlushTypeMask = 3, UvmfTlbFlush = 1, UvmfInvlpg = 2, UvmfAll = 4;

    /// <summary>VADDR_MASK: the 48 bits of a linear address the linear page tables index by.</summary>
    private const ulong VaddrMask = 0x0000_FFFF_FFFF_FFFF;

    // ------------------------------------------------------------ update_va_mapping

    /// <summary>
    /// __do_update_va_mapping: finds the L1 entry through the current page tables (map_guest_l1e), which
    /// must sit in a live L1 table, and replaces it as mod_l1_entry does. Errors leave the entry and skip
    /// the flush; after a change the flags pick the flush, and a vCPU-mask pointer that cannot be read
    /// gives -EFAULT with the entry already changed.
    /// </summary>
    public long UpdateVaMapping(Vcpu v, ulong va, ulong pte, ulong flags)
    {
        if (!GuestMemory.AccessOk(va)) return -Errno.EINVAL;                  // __addr_ok
        if (!FindL1Entry(v.Cpu.Cr3, va & VaddrMask, out ulong l1Mfn, out int slot)) return -Errno.EINVAL;
        if (!domain.Owns(l1Mfn) || !IsLiveTable(l1Mfn, out int level) || level != 1) return -Errno.EINVAL;
        long rc = ModEntry(1, l1Mfn, slot, pte, preserveAd: false);
        if (rc != 0) return rc;
        cpu.FlushTlb();                                                      // every flush type: the model keeps no stale translation
        ulong bmap = flags & ~UvmfFlushTypeMask;
        ulong type = flags & UvmfFlushTypeMask;
        if ((type == UvmfTlbFlush || type == UvmfInvlpg) && bmap != 0 && bmap != UvmfAll)
            return VcpuMaskReadable(v, bmap) ? 0 : -Errno.EFAULT;           // vcpumask_to_pcpumask
        return 0;
    }

    /// <summary>
    /// get_pg_owner for the only domain there is: DOMID_SELF names it; its own id is refused ("Cannot
    /// specify itself as foreign domain", measured -ESRCH); DOMID_IO is dom_io, which for mmu_update on
    /// dom0's own frames works as the caller (measured 0; <paramref name="allowIo"/>); anything else -ESRCH.
    /// </summary>
    private static bool PgOwnerIsSelf(ushort domid, bool allowIo) => domid == DomId.Self || (allowIo && domid == DomId.Io);

    /// <summary>do_update_va_mapping_otherdomain: get_pg_owner (measured: DOMID_SELF 0, its own id -ESRCH), then as update_va_mapping.</summary>
    public long UpdateVaMappingOtherdomain(Vcpu v, ulong va, ulong pte, ulong flags, ushort domid) =>
        PgOwnerIsSelf(domid, allowIo: false) ? UpdateVaMapping(v, va, pte, flags) : -Errno.ESRCH;

    /// <summary>vcpumask_to_pcpumask: reads the guest's vCPU bitmap a word at a time, as far as the domain has vCPUs.</summary>
    private bool VcpuMaskReadable(Vcpu v, ulong bmap)
    {
        for (int bias = 0; bias < domain.Vcpus.Count; bias += 64)
            if (!guest.ReadU64(v, bmap + (ulong)(bias / 8), out _)) return false;
        return true;
    }

    /// <summary>
    /// map_guest_l1e: the L1 table and slot for <paramref name="va"/>, read through the linear page tables,
    /// so the L4 and L3 entries must be present and the L2 entry present without PSE.
    /// </summary>
    private bool FindL1Entry(ulong cr3, ulong va, out ulong l1Mfn, out int slot)
    {
        ulong table = cr3 & PteAddressMask;
        l1Mfn = 0;
        slot = (int)((va >> 12) & 0x1FF);
        for (int level = 4; level > 1; level--)
        {
            int index = (int)((va >> (12 + 9 * (level - 1))) & 0x1FF);
            if (!Memory.Contains(table)) return false;
            ulong e = Memory.ReadU64(table + (ulong)(8 * index));
            if ((e & PtePresent) == 0 || (e & PtePse) != 0) return false;
            table = e & PteAddressMask;
        }
        l1Mfn = table >> 12;
        return Memory.Contains(table);
    }

    // ------------------------------------------------------------ mmu_update

    /// <summary>
    /// do_mmu_update: requests in order, the first failure stops the batch, *pdone counts those done.
    /// A page-table update goes to the entry's level (mod_lN_entry) when the frame is a live page table;
    /// a frame holding no type (or the writable type) is written as plain memory, and a descriptor page
    /// is refused with -EINVAL.
    /// </summary>
    public long MmuUpdate(Vcpu v, ulong requests, uint count, ulong doneAddress, uint foreignDom)
    {
        uint ptDom = foreignDom >> 16;                       // the page tables' owner + 1 (0: the caller)
        if (ptDom != 0 && ptDom - 1 != domain.Id) return -Errno.ESRCH;
        if (!PgOwnerIsSelf((ushort)foreignDom, allowIo: true)) return -Errno.ESRCH;
        bool pgOwnerIsIo = (ushort)foreignDom == DomId.Io;
        uint done = 0;
        long rc = 0;
        for (; done < count && done < MaxRequests; done++)
        {
            if (!guest.TryRead(v, requests + done * (ulong)Abi.MmuUpdate.Layout.Size, out Abi.MmuUpdate req)) { rc = -Errno.EFAULT; break; }
            ulong ptr = req.Ptr, val = req.Val;
            int cmd = (int)(ptr & 7);                        // the command is the low 3 bits (entries are 8-byte aligned)
            switch (cmd)
            {
                case (int)MmuUpdateCmd.NormalPtUpdate:
                case (int)MmuUpdateCmd.PtUpdatePreserveAd:
                case MmuPtUpdateNoTranslate:                 // same as a normal update for a PV domain
                    rc = PtUpdate(ptr - (ulong)cmd, val, cmd == (int)MmuUpdateCmd.PtUpdatePreserveAd, pgOwnerIsIo);
                    break;
                case (int)MmuUpdateCmd.MachphysUpdate:
                {
                    ulong mfn = ptr >> 12;
                    if (pgOwnerIsIo || !GetPage(mfn)) { rc = -Errno.EINVAL; break; }   // get_page_from_mfn(mfn, pg_owner)
                    domain.M2p[mfn] = val;
                    break;
                }
                default:
                    rc = -Errno.ENOSYS;
                    break;
            }
            if (rc != 0) break;
        }
        cpu.FlushTlb();
        if (doneAddress != 0 && !guest.WriteU32(v, doneAddress, done)) return -Errno.EFAULT;
        return rc;
    }

    /// <summary>
    /// One MMU_NORMAL_PT_UPDATE / MMU_PT_UPDATE_PRESERVE_AD at machine address <paramref name="ptr"/>.
    /// With DOMID_IO as the page owner only L1 entries (and plain pages) may be written: an upper level
    /// needs the page and page-table owners to be the same (measured -EINVAL).
    /// </summary>
    private long PtUpdate(ulong ptr, ulong val, bool preserveAd, bool pgOwnerIsIo)
    {
        ulong mfn = ptr >> 12;
        if (!domain.Owns(mfn) || !Memory.Contains(ptr)) return -Errno.EINVAL;   // "Could not get page for normal update"
        int slot = (int)((ptr & 0xFFF) >> 3);
        if (IsLiveTable(mfn, out int level))
            return level > 1 && pgOwnerIsIo ? -Errno.EINVAL : ModEntry(level, mfn, slot, val, preserveAd);
        if (!CanBeWritable(mfn)) return -Errno.EINVAL;                           // a descriptor page
        Memory.WriteU64(ptr, val);                                              // paging_write_guest_entry
        return 0;
    }
}
