using System.Buffers.Binary;
using Xtf.Abi;
using Xtf.Sim.Cpu;
using Xtf.Sim.Memory;

namespace Xtf.Sim.Xen;

/// <summary>
/// The domain's grant table and grant_table_op (xen/common/grant_table.c; PV host mappings from
/// xen/arch/x86/pv/grant_table.c), docs/pv-abi.md §13. The shared frames (and, for version 2, the
/// status frames) are machine frames outside the domain's P2M that Xen shares with it, so the guest
/// maps them with update_va_mapping. Active entries (pin counts) and the maptrack (handles) follow
/// Xen's; page reference and type counts are not kept: a frame's type is seen through the page
/// tables (<see cref="Mmu"/>), and a status frame is busy while any L1 entry maps it.
/// Invariants: every shared or status frame is in <see cref="Domain.SharedXenFrames"/>; an active
/// entry's pin is the sum of its mappings' increments; a handle is live while its flags are non-zero.
/// </summary>
public sealed class GrantTable
{
    /// <summary>INITIAL_NR_GRANT_FRAMES on x86: the frames a domain has before setup_table grows it.</summary>
    public const int InitialFrames = 1;
    /// <summary>opt_max_grant_frames, the default limit (measured: query_size reports max_nr_frames 64).</summary>
    public const int MaxFrames = 64;
    /// <summary>GNTTAB_NR_RESERVED_ENTRIES: entries set_version keeps and lets stay in use.</summary>
    public const int ReservedEntries = 8;
    /// <summary>MAPTRACK_PER_PAGE: 8-byte struct grant_mapping per 4 KiB page.</summary>
    private const uint MaptrackPerPage = 512;
    /// <summary>opt_max_maptrack_frames default.</summary>
    private const uint MaxMaptrackFrames = 1024;
    /// <summary>GNTTABOP_CMD_MASK: the low 12 bits are the command, the rest a continuation argument.</summary>
    private const uint CmdMask = (1 << 12) - 1;

    // GNTPIN_* counters of an active entry: host write, host read, device write, device read (8 bits each).
    private const uint PinHostW = 1, PinHostR = 1 << 8, PinDevW = 1 << 16, PinDevR = 1 << 24;
    private const uint PinHostWMask = 0xFF, PinDevWMask = 0xFF << 16;

    // PTE bits (xen/arch/x86/include/asm/page.h, x86_64/page.h: flag bit n ≥ 12 is PTE bit n + 40).
    private const ulong PtePresent = 1, PteRw = 2, PteUser = 4, PteAccessed = 0x20, PteDirty = 0x40, PteGlobal = 0x100;
    private const ulong PteAvail = 0xE00, PteGuestKernel = 1UL << 52, PteGnttab = 1UL << 62, PteNx = 1UL << 63;
    private const ulong PteAddressMask = 0x000F_FFFF_FFFF_F000;

    private readonly Domain domain;
    private readonly GuestMemory guest;
    private readonly Mmu mmu;
    private readonly X86Interpreter cpu;

    private readonly List<ulong> sharedFrames = [];
    private readonly List<ulong> statusFrames = [];
    private readonly SortedDictionary<uint, Active> active = new();
    private readonly List<Mapping> maptrack = [];
    private readonly LinkedList<uint> freeHandles = new();
    private ulong nextXenFrame;

    private sealed class Active
    {
        public uint Pin;
        public ulong Mfn;
        public ushort DomId;
    }

    private sealed class Mapping
    {
        public uint Flags;
        public uint Ref;
        public ushort DomId;
    }

    public GrantTable(Domain domain, GuestMemory guest, Mmu mmu, X86Interpreter interpreter)
    {
        this.domain = domain;
        this.guest = guest;
        this.mmu = mmu;
        cpu = interpreter;
        nextXenFrame = domain.SharedInfoMfn;
    }

    /// <summary>gt_version: 1 from creation, 2 after set_version(2).</summary>
    public int Version { get; private set; } = 1;

    public IReadOnlyList<ulong> SharedFrames => sharedFrames;
    public IReadOnlyList<ulong> StatusFrames => statusFrames;

