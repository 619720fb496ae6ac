using Xtf.Sim.Memory;

namespace Xtf.Sim.Builder;

/// <summary>
/// A QEMU machine (pc, TCG, <c>-cpu max</c>, QEMU 10.0.2, Debian Xen 4.17.7) of any RAM size and pCPU count,
/// and the heap Xen's dom0 builder sees on it (docs/dom0.md §2.3, §2.7, §2.17). The free heap is derived
/// from a model of what Xen's boot takes (the relocated Xen image, the frame table, the M2P) and how the
/// buddy heap splits what is left; the few facts the model cannot derive (what the boot keeps besides
/// those, what each pCPU costs, where shared_info lands) are measured parameters below.
/// </summary>
/// <param name="MemoryMiB">QEMU <c>-m</c>.</param>
/// <param name="Pcpus">QEMU <c>-smp</c>.</param>
/// <param name="Dom0Vcpus">dom0's max_vcpus (<c>dom0_max_vcpus</c>, default = <paramref name="Pcpus"/>).</param>
public sealed partial record MachineProfile(int MemoryMiB, int Pcpus, int Dom0Vcpus)
{
    /// <summary>Smallest and largest <c>-m</c> the model takes (Xen itself needs some tens of MiB; 1 TiB bounds the frame arithmetic).</summary>
    public const int MinMemoryMiB = 128, MaxMemoryMiB = 1 << 20;

    /// <summary>Largest pCPU count the model takes (the runner's own bound for <c>--vcpus</c>).</summary>
    public const int MaxPcpus = 64;

    /// <summary>Xen's wallclock at system time 0 given to dom0 (shared_info wc_sec/wc_nsec). Not reproducible on real Xen: a fixed value.</summary>
    public ulong WallclockSec { get; init; } = DefaultWallclockSec;
    public uint WallclockNsec { get; init; }

    /// <summary>2026-11-22T00:00:00Z, the day the real-Xen logs in results/xen were taken.</summary>
    public const ulong DefaultWallclockSec = 1_795_305_600;

    /// <summary>First MFN of QEMU's RAM above 4 GiB (RAM beyond 3 GiB is moved there once -m reaches 3.5 GiB).</summary>
    public const ulong HighRamStartMfn = 0x100000;

    // ---------------------------------------------------------------- measured parameters (docs/dom0.md §2.17)

    /// <summary>QEMU's e820: RAM below 1 MiB ends at 0x9fc00 (159 frames usable).</summary>
    public const ulong BaseRamFrames = 0x9f;

    /// <summary>QEMU's e820: the last 128 KiB below the end of low RAM are reserved (ACPI tables).</summary>
    public const ulong FirmwareTopFrames = 0x20;

    /// <summary>
    /// setup.c relocates Xen to the top of low RAM: (end of low RAM rounded down to 2 MiB) − this size. Measured
    /// ("New Xen image base address") 0x1f800000 at 512 MiB, and the same 6 MiB below the rounded end at 256 to 3072 MiB.
    /// </summary>
    public const ulong XenImageFrames = 0x600;

    /// <summary>
    /// Frames Xen's boot keeps besides the frame table and the M2P with one pCPU (its image less what it frees,
    /// page tables, per-CPU data, console ring, …): usable RAM − F − frame table − M2P, the same 936 at
    /// every size measured (256–3072 MiB).
    /// </summary>
    public const ulong BootKeptFrames = 936;

    /// <summary>
    /// What each further pCPU costs the heap (stacks, per-CPU areas, IDT/GDT/TSS pages…): measured 31, 36, 31 frames
    /// for pCPUs 2, 3, 4 at every size from 256 to 3072 MiB. Beyond 4 the pattern is taken to repeat (not measured).
    /// </summary>
    public static ulong PcpuFrames(int pcpu) => pcpu <= 1 ? 0 : pcpu % 2 == 1 ? 36UL : 31UL;

    /// <summary>Frames the boot keeps beyond what the 1-pCPU model gives with more than 4 GiB of address space (measured at 4096 MiB: 4, page tables for the high region).</summary>
    public const ulong HighRamExtraFrames = 4;

    // ---------------------------------------------------------------- derived machine

    /// <summary>RAM frames (memory / 4 KiB).</summary>
    public ulong RamFrames => (ulong)MemoryMiB * 256;

    /// <summary>
    /// Frames the machine must address: RAM frames, except that from 3.5 GiB QEMU's pc machine keeps
    /// 3 GiB below 4 GiB and puts the rest at 4 GiB, so the highest frame lies beyond memory / 4 KiB.
    /// </summary>
    public ulong MachineFrames => LowRamFrames == RamFrames ? RamFrames : HighRamStartMfn + (RamFrames - LowRamFrames);

