using System.Diagnostics;
using Xtf.Abi;
using Xtf.Sim.Cpu;
using Xtf.Sim.Memory;

namespace Xtf.Sim.Xen;

/// <summary>
/// Memory management and page-type tracking (xen/arch/x86/mm.c, xen/common/memory.c): which
/// frames are the domain's page tables, mmu_update, update_va_mapping, memory_op. Invariants: a
/// frame is a page table of one level only; a page-table frame is never mapped writable by an
/// update that passed validation.
/// </summary>
public sealed partial class Mmu
{
    private const ulong PtePresent = 1, PteRw = 2, PtePse = 0x80, PteAddressMask = 0x000F_FFFF_FFFF_F000;
    private const int EntriesPerTable = 512;
    /// <summary>Requests one mmu_update handles before it stops (Xen would preempt and continue).</summary>
    private const uint MaxRequests = 4096;

    /// <summary>MMU_PT_UPDATE_NO_TRANSLATE (public xen.h, 4.11 on): command 3.</summary>
    private const int MmuPtUpdateNoTranslate = 3;

    private readonly Domain domain;
    private readonly GuestMemory guest;
    private readonly X86Interpreter cpu;

    public Mmu(Domain domain, GuestMemory guest, X86Interpreter interpreter)
    {
        this.domain = domain;
        this.guest = guest;
        cpu = interpreter;
    }

    private MachineMemory Memory => domain.Memory;

    /// <summary>Frames the domain's page tables occupy, by level (4 = L4), found by walking from each vCPU's CR3.</summary>
    public Dictionary<ulong, int> PageTableFrames { get; } = new();

    public bool IsPageTableFrame(ulong mfn) => PageTableFrames.ContainsKey(mfn);

    /// <summary>Whether any L1 entry of the domain's page tables maps <paramref name="mfn"/> writable.</summary>
    public bool IsMappedWritable(ulong mfn)
    {
        foreach (var (frame, level) in PageTableFrames)
        {
            if (level != 1) continue;
            for (int i = 0; i < EntriesPerTable; i++)
            {
                ulong e = Memory.ReadU64((frame << 12) + (ulong)(8 * i));
                if ((e & (PtePresent | PteRw)) == (PtePresent | PteRw) && (e & PteAddressMask) >> 12 == mfn) return true;
            }
        }
        return false;
    }

    /// <summary>Records the page-table frames reachable from <paramref name="cr3"/> (bounded walk: four levels).</summary>
    public void DiscoverPageTables(ulong cr3)
    {
        void Walk(ulong mfn, int level)
        {
            if (level < 1 || !Memory.Contains(mfn << 12) || !PageTableFrames.TryAdd(mfn, level) || level == 1) return;
            int entries = level == 4 ? 256 : EntriesPerTable;            // L4 slots from 256 up belong to Xen
            for (int i = 0; i < entries; i++)
            {
                ulong e = Memory.ReadU64((mfn << 12) + (ulong)(8 * i));
                if ((e & PtePresent) == 0 || (level <= 3 && (e & PtePse) != 0)) continue;
                Walk((e & PteAddressMask) >> 12, level - 1);
            }
        }
        Walk(cr3 >> 12, 4);
    }

    /// <summary>
    /// get_page_type: a frame can take a special type (a descriptor table when <paramref name="level"/>
    /// is 0, a page table of that level otherwise) only if the domain owns it and no writable
    /// mapping of it exists; a frame already typed as that page-table level qualifies.
    /// </summary>
    public bool CanBeTyped(ulong mfn, int level)
    {
        Debug.Assert(level is >= 0 and <= 4);
        if (!GetPage(mfn)) return false;
        if (PageTableFrames.TryGetValue(mfn, out int existing)) return existing == level;
        if (segDescTypes.ContainsKey(mfn)) return level == 0;
        return !IsMappedWritable(mfn);
    }

    /// <summary>get_page_type(PGT_writable_page): the frame holds no other type (page table or descriptor page).</summary>
    public bool CanBeWritable(ulong mfn) => !PageTableFrames.ContainsKey(mfn) && !segDescTypes.ContainsKey(mfn);

    // Frames typed PGT_seg_desc_page (a GDT or LDT page) and their type counts.
    private readonly SortedDictionary<ulong, int> segDescTypes = new();

    public int SegDescTypeCount(ulong mfn) => segDescTypes.TryGetValue(mfn, out int n) ? n : 0;

    public void GetSegDescType(ulong mfn) => segDescTypes[mfn] = SegDescTypeCount(mfn) + 1;

    public void PutSegDescType(ulong mfn)
    {
        int n = SegDescTypeCount(mfn);
        Debug.Assert(n > 0, "put of a seg_desc type never taken");
        if (n <= 1) segDescTypes.Remove(mfn); else segDescTypes[mfn] = n - 1;
    }

    /// <summary>Frames below 1 MiB: Xen gives them to dom_io at boot (xen/arch/x86/mm.c, arch_init_memory).</summary>
    public const ulong DomIoLowFrames = 0x100;

    /// <summary>Where Xen's guest diagnostics go (the serial line); set by the hypervisor.</summary>
    public Action<string>? Diagnostic { get; set; }

