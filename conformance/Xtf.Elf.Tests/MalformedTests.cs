using System.Text;
using Xtf.Elf;
using static Xtf.Elf.ElfLayout;
using static Xtf.Elf.Tests.TestImages;

namespace Xtf.Elf.Tests;

public class MalformedTests
{
    private static int NoteAt => 0x1000 + NoteOffsetInText;

    private static byte[] TwoLoads() =>
        new ElfBuilder(ElfMachine.X86_64, Base)
            .AddLoad(Base, Base, Text(), MemSize, Rwx)
            .AddLoad(0x200000, 0x200000, [1, 2, 3, 4], 0x1000, SegmentFlags.R)
            .Build();

    private static IEnumerable<TestCaseData> BadImages()
    {
        var good = XenPvKernel();
        var sectioned = XenPvKernelWithSections();
        int sh = SectionTableOffset(sectioned);

        TestCaseData Case(string name, byte[] bytes, string phrase) => new TestCaseData(bytes, phrase).SetName(name);

        yield return Case("Empty", [], "file is empty");
        yield return Case("ThreeBytes", [0x7f, 0x45, 0x4c], "too short for the ELF identification (3 bytes");
        yield return Case("TextFile", Encoding.ASCII.GetBytes("#!/bin/sh\necho this is not an ELF file\n"), "not an ELF file");
        yield return Case("TruncatedHeader", good[..40], "too short for the ELF64 header (40 bytes, need 64)");
        yield return Case("BadClass", good.Patch(b => b[Ident.Class] = 3), "bad EI_CLASS 3");
        yield return Case("BadData", good.Patch(b => b[Ident.Data] = 0), "bad EI_DATA 0");
        yield return Case("BigEndian", good.Patch(b => b[Ident.Data] = ELFDATA2MSB), "big-endian ELF is not supported");
        yield return Case("BadIdentVersion", good.Patch(b => b[Ident.Version] = 0), "bad EI_VERSION 0");
        yield return Case("BadVersion", good.Patch(b => Put32(b, Ehdr.Version, 2)), "bad e_version 2");
        yield return Case("EhsizeWrong", good.Patch(b => Put16(b, Ehdr.EhSize, 52)), "e_ehsize is 52 but an ELF64 header is 64 bytes");
        yield return Case("PhentsizeWrong", good.Patch(b => Put16(b, Ehdr.PhEntSize, 32)), "e_phentsize is 32 but an ELF64 program header is 56 bytes");
        yield return Case("PhoffPastEnd", good.Patch(b => Put64(b, Ehdr.PhOff, (ulong)b.Length)), "program header table: 2 entries of 56 bytes at offset 0x3000 extend past end of file");
        yield return Case("PhoffHuge", good.Patch(b => Put64(b, Ehdr.PhOff, ulong.MaxValue - 8)), "extend past end of file");
        yield return Case("PhoffInHeader", good.Patch(b => Put64(b, Ehdr.PhOff, 8)), "program header table at offset 0x8 overlaps the ELF header");
        yield return Case("PhnumLying", good.Patch(b => Put16(b, Ehdr.PhNum, 300)), "300 entries of 56 bytes at offset 0x40 extend past end of file");
        yield return Case("PhnumXnumWithoutSections", good.Patch(b => Put16(b, Ehdr.PhNum, PN_XNUM)), "PN_XNUM");
        yield return Case("PhnumAbsurd", sectioned.Patch(b => { Put16(b, Ehdr.PhNum, PN_XNUM); Put32(b, sh + Shdr.Info, 70000); }), "program header count 70000 is absurd");
        yield return Case("SegmentPastEof", good.Patch(b => Put64(b, Ph64(0, Phdr.Filesz), 0x100000)), "program header 0 (PT_LOAD): file range 0x1000+0x100000 extends past end of file (0x3000 bytes)");
        yield return Case("SegmentOffsetWraps", good.Patch(b => Put64(b, Ph64(1, Phdr.Offset), ulong.MaxValue)), "program header 1 (PT_NOTE): file range 0xffffffffffffffff+");
        yield return Case("FileszOverMemsz", good.Patch(b => Put64(b, Ph64(0, Phdr.Memsz), 0x10)), "p_filesz 0x2000 is larger than p_memsz 0x10");
        yield return Case("AlignNotPowerOfTwo", good.Patch(b => Put64(b, Ph64(0, Phdr.Align), 0x1001)), "p_align 0x1001 is not a power of two");
        yield return Case("NoteAlignNotPowerOfTwo", good.Patch(b => Put64(b, Ph64(1, Phdr.Align), 3)), "program header 1 (PT_NOTE): p_align 0x3");
        yield return Case("VaddrNotCongruent", good.Patch(b => Put64(b, Ph64(0, Phdr.Align), 0x10000)), "not congruent modulo p_align 0x10000");
        yield return Case("VirtualOverflow", good.Patch(b => Put64(b, Ph64(0, Phdr.Vaddr), 0xfffffffffffff000)), "virtual range 0xfffffffffffff000+0x5000 overflows the 64-bit address space");
        yield return Case("PhysicalOverflow", good.Patch(b => Put64(b, Ph64(0, Phdr.Paddr), 0xffffffffffffe000)), "physical range 0xffffffffffffe000+0x5000 overflows");
        yield return Case("OverlappingLoadsVirtual", TwoLoads().Patch(b => Put64(b, Ph64(1, Phdr.Vaddr), 0x104000)), "program headers 0 and 1 (PT_LOAD): virtual ranges 0x100000+0x5000 and 0x104000+0x1000 overlap");
        yield return Case("OverlappingLoadsPhysical", TwoLoads().Patch(b => Put64(b, Ph64(1, Phdr.Paddr), 0x104000)), "program headers 0 and 1 (PT_LOAD): physical ranges");
        yield return Case("OverlappingLoadsSameStart", TwoLoads().Patch(b => Put64(b, Ph64(1, Phdr.Vaddr), Base)), "virtual ranges");
        yield return Case("NoteTruncatedBySegment", good.Patch(b => Put64(b, Ph64(1, Phdr.Filesz), (ulong)NoteBytesLength - 4)), "program header 1 (PT_NOTE): note 6 at offset 0x");
        yield return Case("NoteHeaderTruncated", good.Patch(b => Put64(b, Ph64(1, Phdr.Filesz), 6)), "note 0 at offset 0x0: truncated header (6 bytes left, need 12)");
        yield return Case("NoteNameszHuge", good.Patch(b => Put32(b, NoteAt + Nhdr.NameSz, 0xfffffff0)), "note 0 at offset 0x0: name (namesz 0xfffffff0, padded) runs past the end of the notes");
        yield return Case("NoteDescszPastSegment", good.Patch(b => Put32(b, NoteAt + Nhdr.DescSz, 0x1000)), "note 0 at offset 0x0: descriptor (descsz 0x1000, padded) runs past");
        yield return Case("ShstrndxOutOfRange", sectioned.Patch(b => Put16(b, Ehdr.ShStrNdx, 7)), "e_shstrndx 7 is out of range (3 sections)");
        yield return Case("ShstrndxNotStrtab", sectioned.Patch(b => Put16(b, Ehdr.ShStrNdx, 1)), "e_shstrndx 1 names a section of type 0x7, not SHT_STRTAB");
        yield return Case("SectionNamePastTable", sectioned.Patch(b => Put32(b, sh + 1 * Shdr.HeaderSize + Shdr.Name, 0x400)), "section 1: name offset 0x400 is past the end of the section name string table");
        yield return Case("SectionNameUnterminated", sectioned.Patch(b => b[b.Length - 3 * Shdr.HeaderSize - 4] = (byte)'X'), "section 1: name at offset 0xb runs past the end of the section name string table");
        yield return Case("SectionPastEof", sectioned.Patch(b => Put64(b, sh + 2 * Shdr.HeaderSize + Shdr.Offset, 0x10000)), "section 2: file range 0x10000+");
        yield return Case("SectionSizeHuge", sectioned.Patch(b => Put64(b, sh + 1 * Shdr.HeaderSize + Shdr.Size, ulong.MaxValue)), "section 1: file range");
        yield return Case("SectionTableInHeader", sectioned.Patch(b => Put64(b, Ehdr.ShOff, 0x20)), "section header table at offset 0x20 overlaps the ELF header");
        yield return Case("SectionTablePastEnd", sectioned.Patch(b => Put16(b, Ehdr.ShNum, 50)), "section header table: 50 entries of 64 bytes");
        yield return Case("ShentsizeWrong", sectioned.Patch(b => Put16(b, Ehdr.ShEntSize, 40)), "e_shentsize is 40 but an ELF64 section header is 64 bytes");
        yield return Case("ShnumWithoutShoff", good.Patch(b => Put16(b, Ehdr.ShNum, 3)), "e_shnum is 3 but e_shoff is 0");
        yield return Case("Elf32Truncated", Elf32Kernel()[..51], "too short for the ELF32 header (51 bytes, need 52)");
        yield return Case("Elf32SegmentPastEof", Elf32Kernel()[..0x1080], "program header 0 (PT_LOAD): file range 0x1000+0x100 extends past end of file (0x1080 bytes)");
        yield return Case("Elf32AddressOverflow", Elf32Kernel().Patch(b => Put32(b, Ph32(0, Phdr32.Vaddr), 0xffffff00)), "overflows the 32-bit address space");
    }