    /// <summary>RAM frames below 4 GiB.</summary>
    public ulong LowRamFrames => (ulong)MemoryMiB * 1024 * 1024 >= 0xE000_0000UL ? SplitLowRamFrames : RamFrames;

    /// <summary>RAM frames QEMU keeps below 4 GiB once it splits memory (3 GiB).</summary>
    public const ulong SplitLowRamFrames = 0xC0000;

    /// <summary>The largest memory (MiB) whose machine, split around 4 GiB, has at most <paramref name="machineFrames"/> frames.</summary>
    public static int MaxMemoryMiBWithin(ulong machineFrames) =>
        (int)Math.Min(MaxMemoryMiB, (machineFrames - HighRamStartMfn + SplitLowRamFrames) / 256);

    /// <summary>One past the last usable frame below 4 GiB (the firmware's top 128 KiB excluded).</summary>
    public ulong LowRamEnd => LowRamFrames - FirmwareTopFrames;

    /// <summary>max_page: one past the highest usable frame.</summary>
    public ulong MaxPage => LowRamFrames == RamFrames ? LowRamEnd : MachineFrames;

    /// <summary>The e820 RAM ranges [start, end) in frames, as Xen sees them.</summary>
    public IReadOnlyList<(ulong Start, ulong End)> UsableRam =>
        LowRamFrames == RamFrames
            ? [(0, BaseRamFrames), (0x100, LowRamEnd)]
            : [(0, BaseRamFrames), (0x100, LowRamEnd), (HighRamStartMfn, MachineFrames)];

    /// <summary>First frame of the relocated Xen image (docs/dom0.md §2.17).</summary>
    public ulong XenImageMfn => (LowRamEnd & ~0x1FFUL) - XenImageFrames;

    /// <summary>
    /// init_frametable (xen/arch/x86/mm.c): 32-byte page_info entries for each valid 256 MiB group of frames, mapped
    /// with 2 MiB boot-allocator chunks while a whole one (less 4 pages) is needed, then 4 KiB pages, which need one
    /// L1 table. Returns the 2 MiB chunks and the 4 KiB frames (the L1 table included).
    /// </summary>
    public (ulong BigChunks, ulong SmallFrames) FrameTable
    {
        get
        {
            ulong big = 0, small = 0;
            foreach (var (s, e) in FrameTableRanges())
            {
                ulong bytes = (e - s) * 32, at = 0;
                while (at < bytes)
                {
                    if (at + (2UL << 20) <= bytes + 4 * 4096) { big++; at += 2UL << 20; }
                    else { small++; at += 4096; }
                }
            }
            return (big, small == 0 ? 0 : small + 1);
        }
    }

    /// <summary>The pdx ranges init_frametable maps: whole 256 MiB groups, except the last range, which ends at max_page.</summary>
    private IEnumerable<(ulong, ulong)> FrameTableRanges()
    {
        const ulong group = 0x10000;
        if (LowRamFrames == RamFrames) { yield return (0, MaxPage); yield break; }
        yield return (0, (LowRamEnd + group - 1) / group * group);
        yield return (HighRamStartMfn, MachineFrames);
    }

    /// <summary>paging_init (xen/arch/x86/x86_64/mm.c): the M2P in 2 MiB heap chunks (order 9), one per 1 GiB of frames that holds RAM.</summary>
    public int M2pChunks
    {
        get
        {
            int n = 0;
            for (ulong first = 0; first < MaxPage; first += 0x40000)
                if (UsableRam.Any(r => r.Start < first + 0x40000 && r.End > first && !(first >= LowRamEnd && first < HighRamStartMfn))) n++;
            return n;
        }
    }

    /// <summary>Usable RAM frames of the e820 map.</summary>
    public ulong UsableFrames => UsableRam.Aggregate(0UL, (a, r) => a + (r.End - r.Start));

    /// <summary>
    /// F (docs/dom0.md §2.3): free heap frames plus the boot modules' when dom0 is sized: usable RAM less the frame
    /// table, the M2P, what the boot keeps and what the pCPUs cost.
    /// </summary>
    public ulong FreePages
    {
        get
        {
            var ft = FrameTable;
            ulong kept = BootKeptFrames + (LowRamFrames == RamFrames ? 0 : HighRamExtraFrames);
            for (int c = 2; c <= Pcpus; c++) kept += PcpuFrames(c);
            return UsableFrames - ft.BigChunks * 512 - ft.SmallFrames - (ulong)M2pChunks * 512 - kept;
        }
    }

