using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Xtf.Elf;
using Xtf.Sim.Builder;
using Xtf.Sim.Memory;

namespace Xtf.Sim.Tests.Builder;

/// <summary>
/// Images that once ended as "simulator internal error" (issue 14), each answered as Xen 4.17.7 answers it:
/// a hypercall page inside the mfn_list, in the page tables or across v_end; a PT_LOAD whose paddr + memsz
/// wraps; INIT_P2M; BSD_SYMTAB; broken gzip. The lines were measured on real Xen with the same shapes
/// (an XTF example kernel); Dom0RealXenTests boots these very images on real Xen and compares.
/// The kit's kernel is 0x100000–0x111000: P2M 0x111000–0x1fc3d0, start info 0x1fd000, page tables
/// 0x1fe000–0x203000 (L4, L1, L2, L3, L1 at mfns 0x1edfe…0x1ee02), boot stack 0x203000, v_end 0x400000.
/// </summary>
[Parallelizable(ParallelScope.All)]
public sealed class Dom0ImageEdgeTests
{
    private static string[] Panic(string text = DomainBuildException.CouldNotConstruct) => [.. DomainBuildException.PanicBlock(text)];

    private static byte[] WithHypercallPage(ulong va) => BuilderKit.Kernel(notes: BuilderKit.XtfNotes(hypercallPage: va));

    private static byte[] WithNote(XenElfNote type, ulong value)
    {
        var notes = BuilderKit.XtfNotes();
        notes.Add(ElfNote.XenNumeric(type, value));
        return BuilderKit.Kernel(notes: notes);
    }

    /// <summary>A third program header: a PT_LOAD (R) over the notes at <paramref name="paddr"/> of <paramref name="memsz"/> bytes.</summary>
    public static byte[] WithExtraLoad(ulong paddr, ulong memsz)
    {
        var k = BuilderKit.Kernel();
        var s = k.AsSpan();
        ulong phoff = BinaryPrimitives.ReadUInt64LittleEndian(s[32..]);
        int phnum = BinaryPrimitives.ReadUInt16LittleEndian(s[56..]);
        var ph = s[(int)(phoff + (ulong)phnum * 56)..];
        Assert.That(ph[..56].ToArray(), Is.All.EqualTo((byte)0), "room for a third program header");
        BinaryPrimitives.WriteUInt32LittleEndian(ph, 1);
        BinaryPrimitives.WriteUInt32LittleEndian(ph[4..], 4);
        BinaryPrimitives.WriteUInt64LittleEndian(ph[8..], 0x1010);
        BinaryPrimitives.WriteUInt64LittleEndian(ph[16..], paddr);
        BinaryPrimitives.WriteUInt64LittleEndian(ph[24..], paddr);
        BinaryPrimitives.WriteUInt64LittleEndian(ph[32..], 0xc4);
        BinaryPrimitives.WriteUInt64LittleEndian(ph[40..], memsz);
        BinaryPrimitives.WriteUInt16LittleEndian(s[56..], (ushort)(phnum + 1));
        return k;
    }

