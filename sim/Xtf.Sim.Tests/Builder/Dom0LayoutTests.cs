using Xtf.Sim.Builder;

namespace Xtf.Sim.Tests.Builder;

/// <summary>The worked examples of docs/dom0.md §2.3–§2.5, reproduced with synthetic kernels of the same extent.</summary>
[Parallelizable(ParallelScope.All)]
public sealed class Dom0LayoutTests
{
    /// <summary>test-pv64-example's extent: 0x100000–0x111000.</summary>
    private static byte[] Example => BuilderKit.Kernel(0x11000);

    /// <summary>The probe kernel of docs/dom0.md §2.5's -smp 2 example: 0x100000–0x114000.</summary>
    private static byte[] Probe => BuilderKit.Kernel(0x14000);

    [Test]
    public void Example512IsTheMeasuredLogLineForLine()
    {
        var (d, _) = BuilderKit.Build(Example);
        Assert.That(d.BuildLog, Is.EqualTo(new[]
        {
            "*** Building a PV Dom0 ***",
            " Xen  kernel: 64-bit, lsb",
            " Dom0 kernel: 64-bit, PAE, lsb, paddr 0x100000 -> 0x111000",
            "PHYSICAL MEMORY ARRANGEMENT:",
            " Dom0 alloc.:   000000001ec00000->000000001f000000 (119418 pages to be allocated)",
            "VIRTUAL MEMORY ARRANGEMENT:",
            " Loaded kernel: 0000000000100000->0000000000111000",
            " Phys-Mach map: 0000000000111000->00000000001fc3d0",
            " Start info:    00000000001fd000->00000000001fd4b8",
            " Page tables:   00000000001fe000->0000000000203000",
            " Boot stack:    0000000000203000->0000000000204000",
            " TOTAL:         0000000000000000->0000000000400000",
            " ENTRY ADDRESS: 0000000000100000",
            "Dom0 has maximum 1 VCPUs",
        }));
        Assert.That(d.NrPages, Is.EqualTo(120442));
        Assert.That(d.AllocOrder, Is.EqualTo(10));
        Assert.That((d.AllocBlockStart, d.AllocBlockEnd), Is.EqualTo((0x1ec00000UL, 0x1f000000UL)));
        Assert.That(d.NrPtFrames, Is.EqualTo(5));
        Assert.That((d.VirtStart, d.VirtEnd), Is.EqualTo((0UL, 0x400000UL)));
        Assert.That((d.KernelStart, d.KernelEnd, d.Entry), Is.EqualTo((0x100000UL, 0x111000UL, 0x100000UL)));
        Assert.That((d.PhysmapStart, d.PhysmapEnd), Is.EqualTo((0x111000UL, 0x1fc3d0UL)));
        Assert.That((d.StartInfoVa, d.StartInfoEnd), Is.EqualTo((0x1fd000UL, 0x1fd4b8UL)));
        Assert.That((d.PageTablesStart, d.PageTablesEnd, d.BootStackVa), Is.EqualTo((0x1fe000UL, 0x203000UL, 0x203000UL)));
    }

    public static IEnumerable<TestCaseData> OtherMemorySizes()
    {
        yield return new TestCaseData(768, 181402L, "000000002ec00000->000000002f000000 (180378 pages to be allocated)",
            "0000000000111000->00000000002734d0", "0000000000274000->00000000002744b8", "0000000000275000->000000000027a000",
            "000000000027a000->000000000027b000", "0000000000000000->0000000000400000", 5).SetName("-m 768");
        yield return new TestCaseData(1024, 242362L, "000000003e800000->000000003ec00000 (241338 pages to be allocated)",
            "0000000000111000->00000000002ea5d0", "00000000002eb000->00000000002eb4b8", "00000000002ec000->00000000002f1000",
            "00000000002f1000->00000000002f2000", "0000000000000000->0000000000400000", 5).SetName("-m 1024");
        yield return new TestCaseData(2048, 485722L, "000000007d800000->000000007e000000 (483674 pages to be allocated)",
            "0000000000111000->00000000004c5ad0", "00000000004c6000->00000000004c64b8", "00000000004c7000->00000000004ce000",
            "00000000004ce000->00000000004cf000", "0000000000000000->0000000000800000", 7).SetName("-m 2048");
        yield return new TestCaseData(4096, 1004499L, "000000013c000000->000000013d000000 (1000403 pages to be allocated)",
            "0000000000111000->00000000008bae98", "00000000008bb000->00000000008bb4b8", "00000000008bc000->00000000008c5000",
            "00000000008c5000->00000000008c6000", "0000000000000000->0000000000c00000", 9).SetName("-m 4096");
    }