    /// <summary>nr_grant_entries: entries the shared frames hold (8-byte v1 or 16-byte v2 entries).</summary>
    public uint Entries => (uint)(sharedFrames.Count * MachineMemory.PageSize / (Version == 1 ? GrantEntryV1.Layout.Size : GrantEntryV2.Layout.Size));

    /// <summary>grant_to_status_frames: 2-byte status words for v2's entries.</summary>
    private static int StatusFramesFor(int sharedCount) =>
        (sharedCount * MachineMemory.PageSize / GrantEntryV2.Layout.Size * 2 + MachineMemory.PageSize - 1) / MachineMemory.PageSize;

    // ------------------------------------------------------------ do_grant_table_op

    /// <summary>do_grant_table_op (xen/common/grant_table.c).</summary>
    public long GrantTableOp(Vcpu v, ulong cmdWord, ulong uop, ulong countWord)
    {
        // grant_table_init gives the domain its initial frame when it is created; the model takes it on
        // first use, which the guest cannot tell apart (it learns the frame only through these calls).
        if (sharedFrames.Count == 0) Grow(InitialFrames);
        uint count = (uint)countWord;
        if ((int)count < 0) return -Errno.EINVAL;
        uint cmd = (uint)cmdWord & CmdMask;
        if (cmd != (uint)GnttabOp.CacheFlush && ((uint)cmdWord & ~CmdMask) != 0) return -Errno.EINVAL;
        switch ((GnttabOp)cmd)
        {
            case GnttabOp.MapGrantRef:
                if (!ArrayOk(uop, count, GnttabMapGrantRef.Layout.Size)) return -Errno.EFAULT;
                return ForEach<GnttabMapGrantRef>(v, uop, count, op => MapGrantRef(v, op));
            case GnttabOp.UnmapGrantRef:
                if (!ArrayOk(uop, count, GnttabUnmapGrantRef.Layout.Size)) return -Errno.EFAULT;
                return ForEach<GnttabUnmapGrantRef>(v, uop, count,
                    op => op with { Status = Unmap(v, op.HostAddr, op.DevBusAddr, 0, op.Handle) });
            case GnttabOp.UnmapAndReplace:
                if (!ArrayOk(uop, count, GnttabUnmapAndReplace.Layout.Size)) return -Errno.EFAULT;
                return ForEach<GnttabUnmapAndReplace>(v, uop, count,
                    op => op with { Status = Unmap(v, op.HostAddr, 0, op.NewAddr, op.Handle) });
            case GnttabOp.SetupTable:
                return SetupTable(v, uop, count);
            case GnttabOp.QuerySize:
                return QuerySize(v, uop, count);
            case GnttabOp.SetVersion:
                return SetVersion(v, uop);
            case GnttabOp.GetStatusFrames:
                return GetStatusFrames(v, uop, count);
            case GnttabOp.GetVersion:
                return GetVersion(v, uop);
            case GnttabOp.Transfer:
            case GnttabOp.Copy:
            case GnttabOp.SwapGrantRef:
            case GnttabOp.CacheFlush:
                return -Errno.ENOSYS;                    // not modelled (no XTF kernel uses them)
            default:
                return -Errno.ENOSYS;
        }
    }

    /// <summary>guest_handle_okay: array_access_ok, which tests the start address only (docs/pv-abi.md §0.3).</summary>
    private static bool ArrayOk(ulong va, ulong count, int size) => count < ulong.MaxValue / (ulong)size && GuestMemory.AccessOk(va);

    /// <summary>The per-op loop of map/unmap: copy each op in, run it, copy it back (a fault is -EFAULT).</summary>
    private long ForEach<T>(Vcpu v, ulong uop, uint count, Func<T, T> run) where T : IAbiStruct<T>
    {
        for (uint i = 0; i < count; i++)
        {
            ulong at = uop + i * (ulong)T.Size;
            if (!guest.TryRead(v, at, out T op)) return -Errno.EFAULT;
            if (!Write(v, at, run(op))) return -Errno.EFAULT;
        }
        cpu.FlushTlb();                                  // gnttab_flush_tlb
        return 0;
    }

    private bool Write<T>(Vcpu v, ulong va, T value) where T : IAbiStruct<T>
    {
        Span<byte> b = stackalloc byte[T.Size];
        value.Write(b);
        return guest.CopyToGuest(v, va, b);
    }

