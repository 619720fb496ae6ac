using System.Buffers.Binary;
using Xtf.Elf;

namespace Xtf.Suite.Pv.Builder;

/// <summary>
/// Byte-level edits of a linked pv64 kernel, for the images Xen must refuse. Every edit keeps the
/// rest of the image intact, so each refusal test breaks exactly one thing Xen checks.
/// </summary>
public static class ImageEdits
{
    /// <summary>Re-encodes the PT_NOTE segment in place with <paramref name="edit"/> applied to its notes; the new notes must fit the old segment's page.</summary>
    public static byte[] WithNotes(byte[] elf, Func<List<ElfNote>, IEnumerable<ElfNote>> edit)
    {
        var image = ElfImage.Parse(elf);
        var (ph, index) = Segment(image, SegmentType.Note);
        var notes = edit(ElfNotes.Decode(image.FileBytes(ph), "PT_NOTE").ToList()).ToList();
        byte[] encoded = ElfNotes.Encode(notes);
        ulong room = 0x1000 - (ph.Offset & 0xFFF);
        if ((ulong)encoded.Length > room) throw new InvalidOperationException("the edited notes do not fit the notes page");
        var copy = (byte[])elf.Clone();
        copy.AsSpan((int)ph.Offset, (int)Math.Max(ph.FileSize, (ulong)encoded.Length)).Clear();
        encoded.CopyTo(copy, (int)ph.Offset);
        var header = ProgramHeader(copy, index);
        BinaryPrimitives.WriteUInt64LittleEndian(header[ElfLayout.Phdr.Filesz..], (ulong)encoded.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(header[ElfLayout.Phdr.Memsz..], (ulong)encoded.Length);
        return copy;
    }

    /// <summary>Drops every Xen note of <paramref name="type"/>.</summary>
    public static byte[] WithoutNote(byte[] elf, XenElfNote type) =>
        WithNotes(elf, n => n.Where(x => !(x.Name == ElfNote.XenOwner && x.Type == (uint)type)));

    /// <summary>Replaces (or adds) the Xen note of <paramref name="note"/>'s type.</summary>
    public static byte[] WithNote(byte[] elf, ElfNote note) =>
        WithNotes(elf, n => n.Where(x => !(x.Name == note.Name && x.Type == note.Type)).Append(note));

    /// <summary>Turns the PT_NOTE program header into PT_NULL: the image has no notes at all.</summary>
    public static byte[] WithoutNoteSegment(byte[] elf)
    {
        var (_, index) = Segment(ElfImage.Parse(elf), SegmentType.Note);
        var copy = (byte[])elf.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(ProgramHeader(copy, index)[ElfLayout.Phdr.Type..], (uint)SegmentType.Null);
        return copy;
    }

    public static byte[] WithMachine(byte[] elf, ushort machine)
    {
        var copy = (byte[])elf.Clone();
        BinaryPrimitives.WriteUInt16LittleEndian(copy.AsSpan(ElfLayout.Ehdr.Machine), machine);
        return copy;
    }

    public static byte[] WithEntry(byte[] elf, ulong entry)
    {
        var copy = (byte[])elf.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(copy.AsSpan(ElfLayout.Ehdr.Entry), entry);
        return copy;
    }

    /// <summary>Sets the PT_LOAD segment's p_memsz (a BSS of that size).</summary>
    public static byte[] WithLoadMemorySize(byte[] elf, ulong memSize)
    {
        var (_, index) = Segment(ElfImage.Parse(elf), SegmentType.Load);
        var copy = (byte[])elf.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(ProgramHeader(copy, index)[ElfLayout.Phdr.Memsz..], memSize);
        return copy;
    }

    private static (ProgramHeader Header, int Index) Segment(ElfImage image, SegmentType type)
    {
        for (int i = 0; i < image.ProgramHeaders.Count; i++)
            if (image.ProgramHeaders[i].Type == type) return (image.ProgramHeaders[i], i);
        throw new InvalidOperationException($"the kernel has no {type} segment");
    }

    private static Span<byte> ProgramHeader(byte[] elf, int index)
    {
        ulong phoff = BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan(ElfLayout.Ehdr.PhOff));
        int size = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(ElfLayout.Ehdr.PhEntSize));
        int count = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(ElfLayout.Ehdr.PhNum));
        if (index >= count) throw new ArgumentOutOfRangeException(nameof(index));
        return elf.AsSpan(checked((int)phoff + index * size), size);
    }
}
