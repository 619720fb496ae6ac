using System.Buffers.Binary;
using System.Numerics;

namespace Xtf.Elf;

/// <summary>
/// Writes a little-endian ELF64 ET_EXEC image: ELF header, program header table (one entry per Add
/// call, in call order), each PT_LOAD's bytes at the first file offset after the previous data that is
/// congruent to its p_vaddr modulo its p_align, then the standalone note segments (4-aligned).
/// No section headers. <see cref="Build"/> checks its output with <see cref="ElfImage.Parse"/>.
/// </summary>
public sealed class ElfBuilder
{
    private const int HeaderSize = ElfLayout.Ehdr.Size;
    private const int ProgramHeaderSize = ElfLayout.Phdr.Size;
    private const int SectionHeaderSize = ElfLayout.Shdr.HeaderSize;

    private readonly ushort machine;
    private readonly ulong entry;
    private readonly List<Segment> segments = [];

    private abstract record Segment;
    private sealed record Load(ulong VirtualAddress, ulong PhysicalAddress, byte[] Bytes, ulong MemorySize,
        SegmentFlags Flags, ulong Align) : Segment;
    private sealed record NoteInLoad(ulong VirtualAddress, ulong Size) : Segment;
    private sealed record NoteSegment(byte[] Bytes) : Segment;

    public ElfBuilder(ushort machine, ulong entry)
    {
        this.machine = machine;
        this.entry = entry;
    }

    /// <summary>A PT_LOAD of <paramref name="fileBytes"/> followed by zero fill up to <paramref name="memSize"/>.</summary>
    public ElfBuilder AddLoad(ulong vaddr, ulong paddr, byte[] fileBytes, ulong memSize, SegmentFlags flags, ulong align = 0x1000)
    {
        ArgumentNullException.ThrowIfNull(fileBytes);
        if ((ulong)fileBytes.Length > memSize)
            throw new ArgumentOutOfRangeException(nameof(memSize), memSize,
                $"memory size is smaller than the file bytes (0x{fileBytes.Length:x})");
        if (align != 0 && !BitOperations.IsPow2(align))
            throw new ArgumentOutOfRangeException(nameof(align), align, "alignment must be 0 or a power of two");
        segments.Add(new Load(vaddr, paddr, (byte[])fileBytes.Clone(), memSize, flags, align));
        return this;
    }

    /// <summary>A PT_NOTE (align 4) for <paramref name="size"/> note bytes already inside a PT_LOAD's file bytes at <paramref name="vaddr"/>.</summary>
    public ElfBuilder AddNote(ulong vaddr, ulong size)
    {
        if (vaddr % 4 != 0)
            throw new ArgumentOutOfRangeException(nameof(vaddr), vaddr, "a note segment must be 4-byte aligned");
        segments.Add(new NoteInLoad(vaddr, size));
        return this;
    }

    /// <summary>A PT_NOTE (align 4, addresses 0) whose bytes are placed after all loads and covered by none.</summary>
    public ElfBuilder AddNoteSegment(byte[] noteBytes)
    {
        ArgumentNullException.ThrowIfNull(noteBytes);
        segments.Add(new NoteSegment((byte[])noteBytes.Clone()));
        return this;
    }

    public byte[] Build()
    {
        if (segments.Count >= 0xffff)
            throw new InvalidOperationException($"{segments.Count} program headers do not fit in e_phnum");
        var headers = new ProgramHeader[segments.Count];
        var contents = new (ulong Offset, byte[]? Bytes)[segments.Count];
        ulong cursor = HeaderSize + (ulong)ProgramHeaderSize * (ulong)segments.Count;
        for (int i = 0; i < segments.Count; i++)
            if (segments[i] is Load load)
                (headers[i], contents[i], cursor) = Place(load, cursor);
        for (int i = 0; i < segments.Count; i++)
            if (segments[i] is NoteSegment noteSegment)
                (headers[i], contents[i], cursor) = Place(noteSegment, cursor);
        for (int i = 0; i < segments.Count; i++)
            if (segments[i] is NoteInLoad note)
                headers[i] = Locate(note, headers, i);
        if (cursor > int.MaxValue)
            throw new InvalidOperationException($"image would be 0x{cursor:x} bytes, too large");

        var image = new byte[cursor];
        WriteHeader(image, segments.Count);
        for (int i = 0; i < headers.Length; i++)
        {
            WriteProgramHeader(image.AsSpan(HeaderSize + i * ProgramHeaderSize), headers[i]);
            if (contents[i].Bytes is { } bytes)
                bytes.CopyTo(image, (int)contents[i].Offset);
        }
        ElfImage.Parse(image);
        return image;
    }

    private static (ProgramHeader, (ulong, byte[]?), ulong) Place(Load l, ulong cursor)
    {
        ulong offset = l.Align > 1 ? checked(cursor + (unchecked(l.VirtualAddress - cursor) & (l.Align - 1))) : cursor;
        var ph = new ProgramHeader(SegmentType.Load, l.Flags, offset, l.VirtualAddress, l.PhysicalAddress,
            (ulong)l.Bytes.Length, l.MemorySize, l.Align);
        return (ph, (offset, l.Bytes), checked(offset + (ulong)l.Bytes.Length));
    }

