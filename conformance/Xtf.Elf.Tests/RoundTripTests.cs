using Xtf.Elf;
using static Xtf.Elf.Tests.TestImages;

namespace Xtf.Elf.Tests;

public class RoundTripTests
{
    [Test]
    public void XenPvKernel_HeadersSegmentsAndNotesRoundTrip()
    {
        var image = ElfImage.Parse(XenPvKernel());

        Assert.That(image.Class, Is.EqualTo(ElfClass.Elf64));
        Assert.That(image.LittleEndian, Is.True);
        Assert.That(image.FileType, Is.EqualTo(ElfFileType.ET_EXEC));
        Assert.That(image.Machine, Is.EqualTo(ElfMachine.X86_64));
        Assert.That(image.Entry, Is.EqualTo(0x100000UL));
        Assert.That(image.Sections, Is.Empty);
        ulong noteSize = (ulong)NoteBytesLength;
        Assert.That(image.ProgramHeaders, Is.EqualTo(new[]
        {
            new ProgramHeader(SegmentType.Load, Rwx, 0x1000, 0x100000, 0x100000, 0x2000, 0x5000, 0x1000),
            new ProgramHeader(SegmentType.Note, SegmentFlags.R, 0x1100, 0x100100, 0x100100, noteSize, noteSize, 4),
        }));
        Assert.That(image.FileBytes(image.ProgramHeaders[0]).ToArray(), Is.EqualTo(Text()));
        Assert.That(image.Notes, Is.EqualTo(XenPvNotes));
    }

    [Test]
    public void XenPvKernel_XenNotesView()
    {
        var xen = ElfImage.Parse(XenPvKernel()).Xen;

        Assert.That(xen.HasAnyXenNote, Is.True);
        Assert.That(xen.Broken, Is.False);
        Assert.That(xen.GuestOs, Is.EqualTo("Xtf.NET"));
        Assert.That(xen.GuestVersion, Is.EqualTo("0"));
        Assert.That(xen.Loader, Is.EqualTo("generic"));
        Assert.That(xen.XenVersion, Is.EqualTo("xen-3.0"));
        Assert.That(xen.Features, Is.EqualTo("!writable_page_tables|pae_pgdir_above_4gb"));
        Assert.That(xen.PaeMode, Is.EqualTo("yes"));
        Assert.That(xen.HypercallPage, Is.EqualTo(HypercallPage));
        Assert.That(new ulong?[] { xen.Entry, xen.VirtBase, xen.PaddrOffset, xen.InitP2m, xen.ModStartPfn,
            xen.HvStartLow, xen.SupportedFeatures, xen.Phys32Entry }, Is.All.Null);
        Assert.That(xen.BsdSymtab, Is.Null);
    }

    [Test]
    public void Builder_PlacesLoadsCongruentToTheirAddressesAndStandaloneNotesAfter()
    {
        var extra = ElfNotes.Encode([ElfNote.XenString(XenElfNote.BsdSymtab, "yes")]);
        var bytes = new ElfBuilder(ElfMachine.X86_64, 0x200010)
            .AddLoad(0x100000, 0x100000, new byte[0x123], 0x123, SegmentFlags.R)
            .AddLoad(0x200010, 0x300010, [1, 2, 3], 0x10, SegmentFlags.R | SegmentFlags.X, align: 0x200)
            .AddNoteSegment(extra)
            .AddLoad(0x400000, 0x400000, [], 0x1000, SegmentFlags.R | SegmentFlags.W, align: 0)
            .Build();
        var phs = ElfImage.Parse(bytes).ProgramHeaders;

        Assert.That(phs[0].Offset, Is.EqualTo(0x1000UL));
        Assert.That(phs[1].Offset, Is.EqualTo(0x1210UL), "first offset after 0x1123 that is 0x10 modulo 0x200");
        Assert.That(phs[1].PhysicalAddress, Is.EqualTo(0x300010UL));
        Assert.That(phs[3].Offset, Is.EqualTo(0x1213UL), "align 0: right after the previous load");
        Assert.That(phs[2], Is.EqualTo(new ProgramHeader(SegmentType.Note, SegmentFlags.R, 0x1214, 0, 0,
            (ulong)extra.Length, (ulong)extra.Length, 4)));
        Assert.That(bytes, Has.Length.EqualTo(0x1214 + extra.Length));
        Assert.That(ElfImage.Parse(bytes).Xen.BsdSymtab, Is.EqualTo("yes"));
    }