    [TestCaseSource(nameof(OtherMemorySizes))]
    public void ExampleAtOtherMemorySizes(int mib, long nrPages, string alloc, string p2m, string startInfo, string pageTables,
        string stack, string total, int ptFrames)
    {
        var (d, _) = BuilderKit.Build(Example, mib);
        Assert.That(d.NrPages, Is.EqualTo((ulong)nrPages));
        Assert.That(d.NrPtFrames, Is.EqualTo((ulong)ptFrames));
        Assert.That(d.BuildLog.Skip(4).Take(9), Is.EqualTo(new[]
        {
            " Dom0 alloc.:   " + alloc,
            "VIRTUAL MEMORY ARRANGEMENT:",
            " Loaded kernel: 0000000000100000->0000000000111000",
            " Phys-Mach map: " + p2m,
            " Start info:    " + startInfo,
            " Page tables:   " + pageTables,
            " Boot stack:    " + stack,
            " TOTAL:         " + total,
            " ENTRY ADDRESS: 0000000000100000",
        }));
        Assert.That(d.P2m.Distinct().Count(), Is.EqualTo(d.P2m.Length), "p2m is injective");
    }

    [Test]
    public void TwoCpusWithTheProbeKernel()
    {
        var (d, _) = BuilderKit.Build(Probe, 512, pcpus: 2, vcpus: 2);
        Assert.That(d.NrPages, Is.EqualTo(120412));
        Assert.That(d.BuildLog.Skip(4), Is.EqualTo(new[]
        {
            " Dom0 alloc.:   000000001ec00000->000000001f000000 (119388 pages to be allocated)",
            "VIRTUAL MEMORY ARRANGEMENT:",
            " Loaded kernel: 0000000000100000->0000000000114000",
            " Phys-Mach map: 0000000000114000->00000000001ff2e0",
            " Start info:    0000000000200000->00000000002004b8",
            " Page tables:   0000000000201000->0000000000206000",
            " Boot stack:    0000000000206000->0000000000207000",
            " TOTAL:         0000000000000000->0000000000400000",
            " ENTRY ADDRESS: 0000000000100000",
            "Dom0 has maximum 2 VCPUs",
        }));
        Assert.That(d.Rsp, Is.EqualTo(0x207000), "docs/dom0.md §2.10: rsp measured 0x207000 for the probe");
        Assert.That(d.Rsi, Is.EqualTo(0x200000));
        Assert.That(d.SharedInfoMfn, Is.EqualTo(0x1fdb6), "a 21-page module with -smp 2");
    }

    [Test]
    public void OneCpuWithTwoDom0Vcpus()
    {
        var (d, _) = BuilderKit.Build(Example, 512, pcpus: 1, vcpus: 2);
        Assert.That(d.NrPages, Is.EqualTo(120441));
        Assert.That(d.BuildLog[^1], Is.EqualTo("Dom0 has maximum 2 VCPUs"));
        Assert.That(d.BuildLog[4], Does.EndWith("(119417 pages to be allocated)"));
    }

    /// <summary>Measured on real Xen at 512 MiB with 4 MiB and 10 MiB of BSS: the block end stays at 0x1f000000 for orders 11 and 12.</summary>
    [TestCase(0x400000UL, "000000001e800000->000000001f000000 (118394 pages to be allocated)", "0000000000500000->00000000005eb3d0",
        "00000000005ec000->00000000005ec4b8", "00000000005ed000->00000000005f4000", "00000000005f4000->00000000005f5000",
        "0000000000000000->0000000000800000", 11, 7)]
    [TestCase(0xA00000UL, "000000001e000000->000000001f000000 (116346 pages to be allocated)", "0000000000b00000->0000000000beb3d0",
        "0000000000bec000->0000000000bec4b8", "0000000000bed000->0000000000bf8000", "0000000000bf8000->0000000000bf9000",
        "0000000000000000->0000000001000000", 12, 11)]
    public void LargerKernelsTakeLargerBlocks(ulong memSize, string alloc, string p2m, string startInfo, string pageTables, string stack,
        string total, int order, int ptFrames)
    {
        var (d, _) = BuilderKit.Build(BuilderKit.Kernel(0x11000, memSize));
        Assert.That(d.BuildLog.Skip(2).Take(11), Is.EqualTo(new[]
        {
            $" Dom0 kernel: 64-bit, PAE, lsb, paddr 0x100000 -> 0x{0x100000 + memSize:x}",
            "PHYSICAL MEMORY ARRANGEMENT:",
            " Dom0 alloc.:   " + alloc,
            "VIRTUAL MEMORY ARRANGEMENT:",
            $" Loaded kernel: 0000000000100000->{0x100000 + memSize:x16}",
            " Phys-Mach map: " + p2m,
            " Start info:    " + startInfo,
            " Page tables:   " + pageTables,
            " Boot stack:    " + stack,
            " TOTAL:         " + total,
            " ENTRY ADDRESS: 0000000000100000",
        }));
        Assert.That(d.AllocOrder, Is.EqualTo(order));
        Assert.That(d.NrPtFrames, Is.EqualTo((ulong)ptFrames));
    }