    /// <summary>The kit's kernel with a BSD_SYMTAB "yes" note and, if asked, .symtab/.strtab/.shstrtab sections after the image.</summary>
    public static byte[] WithBsdSymtab(bool sections)
    {
        var notes = BuilderKit.XtfNotes();
        notes.Add(ElfNote.XenString(XenElfNote.BsdSymtab, "yes"));
        var image = BuilderKit.Kernel(notes: notes);
        if (!sections) return image;
        var k = image.ToList();
        byte[] strtab = Encoding.ASCII.GetBytes("\0start\0");
        byte[] shstrtab = Encoding.ASCII.GetBytes("\0.symtab\0.strtab\0.shstrtab\0");
        var symtab = new byte[48];   // the null symbol, then "start" (global function at 0x100000)
        BinaryPrimitives.WriteUInt32LittleEndian(symtab.AsSpan(24), 1);
        symtab[24 + 4] = 0x12;
        BinaryPrimitives.WriteUInt16LittleEndian(symtab.AsSpan(24 + 6), 1);
        BinaryPrimitives.WriteUInt64LittleEndian(symtab.AsSpan(24 + 8), BuilderKit.Base);
        int Add(byte[] b) { int at = k.Count; k.AddRange(b); while (k.Count % 8 != 0) k.Add(0); return at; }
        int sym = Add(symtab), str = Add(strtab), shstr = Add(shstrtab);
        int shoff = k.Count;
        var sh = new byte[4 * 64];
        void Section(int i, uint name, uint type, int offset, int size, uint link, ulong entsize)
        {
            var h = sh.AsSpan(i * 64);
            BinaryPrimitives.WriteUInt32LittleEndian(h, name);
            BinaryPrimitives.WriteUInt32LittleEndian(h[4..], type);
            BinaryPrimitives.WriteUInt64LittleEndian(h[24..], (ulong)offset);
            BinaryPrimitives.WriteUInt64LittleEndian(h[32..], (ulong)size);
            BinaryPrimitives.WriteUInt32LittleEndian(h[40..], link);
            BinaryPrimitives.WriteUInt64LittleEndian(h[56..], entsize);
        }
        Section(1, 1, 2, sym, symtab.Length, 2, 24);
        Section(2, 9, 3, str, strtab.Length, 0, 0);
        Section(3, 17, 3, shstr, shstrtab.Length, 0, 0);
        k.AddRange(sh);
        var result = k.ToArray();
        BinaryPrimitives.WriteUInt64LittleEndian(result.AsSpan(40), (ulong)shoff);
        BinaryPrimitives.WriteUInt16LittleEndian(result.AsSpan(58), 64);
        BinaryPrimitives.WriteUInt16LittleEndian(result.AsSpan(60), 4);
        BinaryPrimitives.WriteUInt16LittleEndian(result.AsSpan(62), 3);
        return result;
    }

    public static byte[] Gzip(byte[] data)
    {
        var packed = new MemoryStream();
        using (var gz = new GZipStream(packed, CompressionLevel.Optimal, leaveOpen: true)) gz.Write(data);
        return packed.ToArray();
    }

    /// <summary>The arrangement with INIT_P2M at <paramref name="p2m"/>: the table takes no room in the initial mapping.</summary>
    private static string[] P2mArrangement(ulong p2m) =>
    [
        "*** Building a PV Dom0 ***", " Xen  kernel: 64-bit, lsb", " Dom0 kernel: 64-bit, PAE, lsb, paddr 0x100000 -> 0x111000",
        "PHYSICAL MEMORY ARRANGEMENT:",
        " Dom0 alloc.:   000000001ec00000->000000001f000000 (119418 pages to be allocated)",
        "VIRTUAL MEMORY ARRANGEMENT:",
        " Loaded kernel: 0000000000100000->0000000000111000",
        $" Phys-Mach map: {p2m:x16}->{unchecked(p2m + 120442 * 8):x16}",
        " Start info:    0000000000111000->00000000001114b8",
        " Page tables:   0000000000112000->0000000000117000",
        " Boot stack:    0000000000117000->0000000000118000",
        " TOTAL:         0000000000000000->0000000000400000",
        " ENTRY ADDRESS: 0000000000100000",
        "Dom0 has maximum 1 VCPUs",
    ];

