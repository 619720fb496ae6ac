using System.Buffers.Binary;
using Xtf.Abi;
using Xtf.Guest;
using Xtf.Hosting;
using Xtf.Hosting.Xen;
using Xtf.Sim.Builder;
using Xtf.Sim.Memory;
using Xtf.Testing;

namespace Xtf.Sim.Tests.Builder;

/// <summary>
/// What dom0 sees in memory at entry, dumped by a guest kernel on real Xen and compared with the
/// builder's memory read the same way: every start_info word, the page-table entries of the whole
/// initial mapping (flag runs, MFN agreement with mfn_list, the upper-level entries with their machine
/// addresses), the P2M runs, and shared_info's masks. The walk relies on dom0's v_start being 0 and
/// the tables lying in the initial block (pfn = mfn − mfn_list[0]).
/// </summary>
[Parallelizable(ParallelScope.All)]
public sealed class Dom0GuestViewTests
{
    private const long FlagMask = unchecked((long)0xFFF0_0000_0000_0FFFUL);
    private const long MfnMask = 0xFF_FFFF_FFFF;
    private const int MappedPages = 0x400;   // 4 MiB: the initial mapping of the dump kernel

    /// <summary>The guest: prints "si", "l4", "upper", "pte", "bad", "p2m" and "tail" lines.</summary>
    private static KernelImage LayoutDump() => KernelBuilder.Build("dom0-layout-dump", "dom0 memory at entry", g =>
    {
        var si = g.Var("si");
        g.Set(si, g.StartInfo);
        var ptBase = g.Var("pt_base");
        var mfnList = g.Var("mfn_list");
        var nrPages = g.Var("nr_pages");
        var base0 = g.Var("block_mfn");
        g.Set(ptBase, Val.At(si, StartInfo.Layout.PtBase));
        g.Set(mfnList, Val.At(si, StartInfo.Layout.MfnList));
        g.Set(nrPages, Val.At(si, StartInfo.Layout.NrPages));
        g.Set(base0, Val.At(mfnList));

        var i = g.Var("i");
        g.For(i, 0, (StartInfo.Layout.Size + Dom0VgaConsoleInfo.Layout.Size) / 8, () => g.Print("si %x %x\n", i << 3, Val.At(si + (i << 3))));
        g.For(i, 0, 256, () => g.If(Val.At(ptBase + (i << 3)) != 0, () => g.Print("l4 %x %x\n", i, Val.At(ptBase + (i << 3)))));

        Val TableVa(Val entry) => ((entry >> 12) & MfnMask) - base0 << 12;
        var e4 = g.Var("e4");
        var e3 = g.Var("e3");
        var e2 = g.Var("e2");
        var e1 = g.Var("e1");
        var va = g.Var("va");
        var flags = g.Var("flags");
        var prev = g.Var("prev");
        var bad = g.Var("bad");
        g.Set(prev, -1);
        g.For(i, 0, MappedPages, () =>
        {
            g.Set(va, i << 12);
            g.Set(e4, Val.At(ptBase + (((va >> 39) & 511) << 3)));
            g.Set(e3, Val.At(TableVa(e4) + (((va >> 30) & 511) << 3)));
            g.Set(e2, Val.At(TableVa(e3) + (((va >> 21) & 511) << 3)));
            g.Set(e1, Val.At(TableVa(e2) + (((va >> 12) & 511) << 3)));
            g.If(i == 0, () => g.Print("upper %x %x %x\n", e4, e3, e2));
            g.If(i == 0x200, () => g.Print("upper2 %x\n", e2));
            g.Set(flags, e1 & FlagMask);
            g.If(((e1 >> 12) & MfnMask) != Val.At(mfnList + (i << 3)), () => g.Set(bad, bad + 1));
            g.If(flags != prev, () =>
            {
                g.Print("pte %x %x\n", i, flags);
                g.Set(prev, flags);
            });
        });
        g.Print("bad %u\n", bad);

        var m = g.Var("m");
        g.For(i, 0, nrPages, () =>
        {
            g.Set(m, Val.At(mfnList + (i << 3)));
            g.If((i == 0) | (m != prev + 1), () => g.Print("p2m %x %x\n", i, m));
            g.Set(prev, m);
        });
        var nonZero = g.Var("tail_nonzero");
        var end = g.Var("tail_end");
        g.Set(end, (mfnList + (nrPages << 3) + 4095) & ~4095L);
        g.For(i, mfnList + (nrPages << 3), end, () => g.If(Val.At(i, 0, 1) != 0, () => g.Set(nonZero, nonZero + 1)));
        g.Print("tail %u\n", nonZero);
        g.Success();
    });

    /// <summary>The guest: maps shared_info and prints "masks", "wc_version" and "nonzero" (bytes outside vCPU 0's time and the wallclock).</summary>
    private static KernelImage SharedInfoDump() => KernelBuilder.Build("dom0-shared-info-dump", "dom0 shared_info at entry", g =>
    {
        var shared = g.SharedInfo;
        var i = g.Var("i");
        var masked = g.Var("masked");
        g.For(i, 0, 32, () => g.Set(masked, masked + Val.At(shared.Ptr + (i << 6), VcpuInfo.Layout.EvtchnUpcallMask, 1)));
        g.Print("masks %u\n", masked);
        g.Print("wc_version %u\n", shared.U32(SharedInfo.Layout.WcVersion));
        var nonZero = g.Var("nonzero");
        g.For(i, 0, 4096, () =>
        {
            var skip = (i >= VcpuInfo.Layout.Time) & (i < VcpuInfo.Layout.Size)
                       | (i >= SharedInfo.Layout.WcVersion) & (i < SharedInfo.Layout.WcSecHi + 4)
                       | (i == VcpuInfo.Layout.EvtchnUpcallMask) | ((i & 63) == VcpuInfo.Layout.EvtchnUpcallMask) & (i < 64 * 32);
            g.If(!skip, () => g.If(Val.At(shared.Ptr + i, 0, 1) != 0, () => g.Set(nonZero, nonZero + 1)));
        });
        g.Print("nonzero %u\n", nonZero);
        g.Success();
    });