    private static (ProgramHeader, (ulong, byte[]?), ulong) Place(NoteSegment n, ulong cursor)
    {
        ulong offset = checked((cursor + 3) & ~3UL);
        var ph = new ProgramHeader(SegmentType.Note, SegmentFlags.R, offset, 0, 0, (ulong)n.Bytes.Length,
            (ulong)n.Bytes.Length, 4);
        return (ph, (offset, n.Bytes), checked(offset + (ulong)n.Bytes.Length));
    }

    private ProgramHeader Locate(NoteInLoad note, ProgramHeader[] headers, int index)
    {
        for (int i = 0; i < segments.Count; i++)
        {
            if (segments[i] is not Load)
                continue;
            var load = headers[i];
            if (note.VirtualAddress >= load.VirtualAddress &&
                (UInt128)note.VirtualAddress + note.Size <= (UInt128)load.VirtualAddress + load.FileSize)
            {
                ulong delta = note.VirtualAddress - load.VirtualAddress;
                return new ProgramHeader(SegmentType.Note, SegmentFlags.R, load.Offset + delta, note.VirtualAddress,
                    load.PhysicalAddress + delta, note.Size, note.Size, 4);
            }
        }
        throw new InvalidOperationException(
            $"note segment {index} at 0x{note.VirtualAddress:x}+0x{note.Size:x} is not inside the file bytes of any PT_LOAD");
    }

    private void WriteHeader(Span<byte> b, int phnum)
    {
        b[ElfLayout.Ident.Mag0] = ElfLayout.Ident.Magic0; b[ElfLayout.Ident.Mag1] = ElfLayout.Ident.Magic1;
        b[ElfLayout.Ident.Mag2] = ElfLayout.Ident.Magic2; b[ElfLayout.Ident.Mag3] = ElfLayout.Ident.Magic3;
        b[ElfLayout.Ident.Class] = (byte)ElfClass.Elf64;
        b[ElfLayout.Ident.Data] = ElfLayout.ELFDATA2LSB;
        b[ElfLayout.Ident.Version] = ElfLayout.EV_CURRENT;
        BinaryPrimitives.WriteUInt16LittleEndian(b[ElfLayout.Ehdr.Type..], ElfFileType.ET_EXEC);
        BinaryPrimitives.WriteUInt16LittleEndian(b[ElfLayout.Ehdr.Machine..], machine);
        BinaryPrimitives.WriteUInt32LittleEndian(b[ElfLayout.Ehdr.Version..], ElfLayout.EV_CURRENT);
        BinaryPrimitives.WriteUInt64LittleEndian(b[ElfLayout.Ehdr.Entry..], entry);
        BinaryPrimitives.WriteUInt64LittleEndian(b[ElfLayout.Ehdr.PhOff..], phnum == 0 ? 0UL : HeaderSize);
        BinaryPrimitives.WriteUInt64LittleEndian(b[ElfLayout.Ehdr.ShOff..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(b[ElfLayout.Ehdr.Flags..], 0);
        BinaryPrimitives.WriteUInt16LittleEndian(b[ElfLayout.Ehdr.EhSize..], HeaderSize);
        BinaryPrimitives.WriteUInt16LittleEndian(b[ElfLayout.Ehdr.PhEntSize..], ProgramHeaderSize);
        BinaryPrimitives.WriteUInt16LittleEndian(b[ElfLayout.Ehdr.PhNum..], (ushort)phnum);
        BinaryPrimitives.WriteUInt16LittleEndian(b[ElfLayout.Ehdr.ShEntSize..], SectionHeaderSize);
        // e_shnum = 0, e_shstrndx = SHN_UNDEF
    }

    private static void WriteProgramHeader(Span<byte> b, ProgramHeader ph)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(b[ElfLayout.Phdr.Type..], (uint)ph.Type);
        BinaryPrimitives.WriteUInt32LittleEndian(b[ElfLayout.Phdr.Flags..], (uint)ph.Flags);
        BinaryPrimitives.WriteUInt64LittleEndian(b[ElfLayout.Phdr.Offset..], ph.Offset);
        BinaryPrimitives.WriteUInt64LittleEndian(b[ElfLayout.Phdr.Vaddr..], ph.VirtualAddress);
        BinaryPrimitives.WriteUInt64LittleEndian(b[ElfLayout.Phdr.Paddr..], ph.PhysicalAddress);
        BinaryPrimitives.WriteUInt64LittleEndian(b[ElfLayout.Phdr.Filesz..], ph.FileSize);
        BinaryPrimitives.WriteUInt64LittleEndian(b[ElfLayout.Phdr.Memsz..], ph.MemorySize);
        BinaryPrimitives.WriteUInt64LittleEndian(b[ElfLayout.Phdr.Align..], ph.Align);
    }
}