    /// <summary>(name, image, the lines from "*** Building a PV Dom0 ***" on, null when Xen panics = the builder's success lines).</summary>
    public static IEnumerable<(string Name, Func<byte[]> Image, string[] Lines, bool Boots)> Cases()
    {
        var arrangement = Dom0FailureTests.ExampleArrangement;
        string[] dump = Dom0Builder.RegisterDump;

        yield return ("hypercall-page-in-mfn-list", () => WithHypercallPage(0x120000), arrangement, true);
        yield return ("hypercall-page-on-mfn-list-tail", () => WithHypercallPage(0x1fc000), arrangement, true);
        yield return ("hypercall-page-in-page-tables", () => WithHypercallPage(0x1fe000),
        [
            .. arrangement, .. dump, "Pagetable walk from 00000000001fe000:",
            " L4[0x000] = 000000001ee01067 ffffffffffffffff", " L3[0x000] = 000000001ee00067 ffffffffffffffff",
            " L2[0x000] = 000000001edff067 ffffffffffffffff", " L1[0x1fe] = 001000001edfe025 ffffffffffffffff",
            .. Panic("FATAL PAGE FAULT\n[error_code=0003]\nFaulting linear address: 00000000001fe000"),
        ], false);
        yield return ("hypercall-page-across-v-end", () => WithHypercallPage(0x3fffff),
        [
            .. arrangement, .. dump, "Pagetable walk from 0000000000400000:",
            " L4[0x000] = 000000001ee01067 ffffffffffffffff", " L3[0x000] = 000000001ee00067 ffffffffffffffff",
            " L2[0x002] = 0000000000000000 ffffffffffffffff",
            .. Panic("FATAL PAGE FAULT\n[error_code=0002]\nFaulting linear address: 0000000000400000"),
        ], false);

        yield return ("load-wrapping-past-the-budget", () => WithExtraLoad(0xfffffffffff00000, 0x200000),
            [.. arrangement, "Dom0 kernel broken ELF: program segments total to more than the input image size"], true);
        yield return ("load-wrapping-to-unmapped", () => WithExtraLoad(0xfffffffffffff000, 0x2000),
            [.. arrangement, "Failed to load the kernel binary", .. Panic()], false);

        yield return ("init-p2m-overlapping", () => WithNote(XenElfNote.InitP2m, 0x31),
            [.. P2mArrangement(0x31), .. Panic("DOM0 P->M table overlaps initial mapping")], false);
        yield return ("init-p2m-at-512-gib", () => WithNote(XenElfNote.InitP2m, 0x80_0000_0000), P2mArrangement(0x80_0000_0000), true);
        yield return ("init-p2m-wrapping", () => WithNote(XenElfNote.InitP2m, 0xffff_ffff_ffff_f000),
            [.. P2mArrangement(0xffff_ffff_ffff_f000), .. Panic("Not enough RAM for DOM0 P->M table")], false);
        yield return ("init-p2m-in-xens-area", () => WithNote(XenElfNote.InitP2m, 0xffff_8000_0000_0000),
            [.. P2mArrangement(0xffff_8000_0000_0000), "Xen BUG at arch/x86/pv/dom0_build.c:285", .. dump, .. Panic("Xen BUG at arch/x86/pv/dom0_build.c:285")], false);

        yield return ("bsd-symtab-without-symbols", () => WithBsdSymtab(sections: false),
            [.. arrangement, "Dom0 kernel broken ELF: invalid ELF handle for symtab section"], true);

        yield return ("gzip-with-a-bad-crc", () => { var g = Gzip(BuilderKit.Kernel()); g[^8] ^= 1; return g; },
            ["*** Building a PV Dom0 ***", .. Panic("crc error")], false);
    }

    public static IEnumerable<TestCaseData> CaseData() => Cases().Select(c => new TestCaseData(c.Name).SetName(c.Name));

    [TestCaseSource(nameof(CaseData))]
    public void XenPrintsTheseLines(string name)
    {
        var c = Cases().Single(x => x.Name == name);
        if (c.Boots)
        {
            var (d, _) = BuilderKit.Build(c.Image());
            Assert.That(d.BuildLog, Is.EqualTo(c.Lines));
        }
        else
        {
            var e = BuilderKit.BuildFails(c.Image());
            Assert.That(e.XenLines, Is.EqualTo(c.Lines));
        }
    }

