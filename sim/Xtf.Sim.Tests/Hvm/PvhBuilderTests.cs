using System.Buffers.Binary;
using Xtf.Hosting;
using Xtf.Sim.Builder;
using Xtf.Sim.Memory;

namespace Xtf.Sim.Tests.Hvm;

/// <summary>The PVH dom0 builder against real Xen's measured layout (shared spec xen-4.17-dom0.md §4.1–4.4).</summary>
[Parallelizable(ParallelScope.All)]
public sealed class PvhBuilderTests
{
    private static (PvhDom0 Dom0, MachineMemory Memory) Build(int memoryMiB = 512, int vcpus = 1, string cmdline = "")
    {
        var profile = MachineProfile.For(memoryMiB, vcpus, vcpus);
        var memory = new MachineMemory(PvhDom0Builder.GuestFrames(profile));
        return (PvhDom0Builder.Build(PvhKit.Kernel(), cmdline, profile, memory), memory);
    }

    [TestCase(512, 1, 119471UL)]
    [TestCase(1024, 1, 240911UL)]
    [TestCase(512, 2, 119201UL)]
    public void NrPagesAsMeasured(int mib, int vcpus, ulong nr) =>
        Assert.That(MachineProfile.For(mib, vcpus, vcpus).PvhNrPages, Is.EqualTo(nr));

    [Test]
    public void MemoryMapAt512MiBIsRealXens()
    {
        var map = Build().Dom0.MemoryMap;
        E820Entry[] expected =
        [
            new(0, 0x9f000, 1), new(0x9fc00, 0xa0000, 2), new(0xf0000, 0x100000, 2),
            new(0x100000, 0x1d30ff2e, 1), new(0x1d30ff2e, 0x1d30ffa8, 3), new(0x1d310000, 0x1ffe0000, 5),
            new(0x1ffe0000, 0x20000000, 2), new(0xfffc0000, 0x1_0000_0000, 2), new(0xfd_0000_0000, 0x100_0000_0000, 2),
        ];
        Assert.That(map, Is.EqualTo(expected));
    }

    [TestCase(1024, 1, 0x3ad6ff2eUL, 0x3ad6ffa8UL, 0x3ad70000UL)]
    [TestCase(512, 2, 0x1d201f1eUL, 0x1d201fa8UL, 0x1d202000UL)]
    public void AcpiCarveOutFollowsMemoryAndVcpus(int mib, int vcpus, ulong ramEnd, ulong acpiEnd, ulong unusable)
    {
        var map = Build(mib, vcpus).Dom0.MemoryMap;
        Assert.That(map[3].End, Is.EqualTo(ramEnd));
        Assert.That(map[4], Is.EqualTo(new E820Entry(ramEnd, acpiEnd, 3)));
        Assert.That(map[5].Start, Is.EqualTo(unusable));
    }

    [Test]
    public void StartInfoFollowsTheKernelWithItsCommandLine()
    {
        var (d, mem) = Build(cmdline: "k1 k2");
        ulong kend = (d.KernelEnd + 0xFFF) & ~0xFFFUL;
        Assert.That(d.CommandLine, Is.EqualTo(kend));
        Assert.That(d.StartInfo, Is.EqualTo(kend + 8), "ELF64: the command line is rounded to 8 bytes");
        Assert.That(mem.ReadU32(d.StartInfo), Is.EqualTo(PvhDom0Builder.StartInfoMagic));
        Assert.That(mem.ReadU32(d.StartInfo + 4), Is.EqualTo(0u), "version 0 (measured)");
        Assert.That(mem.ReadU32(d.StartInfo + 8), Is.EqualTo(3u), "SIF_PRIVILEGED | SIF_INITDOMAIN");
        Assert.That(mem.ReadU32(d.StartInfo + 12), Is.EqualTo(0u), "no modules");
        Assert.That(mem.ReadU64(d.StartInfo + 24), Is.EqualTo(d.CommandLine));
        Assert.That(mem.ReadU64(d.StartInfo + 32), Is.EqualTo(0x1d30ff2eUL), "rsdp_paddr: Xen's RSDP");
        Assert.That(mem.ReadU64(d.StartInfo + 40), Is.EqualTo(0UL), "no memmap in 4.17");
        var s = new byte[6];
        mem.Read(d.CommandLine, s);
        Assert.That(s, Is.EqualTo("k1 k2\0"u8.ToArray()));
        Assert.That(d.MaxGpfn, Is.EqualTo(0x1d30fUL));
    }

    [Test]
    public void RsdpPointsAtAnXsdtListingTheMadt()
    {
        var (d, mem) = Build();
        var r = new byte[8];
        mem.Read(d.Rsdp, r);
        Assert.That(r, Is.EqualTo("RSD PTR "u8.ToArray()));
        Assert.That(mem.ReadU8(d.Rsdp + 15), Is.EqualTo(2), "revision 2");
        ulong xsdt = mem.ReadU64(d.Rsdp + 24);
        Assert.That(xsdt, Is.EqualTo(0x1d30ff52UL));
        ulong madt = mem.ReadU64(xsdt + 36);
        Assert.That(madt, Is.EqualTo(0x1d30ff86UL));
        Assert.That(mem.ReadU32(madt + 4), Is.EqualTo(122u), "MADT length for one vCPU");
    }

    [Test]
    public void KernelIsLoadedAtItsPhysicalAddress()
    {
        var (d, mem) = Build();
        Assert.That(d.KernelStart, Is.EqualTo(PvhKit.Base));
        Assert.That(d.Entry, Is.EqualTo(PvhKit.Base));
        Assert.That(mem.ReadU64(PvhKit.Gdt + 8), Is.EqualTo(0x00AF_9A00_0000_FFFFUL));
    }

    [Test]
    public void MissingPhys32EntryIsXensMessageAndPanic()
    {
        var r = SimMachine.Run(PvhKit.Kernel(withEntryNote: false), new SimOptions { Pvh = true });
        Assert.That(r.End, Is.EqualTo(BootEnd.XenPanic));
        Assert.That(r.Serial, Does.Contain("Unable to find XEN_ELFNOTE_PHYS32_ENTRY address"));
        Assert.That(r.Serial, Does.Contain("Failed to load Dom0 kernel"));
        Assert.That(r.Serial, Does.Contain("Could not construct domain 0"));
        Assert.That(r.Serial, Does.Not.Contain("WARNING: PVH"));
    }

    [Test]
    public void BuildLogIsRealXens()
    {
        var r = SimMachine.Run(PvhKit.Kernel(), new SimOptions { Pvh = true, InstructionLimit = 1_000_000 });
        var lines = r.Serial.Split("\r\n").Select(l => l.Length > 20 && l.StartsWith("(XEN) [", StringComparison.Ordinal) ? l[(l.IndexOf(']') + 2)..] : l).ToList();
        int i = lines.IndexOf("*** Building a PVH Dom0 ***");
        Assert.That(i, Is.GreaterThanOrEqualTo(0));
        Assert.That(lines.Skip(i + 1).Take(7), Is.EqualTo(new[]
        {
            "WARNING: PVH is an experimental mode with limited functionality",
            "Initial low memory virq threshold set at 0x1000 pages.",
            "Scrubbing Free RAM in background",
            "Std. Loglevel: All",
            "Guest Loglevel: All",
            "*** Serial input to DOM0 (type 'CTRL-a' three times to switch input)",
            "Freed 656kB init memory",
        }));
    }
}