    /// <summary>nr_pages (docs/dom0.md §2.3): A = F − (max_vcpus − 1); nr = A − min(A / 16, 128 MiB of pages).</summary>
    public ulong NrPages => NrPagesFor(0);

    /// <summary>
    /// nr_pages for a kernel module of <paramref name="moduleBytes"/> bytes. With -smp 2, F is one page smaller when
    /// the module's page count is a multiple of 16 (measured at 512 MiB, 2026-12-05: 16, 32, 48, 64 pages give 120411,
    /// other sizes 120412; with one CPU every size gives the same). Like shared_info's place, this follows from how
    /// the relocated module splits the heap's chunks; it is taken to hold at every size with two pCPUs.
    /// </summary>
    public ulong NrPagesFor(ulong moduleBytes)
    {
        ulong a = FreePagesFor(moduleBytes) - (ulong)(Dom0Vcpus - 1);
        return a - Math.Min(a / 16, 32768);
    }

    private ulong FreePagesFor(ulong moduleBytes)
    {
        ulong s = (moduleBytes + MachineMemory.PageMask) >> MachineMemory.PageShift;
        return FreePages - (Pcpus == 2 && s > 0 && s % 16 == 0 ? 1UL : 0);
    }

    /// <summary>setup_low_mem_virq (xen/common/page_alloc.c): what is left after dom0 (at most 64 MiB; halved when it is all that is left), rounded down to a power of two.</summary>
    public ulong LowMemVirqThreshold(ulong nrPages, ulong moduleBytes)
    {
        ulong avail = FreePagesFor(moduleBytes) - nrPages;
        ulong th = Math.Min(avail, 64UL << 20 >> 12);
        if (th == avail) th >>= 1;
        th = Math.Max(th, 1);
        return 1UL << (63 - System.Numerics.BitOperations.LeadingZeroCount(th));
    }

    /// <summary>
    /// The machine profile of <c>-m <paramref name="memoryMiB"/> -smp <paramref name="pcpus"/></c> with
    /// <c>dom0_max_vcpus=<paramref name="dom0Vcpus"/></c>.
    /// </summary>
    /// <exception cref="ArgumentException">Outside the sizes the model takes.</exception>
    public static MachineProfile For(int memoryMiB, int pcpus, int dom0Vcpus)
    {
        if (memoryMiB < MinMemoryMiB || memoryMiB > MaxMemoryMiB)
            throw new ArgumentException($"-m {memoryMiB}: the machine model takes {MinMemoryMiB} to {MaxMemoryMiB} MiB");
        if (pcpus < 1 || pcpus > MaxPcpus || dom0Vcpus < 1 || dom0Vcpus > MaxPcpus)
            throw new ArgumentException($"-smp {pcpus} dom0_max_vcpus={dom0Vcpus}: the machine model takes 1 to {MaxPcpus}");
        return new MachineProfile(memoryMiB, pcpus, dom0Vcpus);
    }

    /// <summary>
    /// Xen's heap when dom0 is sized (docs/dom0.md §2.17), F frames in all: every RAM frame from 16 MiB up to the boot's
    /// allocations below the Xen image (the frame table's 2 MiB chunks from the boot allocator, then the M2P's order-9
    /// chunks taken from this heap, top down), cut into buddy chunks that stay inside a zone; the rest of F (the frames
    /// below 16 MiB, pieces of Xen's image and the space above it, less what the boot and the pCPUs took, and the
    /// frame table's 4 KiB pages) as chunks below 16 MiB from the top down and, when they are full, just below the
    /// end of low RAM. shared_info's frame (<paramref name="sharedInfoMfn"/>) was allocated before: never in the heap.
    /// </summary>
    public DomHeap BuildHeap(ulong moduleBytes, ulong sharedInfoMfn)
    {
        var ft = FrameTable;
        // The boot allocator takes the frame table's 2 MiB chunks from the top of the highest region that has room:
        // the high RAM above 4 GiB when there is some, else just below Xen's image.
        var ranges = new List<(ulong Start, ulong End)>();
        ulong lowTop = XenImageMfn;
        ulong highTop = MachineFrames;
        if (LowRamFrames == RamFrames) lowTop -= ft.BigChunks * 512;
        else highTop -= ft.BigChunks * 512;
        ranges.Add((0x1000, lowTop));
        if (LowRamFrames != RamFrames) ranges.Add((HighRamStartMfn, highTop));
        var heap = new DomHeap(ranges.SelectMany(r => BuddyChunks(r.Start, r.End)));
        for (int i = 0; i < M2pChunks; i++)
            if (heap.Alloc(9) is null) throw new InvalidOperationException("no room for the M2P");
        ulong f = FreePagesFor(moduleBytes);
        if (heap.FreePages > f) throw new InvalidOperationException($"-m {MemoryMiB}: the modelled heap holds more than F");
        ulong rest = f - heap.FreePages;
        // Below 16 MiB, from the top down; then below the end of low RAM, skipping shared_info.
        ulong low = Math.Min(rest, 0x1000 - 0x100);
        foreach (var c in BuddyChunks(0x1000 - low, 0x1000)) heap.Add(c.Mfn, c.Order);
        rest -= low;
        for (ulong mfn = LowRamEnd; rest > 0;)
        {
            // Contiguous stretches below the end of low RAM, as buddy chunks.
            ulong end = mfn;
            while (rest > 0 && mfn > XenImageMfn - 0x200 && mfn - 1 != sharedInfoMfn) { mfn--; rest--; }
            // Pieces of Xen's image and what is above it: small chunks (at most order 8 measured).
            foreach (var c in BuddyChunks(mfn, end, maxOrder: 8)) heap.Add(c.Mfn, c.Order);
            if (rest > 0)
            {
                if (mfn <= XenImageMfn - 0x200) throw new InvalidOperationException("no room for the heap's fragments");
                mfn--;   // shared_info
            }
        }
        return heap;
    }