    private bool WriteStatus(Vcpu v, ulong va, short status)
    {
        Span<byte> b = stackalloc byte[2];
        BinaryPrimitives.WriteInt16LittleEndian(b, status);
        return guest.CopyToGuest(v, va, b);
    }

    // ------------------------------------------------------------ setup_table, query_size

    /// <summary>gnttab_setup_table: grows the table to nr_frames and writes the frames' MFNs.</summary>
    private long SetupTable(Vcpu v, ulong uop, uint count)
    {
        if (count != 1) return -Errno.EINVAL;
        if (!guest.TryRead(v, uop, out GnttabSetupTable op)) return -Errno.EFAULT;
        if (!ArrayOk(op.FrameList, op.NrFrames, 8)) return -Errno.EFAULT;
        short status;
        if (!domain.Is(op.Dom)) status = (short)GnttabStatus.BadDomain;
        else if (op.NrFrames > MaxFrames) status = (short)GnttabStatus.GeneralError;   // "d0 is limited to 64 grant-table frames"
        else
        {
            if (op.NrFrames > sharedFrames.Count || Version > 1 && StatusFramesFor((int)op.NrFrames) > statusFrames.Count)
                Grow((int)op.NrFrames);
            status = (short)GnttabStatus.Okay;
            for (int i = 0; i < op.NrFrames; i++)
                if (!guest.WriteU64(v, op.FrameList + 8 * (ulong)i, sharedFrames[i])) status = (short)GnttabStatus.BadVirtAddr;
        }
        return WriteStatus(v, uop + GnttabSetupTable.Layout.Status, status) ? 0 : -Errno.EFAULT;
    }

    /// <summary>gnttab_query_size.</summary>
    private long QuerySize(Vcpu v, ulong uop, uint count)
    {
        if (count != 1) return -Errno.EINVAL;
        if (!guest.TryRead(v, uop, out GnttabQuerySize op)) return -Errno.EFAULT;
        op = domain.Is(op.Dom)
            ? op with { NrFrames = (uint)sharedFrames.Count, MaxNrFrames = MaxFrames, Status = (short)GnttabStatus.Okay }
            : op with { Status = (short)GnttabStatus.BadDomain };
        return Write(v, uop, op) ? 0 : -Errno.EFAULT;
    }

    /// <summary>gnttab_grow_table: at least the initial frames; status frames too in version 2.</summary>
    private void Grow(int frames)
    {
        frames = Math.Max(frames, InitialFrames);
        while (sharedFrames.Count < frames) sharedFrames.Add(AllocXenFrame());
        if (Version > 1) PopulateStatusFrames(frames);
    }

    private void PopulateStatusFrames(int sharedCount)
    {
        while (statusFrames.Count < StatusFramesFor(sharedCount)) statusFrames.Add(AllocXenFrame());
    }

    /// <summary>
    /// alloc_xenheap_page + share_xen_page_with_guest: a cleared frame the domain may map. Real Xen's
    /// MFNs come from its heap's history; the model takes free frames below shared_info.
    /// </summary>
    private ulong AllocXenFrame()
    {
        ulong frames = domain.Memory.FrameCount;
        for (ulong tried = 0; tried < frames; tried++)
        {
            nextXenFrame = nextXenFrame == 0 ? frames - 1 : nextXenFrame - 1;
            ulong mfn = nextXenFrame;
            if (domain.Owns(mfn) || mmu.IsPageTableFrame(mfn)) continue;
            domain.Memory.Frame(mfn).AsSpan().Clear();
            domain.Memory.NoteWrite(mfn);
            domain.SharedXenFrames.Add(mfn);
            return mfn;
        }
        throw new InvalidOperationException("no free machine frame for the grant table");
    }

    private void FreeXenFrame(ulong mfn) => domain.SharedXenFrames.Remove(mfn);

    // ------------------------------------------------------------ set_version, get_version, get_status_frames

    /// <summary>gnttab_set_version.</summary>
    private long SetVersion(Vcpu v, ulong uop)
    {
        if (!guest.TryRead(v, uop, out GnttabSetVersion op)) return -Errno.EFAULT;
        long res = SwitchVersion(op.Version);
        return Write(v, uop, op with { Version = (uint)Version }) ? res : -Errno.EFAULT;
    }

