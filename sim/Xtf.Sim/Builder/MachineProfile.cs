using Xtf.Sim.Memory;

namespace Xtf.Sim.Builder;

/// <summary>
/// One measured QEMU configuration (TCG, <c>-cpu max</c>, QEMU 10.0.2, Debian Xen 4.17.7) and the
/// run-time heap facts Xen's dom0 builder depends on (docs/dom0.md §2.3, §2.7, §2.9). These are
/// measurements, not derivations: Xen's free heap depends on firmware, CPU model and vCPU count.
/// </summary>
/// <param name="MemoryMiB">QEMU <c>-m</c>.</param>
/// <param name="Pcpus">QEMU <c>-smp</c>.</param>
/// <param name="Dom0Vcpus">dom0's max_vcpus (<c>dom0_max_vcpus</c>, default = <paramref name="Pcpus"/>).</param>
public sealed partial record MachineProfile(int MemoryMiB, int Pcpus, int Dom0Vcpus)
{
    /// <summary>F: free domain-heap pages plus the pages of the boot modules, when dom0 is sized (docs/dom0.md §2.3).</summary>
    public required ulong FreePages { get; init; }

    /// <summary>Machine address one past the initial power-of-two block (measured; the block is taken from the top of a free chunk).</summary>
    public required ulong AllocBlockEnd { get; init; }

    /// <summary>Order of the block measured with the test kernels (the block end is only known for this order).</summary>
    public required int MeasuredAllocOrder { get; init; }

    /// <summary>How shared_info's machine address follows from the kernel module's size (see <see cref="SharedInfoAddress"/>).</summary>
    public required SharedInfoPlacement SharedInfoRule { get; init; }

    /// <summary>
    /// Free buddy chunks (first MFN, order) of Xen's heap once the initial block is taken, from which
    /// the rest of dom0's memory is allocated. For 512 MiB these reproduce the measured P2M runs of
    /// docs/dom0.md §2.7 exactly; for the other sizes they are synthetic (see <see cref="For"/>).
    /// </summary>
    public required IReadOnlyList<(ulong Mfn, int Order)> FreeChunks { get; init; }

    /// <summary>Whether <see cref="FreeChunks"/> reproduces measured runs (512 MiB, 1 CPU) or is a synthetic scheme.</summary>
    public required bool FreeChunksMeasured { get; init; }

    /// <summary>Xen's wallclock at system time 0 given to dom0 (shared_info wc_sec/wc_nsec). Not reproducible on real Xen: a fixed value.</summary>
    public ulong WallclockSec { get; init; } = DefaultWallclockSec;
    public uint WallclockNsec { get; init; }

    /// <summary>2026-11-22T00:00:00Z, the day the real-Xen logs in results/xen were taken.</summary>
    public const ulong DefaultWallclockSec = 1_795_305_600;

    /// <summary>First MFN of QEMU's RAM above 4 GiB (RAM beyond 3 GiB is moved there once -m exceeds 3.5 GiB).</summary>
    public const ulong HighRamStartMfn = 0x100000;

    /// <summary>RAM frames (memory / 4 KiB).</summary>
    public ulong RamFrames => (ulong)MemoryMiB * 256;

    /// <summary>
    /// Frames the machine must address: RAM frames, except that above 3.5 GiB QEMU's pc machine keeps
    /// 3 GiB below 4 GiB and puts the rest at 4 GiB, so the highest frame lies beyond memory / 4 KiB.
    /// </summary>
    public ulong MachineFrames => LowRamFrames == RamFrames ? RamFrames : HighRamStartMfn + (RamFrames - LowRamFrames);

    /// <summary>RAM frames below 4 GiB.</summary>
    public ulong LowRamFrames => (ulong)MemoryMiB * 1024 * 1024 >= 0xE000_0000UL ? 0xC0000 : RamFrames;

    /// <summary>nr_pages (docs/dom0.md §2.3): A = F − (max_vcpus − 1); nr = A − min(A / 16, 128 MiB of pages).</summary>
    public ulong NrPages
    {
        get
        {
            ulong a = FreePages - (ulong)(Dom0Vcpus - 1);
            return a - Math.Min(a / 16, 32768);
        }
    }

    /// <summary>
    /// nr_pages for a kernel module of <paramref name="moduleBytes"/> bytes. With -smp 2 at 512 MiB, F is one
    /// page smaller when the module's page count is a multiple of 16 (measured 2026-12-05: 16, 32, 48, 64 pages
    /// give 120411, while 9–15, 17, 24, 31, 33 and 65 give 120412; with one CPU every size gives the table's
    /// value). Like shared_info's place, this follows from how the relocated module splits the heap's chunks.
    /// </summary>
    public ulong NrPagesFor(ulong moduleBytes)
    {
        ulong s = (moduleBytes + MachineMemory.PageMask) >> MachineMemory.PageShift;
        ulong f = FreePages - (SharedInfoRule == SharedInfoPlacement.TwoCpus512 && s > 0 && s % 16 == 0 ? 1UL : 0);
        ulong a = f - (ulong)(Dom0Vcpus - 1);
        return a - Math.Min(a / 16, 32768);
    }

