using System.Buffers.Binary;
using System.Text;
using Xtf.Elf;
using static Xtf.Elf.ElfLayout;

namespace Xtf.Elf.Tests;

/// <summary>Images shared by the tests, and byte-level patching for hand-made bad ones.</summary>
internal static class TestImages
{
    public const ulong Base = 0x100000;
    public const int TextSize = 0x2000;
    public const ulong MemSize = 0x5000;
    public const int NoteOffsetInText = 0x100;
    public const ulong HypercallPage = 0x101000;
    public const SegmentFlags Rwx = SegmentFlags.R | SegmentFlags.W | SegmentFlags.X;

    /// <summary>The notes of a Xen PV test kernel, as the suite's kernels carry them (docs/dom0.md §2.2).</summary>
    public static readonly ElfNote[] XenPvNotes =
    [
        ElfNote.XenString(XenElfNote.GuestOs, "Xtf.NET"),
        ElfNote.XenString(XenElfNote.GuestVersion, "0"),
        ElfNote.XenString(XenElfNote.Loader, "generic"),
        ElfNote.XenString(XenElfNote.XenVersion, "xen-3.0"),
        ElfNote.XenString(XenElfNote.Features, "!writable_page_tables|pae_pgdir_above_4gb"),
        ElfNote.XenString(XenElfNote.PaeMode, "yes"),
        ElfNote.XenNumeric(XenElfNote.HypercallPage, HypercallPage),
    ];

    public static int NoteBytesLength => ElfNotes.Encode(XenPvNotes).Length;

    /// <summary>0x2000 file bytes for VA 0x100000: a "jmp ." at the entry, the notes at +0x100.</summary>
    public static byte[] Text(IEnumerable<ElfNote>? notes = null)
    {
        var text = new byte[TextSize];
        text[0] = 0xeb; text[1] = 0xfe;
        ElfNotes.Encode(notes ?? XenPvNotes).CopyTo(text, NoteOffsetInText);
        return text;
    }

    /// <summary>Entry 0x100000, one RWX PT_LOAD at VA = PA = 0x100000 with bss, a PT_NOTE inside it.</summary>
    public static byte[] XenPvKernel() =>
        new ElfBuilder(ElfMachine.X86_64, Base)
            .AddLoad(Base, Base, Text(), MemSize, Rwx)
            .AddNote(Base + NoteOffsetInText, (ulong)NoteBytesLength)
            .Build();

    /// <summary>The PV kernel plus a standalone PT_NOTE segment holding an Entry note and a GNU note.</summary>
    public static (byte[] Bytes, ElfNote[] Extra) WithStandaloneNoteSegment()
    {
        var extra = new[] { ElfNote.XenNumeric(XenElfNote.Entry, 0x100000, 4), new ElfNote("GNU", 3, [1, 2, 3, 4]) };
        var bytes = new ElfBuilder(ElfMachine.X86_64, Base)
            .AddLoad(Base, Base, Text(), MemSize, Rwx)
            .AddNote(Base + NoteOffsetInText, (ulong)NoteBytesLength)
            .AddNoteSegment(ElfNotes.Encode(extra))
            .Build();
        return (bytes, extra);
    }

    /// <summary>
    /// Appends a section table: [0] null, [1] .note.Xen (SHT_NOTE over the given file range), [2] .shstrtab.
    /// </summary>
    public static byte[] WithSections(byte[] image, ulong noteOffset, ulong noteSize, ulong noteAddress)
    {
        var strtab = Encoding.ASCII.GetBytes("\0.shstrtab\0.note.Xen\0");
        int strAt = Align8(image.Length), shAt = Align8(strAt + strtab.Length);
        var result = new byte[shAt + 3 * Shdr.HeaderSize];
        image.CopyTo(result, 0);
        strtab.CopyTo(result, strAt);
        WriteSection(result.AsSpan(shAt + 1 * Shdr.HeaderSize), name: 11, type: SectionType.SHT_NOTE, flags: 2, noteAddress, noteOffset, noteSize, align: 4);
        WriteSection(result.AsSpan(shAt + 2 * Shdr.HeaderSize), name: 1, type: SectionType.SHT_STRTAB, flags: 0, 0, (ulong)strAt, (ulong)strtab.Length, align: 1);
        Put64(result, Ehdr.ShOff, (ulong)shAt);
        Put16(result, Ehdr.ShNum, 3);
        Put16(result, Ehdr.ShStrNdx, 2);
        return result;
    }

    /// <summary>The Xen PV kernel with the section table appended.</summary>
    public static byte[] XenPvKernelWithSections() =>
        WithSections(XenPvKernel(), 0x1000 + NoteOffsetInText, (ulong)NoteBytesLength, Base + NoteOffsetInText);