    [Test]
    public void AHypercallPageInsideTheMfnListIsOverwrittenByIt()
    {
        var (d, memory) = BuilderKit.Build(WithHypercallPage(0x1fc000));
        var page = BuilderKit.ReadVirtual(memory, d.Cr3, 0x1fc000, 0x1000);
        int entries = (int)(0x1fc3d0 - 0x1fc000) / 8;
        for (int i = 0; i < entries; i++)
            Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(page.AsSpan(i * 8)), Is.EqualTo(d.P2m[(0x1fc000 - 0x111000) / 8 + i]), $"entry {i}");
        Assert.That(page[(entries * 8)..], Is.EqualTo(HypercallPage.Build()[(entries * 8)..]), "past the table's end the hypercall page stays");
    }

    [Test]
    public void AnInitP2mTableIsMappedAtItsAddressWithItsOwnFrames()
    {
        const ulong at = 0x80_0000_0000;
        var (d, memory) = BuilderKit.Build(WithNote(XenElfNote.InitP2m, at));
        Assert.That(d.StartInfo.MfnList, Is.EqualTo(at));
        Assert.That(d.StartInfo.FirstP2mPfn, Is.EqualTo(1024UL), "after the initial block");
        // 236 pages of table (120442 × 8 bytes) and its L3, L2 and L1.
        Assert.That(d.StartInfo.NrP2mFrames, Is.EqualTo(236UL + 3));
        foreach (ulong pfn in new ulong[] { 0, 1, 1023, 1024, 1262, 1263, 60000, 120441 })
        {
            var e = BuilderKit.ReadVirtual(memory, d.Cr3, at + pfn * 8, 8);
            Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(e), Is.EqualTo(d.P2m[pfn]), $"mfn_list[{pfn}]");
        }
        Assert.That(d.P2m.Distinct().Count(), Is.EqualTo(d.P2m.Length), "no frame twice");
        Assert.That(d.StartInfoVa, Is.EqualTo(0x111000UL));
    }

    [Test]
    public void ABsdSymbolTableIsLoadedAfterTheKernel()
    {
        var (d, memory) = BuilderKit.Build(WithBsdSymtab(sections: true));
        Assert.That(d.BuildLog, Does.Contain(" Dom0 symbol map 0x111000 -> 0x111140"));
        Assert.That(d.KernelEnd, Is.EqualTo(0x111140UL));
        var table = BuilderKit.ReadVirtual(memory, d.Cr3, 0x111000, 0x140);
        uint size = BinaryPrimitives.ReadUInt32LittleEndian(table);
        Assert.That(size, Is.EqualTo(0x140 - 4 - 1), "header, section headers, symbols and strings, from the ELF header on");
        Assert.That(table.AsSpan(4, 4).ToArray(), Is.EqualTo(new byte[] { 0x7f, (byte)'E', (byte)'L', (byte)'F' }));
        Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(table.AsSpan(4 + ElfLayout.Ehdr.ShNum)), Is.EqualTo(3));
        Assert.That(Encoding.ASCII.GetString(table, 0x108 + 48 + 1, 5), Is.EqualTo("start"), "the string table after the symbols");
    }

    [Test]
    public void AGzipWhoseClaimedSizeExceedsMemoryPanicsBeforeDecompressing()
    {
        var g = Gzip(BuilderKit.Kernel());
        BinaryPrimitives.WriteUInt32LittleEndian(g.AsSpan(g.Length - 4), 0x4000_0000);   // a 1 GiB bomb's trailer
        var e = BuilderKit.BuildFails(g);
        Assert.That(e.Message, Is.EqualTo("Not enough memory to relocate the dom0 kernel image"));
    }

    [Test]
    public void AGzipBombThatUnderstatesItsSizeEndsInXensLengthCheck()
    {
        // 64 MiB of zeros after the kernel, with a trailer that claims only the kernel: the builder follows the
        // stream 16 MiB past the claim, then gives up as Xen's length check would; the run is a Xen panic.
        var kernel = BuilderKit.Kernel();
        var packed = new MemoryStream();
        using (var gz = new GZipStream(packed, CompressionLevel.Fastest, leaveOpen: true))
        {
            gz.Write(kernel);
            var zeros = new byte[1 << 20];
            for (int i = 0; i < 64; i++) gz.Write(zeros);
        }
        var g = packed.ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(g.AsSpan(g.Length - 4), (uint)kernel.Length);
        Assert.That(BuilderKit.BuildFails(g).Message, Is.EqualTo("length error"));
        var r = SimMachine.Run(g, new SimOptions { InstructionLimit = 1000 });
        Assert.That(r.End, Is.EqualTo(Xtf.Hosting.BootEnd.XenPanic));
        Assert.That(r.Serial, Does.Contain("length error"));
    }
}