    [TestCaseSource(nameof(BadImages))]
    public void BadImage_IsRejectedWithAClearMessage(byte[] bytes, string phrase)
    {
        var ex = Assert.Throws<ElfFormatException>(() => ElfImage.Parse(bytes));
        Assert.That(ex!.Message, Does.Contain(phrase));
        Assert.That(ex.Message, Does.Not.Contain('\n'), "one line");
    }

    [Test]
    public void Elf32Header_IsParsedOk()
    {
        Assert.That(ElfImage.Parse(Elf32Kernel()).Class, Is.EqualTo(ElfClass.Elf32));
    }

    [Test]
    public void ExtendedProgramHeaderCount_IsReadFromSectionZero()
    {
        var sectioned = XenPvKernelWithSections();
        int sh = SectionTableOffset(sectioned);
        var image = ElfImage.Parse(sectioned.Patch(b => { Put16(b, Ehdr.PhNum, PN_XNUM); Put32(b, sh + Shdr.Info, 2); }));
        Assert.That(image.ProgramHeaders, Has.Count.EqualTo(2));
    }

    [Test]
    public void NoteDecode_RejectsTruncationWithTheCallersLocation()
    {
        var bytes = ElfNotes.Encode([ElfNote.XenString(XenElfNote.Loader, "generic")]);
        Assert.That(() => ElfNotes.Decode(bytes.AsSpan(0, bytes.Length - 1), "my notes"),
            Throws.TypeOf<ElfFormatException>().With.Message.StartsWith("my notes: note 0 at offset 0x0: descriptor"));
        var yes = ElfNotes.Encode([ElfNote.XenString(XenElfNote.PaeMode, "yes")]); // 20 bytes; 24 with 8-byte alignment
        Assert.That(() => ElfNotes.Decode(yes, "eight", 8),
            Throws.TypeOf<ElfFormatException>().With.Message.Contains("runs past the end"));
    }

    [Test]
    public void UnusedFieldsAndSkippedNotes_AreNotErrors()
    {
        // A PT_NOTE with p_offset 0 is skipped (as Xen does), and an unknown segment type is kept as its number.
        var bytes = XenPvKernel().Patch(b => { Put64(b, Ph64(1, Phdr.Offset), 0); Put32(b, Ph64(1, Phdr.Flags), 0x10000004); });
        var image = ElfImage.Parse(bytes);
        Assert.That(image.Notes, Is.Empty);
        Assert.That(image.Xen.HasAnyXenNote, Is.False);

        var unknown = ElfImage.Parse(XenPvKernel().Patch(b => Put32(b, Ph64(1, Phdr.Type), 0x60000001)));
        Assert.That((uint)unknown.ProgramHeaders[1].Type, Is.EqualTo(0x60000001u));
    }
}