    private long SwitchVersion(uint version)
    {
        if (version is not (1 or 2)) return -Errno.EINVAL;
        if (Version == version) return 0;
        // The table must not be in use beyond the reserved entries.
        foreach (var (reference, entry) in active)
            if (reference >= ReservedEntries && reference < Entries && entry.Pin != 0) return -Errno.EBUSY;
        if (Version == 1) PopulateStatusFrames(sharedFrames.Count);
        else
        {
            for (uint i = 0; i < ReservedEntries; i++)
            {
                var e = ReadV2(i);
                var type = (Gtf)e.Flags & Gtf.TypeMask;
                if (type == Gtf.Transitive || type == Gtf.PermitAccess && e.Frame >> 32 != 0) return -Errno.ERANGE;
            }
        }

        // Keep the first 8 entries (in v1 form) across the switch.
        var reserved = new GrantEntryV1[ReservedEntries];
        for (uint i = 0; i < ReservedEntries; i++)
        {
            if (Version == 1) reserved[i] = ReadV1(i);
            else
            {
                var e = ReadV2(i);
                reserved[i] = ((Gtf)e.Flags & Gtf.TypeMask) == Gtf.PermitAccess
                    ? new GrantEntryV1 { Flags = (ushort)(e.Flags | StatusWord(i)), DomId = e.DomId, Frame = (uint)e.Frame }
                    : new GrantEntryV1();
            }
        }

        if (version < 2 && Version == 2)
        {
            // gnttab_unpopulate_status_frames: a status frame someone still maps keeps its reference: -EBUSY.
            foreach (ulong mfn in statusFrames)
                if (IsMapped(mfn)) return -Errno.EBUSY;
            foreach (ulong mfn in statusFrames) FreeXenFrame(mfn);
            statusFrames.Clear();
        }

        foreach (ulong mfn in sharedFrames)
        {
            domain.Memory.Frame(mfn).AsSpan().Clear();
            domain.Memory.NoteWrite(mfn);
        }
        int old = Version;
        Version = (int)version;
        for (uint i = 0; i < ReservedEntries; i++)
        {
            var r = reserved[i];
            if (Version == 1) WriteV1(i, r);
            else
            {
                const ushort rw = (ushort)(Gtf.Reading | Gtf.Writing);
                if (old != 0) SetStatusWord(i, (ushort)(r.Flags & rw));
                WriteV2(i, new GrantEntryV2 { Flags = (ushort)(r.Flags & ~rw), DomId = r.DomId, Frame = r.Frame });
            }
        }
        return 0;
    }

    /// <summary>gnttab_get_version.</summary>
    private long GetVersion(Vcpu v, ulong uop)
    {
        if (!guest.TryRead(v, uop, out GnttabGetVersion op)) return -Errno.EFAULT;
        if (!domain.Is(op.Dom)) return -Errno.ESRCH;
        return guest.WriteU32(v, uop + GnttabGetVersion.Layout.Version, (uint)Version) ? 0 : -Errno.EFAULT;
    }

    /// <summary>gnttab_get_status_frames.</summary>
    private long GetStatusFrames(Vcpu v, ulong uop, uint count)
    {
        if (count != 1) return -Errno.EINVAL;
        if (!guest.TryRead(v, uop, out GnttabGetStatusFrames op)) return -Errno.EFAULT;
        if (!ArrayOk(op.FrameList, op.NrFrames, 8)) return -Errno.EFAULT;
        short status;
        if (!domain.Is(op.Dom)) status = (short)GnttabStatus.BadDomain;
        else if (op.NrFrames > statusFrames.Count) status = (short)GnttabStatus.GeneralError;   // none in version 1
        else
        {
            status = (short)GnttabStatus.Okay;
            for (int i = 0; i < op.NrFrames; i++)
                if (!guest.WriteU64(v, op.FrameList + 8 * (ulong)i, statusFrames[i])) status = (short)GnttabStatus.BadVirtAddr;
        }
        return WriteStatus(v, uop + GnttabGetStatusFrames.Layout.Status, status) ? 0 : -Errno.EFAULT;
    }

