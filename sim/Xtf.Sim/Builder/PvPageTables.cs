using Xtf.Sim.Memory;

namespace Xtf.Sim.Builder;

/// <summary>
/// x86-64 4-level page tables as Xen's PV dom0 builder writes them (xen/arch/x86/pv/dom0_build.c),
/// plus a walker over machine memory that tests and the hypervisor model can reuse.
/// </summary>
public static class PvPageTables
{
    public const ulong Present = 1UL << 0, Rw = 1UL << 1, User = 1UL << 2, Accessed = 1UL << 5, Dirty = 1UL << 6, Large = 1UL << 7;
    /// <summary>_PAGE_GUEST_KERNEL: Xen's software bit 52 on a 64-bit PV kernel's L1 entries (visible to the guest).</summary>
    public const ulong GuestKernel = 1UL << 52;
    public const ulong Nx = 1UL << 63;
    public const ulong AddressMask = 0x000F_FFFF_FFFF_F000;

    /// <summary>L4_PROT, L3_PROT, L2_PROT: present, RW, user, accessed, dirty.</summary>
    public const ulong UpperFlags = Present | Rw | User | Accessed | Dirty;   // 0x067
    /// <summary>The L1 entries as measured: present, RW, user, accessed and _PAGE_GUEST_KERNEL; no dirty, no NX.</summary>
    public const ulong L1Flags = GuestKernel | Present | Rw | User | Accessed;   // 0x0010000000000027

    public const int EntriesPerTable = 512;

    public static int L4Index(ulong va) => (int)((va >> 39) & 511);
    public static int L3Index(ulong va) => (int)((va >> 30) & 511);
    public static int L2Index(ulong va) => (int)((va >> 21) & 511);
    public static int L1Index(ulong va) => (int)((va >> 12) & 511);

    /// <summary>One table frame of the bootstrap tables, in the order Xen took them.</summary>
    public readonly record struct TableFrame(ulong Mfn, int Level);

    /// <summary>
    /// Fills the tables mapping [vStart, vEnd) page by page, pfn i → <paramref name="mfnOfPfn"/>(i),
    /// taking table frames one after another from <paramref name="firstTableMfn"/>: the L4 first, then
    /// for the first page an L1, an L2 and an L3, then a new L1 every 2 MiB and a new L2 / L3 when a
    /// 1 GiB / 512 GiB boundary is crossed. Table frames are zeroed first. Returns the frames in order
    /// (the L4 is element 0).
    /// </summary>
    public static IReadOnlyList<TableFrame> Build(MachineMemory memory, ulong vStart, ulong vEnd, ulong firstTableMfn, Func<ulong, ulong> mfnOfPfn)
    {
        var frames = new List<TableFrame>();
        ulong next = firstTableMfn;
        ulong Take(int level)
        {
            ulong mfn = next++;
            memory.Frame(mfn).AsSpan().Clear();
            memory.NoteWrite(mfn);
            frames.Add(new TableFrame(mfn, level));
            return mfn;
        }
        // Each table frame was cleared and reported written when taken: entries go straight into it.
        void Set(ulong table, int index, ulong entry) =>
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(memory.Frame(table).AsSpan(index * 8, 8), entry);

        ulong l4 = Take(4);
        int i4 = L4Index(vStart), i3 = 0, i2 = 0, i1 = 0;
        ulong? l3 = null, l2 = null, l1 = null;
        ulong pages = (vEnd - vStart) >> MachineMemory.PageShift;
        for (ulong count = 0; count < pages; count++)
        {
            if (l1 is null || i1 == EntriesPerTable)
            {
                l1 = Take(1);
                i1 = count == 0 ? L1Index(vStart) : 0;
                if (l2 is null || i2 == EntriesPerTable)
                {
                    l2 = Take(2);
                    i2 = count == 0 ? L2Index(vStart) : 0;
                    if (l3 is null || i3 == EntriesPerTable)
                    {
                        l3 = Take(3);
                        i3 = count == 0 ? L3Index(vStart) : 0;
                        Set(l4, i4++, (l3.Value << MachineMemory.PageShift) | UpperFlags);
                    }
                    Set(l3.Value, i3++, (l2.Value << MachineMemory.PageShift) | UpperFlags);
                }
                Set(l2.Value, i2++, (l1.Value << MachineMemory.PageShift) | UpperFlags);
            }
            Set(l1.Value, i1++, (mfnOfPfn(count) << MachineMemory.PageShift) | L1Flags);
        }
        return frames;
    }

    /// <summary>Tables needed to map [vStart, vEnd) with 4 KiB pages: 1 L4 plus the 512 GiB, 1 GiB and 2 MiB slots touched.</summary>
    public static ulong TablesNeeded(ulong vStart, ulong vEnd) =>
        1 + Slots(vStart, vEnd, 39) + Slots(vStart, vEnd, 30) + Slots(vStart, vEnd, 21);

    /// <summary>NR(l, h, s): (round_up(h, 2^s) − round_down(l, 2^s)) >> s, in wrapping arithmetic as Xen computes it.</summary>
    private static ulong Slots(ulong l, ulong h, int shift)
    {
        ulong size = 1UL << shift;
        return unchecked(((h + size - 1) & ~(size - 1)) - (l & ~(size - 1))) >> shift;
    }

    /// <summary>The machine address of the L1 entry mapping <paramref name="va"/>, or null when a level is not present or maps a large page.</summary>
    public static ulong? L1EntryAddress(MachineMemory memory, ulong cr3, ulong va)
    {
        ulong table = cr3 & AddressMask;
        for (int level = 4; level >= 2; level--)
        {
            int shift = 12 + 9 * (level - 1);
            ulong e = memory.ReadU64(table + ((va >> shift) & 511) * 8);
            if ((e & Present) == 0 || level < 4 && (e & Large) != 0) return null;
            table = e & AddressMask;
            if (!memory.Contains(table)) return null;
        }
        return table + (ulong)L1Index(va) * 8;
    }

    /// <summary>The L1 entry mapping <paramref name="va"/>, or null.</summary>
    public static ulong? L1Entry(MachineMemory memory, ulong cr3, ulong va) =>
        L1EntryAddress(memory, cr3, va) is { } at ? memory.ReadU64(at) : null;

    /// <summary>The machine address <paramref name="va"/> maps to (4 KiB, 2 MiB or 1 GiB pages), or null when not mapped.</summary>
    public static ulong? Translate(MachineMemory memory, ulong cr3, ulong va)
    {
        ulong table = cr3 & AddressMask;
        for (int level = 4; level >= 1; level--)
        {
            int shift = 12 + 9 * (level - 1);
            ulong e = memory.ReadU64(table + ((va >> shift) & 511) * 8);
            if ((e & Present) == 0) return null;
            if (level is 3 or 2 && (e & Large) != 0)
            {
                ulong pageMask = (1UL << shift) - 1;
                return (e & AddressMask & ~pageMask) | (va & pageMask);
            }
            table = e & AddressMask;
            if (level > 1 && !memory.Contains(table)) return null;
        }
        return table | (va & MachineMemory.PageMask);
    }
}
