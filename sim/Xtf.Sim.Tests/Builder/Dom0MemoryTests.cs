using System.Buffers.Binary;
using Xtf.Abi;
using Xtf.Sim.Builder;
using Xtf.Sim.Memory;

namespace Xtf.Sim.Tests.Builder;

/// <summary>What dom0 finds in memory at entry (docs/dom0.md §2.6–§2.12), read back from machine memory.</summary>
[Parallelizable(ParallelScope.All)]
public sealed class Dom0MemoryTests
{
    private const ulong L1 = PvPageTables.L1Flags;

    private static (Dom0 D, MachineMemory M) Example(string cmdline = "", string? xen = null) =>
        BuilderKit.Build(BuilderKit.Kernel(0x11000), cmdline: cmdline, xenCommandLine: xen);

    [Test]
    public void StartInfoHasTheMeasuredFields()
    {
        var (d, m) = Example("sd=9");
        var bytes = BuilderKit.ReadVirtual(m, d.Cr3, d.StartInfoVa, 4096);
        var si = StartInfo.Read(bytes);
        Assert.Multiple(() =>
        {
            Assert.That(si.Magic, Is.EqualTo("xen-3.0-x86_64p"));
            Assert.That(si.NrPages, Is.EqualTo(120442));
            Assert.That(si.SharedInfo, Is.EqualTo(0x1f9e4000), "an 18-page module at 512 MiB, one CPU");
            Assert.That(si.Flags, Is.EqualTo(0x303));
            Assert.That(si.StoreMfn, Is.EqualTo(0));
            Assert.That(si.StoreEvtchn, Is.EqualTo(0));
            Assert.That(si.ConsoleInfoOff, Is.EqualTo(0x490));
            Assert.That(si.ConsoleInfoSize, Is.EqualTo(0x28));
            Assert.That(si.PtBase, Is.EqualTo(0x1fe000));
            Assert.That(si.NrPtFrames, Is.EqualTo(5));
            Assert.That(si.MfnList, Is.EqualTo(0x111000));
            Assert.That(si.ModStart, Is.EqualTo(0));
            Assert.That(si.ModLen, Is.EqualTo(0));
            Assert.That(si.CmdLine, Is.EqualTo("sd=9"));
            Assert.That(si.FirstP2mPfn, Is.EqualTo(1024));
            Assert.That(si.NrP2mFrames, Is.EqualTo(0));
            Assert.That(si.ToBytes(), Is.EqualTo(d.StartInfo.ToBytes()), "the record is what was written");
        });
        Assert.That(bytes[0x490..0x4b8], Is.EqualTo(new byte[]
        {
            0x03, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0x19, 0, 0x50, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        }));
        Assert.That(bytes[0x4b8..].All(b => b == 0), "the rest of the page is cleared");
        Assert.That(bytes.Skip(StartInfo.Layout.CmdLine + 4).Take(1020).All(b => b == 0), "cmd_line is NUL padded");
    }

    [TestCase("", null, "")]
    [TestCase("sd=9", null, "sd=9")]
    [TestCase("   sd=0  extra   words", "console=com1 -- dom0arg1  dom0arg2", "sd=0  extra   words dom0arg1  dom0arg2")]
    [TestCase("a", "noapic acpi=off", "a noapic acpi=off")]
    [TestCase("acpi=ht noapic", "noapic acpi=off", "acpi=ht noapic")]
    public void CommandLineIsCookedAsXenDoes(string module, string? xen, string expected)
    {
        var (d, m) = Example(module, xen);
        Assert.That(d.CommandLine, Is.EqualTo(expected));
        Assert.That(StartInfo.Read(BuilderKit.ReadVirtual(m, d.Cr3, d.StartInfoVa, StartInfo.Layout.Size)).CmdLine, Is.EqualTo(expected));
    }

    [Test]
    public void CommandLineIsTruncatedTo1023Bytes()
    {
        var (d, m) = Example(new string('x', 2000));
        Assert.That(d.CommandLine, Has.Length.EqualTo(1023));
        var bytes = BuilderKit.ReadVirtual(m, d.Cr3, d.StartInfoVa + StartInfo.Layout.CmdLine, 1024);
        Assert.That(bytes[1022], Is.EqualTo((byte)'x'));
        Assert.That(bytes[1023], Is.EqualTo(0));
    }

