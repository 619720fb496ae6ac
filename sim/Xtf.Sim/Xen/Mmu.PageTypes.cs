using System.Diagnostics;
using Xtf.Abi;

namespace Xtf.Sim.Xen;

/// <summary>The type a frame holds (PGT_* in xen/arch/x86/include/asm/mm.h); a page-table level is its number.</summary>
public enum PageType : byte
{
    None = 0,
    L1 = 1,
    L2 = 2,
    L3 = 3,
    L4 = 4,
    SegDesc = 5,
    Writable = 6,
}

/// <summary>
/// The page type model (xen/arch/x86/mm.c: _get_page_type, _put_page_type, promote_lN_table,
/// demote_lN_table, get_page_from_lNe, put_page_from_lNe, get_lN_linear_pagetable). A frame holds
/// one type at a time with a count of references; the type can change only while the count is 0.
/// A page table takes its type by validating every guest entry (which takes the references its
/// entries need), and gives the references back when its count drops to 0.
/// </summary>
public sealed partial class Mmu
{
    /// <summary>struct page_info's type half: type, count, PGT_validated, PGT_pinned, linear_pt_count.</summary>
    private sealed class PageInfo
    {
        public PageType Type;
        public int Count;
        public bool Validated;
        public bool Pinned;
        /// <summary>linear_pt_count: above 0, linear entries this table holds; below 0, uses of this table as a linear target.</summary>
        public int Linear;
        /// <summary>For an L4: whether Xen's read-only M2P slot (256) is filled in.</summary>
        public bool RoMpt;
    }

    // Keyed by mfn; never enumerated on a path that reaches a trace (Audit sorts).
    private readonly Dictionary<ulong, PageInfo> pages = new();

    private PageInfo Info(ulong mfn)
    {
        if (!pages.TryGetValue(mfn, out var p)) pages[mfn] = p = new PageInfo();
        return p;
    }

    /// <summary>The frame's current type (None when no reference holds one).</summary>
    public PageType TypeOf(ulong mfn) => pages.TryGetValue(mfn, out var p) && p.Count > 0 ? p.Type : PageType.None;

    /// <summary>The frame's type count.</summary>
    public int TypeCount(ulong mfn) => pages.TryGetValue(mfn, out var p) ? p.Count : 0;

    /// <summary>The frames that hold <paramref name="type"/> now, in ascending mfn order.</summary>
    public IEnumerable<ulong> FramesOfType(PageType type) =>
        pages.Where(kv => kv.Value.Count > 0 && kv.Value.Type == type).Select(kv => kv.Key).Order();

    public bool IsPageTableFrame(ulong mfn) => TypeOf(mfn) is >= PageType.L1 and <= PageType.L4;

    public bool IsPinned(ulong mfn) => pages.TryGetValue(mfn, out var p) && p.Pinned;

    /// <summary>page_lock's test: a validated page table with references (the state mmu_update and update_va_mapping edit through).</summary>
    private bool IsLiveTable(ulong mfn, out int level)
    {
        level = 0;
        if (!pages.TryGetValue(mfn, out var p) || p.Count == 0 || !p.Validated || p.Type is < PageType.L1 or > PageType.L4) return false;
        level = (int)p.Type;
        return true;
    }

    // ------------------------------------------------------------ PTE flags as Xen checks them

    private const ulong PteUserFlag = 4, PteAccessed = 0x20, PteDirty = 0x40, PteGlobal = 0x100, PteNx = 1UL << 63;
    /// <summary>_PAGE_AVAIL (bits 9-11) and _PAGE_AVAIL_HIGH (PTE bits 52-62).</summary>
    private const ulong PteAvail = 0xE00, PteAvailHigh = 0x7FFUL << 52;

    /// <summary>
    /// base_disallow_mask as PTE bits: everything except P, RW, US, A, D, the available bits and NX, i.e.
    /// PWT, PCD, PSE/PAT and G. L2, L3 and L4 entries use it as is. For L1 entries Xen allows G, and a
    /// domain with I/O capabilities (dom0) may also set the cache attributes, so no flag is refused there
    /// (_PAGE_GNTTAB is 0 in a release build).
    /// </summary>
    private const ulong BaseDisallowMask = 0x198;

    /// <summary>FASTPATH_FLAG_WHITELIST: flags a guest may change without revalidation (L1 and, with linear page tables allowed, upper levels).</summary>
    private const ulong FastpathWhitelist = PteNx | PteAvailHigh | PteAvail | PteGlobal | PteDirty | PteAccessed | PteUserFlag;