    // ------------------------------------------------------------ map_grant_ref

    /// <summary>map_grant_ref (xen/common/grant_table.c) for a PV mapper.</summary>
    private GnttabMapGrantRef MapGrantRef(Vcpu v, GnttabMapGrantRef op)
    {
        var flags = (GntMap)op.Flags;
        bool ro = flags.HasFlag(GntMap.Readonly);
        uint pinIncr = 0;
        if (flags.HasFlag(GntMap.DeviceMap)) pinIncr += ro ? PinDevR : PinDevW;
        if (flags.HasFlag(GntMap.HostMap)) pinIncr += ro ? PinHostR : PinHostW;
        if (pinIncr == 0) return op with { Status = (short)GnttabStatus.BadGntref };
        if (op.Dom != domain.Id) return op with { Status = (short)GnttabStatus.BadDomain };   // rcu_lock_domain_by_id: no DOMID_SELF
        if (!GetHandle(out uint handle)) return op with { Status = (short)GnttabStatus.NoSpace };

        var fail = Map(v, op, flags, ro, pinIncr);
        if (fail is { } status)
        {
            PutHandle(handle);
            return op with { Status = (short)status };
        }
        var act = active[op.Ref];
        var m = maptrack[(int)handle];
        m.DomId = op.Dom;
        m.Ref = op.Ref;
        m.Flags = op.Flags;
        return op with { DevBusAddr = act.Mfn << MachineMemory.PageShift, Handle = handle, Status = (short)GnttabStatus.Okay };
    }

    /// <summary>The body of map_grant_ref once a handle is held: null on success, else the GNTST_* failure.</summary>
    private GnttabStatus? Map(Vcpu v, GnttabMapGrantRef op, GntMap flags, bool ro, uint pinIncr)
    {
        uint reference = op.Ref;
        if (reference >= Entries) return GnttabStatus.BadGntref;
        if (!active.TryGetValue(reference, out var act)) active[reference] = act = new Active();
        if (act.Pin != 0 && (act.DomId != domain.Id || WouldOverflow(act.Pin, pinIncr))) return GnttabStatus.GeneralError;

        if (act.Pin == 0 || !ro && (act.Pin & (PinHostWMask | PinDevWMask)) == 0)
        {
            if (SetStatus(reference, act, ro) is { } bad) return bad;
            if (act.Pin == 0)
            {
                // get_paged_frame: for a PV granter the entry's frame is an MFN it must own.
                ulong gfn = Version == 1 ? ReadV1(reference).Frame : ReadV2(reference).Frame;
                if (!domain.Owns(gfn))
                {
                    ReduceStatusForPin(reference, act, ro);
                    return GnttabStatus.BadPage;
                }
                act.DomId = domain.Id;
                act.Mfn = gfn;
            }
        }
        act.Pin += pinIncr;

        // A writable host mapping and a writable device mapping each hold a PGT_writable_page reference
        // until their unmap completes (a failed unmap keeps it: XSA-234).
        GnttabStatus? rc = null;
        int typeRefs = 0;
        foreach (var kind in (ReadOnlySpan<GntMap>)[GntMap.HostMap, GntMap.DeviceMap])
        {
            if (rc is not null || ro || !flags.HasFlag(kind)) continue;
            if (mmu.GetPageType(act.Mfn, PageType.Writable) != 0) rc = GnttabStatus.GeneralError;   // could_not_pin
            else typeRefs++;
        }
        if (rc is null && flags.HasFlag(GntMap.HostMap))
            rc = CreateHostMapping(v, op.HostAddr, act.Mfn, flags);
        if (rc is null) return null;

        for (; typeRefs > 0; typeRefs--) mmu.PutPageType(act.Mfn);
        act.Pin -= pinIncr;                              // undo_out
        ReduceStatusForPin(reference, act, ro);
        return rc;
    }

    /// <summary>GNTPIN_incr2oflow_mask: a counter this increment touches is already at its top half.</summary>
    private static bool WouldOverflow(uint pin, uint incr)
    {
        for (int shift = 0; shift < 32; shift += 8)
            if ((incr >> shift & 0xFF) != 0 && (pin >> shift & 0xFF) >= 0x80) return true;
        return false;
    }