    [Test]
    public void VcpuZeroStartsAtTheEntryWithStackAndStartInfo()
    {
        var (d, _) = Example();
        Assert.That((d.Rip, d.Rsp, d.Rsi, d.Rflags), Is.EqualTo((0x100000UL, 0x204000UL, 0x1fd000UL, 0x202UL)));
        Assert.That((d.Cs, d.Ss, d.Ds, d.Es, d.Fs, d.Gs), Is.EqualTo(((ushort)0xe033, (ushort)0xe02b, (ushort)0, (ushort)0, (ushort)0, (ushort)0)));
        Assert.That((d.Vcpu0.KernelSs, d.Vcpu0.KernelSp), Is.EqualTo(((ushort)0, 0UL)));
        Assert.That(d.Cr3, Is.EqualTo(d.AllocBlockStart + 0x1fe000), "the L4 is the first page-table frame");
        Assert.That(d.Vcpu0.Cr3, Is.EqualTo(d.Cr3));
    }

    [Test]
    public void PageTableFramesComeInXensOrder()
    {
        var (d, m) = Example();
        ulong first = (d.AllocBlockStart >> 12) + 0x1fe;
        Assert.That(d.PageTableFrames.Select(f => (f.Mfn - first, f.Level)),
            Is.EqualTo(new[] { (0UL, 4), (1UL, 1), (2UL, 2), (3UL, 3), (4UL, 1) }), "L4, L1 #0, L2, L3, L1 #1");
        ulong E(ulong mfn, int index) => m.ReadU64((mfn << 12) + (ulong)index * 8);
        Assert.That(E(first, 0), Is.EqualTo(((first + 3) << 12) | 0x067), "L4[0] → L3");
        Assert.That(E(first + 3, 0), Is.EqualTo(((first + 2) << 12) | 0x067), "L3[0] → L2");
        Assert.That(E(first + 2, 0), Is.EqualTo(((first + 1) << 12) | 0x067), "L2[0] → L1 #0");
        Assert.That(E(first + 2, 1), Is.EqualTo(((first + 4) << 12) | 0x067), "L2[1] → L1 #1");
        for (int i = 1; i < 512; i++) Assert.That(E(first, i), Is.EqualTo(0), "Xen's own L4 slots are not modelled");
        for (int i = 2; i < 512; i++) Assert.That(E(first + 2, i), Is.EqualTo(0));
    }

    [Test]
    public void EveryPageOfTheMappingIsPfnAtItsOffsetWithTheMeasuredFlags()
    {
        var (d, m) = Example();
        ulong kernelEnd = (d.KernelEnd + 0xfff) & ~0xfffUL;
        ulong p2mEnd = (d.PhysmapEnd + 0xfff) & ~0xfffUL;
        for (ulong va = d.VirtStart; va < d.VirtEnd; va += 0x1000)
        {
            ulong pfn = (va - d.VirtStart) >> 12;
            ulong entry = PvPageTables.L1Entry(m, d.Cr3, va)!.Value;
            Assert.That(entry & PvPageTables.AddressMask, Is.EqualTo(d.P2m[pfn] << 12), $"va 0x{va:x} maps pfn 0x{pfn:x}");
            ulong flags = entry & ~PvPageTables.AddressMask;
            bool pageTable = va >= d.PageTablesStart && va < d.PageTablesEnd;
            bool written = va >= d.KernelStart && va < kernelEnd || va >= d.PhysmapStart && va < p2mEnd || va == d.StartInfoVa;
            ulong expected = pageTable ? L1 & ~PvPageTables.Rw : written ? L1 | PvPageTables.Dirty : L1;
            Assert.That(flags, Is.EqualTo(expected), $"flags of va 0x{va:x}");
        }
        Assert.That(PvPageTables.L1Entry(m, d.Cr3, d.VirtEnd), Is.Null, "nothing beyond v_end: L2[2] is empty");
        Assert.That(PvPageTables.Translate(m, d.Cr3, 0x40000000), Is.Null);
        Assert.That(PvPageTables.L1Entry(m, d.Cr3, d.PageTablesStart)!.Value & 0xfff, Is.EqualTo(0x025));
        Assert.That(PvPageTables.L1Entry(m, d.Cr3, d.BootStackVa)!.Value, Is.EqualTo((d.P2m[d.BootStackVa >> 12] << 12) | L1));
        Assert.That(PvPageTables.L1Entry(m, d.Cr3, 0x100000)!.Value >> 52, Is.EqualTo(1), "bit 52 is visible to the guest");
    }