    /// <summary>lNe_has_changed: the frame or a flag outside the whitelist differs.</summary>
    private static bool HasChanged(ulong o, ulong n) => ((o ^ n) & (PteAddressMask | (~PteAddressMask & ~FastpathWhitelist))) != 0;

    /// <summary>is_guest_l4_slot for a 64-bit PV domain: slots 256-271 are Xen's.</summary>
    public static bool IsGuestL4Slot(int slot) => slot is < XenFirstL4Slot or > XenLastL4Slot;

    public const int XenFirstL4Slot = 256, XenLastL4Slot = 271;

    /// <summary>adjust_guest_l1e..l4e for a 64-bit PV guest (xen/arch/x86/pv/mm.h).</summary>
    private static ulong AdjustGuestEntry(int level, ulong e)
    {
        if ((e & PtePresent) == 0) return e;
        switch (level)
        {
            case 1:
                if ((e & PteUser) == 0) e |= PteGuestKernel | PteUser;
                if ((e & PteGuestKernel) == 0) e |= PteGlobal | PteUser;
                return e;
            case 4:
                return e | PteAccessed | PteUser;
            default:
                return e | PteUser;
        }
    }

    // ------------------------------------------------------------ _get_page_type / _put_page_type

    /// <summary>
    /// _get_page_type: one more reference of type <paramref name="type"/>. A count of 0 lets the type
    /// change; a page table then validates its entries (promote_lN_table), and a failure leaves the frame
    /// untyped with that error. A count above 0 of another type is -EINVAL.
    /// </summary>
    public long GetPageType(ulong mfn, PageType type)
    {
        var p = Info(mfn);
        if (p.Count > 0)
        {
            if (p.Type != type) return -Errno.EINVAL;
            if (!p.Validated) return -Errno.EINVAL;       // being validated (a loop back to itself)
            p.Count++;
            return 0;
        }
        if (p.Type != type) p.Validated = false;
        p.Type = type;
        p.Count = 1;
        if (type is PageType.Writable or PageType.SegDesc)
        {
            p.Validated = true;
            return 0;
        }
        if (p.Validated) return 0;
        p.Linear = 0;
        long rc = Promote(mfn, (int)type);
        if (rc != 0)
        {
            p.Count = 0;
            p.Type = PageType.None;
            p.Linear = 0;
            return rc;
        }
        p.Validated = true;
        CheckFrame(mfn);
        return 0;
    }

    /// <summary>
    /// _put_page_type: drops one reference. <paramref name="containingTable"/> is the table whose entry
    /// held it: when both are the same type the entry was a linear one and the linear counts go back.
    /// The last reference of a page table gives back what its entries hold (demote_lN_table).
    /// </summary>
    public void PutPageType(ulong mfn, ulong? containingTable = null)
    {
        var p = Info(mfn);
        Debug.Assert(p.Count > 0, $"put of a type reference never taken (mfn {mfn:x})");
        if (p.Count <= 0) return;
        if (containingTable is { } t && pages.TryGetValue(t, out var tp) && tp.Type == p.Type)
        {
            p.Linear++;
            tp.Linear--;
            Debug.Assert(p.Linear <= 0 && tp.Linear >= 0);
        }
        p.Count--;
        if (p.Count == 0 && p.Type is >= PageType.L1 and <= PageType.L4 && p.Validated)
        {
            Debug.Assert(!p.Pinned, "a pinned table lost its last reference");
            p.Validated = false;
            Demote(mfn, (int)p.Type);
            p.Linear = 0;
        }
        CheckFrame(mfn);
    }

    /// <summary>
    /// The invariants one frame must keep after every type operation: a count never negative, a pinned
    /// frame holding a reference, a page table with references validated (outside its own validation),
    /// and a writable frame never also a page table (one type field, so a typed table is never mapped
    /// writable by a validated L1). Debug builds only.
    /// </summary>
    [Conditional("DEBUG")]
    private void CheckFrame(ulong mfn, bool validating = false)
    {
        if (!pages.TryGetValue(mfn, out var p)) return;
        Debug.Assert(p.Count >= 0, $"mfn {mfn:x}: negative type count");
        Debug.Assert(!p.Pinned || p.Count > 0, $"mfn {mfn:x}: pinned without a reference");
        Debug.Assert(validating || p.Count == 0 || p.Validated || p.Type is not (>= PageType.L1 and <= PageType.L4),
            $"mfn {mfn:x}: a page table in use but not validated");
        Debug.Assert(p.Linear == 0 || p.Type is >= PageType.L2 and <= PageType.L4, $"mfn {mfn:x}: linear counts on a non-table");
    }