    /// <summary>The vCPU whose hypercall is running (the "d0vN" of a diagnostic).</summary>
    public int CurrentVcpu { get; set; }

    /// <summary>
    /// get_page (xen/arch/x86/mm.c): the frame must be the domain's. A frame another owner holds is
    /// reported on the console (measured for dom_io's low frames: "d0v0 Error mfn 00000: rd=d0 od=d[IO]
    /// caf=8000000000000001 taf=e400000000000001"); other owners' counts are not modelled, so only those are printed.
    /// </summary>
    public bool GetPage(ulong mfn)
    {
        if (domain.M2p.ContainsKey(mfn)) return true;
        if (mfn < DomIoLowFrames)
            Diagnostic?.Invoke($"d{domain.Id}v{CurrentVcpu} Error mfn {mfn:x5}: rd=d{domain.Id} od=d[IO] caf=8000000000000001 taf=e400000000000001");
        return false;
    }

    // ------------------------------------------------------------ update_va_mapping (xen/arch/x86/mm.c)

    public long UpdateVaMapping(Vcpu v, ulong va, ulong pte, ulong flags)
    {
        if (!GuestMemory.IsCanonical(va)) return -Errno.EINVAL;
        if (!FindL1Entry(v.Cpu.Cr3, va, out ulong entryAddress)) return -Errno.EINVAL;
        long rc = ValidateL1Entry(pte);
        if (rc != 0) return rc;
        Memory.WriteU64(entryAddress, AdjustGuestL1e(pte));
        cpu.FlushTlb();
        return 0;
    }

    /// <summary>Finds the machine address of the L1 entry that maps <paramref name="va"/>; false when an upper level is missing.</summary>
    private bool FindL1Entry(ulong cr3, ulong va, out ulong entryAddress)
    {
        ulong table = cr3 & PteAddressMask;
        for (int level = 4; level > 1; level--)
        {
            int index = (int)((va >> (12 + 9 * (level - 1))) & 0x1FF);
            ulong e = Memory.ReadU64(table + (ulong)(8 * index));
            if ((e & PtePresent) == 0 || (e & PtePse) != 0)
            {
                entryAddress = 0;
                return false;
            }
            table = e & PteAddressMask;
        }
        entryAddress = table + 8 * ((va >> 12) & 0x1FF);
        return true;
    }

    private const ulong PteUser = 4, PteGuestKernel = 1UL << 52;

    /// <summary>
    /// adjust_guest_l1e (xen/arch/x86/pv/mm.h): a 64-bit PV kernel runs in ring 3, so a present
    /// entry without _PAGE_USER gets _PAGE_USER and _PAGE_GUEST_KERNEL (PTE bit 52) added.
    /// </summary>
    private static ulong AdjustGuestL1e(ulong pte) =>
        (pte & PtePresent) != 0 && (pte & PteUser) == 0 ? pte | PteUser | PteGuestKernel : pte;

    /// <summary>get_page_from_l1e: the frame must belong to the domain; page tables may only be mapped read-only.</summary>
    private long ValidateL1Entry(ulong pte)
    {
        if ((pte & PtePresent) == 0) return 0;
        ulong mfn = (pte & PteAddressMask) >> 12;
        if (!domain.Owns(mfn)) return -Errno.EINVAL;
        if ((pte & PteRw) != 0 && !CanBeWritable(mfn)) return -Errno.EBUSY;   // the writable type cannot be taken (measured -EBUSY)
        return 0;
    }

    // ------------------------------------------------------------ mmu_update (xen/arch/x86/mm.c)

    public long MmuUpdate(Vcpu v, ulong requests, uint count, ulong doneAddress, uint foreignDom)
    {
        if (foreignDom != DomId.Self && foreignDom != domain.Id) return -Errno.ESRCH;
        uint done = 0;
        long rc = 0;
        for (; done < count && done < MaxRequests; done++)
        {
            if (!guest.TryRead(v, requests + done * (ulong)Abi.MmuUpdate.Layout.Size, out Abi.MmuUpdate req)) { rc = -Errno.EFAULT; break; }
            ulong ptr = req.Ptr, val = req.Val;
            switch ((int)(ptr & 7))                          // the command is the low 3 bits (entries are 8-byte aligned)
            {
                case (int)MmuUpdateCmd.NormalPtUpdate:
                case (int)MmuUpdateCmd.PtUpdatePreserveAd:
                case MmuPtUpdateNoTranslate:                 // same as a normal update for a PV domain
                {
                    ulong mfn = ptr >> 12;
                    if (!PageTableFrames.TryGetValue(mfn, out int level)) { rc = -Errno.EINVAL; break; }
                    if (level != 1) { rc = -Errno.EINVAL; break; }    // only L1 updates are modelled
                    rc = ValidateL1Entry(val);
                    if (rc == 0) Memory.WriteU64(ptr & ~7UL, AdjustGuestL1e(val));
                    break;
                }
                case (int)MmuUpdateCmd.MachphysUpdate:
                {
                    ulong mfn = ptr >> 12;
                    if (!GetPage(mfn)) { rc = -Errno.EINVAL; break; }
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
}
