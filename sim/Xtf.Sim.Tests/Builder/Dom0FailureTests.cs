using System.Buffers.Binary;
using System.Text;
using Xtf.Elf;
using Xtf.Sim.Builder;
using Xtf.Sim.Memory;

namespace Xtf.Sim.Tests.Builder;

/// <summary>
/// Images Xen refuses, with the lines Xen 4.17 printed for them on real Xen (each case measured with
/// the same image shape through RealXen; Dom0RealXenTests re-checks several against Xen itself).
/// </summary>
[Parallelizable(ParallelScope.All)]
public sealed class Dom0FailureTests
{
    private const string Building = "*** Building a PV Dom0 ***";
    private const string XenKernel = " Xen  kernel: 64-bit, lsb";
    private const string Dom0Kernel = " Dom0 kernel: 64-bit, PAE, lsb, paddr 0x100000 -> 0x111000";

    private static string[] Panic(string text = DomainBuildException.CouldNotConstruct) => [.. DomainBuildException.PanicBlock(text)];

    /// <summary>The arrangement of a 0x100000–0x111000 kernel at 512 MiB, through "Dom0 has maximum 1 VCPUs".</summary>
    internal static readonly string[] ExampleArrangement =
    [
        Building, XenKernel, Dom0Kernel,
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
    ];

    /// <summary>(name, image, expected message, expected lines) for every malformed image measured on real Xen.</summary>
    internal static IEnumerable<(string Name, Func<byte[]> Image, string Message, string[] Lines)> Cases()
    {
        string notXen = "ERROR: Not a Xen-ELF image: No ELF notes or '__xen_guest' section found";
        yield return ("no-notes", () => BuilderKit.Kernel(withNotes: false), notXen, [Building, notXen, .. Panic()]);

        string loader = "ERROR: Will only load images built for the generic loader or Linux images (Not 'foo' and 'XTF') or with PHYS32_ENTRY set";
        yield return ("loader-foo", () => BuilderKit.Kernel(notes: BuilderKit.XtfNotes(loader: "foo")), loader, [Building, loader, .. Panic()]);

        string gnu = "ERROR: Will only load images built for the generic loader or Linux images (Not '' and '') or with PHYS32_ENTRY set";
        yield return ("only-gnu-note", () => BuilderKit.Kernel(notes: [new ElfNote("GNU", 3, new byte[20])]), gnu, [Building, gnu, .. Panic()]);

        string noVersion = "ERROR: Xen will only load images built for Xen v3.0 (Not '')";
        yield return ("no-xen-version", () => BuilderKit.Kernel(notes: BuilderKit.XtfNotes(xenVersion: null)), noVersion,
            [Building, noVersion, .. Panic()]);

        string badVersion = "ERROR: Xen will only load images built for Xen v3.0 (Not 'xen-2.0')";
        yield return ("xen-2.0", () => BuilderKit.Kernel(notes: BuilderKit.XtfNotes(xenVersion: "xen-2.0")), badVersion,
            [Building, badVersion, .. Panic()]);

        string pv32 = "Found 32-bit PV kernel, but CONFIG_PV32 missing";
        yield return ("elf32-i386", () => BuilderKit.Kernel32(), pv32, [Building, XenKernel, pv32, .. Panic()]);
        yield return ("elf32-x86_64", () => BuilderKit.Kernel32(ElfMachine.X86_64), pv32, [Building, XenKernel, pv32, .. Panic()]);

        string mismatch = "Mismatch between Xen and DOM0 kernel";
        yield return ("elf64-i386", () => BuilderKit.Kernel(machine: ElfMachine.X86), mismatch, [Building, XenKernel, Dom0Kernel, mismatch, .. Panic()]);
        yield return ("big-endian", BuilderKit.KernelBigEndian, mismatch,
            [Building, XenKernel, " Dom0 kernel: 64-bit, PAE, msb, paddr 0x100000 -> 0x111000", mismatch, .. Panic()]);

        string hypercall = "Invalid HYPERCALL_PAGE field in ELF notes.";
        yield return ("hypercall-page-outside", () => BuilderKit.Kernel(notes: BuilderKit.XtfNotes(hypercallPage: 0x10000000)), hypercall,
            [.. ExampleArrangement, hypercall, .. Panic()]);

        string bounds = "ERROR: ELF start or entries are out of bounds";
        yield return ("entry-beyond-kernel", () => BuilderKit.Kernel(entry: 0x200000), bounds, [Building, bounds, .. Panic()]);

        string notElf = "ELF: not an ELF binary";
        yield return ("garbage", () => { var g = BuilderKit.Pattern(0x11000); g.AsSpan(^4).Clear(); return g; }, notElf,
            [Building, notElf, .. Panic()]);

        string phdr = "ELF: phdr overflow (off 7fff0070 > size 12000)";
        yield return ("phdr-overflow", () =>
        {
            var k = BuilderKit.Kernel();
            BinaryPrimitives.WriteUInt64LittleEndian(k.AsSpan(32), 0x7fff0000);
            return k;
        }, phdr, [Building, phdr, .. Panic()]);

        yield return ("elf-class-3", () => { var k = BuilderKit.Kernel(); k[4] = 3; return k; }, notXen, [Building, notXen, .. Panic()]);
        yield return ("40-byte-elf", () => BuilderKit.Kernel()[..40], notXen, [Building, notXen, .. Panic()]);

        string dom0 = "Kernel does not support Dom0 operation";
        yield return ("supported-features-without-dom0", () => BuilderKit.Kernel(notes: BuilderKit.XtfNotes(supportedFeatures: 1)), dom0,
            [Building, XenKernel, Dom0Kernel, dom0, .. Panic()]);

        string smk = "Dom0 requires supervisor-mode execution";
        yield return ("requires-supervisor-mode-kernel", () => BuilderKit.Kernel(notes: BuilderKit.XtfNotes(features: "!supervisor_mode_kernel")), smk,
            [.. ExampleArrangement, .. Panic(smk)]);

        yield return ("unknown-required-feature", () => BuilderKit.Kernel(notes: BuilderKit.XtfNotes(features: "!frobnicate")),
            DomainBuildException.CouldNotConstruct, [Building, .. Panic()]);

        string tooSmall = "Domain 0 allocation is too small for kernel image";
        yield return ("bss-larger-than-ram", () => BuilderKit.Kernel(memSize: 0x20000000), tooSmall,
            [Building, XenKernel, " Dom0 kernel: 64-bit, PAE, lsb, paddr 0x100000 -> 0x20100000", .. Panic(tooSmall)]);

        string relocate = "Not enough memory to relocate the dom0 kernel image";
        yield return ("garbage-with-huge-gzip-size", () => Encoding.ASCII.GetBytes("this is not an elf file at all, no it is not......"),
            relocate, Panic(relocate));
    }