    // ------------------------------------------------------------ the entries of one table

    private const ulong PtePwt = 0x08, PtePcd = 0x10, PtePat = 0x80;

    /// <summary>
    /// get_page_from_l1e for the domain's own mapping. A frame of dom_io (below 1 MiB) takes no reference:
    /// dom0 may map it (measured 0 for mfns 0, 0xb8, 0xff), and a write-back mapping is made uncached
    /// (the positive result: flags to flip, PCD|PWT; write-through or write-protect gain PCD). Other frames
    /// must be the domain's (-EINVAL here); a writable mapping takes the writable type (-EBUSY).
    /// </summary>
    private long GetPageFromL1e(ulong pte)
    {
        Debug.Assert((pte & PtePresent) != 0);
        ulong mfn = (pte & PteAddressMask) >> 12;
        if (mfn < DomIoLowFrames && !domain.Owns(mfn))
            return (pte & (PtePat | PtePcd | PtePwt)) switch
            {
                0 => (long)(PtePwt | PtePcd),
                PtePwt or (PtePwt | PtePat) => (long)(PtePcd | (pte & PtePat)),
                _ => 0,
            };
        if (!domain.Owns(mfn)) return -Errno.EINVAL;
        if ((pte & PteRw) != 0 && GetPageType(mfn, PageType.Writable) != 0) return -Errno.EBUSY;   // "could not pin" (measured -EBUSY)
        return 0;
    }

    /// <summary>
    /// get_page_from_l2e/l3e/l4e: the entry's frame takes the type of the level below; when that is
    /// -EINVAL the entry may still be a linear one (get_lN_linear_pagetable).
    /// </summary>
    private long GetPageFromUpperEntry(int level, ulong e, ulong tableMfn)
    {
        ulong mfn = (e & PteAddressMask) >> 12;
        long rc = domain.Owns(mfn) ? GetPageType(mfn, (PageType)(level - 1)) : -Errno.EINVAL;
        if (rc == -Errno.EINVAL && GetLinearPageTable(level, e, tableMfn)) rc = 0;
        return rc;
    }

    /// <summary>
    /// get_lN_linear_pagetable (opt_pv_linear_pt on, the default): a read-only entry pointing at its own
    /// table needs no reference; one pointing at another validated table of the same level takes a type
    /// reference of it, provided the containing table is not itself a linear target and the target holds no
    /// linear entries.
    /// </summary>
    private bool GetLinearPageTable(int level, ulong e, ulong tableMfn)
    {
        if ((e & PteRw) != 0) return false;                   // "Attempt to create linear p.t. with write perms"
        ulong mfn = (e & PteAddressMask) >> 12;
        if (mfn == tableMfn) return true;
        if (!domain.Owns(mfn)) return false;
        var table = Info(tableMfn);
        var target = Info(mfn);
        if (table.Linear < 0 || target.Linear > 0) return false;
        if (target.Count == 0 || !target.Validated || target.Type != (PageType)level) return false;
        table.Linear++;
        target.Linear--;
        target.Count++;
        return true;
    }

    /// <summary>put_page_from_l1e..l4e: gives back what a present entry held.</summary>
    private void PutPageFromEntry(int level, ulong e, ulong tableMfn)
    {
        if ((e & PtePresent) == 0) return;
        ulong mfn = (e & PteAddressMask) >> 12;
        if (level == 1)
        {
            if ((e & PteRw) != 0 && domain.Owns(mfn) && TypeOf(mfn) == PageType.Writable) PutPageType(mfn);
            return;
        }
        if (mfn == tableMfn) return;                          // a self-linear entry holds nothing
        if (TypeCount(mfn) > 0) PutPageType(mfn, tableMfn);
    }

    private static int EntryCount(int level) => EntriesPerTable;

    private static bool IsGuestSlot(int level, int slot) => level != 4 || IsGuestL4Slot(slot);

