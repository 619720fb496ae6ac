using System.Buffers.Binary;
using Xtf.Sim.Builder;
using Xtf.Sim.Memory;
using Xtf.Sim.Tests.Builder;

namespace Xtf.Sim.Tests.Memory;

/// <summary>The P2M as runs and the M2P derived from it, against page-by-page arrays and dictionaries.</summary>
[Parallelizable(ParallelScope.All)]
public sealed class PhysToMachineMapTests
{
    /// <summary>Random injective runs: a shuffled set of disjoint MFN ranges.</summary>
    private static (PhysToMachineMap Map, ulong[] Eager) RandomMap(int seed)
    {
        var random = new Random(seed);
        var ranges = new List<(ulong Mfn, ulong Pages)>();
        ulong mfn = (ulong)random.Next(0, 100);
        int count = random.Next(1, 40);
        for (int i = 0; i < count; i++)
        {
            ulong pages = (ulong)random.Next(1, 3000);
            ranges.Add((mfn, pages));
            mfn += pages + (ulong)random.Next(0, 3);   // sometimes adjacent: such runs merge
        }
        var order = ranges.OrderBy(_ => random.Next()).ToList();
        var eager = order.SelectMany(r => Enumerable.Range(0, (int)r.Pages).Select(k => r.Mfn + (ulong)k)).ToArray();
        return (PhysToMachineMap.FromRuns(order), eager);
    }

    [TestCase(1)] [TestCase(2)] [TestCase(3)] [TestCase(4)] [TestCase(5)]
    public void LookupsBothWaysAgreeWithThePerPageArray(int seed)
    {
        var (map, eager) = RandomMap(seed);
        Assert.That(map.Count, Is.EqualTo((ulong)eager.Length));
        Assert.That(map.ToArray(), Is.EqualTo(eager));
        var m2p = new MachineToPhysMap(map);
        for (int pfn = 0; pfn < eager.Length; pfn++)
        {
            Assert.That(map[(ulong)pfn], Is.EqualTo(eager[pfn]));
            Assert.That(map.TryPfnOf(eager[pfn], out ulong back) && back == (ulong)pfn, $"mfn 0x{eager[pfn]:x}");
        }
        var owned = eager.ToHashSet();
        ulong top = eager.Max() + 3;
        for (ulong mfn = 0; mfn < top; mfn++) Assert.That(m2p.ContainsKey(mfn), Is.EqualTo(owned.Contains(mfn)), $"mfn 0x{mfn:x}");
        Assert.That(m2p.Select(kv => kv.Key), Is.EqualTo(eager.Order()), "enumeration in mfn order");
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = map[(ulong)eager.Length]);
    }

    [TestCase(1)] [TestCase(2)] [TestCase(3)]
    public void MfnListBytesFromAnyEntryEqualTheEagerEncoding(int seed)
    {
        var (map, eager) = RandomMap(seed);
        int pages = (eager.Length * 8 + 4095) / 4096;
        var all = new byte[pages * 4096];
        for (int i = 0; i < eager.Length; i++) BinaryPrimitives.WriteUInt64LittleEndian(all.AsSpan(i * 8), eager[i]);
        var random = new Random(seed);
        for (int k = 0; k < 50; k++)
        {
            int first = random.Next(0, all.Length / 8);
            int entries = random.Next(0, all.Length / 8 - first + 1);
            var lazy = new byte[entries * 8];
            Array.Fill(lazy, (byte)0xcc);
            map.WriteEntries((ulong)first, lazy);
            Assert.That(lazy, Is.EqualTo(all.AsSpan(first * 8, entries * 8).ToArray()), $"entries {first}+{entries}");
        }
    }

    [Test]
    public void AdjacentRangesMergeAndOverlapsAreRefused()
    {
        var map = PhysToMachineMap.FromRuns([(0x100, 4), (0x104, 4), (0x10, 2), (0x200, 1)]);
        Assert.That(map.Runs, Is.EqualTo(new FrameRun[] { new(0, 0x100, 8), new(8, 0x10, 2), new(10, 0x200, 1) }));
        Assert.Throws<ArgumentException>(() => PhysToMachineMap.FromRuns([(0x100, 4), (0x102, 1)]));
    }

    [Test]
    public void MachphysUpdatesOverrideTheDerivedEntries()
    {
        var map = PhysToMachineMap.FromRuns([(0x500, 4), (0x100, 2)]);
        var m2p = new MachineToPhysMap(map);
        m2p[0x501] = 0xabc;
        m2p[0x900] = 7;                 // a key it did not have, as a dictionary would take it
        Assert.That(m2p[0x501], Is.EqualTo(0xabc));
        Assert.That(m2p[0x100], Is.EqualTo(4));
        Assert.That(m2p.ContainsKey(0x900), Is.True);
        Assert.That(m2p, Has.Count.EqualTo(7));
        Assert.That(m2p.ToList(), Is.EqualTo(new Dictionary<ulong, ulong>
        {
            [0x100] = 4, [0x101] = 5, [0x500] = 0, [0x501] = 0xabc, [0x502] = 2, [0x503] = 3, [0x900] = 7,
        }.OrderBy(kv => kv.Key).ToList()));
        Assert.Throws<KeyNotFoundException>(() => _ = m2p[0x504]);
    }

    [Test]
    public void TheBuildersMfnListIsProducedLazilyAndReadsBackAsTheP2m()
    {
        var (d, m) = BuilderKit.Build(BuilderKit.Kernel(0x11000));
        ulong firstFrame = d.MfnOfVa(d.PhysmapStart)!.Value;
        ulong frames = ((d.PhysmapEnd + 0xfff) >> 12) - (d.PhysmapStart >> 12);
        Assert.That(frames, Is.EqualTo(236), "120,442 entries of 8 bytes: 235.2 pages");
        for (ulong k = 0; k < frames; k++) Assert.That(m.IsAllocated(firstFrame + k), Is.False, $"mfn_list frame {k} before any read");
        int before = m.AllocatedFrames;
        var list = BuilderKit.ReadVirtual(m, d.Cr3, d.PhysmapStart, (int)(frames * 4096));
        Assert.That(m.AllocatedFrames, Is.EqualTo(before + (int)frames));
        var eager = new byte[frames * 4096];
        var p2m = d.P2m;
        for (int pfn = 0; pfn < p2m.Length; pfn++) BinaryPrimitives.WriteUInt64LittleEndian(eager.AsSpan(pfn * 8), p2m[pfn]);
        Assert.That(list, Is.EqualTo(eager));
        for (ulong k = 0; k < frames; k++)
        {
            ulong va = d.PhysmapStart + k * 4096;
            Assert.That(PvPageTables.L1Entry(m, d.Cr3, va)!.Value & PvPageTables.Dirty, Is.Not.Zero, $"page 0x{va:x} is dirty as after Xen's writes");
        }
    }
}