    public static IEnumerable<TestCaseData> CaseData() => Cases().Select(c => new TestCaseData(c.Name).SetName(c.Name));

    [TestCaseSource(nameof(CaseData))]
    public void XenPrintsTheseLines(string name)
    {
        var c = Cases().Single(x => x.Name == name);
        var e = BuilderKit.BuildFails(c.Image());
        Assert.That(e.XenLines, Is.EqualTo(c.Lines));
        Assert.That(e.Message, Is.EqualTo(c.Message));
    }

    [Test]
    public void TheProbeImagesAreWhatTheCasesSay()
    {
        // Guards the synthetic images: they must be valid except for the one thing each case breaks.
        Assert.That(ElfImage.Parse(BuilderKit.Kernel32()).Class, Is.EqualTo(ElfClass.Elf32));
        Assert.That(ElfImage.Parse(BuilderKit.Kernel(machine: ElfMachine.X86)).Xen.Loader, Is.EqualTo("generic"));
        Assert.That(BuilderKit.KernelBigEndian()[5], Is.EqualTo(2));
    }

    [Test]
    public void LongIdentificationStringsAreCutTo15BytesInTheMessage()
    {
        var e = BuilderKit.BuildFails(BuilderKit.Kernel(notes: BuilderKit.XtfNotes(loader: "not-generic-at-all-really", guestOs: "ABCDEFGHIJKLMNOPQRSTUVWXYZ")));
        Assert.That(e.Message, Does.Contain("(Not 'not-generic-at-' and 'ABCDEFGHIJKLMNO')"));
    }

    [Test]
    public void GuestOsLinuxIsEnoughWithoutTheGenericLoader()
    {
        var (d, _) = BuilderKit.Build(BuilderKit.Kernel(notes: BuilderKit.XtfNotes(loader: null, guestOs: "linux-6.1")));
        Assert.That(d.BuildLog[^1], Is.EqualTo("Dom0 has maximum 1 VCPUs"));
    }

    [Test]
    public void PaddrOffsetWithoutVirtBaseIsRefused()
    {
        var notes = BuilderKit.XtfNotes();
        notes.Add(ElfNote.XenNumeric(XenElfNote.PaddrOffset, 0));
        var e = BuilderKit.BuildFails(BuilderKit.Kernel(notes: notes));
        Assert.That(e.Message, Is.EqualTo("ERROR: ELF_PADDR_OFFSET set, VIRT_BASE unset"));
    }