    /// <summary>_set_status_v1 / _set_status_v2: check the entry grants us access and mark it reading (and writing).</summary>
    private GnttabStatus? SetStatus(uint reference, Active act, bool ro)
    {
        const Gtf mask = Gtf.TypeMask | Gtf.SubPage;
        ushort flags, domid;
        if (Version == 1) (flags, domid) = (ReadV1(reference).Flags, ReadV1(reference).DomId);
        else (flags, domid) = (ReadV2(reference).Flags, ReadV2(reference).DomId);
        if (act.Pin == 0 && (((Gtf)flags & mask) != Gtf.PermitAccess || domid != domain.Id)) return GnttabStatus.GeneralError;
        if (!ro && ((Gtf)flags).HasFlag(Gtf.Readonly)) return GnttabStatus.GeneralError;
        ushort set = (ushort)(ro ? Gtf.Reading : Gtf.Reading | Gtf.Writing);
        if (Version == 1) WriteU16(EntryAddress(reference), (ushort)(flags | set));
        else SetStatusWord(reference, (ushort)(StatusWord(reference) | set));
        return null;
    }

    /// <summary>reduce_status_for_pin: drop GTF_reading once unpinned, GTF_writing once no writable pin is left.</summary>
    private void ReduceStatusForPin(uint reference, Active act, bool ro)
    {
        ushort clear = (ushort)(act.Pin == 0 ? Gtf.Reading : 0);
        if (!ro && (act.Pin & (PinHostWMask | PinDevWMask)) == 0) clear |= (ushort)Gtf.Writing;
        if (clear == 0 || reference >= Entries) return;
        if (Version == 1) WriteU16(EntryAddress(reference), (ushort)(ReadV1(reference).Flags & ~clear));
        else SetStatusWord(reference, (ushort)(StatusWord(reference) & ~clear));
    }

    // ------------------------------------------------------------ unmap_grant_ref, unmap_and_replace

    /// <summary>unmap_common + unmap_common_complete: the status of one unmap (or unmap-and-replace).</summary>
    private short Unmap(Vcpu v, ulong hostAddr, ulong devBusAddr, ulong newAddr, uint handle)
    {
        if (handle >= maptrack.Count || maptrack[(int)handle].Flags == 0) return (short)GnttabStatus.BadHandle;
        var m = maptrack[(int)handle];
        if (m.Ref >= Entries) return (short)GnttabStatus.BadHandle;
        var act = active[m.Ref];
        var flags = (GntMap)m.Flags;
        if (devBusAddr != 0 && flags.HasFlag(GntMap.DeviceMap) && devBusAddr != act.Mfn << MachineMemory.PageShift)
            return (short)GnttabStatus.BadDevAddr;

        GntMap done = GntMap.None;
        if (hostAddr != 0 && flags.HasFlag(GntMap.HostMap))
        {
            if (ReplaceHostMapping(v, hostAddr, act.Mfn, newAddr, flags) is { } bad) return (short)bad;
            m.Flags &= ~(uint)GntMap.HostMap;
            done |= GntMap.HostMap;
        }
        if (devBusAddr != 0 && flags.HasFlag(GntMap.DeviceMap))
        {
            m.Flags &= ~(uint)GntMap.DeviceMap;
            done |= GntMap.DeviceMap;
        }
        if (((GntMap)m.Flags & (GntMap.DeviceMap | GntMap.HostMap)) == 0)
        {
            m.Flags = 0;
            PutHandle(handle);
        }

        if (done == GntMap.None) return (short)GnttabStatus.Okay;
        bool ro = flags.HasFlag(GntMap.Readonly);
        if (done.HasFlag(GntMap.DeviceMap)) act.Pin -= ro ? PinDevR : PinDevW;
        if (done.HasFlag(GntMap.HostMap)) act.Pin -= ro ? PinHostR : PinHostW;
        // unmap_common_complete: the writable type references of what was unmapped go back.
        if (!ro && done.HasFlag(GntMap.HostMap)) mmu.PutPageType(act.Mfn);
        if (!ro && done.HasFlag(GntMap.DeviceMap)) mmu.PutPageType(act.Mfn);
        ReduceStatusForPin(m.Ref, act, ro);
        return (short)GnttabStatus.Okay;
    }

