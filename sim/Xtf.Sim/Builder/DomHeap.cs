namespace Xtf.Sim.Builder;

/// <summary>
/// A model of Xen's buddy allocator for the part of the heap dom0's memory comes from
/// (xen/common/page_alloc.c). Zones are MFN bit lengths; a request of order n takes, scanning zones
/// from the highest down, the first zone with a free chunk of order ≥ n, the smallest such order
/// first; a larger chunk is split and its lower halves go back, so the upper part is handed out.
/// Where several chunks of one zone and order are free, this model takes the highest (Xen takes the
/// list head, which depends on history the simulator does not have).
/// </summary>
public sealed class DomHeap
{
    /// <summary>MAX_ORDER on x86.</summary>
    public const int MaxOrder = 20;

    /// <summary>Zones are MFN bit lengths: 1 .. 64.</summary>
    private const int MaxZone = 64;

    /// <summary>Free chunks by [zone, order], each set ordered by MFN (null: none ever freed there).</summary>
    private readonly SortedSet<ulong>?[,] free = new SortedSet<ulong>?[MaxZone + 1, MaxOrder + 1];
    /// <summary>Per zone, bit j set when the order-j set is non-empty: Alloc skips empty sets without looking.</summary>
    private readonly uint[] nonEmpty = new uint[MaxZone + 1];

    public DomHeap(IEnumerable<(ulong Mfn, int Order)> chunks)
    {
        foreach (var (mfn, order) in chunks) Add(mfn, order);
    }

    public ulong FreePages { get; private set; }

    /// <summary>page_to_zone: the bit length of the MFN (MFN 0 counts as zone 1).</summary>
    public static int Zone(ulong mfn) => Math.Max(1, 64 - System.Numerics.BitOperations.LeadingZeroCount(mfn));

    public void Add(ulong mfn, int order)
    {
        if (order < 0 || order > MaxOrder) throw new ArgumentOutOfRangeException(nameof(order), $"order {order} is not 0 .. {MaxOrder}");
        int zone = Zone(mfn);
        var set = free[zone, order] ??= [];
        if (!set.Add(mfn)) throw new InvalidOperationException($"chunk 0x{mfn:x}/{order} is free twice");
        nonEmpty[zone] |= 1u << order;
        FreePages += 1UL << order;
    }

    /// <summary>Whether a free chunk holds the frame.</summary>
    public bool Holds(ulong mfn)
    {
        for (int zone = 1; zone <= MaxZone; zone++)
            for (int order = 0; order <= MaxOrder; order++)
                if (free[zone, order] is { } set)
                    foreach (ulong start in set)
                        if (mfn >= start && mfn < start + (1UL << order)) return true;
        return false;
    }

    /// <summary>Frees one more frame (order 0).</summary>
    public void AddFrame(ulong mfn) => Add(mfn, 0);

    /// <summary>Takes the frames [start, end) out of the free chunks (splitting the chunks that overlap them).</summary>
    public void Reserve(ulong start, ulong end)
    {
        for (int zone = 1; zone <= MaxZone; zone++)
        {
            for (int order = 0; order <= MaxOrder; order++)
            {
                if ((nonEmpty[zone] & (1u << order)) == 0 || free[zone, order] is not { } set) continue;
                ulong size = 1UL << order;
                // Only chunks that can overlap [start, end): those starting below end and ending above start.
                ulong from = start >= size ? start - size + 1 : 0;
                if (end <= from) continue;
                foreach (ulong mfn in set.GetViewBetween(from, end - 1).ToList())
                {
                    set.Remove(mfn);
                    if (set.Count == 0) nonEmpty[zone] &= ~(1u << order);
                    FreePages -= size;
                    // Give back the parts outside the range as maximal aligned chunks of this one.
                    Split(mfn, order, start, end);
                }
            }
        }
    }

    private void Split(ulong mfn, int order, ulong start, ulong end)
    {
        ulong chunkEnd = mfn + (1UL << order);
        if (chunkEnd <= start || mfn >= end)
        {
            Add(mfn, order);
            return;
        }
        if (mfn >= start && chunkEnd <= end) return;
        Split(mfn, order - 1, start, end);
        Split(mfn + (1UL << (order - 1)), order - 1, start, end);
    }

    /// <summary>alloc_heap_pages: the first MFN of a 2^order block, or null.</summary>
    public ulong? Alloc(int order)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(order);
        if (order > MaxOrder) return null;
        for (int zone = MaxZone; zone >= 1; zone--)
        {
            uint candidates = nonEmpty[zone] & ~((1u << order) - 1);
            if (candidates != 0)
            {
                int j = System.Numerics.BitOperations.TrailingZeroCount(candidates);   // the smallest order ≥ order
                var set = free[zone, j]!;
                ulong mfn = set.Max;
                set.Remove(mfn);
                if (set.Count == 0) nonEmpty[zone] &= ~(1u << j);
                FreePages -= 1UL << j;
                while (j != order)
                {
                    j--;
                    Add(mfn, j);          // the lower half stays free
                    mfn += 1UL << j;      // continue with the upper half
                }
                return mfn;
            }
        }
        return null;
    }
}

/// <summary>
/// alloc_chunk (xen/arch/x86/pv/dom0_build.c) as measured: the largest power of two not above what is
/// still needed (rounded down unless exact), never above the last order that succeeded, falling back
/// one order at a time. The "smaller chunk at a higher address" retry loop does not run for this
/// build (the measured runs show it did not: Xen allocates with MEMF_no_dma first).
/// </summary>
public sealed class Dom0ChunkAllocator(DomHeap heap)
{
    private int lastOrder = DomHeap.MaxOrder;

    /// <summary>get_order_from_pages: the smallest n with 2^n ≥ pages.</summary>
    public static int OrderFromPages(ulong pages)
    {
        int order = 0;
        while ((1UL << order) < pages) order++;
        return order;
    }

    /// <summary>One chunk for at most <paramref name="maxPages"/> pages: (first MFN, order), or null when the heap is exhausted.</summary>
    public (ulong Mfn, int Order)? Next(ulong maxPages)
    {
        int order = OrderFromPages(maxPages);
        if (order > lastOrder) order = lastOrder;
        else if ((maxPages & (maxPages - 1)) != 0) order--;
        while (true)
        {
            if (heap.Alloc(order) is { } mfn)
            {
                lastOrder = order;
                return (mfn, order);
            }
            if (order-- == 0) return null;
        }
    }
}