    public static int SectionTableOffset(byte[] image) => (int)BinaryPrimitives.ReadUInt64LittleEndian(image.AsSpan(Ehdr.ShOff));

    /// <summary>A hand-made ELF32 EM_386 image: one PT_LOAD at 0x100000 and a PT_NOTE with PAE_MODE "yes".</summary>
    public static byte[] Elf32Kernel()
    {
        var notes = ElfNotes.Encode([ElfNote.XenString(XenElfNote.PaeMode, "yes")]);
        var b = new byte[0x1100];
        b[Ident.Mag0] = Ident.Magic0; b[Ident.Mag1] = Ident.Magic1; b[Ident.Mag2] = Ident.Magic2; b[Ident.Mag3] = Ident.Magic3;
        b[Ident.Class] = ELFCLASS32; b[Ident.Data] = ELFDATA2LSB; b[Ident.Version] = EV_CURRENT;
        Put16(b, Ehdr32.Type, ElfFileType.ET_EXEC);
        Put16(b, Ehdr32.Machine, ElfMachine.X86);
        Put32(b, Ehdr32.Version, EV_CURRENT);
        Put32(b, Ehdr32.Entry, 0x100000);
        Put32(b, Ehdr32.PhOff, Ehdr32.Size);
        Put16(b, Ehdr32.EhSize, Ehdr32.Size);
        Put16(b, Ehdr32.PhEntSize, Phdr32.Size);
        Put16(b, Ehdr32.PhNum, 2);
        Put16(b, Ehdr32.ShEntSize, Shdr32.HeaderSize);
        WriteProgramHeader32(b.AsSpan(Ph32(0, 0)), type: (uint)SegmentType.Load, offset: 0x1000, vaddr: 0x100000, filesz: 0x100, memsz: 0x200, flags: 7, align: 0x1000);
        WriteProgramHeader32(b.AsSpan(Ph32(1, 0)), type: (uint)SegmentType.Note, offset: 0x1010, vaddr: 0x100010, filesz: (uint)notes.Length, memsz: (uint)notes.Length, flags: 4, align: 4);
        notes.CopyTo(b, 0x1010);
        return b;
    }

    private static void WriteProgramHeader32(Span<byte> e, uint type, uint offset, uint vaddr, uint filesz, uint memsz, uint flags, uint align)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(e[Phdr32.Type..], type);
        BinaryPrimitives.WriteUInt32LittleEndian(e[Phdr32.Offset..], offset);
        BinaryPrimitives.WriteUInt32LittleEndian(e[Phdr32.Vaddr..], vaddr);
        BinaryPrimitives.WriteUInt32LittleEndian(e[Phdr32.Paddr..], vaddr);
        BinaryPrimitives.WriteUInt32LittleEndian(e[Phdr32.Filesz..], filesz);
        BinaryPrimitives.WriteUInt32LittleEndian(e[Phdr32.Memsz..], memsz);
        BinaryPrimitives.WriteUInt32LittleEndian(e[Phdr32.Flags..], flags);
        BinaryPrimitives.WriteUInt32LittleEndian(e[Phdr32.Align..], align);
    }

    private static void WriteSection(Span<byte> e, uint name, uint type, ulong flags, ulong addr, ulong offset, ulong size, ulong align)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(e[Shdr.Name..], name);
        BinaryPrimitives.WriteUInt32LittleEndian(e[Shdr.Type..], type);
        BinaryPrimitives.WriteUInt64LittleEndian(e[Shdr.Flags..], flags);
        BinaryPrimitives.WriteUInt64LittleEndian(e[Shdr.Addr..], addr);
        BinaryPrimitives.WriteUInt64LittleEndian(e[Shdr.Offset..], offset);
        BinaryPrimitives.WriteUInt64LittleEndian(e[Shdr.Size..], size);
        BinaryPrimitives.WriteUInt64LittleEndian(e[Shdr.AddrAlign..], align);
    }

    private static int Align8(int value) => (value + 7) & ~7;

    /// <summary>Offset of field <paramref name="fieldOffset"/> in ELF64 program header <paramref name="index"/>.</summary>
    public static int Ph64(int index, int fieldOffset) => Ehdr.Size + index * Phdr.Size + fieldOffset;

    /// <summary>Offset of field <paramref name="fieldOffset"/> in ELF32 program header <paramref name="index"/> (the table follows the header).</summary>
    public static int Ph32(int index, int fieldOffset) => Ehdr32.Size + index * Phdr32.Size + fieldOffset;

    public static byte[] Patch(this byte[] image, Action<byte[]> change)
    {
        var copy = (byte[])image.Clone();
        change(copy);
        return copy;
    }

    public static void Put16(byte[] b, int at, ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(at), v);
    public static void Put32(byte[] b, int at, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at), v);
    public static void Put64(byte[] b, int at, ulong v) => BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(at), v);
}