    /// <summary>
    /// promote_l1_table..promote_l4_table: every present guest entry is checked and takes its reference;
    /// the first failure gives back what the earlier ones took. Entries are rewritten adjusted; an L4
    /// gets Xen's slots (init_xen_l4_slots: the sim leaves 257-271 empty and models slot 256, the
    /// read-only M2P, as a flag filled when m2p_strict is on).
    /// </summary>
    private long Promote(ulong mfn, int level)
    {
        ulong table = mfn << 12;
        int i = 0;
        long rc = 0;
        for (; i < EntryCount(level); i++)
        {
            if (!IsGuestSlot(level, i)) continue;
            ulong e = Memory.ReadU64(table + (ulong)(8 * i)), original = e;
            if ((e & PtePresent) == 0) continue;
            if (level == 1)
            {
                rc = GetPageFromL1e(e);
                if (rc > 0)
                {
                    e ^= (ulong)rc;                               // l1e_flip_flags
                    rc = 0;
                }
            }
            else rc = (e & BaseDisallowMask) != 0 ? -Errno.EINVAL : GetPageFromUpperEntry(level, e, mfn);
            if (rc != 0) break;
            ulong adjusted = AdjustGuestEntry(level, e);
            if (adjusted != original) Memory.WriteU64(table + (ulong)(8 * i), adjusted);
        }
        if (rc != 0)
        {
            while (i-- > 0)
                if (IsGuestSlot(level, i)) PutPageFromEntry(level, Memory.ReadU64(table + (ulong)(8 * i)), mfn);
            return rc;
        }
        if (level == 4) InitXenL4Slots(mfn, M2pStrict);
        return 0;
    }

    /// <summary>__PAGE_HYPERVISOR_RW: present, writable, accessed, dirty, NX.</summary>
    private const ulong PageHypervisorRw = PtePresent | PteRw | PteAccessed | PteDirty | PteNx;

    /// <summary>Slot 258 (LINEAR_PT_VIRT_START): Xen's own linear map of the L4.</summary>
    public const int LinearL4Slot = 258;

    /// <summary>
    /// init_xen_l4_slots: Xen writes its slots into the L4 page. The model writes the one whose value
    /// it knows exactly, slot 258 (the L4 mapping itself writable, supervisor-only), leaves the others
    /// empty (real Xen puts its own tables there) and keeps slot 256, the read-only M2P, as a flag.
    /// The entries stay in the page after it loses the L4 type, so it no longer validates as a lower
    /// level: the writable self map is refused (measured: -EBUSY as an L1, -EINVAL as an L3).
    /// </summary>
    private void InitXenL4Slots(ulong mfn, bool roMpt)
    {
        ulong table = mfn << 12;
        for (int s = XenFirstL4Slot; s <= XenLastL4Slot; s++)
            Memory.WriteU64(table + (ulong)(8 * s), s == LinearL4Slot ? (mfn << 12) | PageHypervisorRw : 0);
        Info(mfn).RoMpt = roMpt;
    }

    /// <summary>demote_l1_table..demote_l4_table: every guest entry gives back its reference.</summary>
    private void Demote(ulong mfn, int level)
    {
        ulong table = mfn << 12;
        for (int i = 0; i < EntryCount(level); i++)
            if (IsGuestSlot(level, i)) PutPageFromEntry(level, Memory.ReadU64(table + (ulong)(8 * i)), mfn);
    }

    /// <summary>VMASST_TYPE_m2p_strict: the read-only M2P is mapped only in the kernel's page tables.</summary>
    private bool M2pStrict => (domain.VmAssist & (1UL << (int)VmAssistType.M2pStrict)) != 0;

    /// <summary>
    /// mod_l1_entry..mod_l4_entry: replaces one entry of a live table. A present new entry is checked
    /// (Xen's slots of an L4 are refused first, then the disallowed flags), adjusted, and unless only
    /// whitelisted flags changed (the fast path) takes its reference; then the old entry gives its back.
    /// </summary>
    private long ModEntry(int level, ulong tableMfn, int slot, ulong nval, bool preserveAd)
    {
        if (level == 4 && !IsGuestL4Slot(slot)) return -Errno.EINVAL;    // "L4 update in Xen-private area"
        ulong at = (tableMfn << 12) + (ulong)(8 * slot);
        ulong old = Memory.ReadU64(at);
        if ((nval & PtePresent) != 0)
        {
            if (level > 1 && (nval & BaseDisallowMask) != 0) return -Errno.EINVAL;   // "Bad Ln flags"
            nval = AdjustGuestEntry(level, nval);
            if (!HasChanged(old, nval) && (old & PtePresent) != 0)
            {
                WriteEntry(at, old, nval, preserveAd);
                return 0;
            }
            long rc = level == 1 ? GetPageFromL1e(nval) : GetPageFromUpperEntry(level, nval, tableMfn);
            if (rc < 0) return rc;
            nval ^= (ulong)rc;                                    // l1e_flip_flags (rc > 0 only at L1)
        }
        WriteEntry(at, old, nval, preserveAd);
        PutPageFromEntry(level, old, tableMfn);
        return 0;
    }