    /// <summary>The machine configurations measured on real Xen (docs/dom0.md §2.3).</summary>
    public static IReadOnlyList<(int MemoryMiB, int Pcpus, int Dom0Vcpus)> Measured { get; } =
    [
        (512, 1, 1), (512, 1, 2), (512, 2, 2), (768, 1, 1), (1024, 1, 1), (2048, 1, 1), (4096, 1, 1),
    ];

    /// <summary>
    /// The profile of a measured configuration. F and the block come from docs/dom0.md §2.3 (the block end was
    /// also measured at 512 MiB for orders 11 and 12: unchanged). shared_info: see
    /// <see cref="SharedInfoAddress"/>. The 512 MiB heap reproduces docs/dom0.md §2.7's measured runs (also used,
    /// unmeasured, for -smp 2 and dom0_max_vcpus=2); the other sizes use a synthetic heap
    /// (<see cref="SyntheticChunks"/>).
    /// </summary>
    /// <exception cref="ArgumentException">The configuration was never measured.</exception>
    public static MachineProfile For(int memoryMiB, int pcpus, int dom0Vcpus)
    {
        (ulong f, ulong blockEnd, int order, SharedInfoPlacement si) = (memoryMiB, pcpus, dom0Vcpus) switch
        {
            (512, 1, 1) => (128471UL, 0x1f000000UL, 10, SharedInfoPlacement.OneCpu),
            (512, 1, 2) => (128471UL, 0x1f000000UL, 10, SharedInfoPlacement.OneCpu),
            (512, 2, 2) => (128440UL, 0x1f000000UL, 10, SharedInfoPlacement.TwoCpus512),
            (768, 1, 1) => (193495UL, 0x2f000000UL, 10, SharedInfoPlacement.OneCpu),
            (1024, 1, 1) => (258519UL, 0x3ec00000UL, 10, SharedInfoPlacement.OneCpu),
            (2048, 1, 1) => (518103UL, 0x7e000000UL, 11, SharedInfoPlacement.OneCpu),
            (4096, 1, 1) => (1037267UL, 0x13d000000UL, 12, SharedInfoPlacement.Fixed4096),
            _ => throw new ArgumentException($"no measured machine profile for -m {memoryMiB} -smp {pcpus}" +
                                             (dom0Vcpus != pcpus ? $" dom0_max_vcpus={dom0Vcpus}" : "")),
        };
        var shell = new MachineProfile(memoryMiB, pcpus, dom0Vcpus)
        {
            FreePages = f, AllocBlockEnd = blockEnd, MeasuredAllocOrder = order, SharedInfoRule = si,
            FreeChunks = [], FreeChunksMeasured = false,
        };
        bool measuredHeap = memoryMiB == 512;
        return shell with
        {
            FreeChunks = measuredHeap ? Measured512Chunks : shell.SyntheticChunks(),
            FreeChunksMeasured = measuredHeap && pcpus == 1 && dom0Vcpus == 1,
        };
    }

    /// <summary>
    /// Machine address of dom0's shared_info page (start_info.shared_info) for a kernel module of
    /// <paramref name="moduleBytes"/> bytes. Measured on real Xen (2026-11-22) against the module's page
    /// count s = ⌈bytes / 4 KiB⌉: Xen takes the page from the smallest free buddy chunk near the top of
    /// low RAM, and the relocated module shapes those chunks. With one CPU (at 512, 768, 1024 and 2048
    /// MiB alike, relative to the end of low RAM E = RAM − 128 KiB) the page is E − d(s mod 16), except
    /// for s ≡ 2, 6 (mod 16), where it is the page just below the module: E − 0x5ea − s. With -smp 2
    /// (512 MiB) it is another table by s mod 16. At 4096 MiB it was 0xbffdc000 for every size tried.
    /// Verified for s = 9..40 and a few larger sizes; kernels below 9 pages were not measured.
    /// </summary>
    public ulong SharedInfoAddress(ulong moduleBytes)
    {
        ulong s = (moduleBytes + MachineMemory.PageMask) >> MachineMemory.PageShift;
        int r = (int)(s % 16);
        ulong lowEnd = LowRamFrames - 0x20;   // QEMU reserves the last 128 KiB below 4 GiB
        ulong mfn = SharedInfoRule switch
        {
            SharedInfoPlacement.OneCpu => r is 2 or 6 ? lowEnd - 0x5ea - s : lowEnd - OneCpuBelowRamEnd[r],
            SharedInfoPlacement.TwoCpus512 => TwoCpus512[r],
            _ => 0xbffdc,
        };
        return mfn << MachineMemory.PageShift;
    }