    /// <summary>The same lines, computed from the builder's machine memory.</summary>
    private static List<string> ExpectedLayoutLines(Dom0 d, MachineMemory m)
    {
        Assert.That((d.VirtStart, d.VirtEnd), Is.EqualTo((0UL, (ulong)MappedPages << 12)), "the dump walks a 4 MiB mapping from 0");
        var lines = new List<string>();
        var si = BuilderKit.ReadVirtual(m, d.Cr3, d.StartInfoVa, StartInfo.Layout.Size + Dom0VgaConsoleInfo.Layout.Size);
        for (int off = 0; off < si.Length; off += 8) lines.Add($"si {off:x} {BinaryPrimitives.ReadUInt64LittleEndian(si.AsSpan(off)):x}");
        for (int s = 0; s < 256; s++)
        {
            ulong e = m.ReadU64(d.Cr3 + (ulong)s * 8);
            if (e != 0) lines.Add($"l4 {s:x} {e:x}");
        }
        ulong E(ulong table, ulong va, int shift) => m.ReadU64((table & PvPageTables.AddressMask) + ((va >> shift) & 511) * 8);
        ulong prev = ulong.MaxValue;
        for (ulong pfn = 0; pfn < MappedPages; pfn++)
        {
            ulong va = pfn << 12;
            ulong e4 = E(d.Cr3, va, 39), e3 = E(e4, va, 30), e2 = E(e3, va, 21), e1 = E(e2, va, 12);
            if (pfn == 0) lines.Add($"upper {e4:x} {e3:x} {e2:x}");
            if (pfn == 0x200) lines.Add($"upper2 {e2:x}");
            ulong flags = e1 & unchecked((ulong)FlagMask);
            if (flags != prev) lines.Add($"pte {pfn:x} {flags:x}");
            prev = flags;
        }
        lines.Add("bad 0");
        for (int pfn = 0; pfn < d.P2m.Length; pfn++)
            if (pfn == 0 || d.P2m[pfn] != d.P2m[pfn - 1] + 1) lines.Add($"p2m {pfn:x} {d.P2m[pfn]:x}");
        lines.Add("tail 0");
        return lines;
    }

    private static List<string> Dumped(TestOutcome o, params string[] prefixes)
    {
        Assert.That(o.Status, Is.EqualTo(TestStatus.Success), o.Message);
        return o.GuestLines.Where(l => prefixes.Any(p => l.StartsWith(p + " ", StringComparison.Ordinal))).ToList();
    }

    private static readonly string[] LayoutPrefixes = ["si", "l4", "upper", "upper2", "pte", "bad", "p2m", "tail"];

    [Test]
    public void LayoutDumpOnTheSimulatedMemoryIsConsistent()
    {
        // Sanity of the expectation itself, without real Xen: the builder's page tables agree with its P2M.
        var k = LayoutDump();
        var (d, m) = BuilderKit.Build(k.Bytes);
        var lines = ExpectedLayoutLines(d, m);
        Assert.That(lines, Does.Contain($"si 20 {d.NrPages:x}"));
        Assert.That(lines.Count(l => l.StartsWith("p2m ", StringComparison.Ordinal)), Is.EqualTo(12), "runs of the modelled heap (docs/dom0.md §2.16)");
    }

    [TestCase(1)]
    [TestCase(2)]
    public void StartInfoPageTablesAndP2mAreWhatRealXenBuilds(int vcpus)
    {
        var k = LayoutDump();
        var (d, m) = BuilderKit.Build(k.Bytes, 512, pcpus: vcpus, vcpus: vcpus);
        var expected = ExpectedLayoutLines(d, m);
        var real = Dumped(RealXen.Boot(k.Name, k.Bytes, vcpus), LayoutPrefixes);
        static bool IsP2m(string l) => l.StartsWith("p2m ", StringComparison.Ordinal);
        Assert.That(real.Where(l => !IsP2m(l)), Is.EqualTo(expected.Where(l => !IsP2m(l))), "start_info, page tables, tail");
        // The P2M: the block and the large chunks are the measured heap; the last ~26 pages come from
        // small chunks that the module's own (freed) pages shape, which the heap model does not follow.
        Assert.That(real.Where(IsP2m).Take(LargeRuns), Is.EqualTo(expected.Where(IsP2m).Take(LargeRuns)));
        Assert.That(real.Where(IsP2m).Count(), Is.GreaterThanOrEqualTo(LargeRuns + 1));
    }

    /// <summary>P2M runs that do not depend on the module: the block, 8 large chunks, then 64 pages.</summary>
    private const int LargeRuns = 10;

    [Test]
    public void SharedInfoIsWhatRealXenBuilds()
    {
        var k = SharedInfoDump();
        var real = Dumped(RealXen.Boot(k.Name, k.Bytes), "masks", "wc_version", "nonzero");
        Assert.That(real, Is.EqualTo(new[] { "masks 32", "wc_version 2", "nonzero 0" }));

        var (d, m) = BuilderKit.Build(k.Bytes);
        var page = m.Frame(d.SharedInfoMfn);
        Assert.That(Enumerable.Range(0, 32).Sum(v => page[v * 64 + 1]), Is.EqualTo(32));
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(page.AsSpan(SharedInfo.Layout.WcVersion)), Is.EqualTo(2));
    }
}