    /// <summary>UPDATE_ENTRY: MMU_PT_UPDATE_PRESERVE_AD keeps the old Accessed and Dirty bits.</summary>
    private void WriteEntry(ulong at, ulong old, ulong nval, bool preserveAd)
    {
        if (preserveAd) nval |= old & (PteAccessed | PteDirty);
        Memory.WriteU64(at, nval);
    }

    // ------------------------------------------------------------ taking over the builder's tables

    // The vCPUs' base pointers the model holds a type reference for (new_guest_cr3, MMUEXT_NEW_USER_BASEPTR).
    private readonly SortedDictionary<int, ulong> kernelBaseRefs = new(), userBaseRefs = new();

    /// <summary>
    /// The state dom0_build leaves (xen/arch/x86/pv/dom0_build.c): the tables reachable from
    /// <paramref name="cr3"/> validated, every writable mapping holding a writable reference, the L4
    /// pinned and held by vCPU 0's base pointer, with the read-only M2P slot filled.
    /// </summary>
    public void DiscoverPageTables(ulong cr3)
    {
        ulong l4 = cr3 >> 12;
        long rc = GetPageType(l4, PageType.L4);
        Debug.Assert(rc == 0, $"the builder's page tables do not validate ({rc})");
        if (rc != 0) return;
        var p = Info(l4);
        p.Count++;
        p.Pinned = true;
        InitXenL4Slots(l4, roMpt: true);
        kernelBaseRefs[0] = l4;
    }

    /// <summary>
    /// get_page_type: whether the frame could take the type (a descriptor page when <paramref name="level"/>
    /// is 0, a page table of that level otherwise) without validating: it is the domain's, and either holds
    /// no reference or already holds that type.
    /// </summary>
    public bool CanBeTyped(ulong mfn, int level)
    {
        Debug.Assert(level is >= 0 and <= 4);
        if (!GetPage(mfn)) return false;
        var type = level == 0 ? PageType.SegDesc : (PageType)level;
        return TypeCount(mfn) == 0 || TypeOf(mfn) == type;
    }

    /// <summary>get_page_type(PGT_writable_page) would succeed: no reference of another type.</summary>
    public bool CanBeWritable(ulong mfn) => TypeCount(mfn) == 0 || TypeOf(mfn) == PageType.Writable;

    public int SegDescTypeCount(ulong mfn) => TypeOf(mfn) == PageType.SegDesc ? TypeCount(mfn) : 0;

    /// <summary>get_page_type(PGT_seg_desc_page) once the caller has validated the descriptors.</summary>
    public void GetSegDescType(ulong mfn)
    {
        long rc = GetPageType(mfn, PageType.SegDesc);
        Debug.Assert(rc == 0, "seg_desc type taken over another type");
    }

    public void PutSegDescType(ulong mfn)
    {
        Debug.Assert(SegDescTypeCount(mfn) > 0, "put of a seg_desc type never taken");
        if (SegDescTypeCount(mfn) > 0) PutPageType(mfn);
    }

    /// <summary>
    /// Checks the model's invariants over every frame it knows (for tests): counts never negative, a
    /// validated page table is never mapped writable by a validated L1, pinned tables hold a reference.
    /// Returns the violations found, in mfn order.
    /// </summary>
    public IReadOnlyList<string> Audit()
    {
        var bad = new List<string>();
        foreach (var mfn in pages.Keys.Order())
        {
            var p = pages[mfn];
            if (p.Count < 0) bad.Add($"mfn {mfn:x}: count {p.Count}");
            if (p.Pinned && p.Count == 0) bad.Add($"mfn {mfn:x}: pinned without a reference");
            if (p.Count == 0 || p.Type != PageType.L1 || !p.Validated) continue;
            for (int i = 0; i < EntriesPerTable; i++)
            {
                ulong e = Memory.ReadU64((mfn << 12) + (ulong)(8 * i));
                if ((e & (PtePresent | PteRw)) != (PtePresent | PteRw)) continue;
                ulong target = (e & PteAddressMask) >> 12;
                if (TypeCount(target) > 0 && TypeOf(target) != PageType.Writable)
                    bad.Add($"mfn {target:x} ({TypeOf(target)}) mapped writable by L1 {mfn:x} slot {i}");
            }
        }
        return bad;
    }
}