    [Test]
    public void AnUnalignedKernelEndIsPrintedAsIsAndRoundedForTheP2m()
    {
        // Like the framework's test-pv64-example on real Xen (results/xen/test-pv64-example.log).
        var (d, _) = BuilderKit.Build(BuilderKit.Kernel(0x77a9));
        Assert.That(d.BuildLog[2], Is.EqualTo(" Dom0 kernel: 64-bit, PAE, lsb, paddr 0x100000 -> 0x1077a9"));
        Assert.That(d.BuildLog[6], Is.EqualTo(" Loaded kernel: 0000000000100000->00000000001077a9"));
        Assert.That(d.BuildLog[7], Is.EqualTo(" Phys-Mach map: 0000000000108000->00000000001f33d0"));
        Assert.That(d.BuildLog[8], Is.EqualTo(" Start info:    00000000001f4000->00000000001f44b8"));
        Assert.That(d.BuildLog[9], Is.EqualTo(" Page tables:   00000000001f5000->00000000001fa000"));
    }

    [Test]
    public void WithoutPaeModeThereIsNoPaeAndNoVmAssist()
    {
        var (d, _) = BuilderKit.Build(BuilderKit.Kernel(notes: BuilderKit.XtfNotes(pae: null)));
        Assert.That(d.BuildLog[2], Is.EqualTo(" Dom0 kernel: 64-bit, lsb, paddr 0x100000 -> 0x111000"));
        Assert.That(d.StartInfo.Magic, Is.EqualTo("xen-3.0-x86_64"));
        Assert.That(d.VmAssist, Is.EqualTo(0));
    }

    [Test]
    public void PaeModeYesEnablesPaeExtendedCr3Only()
    {
        var (d, _) = BuilderKit.Build(Example);
        Assert.That(d.VmAssist, Is.EqualTo(1UL << 3));
        var (bimodal, _) = BuilderKit.Build(BuilderKit.Kernel(notes: BuilderKit.XtfNotes(pae: "bimodal")));
        Assert.That(bimodal.VmAssist, Is.EqualTo(0), "bimodal is a PAE mode but not EXTCR3");
        Assert.That(bimodal.StartInfo.Magic, Is.EqualTo("xen-3.0-x86_64p"));
    }

    /// <summary>The real-Xen sweep of docs/dom0.md §2.17: (-m, -smp = dom0 vCPUs) → nr_pages and the initial block's first MFN.</summary>
    [TestCase(256, 1, 59482UL, 0xf000UL)] [TestCase(256, 2, 59452UL, 0xf000UL)] [TestCase(256, 3, 59417UL, 0xf000UL)] [TestCase(256, 4, 59387UL, 0xf000UL)]
    [TestCase(384, 1, 89961UL, 0x17000UL)] [TestCase(384, 2, 89931UL, 0x17000UL)] [TestCase(384, 3, 89896UL, 0x17000UL)] [TestCase(384, 4, 89866UL, 0x17000UL)]
    [TestCase(512, 1, 120442UL, 0x1ec00UL)] [TestCase(512, 2, 120412UL, 0x1ec00UL)] [TestCase(512, 3, 120377UL, 0x1ec00UL)] [TestCase(512, 4, 120347UL, 0x1ec00UL)]
    [TestCase(768, 1, 181402UL, 0x2ec00UL)] [TestCase(768, 2, 181372UL, 0x2ec00UL)] [TestCase(768, 3, 181337UL, 0x2ec00UL)] [TestCase(768, 4, 181307UL, 0x2ec00UL)]
    [TestCase(1024, 1, 242362UL, 0x3e800UL)] [TestCase(1024, 2, 242332UL, 0x3e800UL)] [TestCase(1024, 3, 242297UL, 0x3e800UL)] [TestCase(1024, 4, 242267UL, 0x3e800UL)]
    [TestCase(1536, 1, 363802UL, 0x5e000UL)] [TestCase(1536, 2, 363772UL, 0x5e000UL)] [TestCase(1536, 3, 363737UL, 0x5e000UL)] [TestCase(1536, 4, 363707UL, 0x5e000UL)]
    [TestCase(2048, 1, 485722UL, 0x7d800UL)] [TestCase(2048, 2, 485692UL, 0x7d800UL)] [TestCase(2048, 3, 485657UL, 0x7d800UL)] [TestCase(2048, 4, 485627UL, 0x7d800UL)]
    [TestCase(3072, 1, 744919UL, 0xbd000UL)] [TestCase(3072, 2, 744887UL, 0xbd000UL)] [TestCase(3072, 3, 744850UL, 0xbd000UL)] [TestCase(3072, 4, 744818UL, 0xbd000UL)]
    [TestCase(4096, 1, 1004499UL, 0x13c000UL)]
    public void TheHeapModelMatchesTheSweep(int mib, int cpus, ulong nrPages, ulong blockMfn)
    {
        var profile = MachineProfile.For(mib, cpus, cpus);
        Assert.That(profile.NrPagesFor(9 * 4096), Is.EqualTo(nrPages), "nr_pages");
        int order = mib >= 1536 ? (mib >= 4096 ? 12 : 11) : 10;
        var heap = profile.BuildHeap(9 * 4096, profile.SharedInfoAddress(9 * 4096) >> 12);
        Assert.That(heap.Alloc(order), Is.EqualTo(blockMfn), "the initial block");
    }