    // ------------------------------------------------------------ PV host mappings (xen/arch/x86/pv/grant_table.c)

    /// <summary>grant_to_pte_flags: present, accessed, dirty, _PAGE_GNTTAB, NX; RW unless read-only; user for application maps.</summary>
    private static ulong GrantPteFlags(GntMap flags)
    {
        ulong pte = PtePresent | PteAccessed | PteDirty | PteGnttab | PteNx;
        if (flags.HasFlag(GntMap.ApplicationMap)) pte |= PteUser;
        if (!flags.HasFlag(GntMap.Readonly)) pte |= PteRw;
        pte |= ((ulong)flags >> 16 << 9) & PteAvail;
        return pte;
    }

    /// <summary>create_grant_pv_mapping: write the grant PTE at a linear address's L1 entry or, with GNTMAP_contains_pte, at a machine address.</summary>
    private GnttabStatus? CreateHostMapping(Vcpu v, ulong addr, ulong mfn, GntMap flags)
    {
        ulong pte = (mfn << MachineMemory.PageShift) | GrantPteFlags(flags);
        if ((pte & PteUser) == 0) pte |= PteUser | PteGuestKernel;    // adjust_guest_l1e
        ulong entry;
        if (flags.HasFlag(GntMap.ContainsPte))
        {
            if ((addr & 7) != 0) return GnttabStatus.GeneralError;     // "Misaligned PTE address"
            entry = addr;
        }
        else if (!FindGuestL1e(v, addr, out entry)) return GnttabStatus.GeneralError;
        if (!IsOwnL1Table(entry >> MachineMemory.PageShift)) return GnttabStatus.GeneralError;
        domain.Memory.WriteU64(entry, pte);
        return null;
    }

    /// <summary>replace_grant_pv_mapping (with steal_linear_address for unmap_and_replace).</summary>
    private GnttabStatus? ReplaceHostMapping(Vcpu v, ulong addr, ulong mfn, ulong newAddr, GntMap flags)
    {
        ulong grantFlags = GrantPteFlags(flags & ~GntMap.ContainsPte);
        grantFlags |= (grantFlags & PteUser) != 0 ? PteGlobal : PteGuestKernel | PteUser;
        ulong replacement = 0, entry;
        if (flags.HasFlag(GntMap.ContainsPte))
        {
            if (newAddr != 0) return GnttabStatus.GeneralError;        // no replace in this addressing mode
            if ((addr & 7) != 0) return GnttabStatus.GeneralError;
            entry = addr;
        }
        else
        {
            if (newAddr != 0)
            {
                // steal_linear_address: the PTE at new_addr moves here; new_addr is left unmapped.
                if (!FindGuestL1e(v, newAddr, out ulong stolenAt) || !IsOwnL1Table(stolenAt >> MachineMemory.PageShift))
                    return GnttabStatus.GeneralError;
                replacement = domain.Memory.ReadU64(stolenAt);
                domain.Memory.WriteU64(stolenAt, 0);
            }
            if (!FindGuestL1e(v, addr, out entry)) return GnttabStatus.GeneralError;
        }
        if (!IsOwnL1Table(entry >> MachineMemory.PageShift)) return GnttabStatus.GeneralError;
        ulong old = domain.Memory.ReadU64(entry);
        // The entry must still map the frame with the grant's present and RW bits (else the stolen PTE is dropped).
        if ((old & PteAddressMask) >> MachineMemory.PageShift != mfn || ((old ^ grantFlags) & (PtePresent | PteRw)) != 0)
            return GnttabStatus.GeneralError;
        domain.Memory.WriteU64(entry, replacement);
        return null;
    }

    /// <summary>The L1 frame is the domain's and typed as an L1 page table.</summary>
    private bool IsOwnL1Table(ulong mfn) =>
        domain.Owns(mfn) && mmu.TypeOf(mfn) == PageType.L1;

