using System.Buffers.Binary;
using System.Collections;

namespace Xtf.Sim.Memory;

/// <summary>pfns [FirstPfn, FirstPfn + Pages) map to the machine frames [FirstMfn, FirstMfn + Pages).</summary>
public readonly record struct FrameRun(ulong FirstPfn, ulong FirstMfn, ulong Pages);

/// <summary>
/// A domain's P2M (pfn → mfn) kept as runs of consecutive frames, as the buddy allocator hands them
/// out: a 512 MiB dom0 has 120,442 pages in 14 runs. Lookups are binary searches over the runs, so
/// building a domain costs nothing per page.
/// </summary>
public sealed class PhysToMachineMap
{
    /// <summary>At most this many runs (every page its own run would need nr_pages; the builder takes ≤ 2 per buddy order).</summary>
    public const int MaxRuns = 1 << 16;

    private readonly FrameRun[] byPfn;
    /// <summary>The same runs ordered by FirstMfn (for the M2P direction).</summary>
    private readonly FrameRun[] byMfn;

    private PhysToMachineMap(FrameRun[] runs)
    {
        byPfn = runs;
        byMfn = (FrameRun[])runs.Clone();
        Array.Sort(byMfn, (a, b) => a.FirstMfn.CompareTo(b.FirstMfn));
        for (int i = 1; i < byMfn.Length; i++)
            if (byMfn[i - 1].FirstMfn + byMfn[i - 1].Pages > byMfn[i].FirstMfn)
                throw new ArgumentException($"mfn 0x{byMfn[i].FirstMfn:x} is mapped twice: a P2M is injective");
        Count = runs.Length == 0 ? 0 : runs[^1].FirstPfn + runs[^1].Pages;
    }

    /// <summary>Number of pfns (nr_pages).</summary>
    public ulong Count { get; }

    /// <summary><see cref="Count"/> as an int, as the per-page array's length was.</summary>
    public int Length => (int)Count;

    public IReadOnlyList<FrameRun> Runs => byPfn;

    /// <summary>The mfn behind <paramref name="pfn"/>.</summary>
    public ulong this[ulong pfn]
    {
        get
        {
            if (pfn >= Count) throw new ArgumentOutOfRangeException(nameof(pfn), $"pfn 0x{pfn:x} is beyond the P2M's 0x{Count:x} pages");
            var r = byPfn[FindByPfn(pfn)];
            return r.FirstMfn + (pfn - r.FirstPfn);
        }
    }

    public ulong this[int pfn] => this[(ulong)pfn];