    [Test]
    public void ProfilesOutsideTheModelAreRefused()
    {
        var e = Assert.Throws<ArgumentException>(() => MachineProfile.For(64, 1, 1));
        Assert.That(e!.Message, Does.StartWith("-m 64: the machine model takes"));
        Assert.Throws<ArgumentException>(() => MachineProfile.For(512, 65, 65));
        Assert.DoesNotThrow(() => MachineProfile.For(640, 3, 3));
    }

    /// <summary>Measured on real Xen: (-m, -smp, module bytes) → start_info.shared_info.</summary>
    [TestCase(512, 1, 0x8969, 0x1fdb1000UL)]
    [TestCase(512, 1, 0x91a6, 0x1fdbc000UL)]
    [TestCase(512, 1, 0xa969, 0x1fd6f000UL)]
    [TestCase(512, 1, 0xf969, 0x1fd6a000UL)]
    [TestCase(512, 1, 0x11969, 0x1f9e4000UL)]
    [TestCase(512, 1, 0x15969, 0x1f9e0000UL)]
    [TestCase(512, 1, 0x21969, 0x1f9d4000UL)]
    [TestCase(512, 1, 0x3e969, 0x1fd6b000UL)]
    [TestCase(512, 1, 0x65969, 0x1f990000UL)]
    [TestCase(512, 1, 0x81969, 0x1f974000UL)]
    [TestCase(512, 1, 0x108969, 0x1fdb1000UL)]
    [TestCase(512, 2, 0x8969, 0x1fdb2000UL)]
    [TestCase(512, 2, 0x12969, 0x1ffc4000UL)]
    [TestCase(512, 2, 0x16969, 0x1ffc0000UL)]
    [TestCase(512, 2, 0x82969, 0x1ffc4000UL)]
    [TestCase(512, 2, 0x27969, 0x1fdb3000UL)]
    [TestCase(768, 1, 0x9969, 0x2fdbc000UL)]
    [TestCase(1024, 1, 0x8969, 0x3fdb1000UL)]
    [TestCase(1024, 1, 0x11969, 0x3f9e4000UL)]
    [TestCase(2048, 1, 0x9969, 0x7fdbc000UL)]
    [TestCase(4096, 1, 0x11969, 0xbffdc000UL)]
    public void SharedInfoAddressFollowsTheModuleSize(int mib, int cpus, int moduleBytes, ulong expected) =>
        Assert.That(MachineProfile.For(mib, cpus, cpus).SharedInfoAddress((ulong)moduleBytes), Is.EqualTo(expected));

    [Test]
    public void MachineFramesCoverQemusHighRam()
    {
        Assert.That(MachineProfile.For(512, 1, 1).MachineFrames, Is.EqualTo(0x20000));
        Assert.That(MachineProfile.For(4096, 1, 1).MachineFrames, Is.EqualTo(0x140000), "3 GiB low + 1 GiB at 4 GiB");
    }

    [Test]
    public void PageTableCountMatchesTheRuleOfSection24()
    {
        // n = 3 + v_end / 2 MiB for v_start = 0 and v_end ≤ 1 GiB.
        foreach (ulong mib in new ulong[] { 4, 8, 12, 64, 1024 })
            Assert.That(PvPageTables.TablesNeeded(0, mib << 20), Is.EqualTo(3 + mib / 2));
        Assert.That(PvPageTables.TablesNeeded(0, (1UL << 30) + (4 << 20)), Is.EqualTo(1 + 1 + 2 + 514));
    }
}