    [Test]
    public void P2mCoversEveryPageInjectivelyAndTheGuestListAgrees()
    {
        var (d, m) = Example();
        var profile = MachineProfile.For(512, 1, 1);
        Assert.That(d.P2m, Has.Length.EqualTo(120442));
        for (ulong pfn = 0; pfn < 1024; pfn++) Assert.That(d.P2m[pfn], Is.EqualTo((d.AllocBlockStart >> 12) + pfn));
        Assert.That(d.P2m.Distinct().Count(), Is.EqualTo(d.P2m.Length));
        Assert.That(d.P2m.All(mfn => mfn < profile.MachineFrames), "all frames exist");
        Assert.That(d.P2m, Does.Not.Contain(d.SharedInfoMfn));
        for (ulong pfn = 0; pfn < (ulong)d.P2m.Length; pfn++) Assert.That(d.M2p[d.P2m[pfn]], Is.EqualTo(pfn));
        Assert.That(d.M2p, Has.Count.EqualTo(d.P2m.Length));

        var list = BuilderKit.ReadVirtual(m, d.Cr3, d.PhysmapStart, (int)(((d.PhysmapEnd + 0xfff) & ~0xfffUL) - d.PhysmapStart));
        for (int pfn = 0; pfn < d.P2m.Length; pfn++)
            Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(list.AsSpan(pfn * 8)), Is.EqualTo(d.P2m[pfn]));
        Assert.That(list.Skip(d.P2m.Length * 8).All(b => b == 0), "zero after the last entry");
    }

    /// <summary>docs/dom0.md §2.7's measured runs at 512 MiB, in pfn order.</summary>
    [Test]
    public void P2mRunsAreTheMeasuredOnesAt512MiB()
    {
        var (d, _) = Example();
        Assert.That(Runs(d.P2m).Take(9), Is.EqualTo(new (ulong, ulong, ulong)[]
        {
            (0x0, 0x1ec00, 0x400), (0x400, 0x10000, 0x8000), (0x8400, 0x8000, 0x8000), (0x10400, 0x18000, 0x4000),
            (0x14400, 0x4000, 0x4000), (0x18400, 0x1c000, 0x2000), (0x1a400, 0x2000, 0x2000), (0x1c400, 0x1000, 0x1000),
            (0x1d400, 0x1f000, 0x200),
        }));
        Assert.That(Runs(d.P2m).Skip(9).Aggregate(0UL, (a, r) => a + r.Pages), Is.EqualTo(122UL), "the small runs near the top: modelled in total only (docs/dom0.md §2.16)");
    }

    [TestCase(768)]
    [TestCase(2048)]
    [TestCase(4096)]
    public void SyntheticHeapsStayInsideRamAndAwayFromSharedInfo(int mib)
    {
        var (d, _) = BuilderKit.Build(BuilderKit.Kernel(0x11000), mib);
        var profile = MachineProfile.For(mib, 1, 1);
        Assert.That(d.P2m.Distinct().Count(), Is.EqualTo(d.P2m.Length));
        Assert.That(d.P2m.All(mfn => mfn >= 0x1000 && mfn < profile.MachineFrames));
        Assert.That(d.P2m.All(mfn => mfn < profile.LowRamFrames - 0x20 || mfn >= MachineProfile.HighRamStartMfn), "no frame in QEMU's hole");
        Assert.That(d.P2m, Does.Not.Contain(d.SharedInfoMfn));
        Assert.That(d.StartInfo.FirstP2mPfn, Is.EqualTo(1UL << d.AllocOrder));
    }

    private static List<(ulong Pfn, ulong Mfn, ulong Pages)> Runs(ulong[] p2m)
    {
        var runs = new List<(ulong, ulong, ulong)>();
        ulong start = 0;
        for (ulong pfn = 1; pfn <= (ulong)p2m.Length; pfn++)
        {
            if (pfn < (ulong)p2m.Length && p2m[pfn] == p2m[pfn - 1] + 1) continue;
            runs.Add((start, p2m[start], pfn - start));
            start = pfn;
        }
        return runs;
    }

    [Test]
    public void KernelBytesAreCopiedAndBssZeroed()
    {
        var kernel = BuilderKit.Kernel(0x3000, memSize: 0x5800);
        var (d, m) = BuilderKit.Build(kernel);
        var image = BuilderKit.ReadVirtual(m, d.Cr3, 0x100000, 0x5800);
        var pattern = BuilderKit.Pattern(0x3000);
        Assert.That(image[0x100..0x1000], Is.EqualTo(pattern[0x100..0x1000]), "page 0 after the notes");
        Assert.That(image[0x2000..0x3000], Is.EqualTo(pattern[0x2000..0x3000]));
        Assert.That(image[0x3000..].All(b => b == 0), "BSS");
        Assert.That(PvPageTables.L1Entry(m, d.Cr3, 0x105000)!.Value & PvPageTables.Dirty, Is.Not.EqualTo(0), "zeroing BSS dirties");
        Assert.That(PvPageTables.L1Entry(m, d.Cr3, 0x0ff000)!.Value & PvPageTables.Dirty, Is.EqualTo(0), "below the kernel: clean");
        Assert.That(d.PhysmapStart, Is.EqualTo(0x106000), "the P2M starts at the next page");
    }

    [Test]
    public void HypercallPageHasXensStubs()
    {
        var (d, m) = Example();
        Assert.That(d.HypercallPageVa, Is.EqualTo(0x101000));
        var page = BuilderKit.ReadVirtual(m, d.Cr3, 0x101000, 4096);
        Assert.That(page[..32], Is.EqualTo(new byte[]
        {
            0x51, 0x41, 0x53, 0xB8, 0, 0, 0, 0, 0x0F, 0x05, 0x41, 0x5B, 0x59, 0xC3,
            0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC,
        }));
        Assert.That(page[(18 * 32)..(18 * 32 + 14)], Is.EqualTo(new byte[] { 0x51, 0x41, 0x53, 0xB8, 18, 0, 0, 0, 0x0F, 0x05, 0x41, 0x5B, 0x59, 0xC3 }));
        Assert.That(page[(23 * 32)..(24 * 32)], Is.EqualTo(new byte[] { 0x51, 0x41, 0x53, 0x50, 0xB8, 0x17, 0, 0, 0, 0x0F, 0x05 }
            .Concat(Enumerable.Repeat((byte)0xCC, 21))));
        Assert.That(page[(127 * 32)..(127 * 32 + 8)], Is.EqualTo(new byte[] { 0x51, 0x41, 0x53, 0xB8, 127, 0, 0, 0 }));
        Assert.That(page, Is.EqualTo(HypercallPage.Build()));
    }

    [Test]
    public void NoHypercallPageNoteLeavesTheImageAlone()
    {
        var (d, m) = BuilderKit.Build(BuilderKit.Kernel(notes: BuilderKit.XtfNotes(hypercallPage: null)));
        Assert.That(d.HypercallPageVa, Is.Null);
        Assert.That(BuilderKit.ReadVirtual(m, d.Cr3, 0x101000, 4096), Is.EqualTo(BuilderKit.Pattern(0x11000)[0x1000..0x2000]));
    }

    [Test]
    public void SharedInfoMasksUpcallsAndHasTheWallclock()
    {
        var (d, m) = Example();
        var page = m.Frame(d.SharedInfoMfn);
        var si = SharedInfo.Read(page);
        Assert.That(si.VcpuInfo.Select(v => v.EvtchnUpcallMask), Is.All.EqualTo(1));
        Assert.That(si.VcpuInfo.Select(v => v.EvtchnUpcallPending), Is.All.EqualTo(0));
        Assert.That(si.EvtchnPending, Is.All.EqualTo(0));
        Assert.That(si.EvtchnMask, Is.All.EqualTo(0));
        Assert.That(si.WcVersion, Is.EqualTo(2));
        Assert.That(si.WcSec, Is.EqualTo((uint)MachineProfile.DefaultWallclockSec));
        Assert.That(si.WcNsec, Is.EqualTo(0));
        Assert.That(si.Arch.MaxPfn, Is.EqualTo(0));
        var expected = new byte[4096];
        for (int i = 0; i < 32; i++) expected[i * 64 + 1] = 1;
        BinaryPrimitives.WriteUInt32LittleEndian(expected.AsSpan(SharedInfo.Layout.WcVersion), 2);
        BinaryPrimitives.WriteUInt32LittleEndian(expected.AsSpan(SharedInfo.Layout.WcSec), (uint)MachineProfile.DefaultWallclockSec);
        Assert.That(page, Is.EqualTo(expected), "nothing else is set");
        Assert.That(PvPageTables.Translate(m, d.Cr3, d.VirtStart) >> 12, Is.Not.EqualTo(d.SharedInfoMfn));
    }

    [Test]
    public void WallclockComesFromTheProfile()
    {
        var profile = MachineProfile.For(512, 1, 1) with { WallclockSec = 0x1_2345_6789, WallclockNsec = 500 };
        var memory = new MachineMemory(profile.MachineFrames);
        var d = Dom0Builder.Build(BuilderKit.Kernel(), "", profile, memory);
        var si = SharedInfo.Read(memory.Frame(d.SharedInfoMfn));
        Assert.That((si.WcSec, si.WcSecHi, si.WcNsec), Is.EqualTo((0x2345_6789u, 1u, 500u)));
    }

    [Test]
    public void TheSameInputGivesTheSameMachine()
    {
        var (a, ma) = Example("x");
        var (b, mb) = Example("x");
        Assert.That(b.P2m, Is.EqualTo(a.P2m));
        Assert.That(mb.AllocatedFrames, Is.EqualTo(ma.AllocatedFrames));
        foreach (ulong mfn in a.P2m.Take(1024).Append(a.SharedInfoMfn))
            Assert.That(mb.Frame(mfn), Is.EqualTo(ma.Frame(mfn)));
    }

    [Test]
    public void NotesAreExposedBothWays()
    {
        var (d, _) = Example();
        Assert.That(d.Parms.Loader, Is.EqualTo("generic"));
        Assert.That(d.Parms.Pae, Is.EqualTo(XenPaeMode.ExtCr3));
        Assert.That(d.Parms.Requires((int)XenFeature.WritablePageTables));
        Assert.That(d.Parms.Supports((int)XenFeature.PaePgdirAbove4gb));
        Assert.That(d.Notes!.HypercallPage, Is.EqualTo(0x101000));
        Assert.That(d.Notes.XenVersion, Is.EqualTo("xen-3.0"));
    }

    /// <summary>
    /// Small kernels (gcc's c-probe is 5-7 pages) fall below the measured module sizes: for 6 pages
    /// the shared_info rule picks a page inside one of the measured small chunks. The builder must
    /// still give dom0 nr_pages distinct frames, none of them shared_info.
    /// </summary>
    [TestCase(0x4000UL)]
    [TestCase(0x5000UL)]
    [TestCase(0x6000UL)]
    [TestCase(0x7000UL)]
    [TestCase(0x8000UL)]
    public void SmallKernelsGetAllTheirPagesAndNeverSharedInfo(ulong fileSize)
    {
        var (d, _) = BuilderKit.Build(BuilderKit.Kernel(fileSize));
        var profile = MachineProfile.For(512, 1, 1);
        Assert.That(d.NrPages, Is.EqualTo(profile.NrPages));
        Assert.That(d.P2m.Distinct().Count(), Is.EqualTo((int)d.NrPages), "every pfn has its own frame");
        Assert.That(d.P2m, Does.Not.Contain(d.SharedInfoMfn), "shared_info is Xen's page, not dom0's");
    }
}