    [Test]
    public void AnImageInXensPrivateAreaIsRefusedAfterTheArrangement()
    {
        var notes = BuilderKit.XtfNotes(hypercallPage: null);
        notes.Add(ElfNote.XenNumeric(XenElfNote.VirtBase, 0xFFFF800000000000));
        notes.Add(ElfNote.XenNumeric(XenElfNote.PaddrOffset, 0));
        notes.Add(ElfNote.XenNumeric(XenElfNote.Entry, 0xFFFF800000100000));
        var e = BuilderKit.BuildFails(BuilderKit.Kernel(notes: notes));
        Assert.That(e.Message, Is.EqualTo("DOM0 image overlaps with Xen private area."));
        Assert.That(e.XenLines, Does.Contain(" TOTAL:         ffff800000000000->ffff800000400000"));
    }

    [Test]
    public void AGzippedKernelIsUnpackedFirst()
    {
        var kernel = BuilderKit.Kernel();
        var packed = new MemoryStream();
        using (var gz = new System.IO.Compression.GZipStream(packed, System.IO.Compression.CompressionLevel.Optimal, leaveOpen: true))
            gz.Write(kernel);
        var (d, _) = BuilderKit.Build(packed.ToArray());
        Assert.That(d.BuildLog[2], Is.EqualTo(Dom0Kernel));
    }

    [Test]
    public void TheLegacyXenGuestSectionIsUnderstood()
    {
        // No notes at all; a section named __xen_guest with the comma-separated form.
        byte[] info = Encoding.ASCII.GetBytes("GUEST_OS=linux,XEN_VER=xen-3.0,VIRT_BASE=0x0,ELF_PADDR_OFFSET=0x0,HYPERCALL_PAGE=0x101,PAE=yes[extended-cr3]\0");
        byte[] names = Encoding.ASCII.GetBytes("\0.shstrtab\0__xen_guest\0");
        var k = BuilderKit.Kernel(withNotes: false).ToList();
        int infoAt = k.Count;
        k.AddRange(info);
        int namesAt = k.Count;
        k.AddRange(names);
        while (k.Count % 8 != 0) k.Add(0);
        int shoff = k.Count;
        var sh = new byte[3 * 64];
        void Section(int i, uint name, uint type, int offset, int size)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(sh.AsSpan(i * 64), name);
            BinaryPrimitives.WriteUInt32LittleEndian(sh.AsSpan(i * 64 + 4), type);
            BinaryPrimitives.WriteUInt64LittleEndian(sh.AsSpan(i * 64 + 24), (ulong)offset);
            BinaryPrimitives.WriteUInt64LittleEndian(sh.AsSpan(i * 64 + 32), (ulong)size);
        }
        Section(1, 1, 3, namesAt, names.Length);
        Section(2, 11, 1, infoAt, info.Length);
        k.AddRange(sh);
        var image = k.ToArray();
        BinaryPrimitives.WriteUInt64LittleEndian(image.AsSpan(40), (ulong)shoff);
        BinaryPrimitives.WriteUInt16LittleEndian(image.AsSpan(60), 3);
        BinaryPrimitives.WriteUInt16LittleEndian(image.AsSpan(62), 1);

        var (d, _) = BuilderKit.Build(image);
        Assert.That(d.Parms.HasGuestInfo);
        Assert.That(d.Parms.GuestOs, Is.EqualTo("linux"));
        Assert.That(d.HypercallPageVa, Is.EqualTo(0x101000));
        Assert.That(d.VmAssist, Is.EqualTo(1UL << 3));
        Assert.That(d.Notes, Is.Null);
    }

    [Test]
    public void FeatureStringsFollowLibelf()
    {
        var p = new ElfDomParms();
        Assert.That(LibElfDomInfo.ParseFeatures("!writable_page_tables|pae_pgdir_above_4gb|no_such_thing", p));
        Assert.That((p.FeaturesRequired, p.FeaturesSupported), Is.EqualTo((1u, 0x11u)));
        Assert.That(LibElfDomInfo.ParseFeatures("!no_such_thing", new ElfDomParms()), Is.False);
        Assert.That(LibElfDomInfo.ParseFeatures("|||dom0", p));
        Assert.That(p.Supports(11));
    }

    [Test]
    public void MemoryTooSmallForTheProfileIsAnArgumentError()
    {
        var profile = MachineProfile.For(512, 1, 1);
        Assert.Throws<ArgumentException>(() => Dom0Builder.Build(BuilderKit.Kernel(), "", profile, new MachineMemory(0x1000)));
    }
}
