using System.Buffers.Binary;
using System.Text;
using Xtf.Elf;

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

    /// <summary>The notes of a Xen PV test kernel (real-xen-in-qemu.md, "A PV kernel image that Xen 4.17 accepts").</summary>
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

    /// <summary>
    /// Appends a section table: [0] null, [1] .note.Xen (SHT_NOTE over the given file range), [2] .shstrtab.
    /// </summary>
    public static byte[] WithSections(byte[] image, ulong noteOffset, ulong noteSize, ulong noteAddress)
    {
        var strtab = Encoding.ASCII.GetBytes("\0.shstrtab\0.note.Xen\0");
        int strAt = Align8(image.Length), shAt = Align8(strAt + strtab.Length);
        var result = new byte[shAt + 3 * 64];
        image.CopyTo(result, 0);
        strtab.CopyTo(result, strAt);
        WriteSection(result.AsSpan(shAt + 64), name: 11, type: 7, flags: 2, noteAddress, noteOffset, noteSize, align: 4);
        WriteSection(result.AsSpan(shAt + 128), name: 1, type: 3, flags: 0, 0, (ulong)strAt, (ulong)strtab.Length, align: 1);
        Put64(result, 40, (ulong)shAt);
        Put16(result, 60, 3);
        Put16(result, 62, 2);
        return result;
    }

    /// <summary>The Xen PV kernel with the section table appended.</summary>
    public static byte[] XenPvKernelWithSections() =>
        WithSections(XenPvKernel(), 0x1000 + NoteOffsetInText, (ulong)NoteBytesLength, Base + NoteOffsetInText);

    public static int SectionTableOffset(byte[] image) => (int)BinaryPrimitives.ReadUInt64LittleEndian(image.AsSpan(40));

    /// <summary>A hand-made ELF32 EM_386 image: one PT_LOAD at 0x100000 and a PT_NOTE with PAE_MODE "yes".</summary>
    public static byte[] Elf32Kernel()
    {
        var notes = ElfNotes.Encode([ElfNote.XenString(XenElfNote.PaeMode, "yes")]);
        var b = new byte[0x1100];
        b[0] = 0x7f; b[1] = (byte)'E'; b[2] = (byte)'L'; b[3] = (byte)'F';
        b[4] = 1; b[5] = 1; b[6] = 1;
        Put16(b, 16, ElfFileType.ET_EXEC);
        Put16(b, 18, ElfMachine.X86);
        Put32(b, 20, 1);
        Put32(b, 24, 0x100000); // e_entry
        Put32(b, 28, 52); // e_phoff
        Put16(b, 40, 52); // e_ehsize
        Put16(b, 42, 32); // e_phentsize
        Put16(b, 44, 2); // e_phnum
        Put16(b, 46, 40); // e_shentsize
        WriteProgramHeader32(b.AsSpan(52), type: 1, offset: 0x1000, vaddr: 0x100000, filesz: 0x100, memsz: 0x200, flags: 7, align: 0x1000);
        WriteProgramHeader32(b.AsSpan(84), type: 4, offset: 0x1010, vaddr: 0x100010, filesz: (uint)notes.Length, memsz: (uint)notes.Length, flags: 4, align: 4);
        notes.CopyTo(b, 0x1010);
        return b;
    }

    private static void WriteProgramHeader32(Span<byte> e, uint type, uint offset, uint vaddr, uint filesz, uint memsz, uint flags, uint align)
    {
        uint[] fields = [type, offset, vaddr, vaddr, filesz, memsz, flags, align];
        for (int i = 0; i < fields.Length; i++)
            BinaryPrimitives.WriteUInt32LittleEndian(e[(i * 4)..], fields[i]);
    }

    private static void WriteSection(Span<byte> e, uint name, uint type, ulong flags, ulong addr, ulong offset, ulong size, ulong align)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(e, name);
        BinaryPrimitives.WriteUInt32LittleEndian(e[4..], type);
        BinaryPrimitives.WriteUInt64LittleEndian(e[8..], flags);
        BinaryPrimitives.WriteUInt64LittleEndian(e[16..], addr);
        BinaryPrimitives.WriteUInt64LittleEndian(e[24..], offset);
        BinaryPrimitives.WriteUInt64LittleEndian(e[32..], size);
        BinaryPrimitives.WriteUInt64LittleEndian(e[48..], align);
    }

    private static int Align8(int value) => (value + 7) & ~7;

    /// <summary>Offset of field <paramref name="fieldOffset"/> in ELF64 program header <paramref name="index"/>.</summary>
    public static int Ph64(int index, int fieldOffset) => 64 + index * 56 + fieldOffset;

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