    [Test]
    public void Builder_RejectsItsOwnInvalidOutput()
    {
        var overlapping = new ElfBuilder(ElfMachine.X86_64, 0x100000)
            .AddLoad(0x100000, 0x100000, [1], 0x2000, Rwx)
            .AddLoad(0x101000, 0x200000, [1], 0x1000, Rwx);
        Assert.That(() => overlapping.Build(),
            Throws.TypeOf<ElfFormatException>().With.Message.Contains("virtual ranges"));

        var noteOutside = new ElfBuilder(ElfMachine.X86_64, 0x100000)
            .AddLoad(0x100000, 0x100000, new byte[0x100], 0x2000, Rwx)
            .AddNote(0x100100, 0x10); // in the bss, not in the file bytes
        Assert.That(() => noteOutside.Build(),
            Throws.InvalidOperationException.With.Message.Contains("not inside the file bytes"));

        Assert.That(() => new ElfBuilder(ElfMachine.X86_64, 0).AddLoad(0, 0, [1, 2], 1, Rwx),
            Throws.TypeOf<ArgumentOutOfRangeException>());
        Assert.That(() => new ElfBuilder(ElfMachine.X86_64, 0).AddLoad(0, 0, [], 1, Rwx, align: 0x1800),
            Throws.TypeOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void SectionNotes_AreUsedWhenThereIsNoNoteSegment()
    {
        var withoutNoteSegment = new ElfBuilder(ElfMachine.X86_64, Base).AddLoad(Base, Base, Text(), MemSize, Rwx).Build();
        var image = ElfImage.Parse(WithSections(withoutNoteSegment, 0x1000 + NoteOffsetInText,
            (ulong)NoteBytesLength, Base + NoteOffsetInText));

        Assert.That(image.ProgramHeaders.Select(p => p.Type), Is.EqualTo(new[] { SegmentType.Load }));
        Assert.That(image.Sections.Select(s => s.Name), Is.EqualTo(new[] { "", ".note.Xen", ".shstrtab" }));
        Assert.That(image.Sections[1].Type, Is.EqualTo(SectionType.SHT_NOTE));
        Assert.That(image.Sections[1].Address, Is.EqualTo(Base + NoteOffsetInText));
        Assert.That(image.Notes, Is.EqualTo(XenPvNotes));
        Assert.That(image.Xen.Loader, Is.EqualTo("generic"));
    }

    [Test]
    public void Elf32Image_IsParsedSoThatCallersCanTellItApart()
    {
        var image = ElfImage.Parse(Elf32Kernel());

        Assert.That(image.Class, Is.EqualTo(ElfClass.Elf32));
        Assert.That(image.Machine, Is.EqualTo(ElfMachine.X86));
        Assert.That(image.Entry, Is.EqualTo(0x100000UL));
        Assert.That(image.ProgramHeaders[0],
            Is.EqualTo(new ProgramHeader(SegmentType.Load, Rwx, 0x1000, 0x100000, 0x100000, 0x100, 0x200, 0x1000)));
        Assert.That(image.Xen.PaeMode, Is.EqualTo("yes"));
    }

    [Test]
    public void Notes_EncodeDecodeRoundTrip()
    {
        ElfNote[] notes =
        [
            new("", 1, []),
            new("GNU", 3, [1, 2, 3, 4, 5]),
            new("LongerName", 0xfffffffe, [9]),
            ElfNote.XenNumeric(XenElfNote.Entry, 0xfe, 1),
        ];
        var bytes = ElfNotes.Encode(notes);

        Assert.That(bytes.Length % 4, Is.Zero);
        Assert.That(bytes.AsSpan(0, 4).ToArray(), Is.EqualTo(new byte[4]), "an empty name has namesz 0");
        Assert.That(ElfNotes.Decode(bytes, "test"), Is.EqualTo(notes));
    }

    [Test]
    public void Notes_DecodeWithEightBytePadding()
    {
        // 8-byte alignment: the descriptor starts at align8(12 + namesz) = 16, the next note at align8(16 + 4) = 24,
        // and that empty note takes align8(12) = 16 bytes.
        var bytes = new byte[40];
        Put32(bytes, ElfLayout.Nhdr.NameSz, 4); Put32(bytes, ElfLayout.Nhdr.DescSz, 4); Put32(bytes, ElfLayout.Nhdr.Type, 5);
        "GNU\0"u8.CopyTo(bytes.AsSpan(ElfLayout.Nhdr.Size));
        bytes[16] = 0xaa;
        const int second = 24;
        Put32(bytes, second + ElfLayout.Nhdr.NameSz, 0); Put32(bytes, second + ElfLayout.Nhdr.DescSz, 0); Put32(bytes, second + ElfLayout.Nhdr.Type, 6);

        var notes = ElfNotes.Decode(bytes, "test", 8);
        Assert.That(notes, Is.EqualTo(new[] { new ElfNote("GNU", 5, [0xaa, 0, 0, 0]), new ElfNote("", 6, []) }));
    }

    [TestCase(1, 0xffUL)]
    [TestCase(2, 0xfeffUL)]
    [TestCase(4, 0xfcfdfeffUL)]
    [TestCase(8, 0xf8f9fafbfcfdfeffUL)]
    [TestCase(3, 0UL)]
    [TestCase(16, 0UL)]
    [TestCase(0, 0UL)]
    public void XenNumericNote_SizeRule(int size, ulong expected)
    {
        var desc = Enumerable.Range(0, size).Select(i => (byte)(0xff - i)).ToArray();
        var xen = new XenNotes([new ElfNote("Xen", (uint)XenElfNote.InitP2m, desc)]);
        Assert.That(xen.InitP2m, Is.EqualTo(expected));
    }

    [Test]
    public void XenNotes_OwnerUnknownTypesAndBrokenStrings()
    {
        var xen = new XenNotes(
        [
            new ElfNote("XEN", (uint)XenElfNote.Loader, "wrong\0"u8.ToArray()),
            new ElfNote("Xen2", (uint)XenElfNote.Loader, "wrong\0"u8.ToArray()),
            new ElfNote("Xen", 99, [1, 2, 3]),
            ElfNote.XenString(XenElfNote.Loader, "generic"),
            new ElfNote("Xen", (uint)XenElfNote.GuestOs, "linux"u8.ToArray()),
            new ElfNote("Xen", (uint)XenElfNote.XenVersion, "xen-3.0\0junk"u8.ToArray()),
            ElfNote.XenNumeric(XenElfNote.SupportedFeatures, 0x800, 4),
        ]);

        Assert.That(xen.HasAnyXenNote, Is.True);
        Assert.That(xen.Loader, Is.EqualTo("generic"));
        Assert.That(xen.GuestOs, Is.Null);
        Assert.That(xen.XenVersion, Is.EqualTo("xen-3.0"));
        Assert.That(xen.SupportedFeatures, Is.EqualTo(0x800UL));
        Assert.That(xen.Broken, Is.True);
        Assert.That(xen.Problems, Has.Count.EqualTo(1).And.One.Contains("not NUL-terminated"));

        var gnuOnly = new XenNotes([new ElfNote("GNU", 3, [1, 2, 3, 4])]);
        Assert.That(gnuOnly.HasAnyXenNote, Is.False);
        Assert.That(gnuOnly.Broken, Is.False);
    }

    [Test]
    public void XenNoteFactories_CheckTheirArguments()
    {
        Assert.That(ElfNote.XenString(XenElfNote.PaeMode, "yes").Descriptor, Is.EqualTo("yes\0"u8.ToArray()));
        Assert.That(ElfNote.XenNumeric(XenElfNote.Entry, 0x1234, 2).Descriptor, Is.EqualTo(new byte[] { 0x34, 0x12 }));
        Assert.That(() => ElfNote.XenNumeric(XenElfNote.Entry, 0, 3), Throws.TypeOf<ArgumentOutOfRangeException>());
        Assert.That(() => ElfNote.XenNumeric(XenElfNote.Entry, 0x10000, 2), Throws.TypeOf<ArgumentOutOfRangeException>());
    }
}