    /// <summary>map_guest_l1e: the machine address of the L1 entry for a linear address, through the vCPU's guest table.</summary>
    private bool FindGuestL1e(Vcpu v, ulong va, out ulong entry)
    {
        entry = 0;
        if (!GuestMemory.IsCanonical(va) || va >= Hypervisor.HypervisorVirtStart && va < Hypervisor.HypervisorVirtEnd) return false;
        ulong table = v.Cpu.Cr3 & PteAddressMask;
        for (int level = 4; level > 1; level--)
        {
            ulong at = table + 8 * ((va >> (12 + 9 * (level - 1))) & 0x1FF);
            if (!domain.Memory.Contains(at)) return false;
            ulong e = domain.Memory.ReadU64(at);
            if ((e & PtePresent) == 0 || level == 2 && (e & 0x80) != 0) return false;
            table = e & PteAddressMask;
        }
        entry = table + 8 * ((va >> 12) & 0x1FF);
        return domain.Memory.Contains(entry);
    }

    /// <summary>Whether any L1 entry of the domain's page tables maps the frame (the page has a reference beyond Xen's).</summary>
    private bool IsMapped(ulong mfn)
    {
        foreach (ulong frame in mmu.FramesOfType(PageType.L1))
        {
            for (int i = 0; i < 512; i++)
            {
                ulong e = domain.Memory.ReadU64((frame << MachineMemory.PageShift) + (ulong)(8 * i));
                if ((e & PtePresent) != 0 && (e & PteAddressMask) >> MachineMemory.PageShift == mfn) return true;
            }
        }
        return false;
    }

    // ------------------------------------------------------------ maptrack handles

    /// <summary>
    /// get_maptrack_handle: the head of the vCPU's free list, which always keeps its last entry; when only
    /// that is left, a new maptrack page's first handle is returned and its other 511 go to the list's front.
    /// </summary>
    private bool GetHandle(out uint handle)
    {
        if (freeHandles.Count > 1)
        {
            handle = freeHandles.First!.Value;
            freeHandles.RemoveFirst();
            return true;
        }
        handle = (uint)maptrack.Count;
        if (maptrack.Count >= MaxMaptrackFrames * MaptrackPerPage) return false;
        for (uint i = 0; i < MaptrackPerPage; i++) maptrack.Add(new Mapping());
        for (uint i = MaptrackPerPage - 1; i >= 1; i--) freeHandles.AddFirst(handle + i);
        return true;
    }

    /// <summary>put_maptrack_handle: to the tail of the free list.</summary>
    private void PutHandle(uint handle) => freeHandles.AddLast(handle);

    // ------------------------------------------------------------ the shared and status frames

    private ulong EntryAddress(uint reference)
    {
        int size = Version == 1 ? GrantEntryV1.Layout.Size : GrantEntryV2.Layout.Size;
        ulong offset = (ulong)reference * (ulong)size;
        return (sharedFrames[(int)(offset >> MachineMemory.PageShift)] << MachineMemory.PageShift) + (offset & MachineMemory.PageMask);
    }

    private GrantEntryV1 ReadV1(uint reference) => GrantEntryV1.Read(domain.Memory.Span(EntryAddress(reference), GrantEntryV1.Layout.Size));
    private GrantEntryV2 ReadV2(uint reference) => GrantEntryV2.Read(domain.Memory.Span(EntryAddress(reference), GrantEntryV2.Layout.Size));

    private void WriteV1(uint reference, GrantEntryV1 e)
    {
        Span<byte> b = stackalloc byte[GrantEntryV1.Layout.Size];
        e.Write(b);
        domain.Memory.Write(EntryAddress(reference), b);
    }

    private void WriteV2(uint reference, GrantEntryV2 e)
    {
        Span<byte> b = stackalloc byte[GrantEntryV2.Layout.Size];
        e.Write(b);
        domain.Memory.Write(EntryAddress(reference), b);
    }

    private void WriteU16(ulong maddr, ushort value) => domain.Memory.WriteU16(maddr, value);

    private ulong StatusAddress(uint reference)
    {
        ulong offset = (ulong)reference * 2;
        return (statusFrames[(int)(offset >> MachineMemory.PageShift)] << MachineMemory.PageShift) + (offset & MachineMemory.PageMask);
    }

    private ushort StatusWord(uint reference) => domain.Memory.ReadU16(StatusAddress(reference));
    private void SetStatusWord(uint reference, ushort value) => domain.Memory.WriteU16(StatusAddress(reference), value);
}