    /// <summary>[start, end) as maximal naturally aligned buddy chunks that never cross a zone (power-of-two) boundary.</summary>
    public static IEnumerable<(ulong Mfn, int Order)> BuddyChunks(ulong start, ulong end, int maxOrder = DomHeap.MaxOrder)
    {
        for (ulong m = start; m < end;)
        {
            int order = 0;
            while (order < maxOrder && m % (2UL << order) == 0 && m + (2UL << order) <= end && (2UL << order) <= m) order++;
            yield return (m, order);
            m += 1UL << order;
        }
    }

    /// <summary>
    /// Machine address of dom0's shared_info page (start_info.shared_info) for a kernel module of
    /// <paramref name="moduleBytes"/> bytes. Measured on real Xen against the module's page count
    /// s = ⌈bytes / 4 KiB⌉: Xen takes the page from the smallest free buddy chunk near the end of low RAM
    /// E = RAM − 128 KiB, and the relocated module shapes those chunks. With one pCPU (the same at 256 to 3072 MiB)
    /// the page is E − d(s mod 16), except for s ≡ 2, 6 (mod 16), where it is the page just below the module:
    /// E − 0x5ea − s. With two pCPUs another table by s mod 16 (measured at 512 MiB; the 9-page probe gave the same
    /// offset at 256 to 3072 MiB). With three and four pCPUs one offset each, measured for a 9-page module only.
    /// At 4096 MiB it was 0xbffdc000 for every size tried.
    /// </summary>
    public ulong SharedInfoAddress(ulong moduleBytes)
    {
        ulong s = (moduleBytes + MachineMemory.PageMask) >> MachineMemory.PageShift;
        int r = (int)(s % 16);
        ulong lowEnd = LowRamEnd;
        ulong mfn = LowRamFrames != RamFrames ? 0xbffdc
            : Pcpus switch
            {
                1 => r is 2 or 6 ? lowEnd - 0x5ea - s : lowEnd - OneCpuBelowRamEnd[r],
                2 => lowEnd - TwoCpusBelowRamEnd[r],
                3 => lowEnd - 0x5f2,
                _ => lowEnd - 0x281,
            };
        return mfn << MachineMemory.PageShift;
    }

    /// <summary>One CPU: pages below the end of low RAM by s mod 16 (entries 2 and 6 unused).</summary>
    private static readonly ulong[] OneCpuBelowRamEnd =
    [
        0x276, 0x227, 0, 0x229, 0x22a, 0x22b, 0, 0x22d, 0x22e, 0x22f, 0x224, 0x271, 0x272, 0x273, 0x228, 0x275,
    ];

    /// <summary>Two pCPUs: pages below the end of low RAM by s mod 16 (measured at 512 MiB, E = 0x1ffe0).</summary>
    private static readonly ulong[] TwoCpusBelowRamEnd =
    [
        0x276, 0x226, 0x227, 0x1c, 0x229, 0x22a, 0x22b, 0x20,
        0x22d, 0x22e, 0x22f, 0x224, 0x271, 0x272, 0x273, 0x228,
    ];
}