    /// <summary>One CPU: pages below the end of low RAM by s mod 16 (entries 2 and 6 unused).</summary>
    private static readonly ulong[] OneCpuBelowRamEnd =
    [
        0x276, 0x227, 0, 0x229, 0x22a, 0x22b, 0, 0x22d, 0x22e, 0x22f, 0x224, 0x271, 0x272, 0x273, 0x228, 0x275,
    ];

    /// <summary>-m 512 -smp 2: the shared_info MFN by s mod 16.</summary>
    private static readonly ulong[] TwoCpus512 =
    [
        0x1fd6a, 0x1fdba, 0x1fdb9, 0x1ffc4, 0x1fdb7, 0x1fdb6, 0x1fdb5, 0x1ffc0,
        0x1fdb3, 0x1fdb2, 0x1fdb1, 0x1fdbc, 0x1fd6f, 0x1fd6e, 0x1fd6d, 0x1fdb8,
    ];

    /// <summary>
    /// docs/dom0.md §2.7, 512 MiB: after the block 0x1ec00–0x1efff, Xen's alloc_chunk took 0x10000/15, 0x8000/15,
    /// 0x18000/14, 0x4000/14, 0x1c000/13, 0x2000/13, 0x1000/12, 0x1f000/9, then 64, 32, 16, 8 and 2
    /// pages near the top. The small runs' exact MFNs were reported only approximately.
    /// </summary>
    private static readonly (ulong, int)[] Measured512Chunks =
    [
        (0x10000, 15), (0x8000, 15), (0x18000, 14), (0x4000, 14), (0x1c000, 13), (0x2000, 13), (0x1000, 12),
        (0x1f000, 9), (0x1ff80, 6), (0x1fd40, 5), (0x1f9f0, 4), (0x1f9c0, 3), (0x1f9cc, 1),
    ];

    /// <summary>
    /// A synthetic heap for sizes whose runs were not measured: every RAM frame from 16 MiB up to 4 MiB
    /// below the end of each RAM region (Xen's own allocations, shared_info among them, live at the
    /// top), minus the initial block, cut into maximal naturally aligned buddy chunks that never cross
    /// a zone (power-of-two) boundary. Frames below 16 MiB stay out, like Xen's low memory.
    /// </summary>
    private IReadOnlyList<(ulong, int)> SyntheticChunks()
    {
        const ulong low = 0x1000, topReserve = 0x400;
        ulong blockEnd = AllocBlockEnd >> MachineMemory.PageShift;
        ulong blockStart = blockEnd - (1UL << MeasuredAllocOrder);
        var ranges = new List<(ulong Start, ulong End)>();
        ulong lowEnd = LowRamFrames == RamFrames ? RamFrames - 0x20 : LowRamFrames - 0x20;   // QEMU's reserved last 128 KiB below 4 GiB
        ranges.Add((low, lowEnd - topReserve));
        if (LowRamFrames != RamFrames) ranges.Add((HighRamStartMfn, MachineFrames - topReserve));
        var chunks = new List<(ulong, int)>();
        foreach (var (start, end) in ranges)
        {
            foreach (var (s, e) in Subtract(start, end, blockStart, blockEnd))
            {
                for (ulong m = s; m < e;)
                {
                    int order = 0;
                    while (order < 20 && m % (2UL << order) == 0 && m + (2UL << order) <= e && (2UL << order) <= m) order++;
                    chunks.Add((m, order));
                    m += 1UL << order;
                }
            }
        }
        return chunks;
    }

    private static IEnumerable<(ulong, ulong)> Subtract(ulong start, ulong end, ulong holeStart, ulong holeEnd)
    {
        if (holeEnd <= start || holeStart >= end)
        {
            yield return (start, end);
            yield break;
        }
        if (start < holeStart) yield return (start, holeStart);
        if (holeEnd < end) yield return (holeEnd, end);
    }
}

/// <summary>Which measured rule gives shared_info's address (see <see cref="MachineProfile.SharedInfoAddress"/>).</summary>
public enum SharedInfoPlacement
{
    /// <summary>One host CPU: a table by module pages mod 16, relative to the end of low RAM.</summary>
    OneCpu,
    /// <summary>-m 512 -smp 2: its own table.</summary>
    TwoCpus512,
    /// <summary>-m 4096: a fixed page below the end of low RAM.</summary>
    Fixed4096,
}