    /// <summary>The pfn <paramref name="mfn"/> backs, or false when the domain does not own it.</summary>
    public bool TryPfnOf(ulong mfn, out ulong pfn)
    {
        int lo = 0, hi = byMfn.Length - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            var r = byMfn[mid];
            if (mfn < r.FirstMfn) hi = mid - 1;
            else if (mfn >= r.FirstMfn + r.Pages) lo = mid + 1;
            else
            {
                pfn = r.FirstPfn + (mfn - r.FirstMfn);
                return true;
            }
        }
        pfn = 0;
        return false;
    }

    private int FindByPfn(ulong pfn)
    {
        int lo = 0, hi = byPfn.Length - 1;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) >>> 1;
            if (byPfn[mid].FirstPfn <= pfn) lo = mid;
            else hi = mid - 1;
        }
        return lo;
    }

    /// <summary>
    /// The guest's mfn_list bytes from entry <paramref name="firstEntry"/> on: little-endian 64-bit mfns,
    /// zeros past the last page. Fills all of <paramref name="into"/> (a whole number of entries).
    /// </summary>
    public void WriteEntries(ulong firstEntry, Span<byte> into)
    {
        if (into.Length % 8 != 0) throw new ArgumentException("a whole number of 8-byte entries", nameof(into));
        int entries = into.Length / 8;
        int i = 0;
        if (firstEntry < Count)
        {
            int run = FindByPfn(firstEntry);
            ulong pfn = firstEntry;
            while (i < entries && pfn < Count)
            {
                var r = byPfn[run];
                ulong end = r.FirstPfn + r.Pages;
                for (; i < entries && pfn < end; i++, pfn++)
                    BinaryPrimitives.WriteUInt64LittleEndian(into.Slice(i * 8, 8), r.FirstMfn + (pfn - r.FirstPfn));
                run++;
            }
        }
        into[(i * 8)..].Clear();
    }

    /// <summary>Every entry, pfn order.</summary>
    public ulong[] ToArray()
    {
        var all = new ulong[Count];
        foreach (var r in byPfn)
            for (ulong k = 0; k < r.Pages; k++) all[r.FirstPfn + k] = r.FirstMfn + k;
        return all;
    }

    /// <summary>Collects runs in pfn order, starting at pfn 0; consecutive frames merge into one run.</summary>
    public sealed class Builder
    {
        private readonly List<FrameRun> runs = [];
        private ulong next;

        /// <summary>Pages mapped so far (the next pfn).</summary>
        public ulong Count => next;

        /// <summary>Maps the next <paramref name="pages"/> pfns to [<paramref name="firstMfn"/>, + pages).</summary>
        public void Append(ulong firstMfn, ulong pages)
        {
            if (pages == 0) return;
            if (runs.Count > 0 && runs[^1] is var last && last.FirstMfn + last.Pages == firstMfn)
                runs[^1] = last with { Pages = last.Pages + pages };
            else
            {
                if (runs.Count == MaxRuns) throw new InvalidOperationException($"more than {MaxRuns} P2M runs");
                runs.Add(new FrameRun(next, firstMfn, pages));
            }
            next += pages;
        }

        public PhysToMachineMap Build() => new([.. runs]);
    }

    /// <summary>A map from explicit runs (pfn order, contiguous from pfn 0).</summary>
    public static PhysToMachineMap FromRuns(IEnumerable<(ulong FirstMfn, ulong Pages)> runs)
    {
        var b = new Builder();
        foreach (var (mfn, pages) in runs) b.Append(mfn, pages);
        return b.Build();
    }
}

/// <summary>
/// The M2P entries of a domain's frames (mfn → pfn), derived from its <see cref="PhysToMachineMap"/>;
/// MMU_MACHPHYS_UPDATE writes are kept on top. The keys are the frames the domain owns. Enumeration is
/// in mfn order (deterministic).
/// </summary>
public sealed class MachineToPhysMap(PhysToMachineMap p2m) : IReadOnlyDictionary<ulong, ulong>
{
    private readonly Dictionary<ulong, ulong> written = [];
    private int extraKeys;

    public PhysToMachineMap P2m { get; } = p2m;

    public bool ContainsKey(ulong mfn) => P2m.TryPfnOf(mfn, out _) || written.ContainsKey(mfn);

    public bool TryGetValue(ulong mfn, out ulong pfn)
    {
        if (written.TryGetValue(mfn, out pfn)) return true;
        return P2m.TryPfnOf(mfn, out pfn);
    }

    public ulong this[ulong mfn]
    {
        get => TryGetValue(mfn, out ulong pfn) ? pfn : throw new KeyNotFoundException($"mfn 0x{mfn:x} has no M2P entry");
        set
        {
            if (!ContainsKey(mfn)) extraKeys++;
            written[mfn] = value;
        }
    }

    public int Count => P2m.Length + extraKeys;

    public IEnumerable<ulong> Keys => this.Select(kv => kv.Key);
    public IEnumerable<ulong> Values => this.Select(kv => kv.Value);

    public IEnumerator<KeyValuePair<ulong, ulong>> GetEnumerator()
    {
        var runs = P2m.Runs.OrderBy(r => r.FirstMfn).ToList();
        var extra = written.Keys.Where(k => !P2m.TryPfnOf(k, out _)).Order().ToList();
        int e = 0;
        foreach (var r in runs)
        {
            for (; e < extra.Count && extra[e] < r.FirstMfn; e++) yield return new(extra[e], written[extra[e]]);
            for (ulong k = 0; k < r.Pages; k++)
            {
                ulong mfn = r.FirstMfn + k;
                yield return new(mfn, written.TryGetValue(mfn, out ulong w) ? w : r.FirstPfn + k);
            }
        }
        for (; e < extra.Count; e++) yield return new(extra[e], written[extra[e]]);
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
