using System.Buffers.Binary;
using System.Text;

namespace Xtf.Elf;

/// <summary>XEN_ELFNOTE_* note types (owner "Xen").</summary>
public enum XenElfNote : uint
{
    Info = 0, Entry = 1, HypercallPage = 2, VirtBase = 3, PaddrOffset = 4, XenVersion = 5,
    GuestOs = 6, GuestVersion = 7, Loader = 8, PaeMode = 9, Features = 10, BsdSymtab = 11,
    HvStartLow = 12, L1MfnValid = 13, SuspendCancel = 14, InitP2m = 15, ModStartPfn = 16,
    SupportedFeatures = 17, Phys32Entry = 18,
}

/// <summary>One ELF note. Equality compares the descriptor bytes, not the array reference.</summary>
public sealed record ElfNote(string Name, uint Type, byte[] Descriptor)
{
    public const string XenOwner = "Xen";

    /// <summary>A Xen string note: the value's UTF-8 bytes followed by a NUL.</summary>
    public static ElfNote XenString(XenElfNote type, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.Contains('\0'))
            throw new ArgumentException("a Xen string note value cannot contain NUL", nameof(value));
        var text = Encoding.UTF8.GetBytes(value);
        var desc = new byte[text.Length + 1];
        text.CopyTo(desc, 0);
        return new ElfNote(XenOwner, (uint)type, desc);
    }

    /// <summary>A Xen numeric note: <paramref name="value"/> little-endian in 1, 2, 4 or 8 bytes.</summary>
    public static ElfNote XenNumeric(XenElfNote type, ulong value, int size = 8)
    {
        if (size is not (1 or 2 or 4 or 8))
            throw new ArgumentOutOfRangeException(nameof(size), size, "numeric note size must be 1, 2, 4 or 8");
        if (size < 8 && value >> (size * 8) != 0)
            throw new ArgumentOutOfRangeException(nameof(value), value, $"value does not fit in {size} bytes");
        var desc = new byte[size];
        for (int i = 0; i < size; i++)
            desc[i] = (byte)(value >> (i * 8));
        return new ElfNote(XenOwner, (uint)type, desc);
    }

    public bool Equals(ElfNote? other) =>
        other is not null && Name == other.Name && Type == other.Type &&
        Descriptor.AsSpan().SequenceEqual(other.Descriptor);

    public override int GetHashCode() => HashCode.Combine(Name, Type, Descriptor.Length);

    public override string ToString() =>
        $"ElfNote {{ Name = {Name}, Type = {Type}, Descriptor = {Convert.ToHexString(Descriptor)} }}";
}

/// <summary>The standard note format: namesz, descsz, type (32-bit each), name and desc each padded.</summary>
public static class ElfNotes
{
    private const int HeaderSize = ElfLayout.Nhdr.Size;

    /// <summary>Encodes notes with 4-byte padding. A non-empty name gets a terminating NUL counted in namesz.</summary>
    public static byte[] Encode(IEnumerable<ElfNote> notes)
    {
        ArgumentNullException.ThrowIfNull(notes);
        var output = new List<byte>();
        Span<byte> header = stackalloc byte[HeaderSize];
        foreach (var note in notes)
        {
            var name = note.Name.Length == 0 ? [] : Encoding.UTF8.GetBytes(note.Name + "\0");
            BinaryPrimitives.WriteUInt32LittleEndian(header[ElfLayout.Nhdr.NameSz..], (uint)name.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(header[ElfLayout.Nhdr.DescSz..], (uint)note.Descriptor.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(header[ElfLayout.Nhdr.Type..], note.Type);
            output.AddRange(header);
            AddPadded(output, name);
            AddPadded(output, note.Descriptor);
        }
        return output.ToArray();
    }

    private static void AddPadded(List<byte> output, byte[] bytes)
    {
        output.AddRange(bytes);
        for (int i = bytes.Length; i % 4 != 0; i++)
            output.Add(0);
    }

    /// <summary>Strict decode with 4-byte padding; <paramref name="where"/> prefixes every error message.</summary>
    public static IReadOnlyList<ElfNote> Decode(ReadOnlySpan<byte> noteBytes, string where) =>
        Decode(noteBytes, where, 4);

    /// <summary>Strict decode with the given padding (4, or 8 for notes in an 8-aligned segment).</summary>
    public static IReadOnlyList<ElfNote> Decode(ReadOnlySpan<byte> noteBytes, string where, int alignment)
    {
        if (alignment is not (4 or 8))
            throw new ArgumentOutOfRangeException(nameof(alignment), alignment, "note alignment must be 4 or 8");
        var notes = new List<ElfNote>();
        long at = 0, length = noteBytes.Length;
        while (at < length)
        {
            string here = $"{where}: note {notes.Count} at offset 0x{at:x}";
            if (length - at < HeaderSize)
                throw new ElfFormatException($"{here}: truncated header ({length - at} bytes left, need {HeaderSize})");
            uint nameSize = BinaryPrimitives.ReadUInt32LittleEndian(noteBytes[(int)(at + ElfLayout.Nhdr.NameSz)..]);
            uint descSize = BinaryPrimitives.ReadUInt32LittleEndian(noteBytes[(int)(at + ElfLayout.Nhdr.DescSz)..]);
            uint type = BinaryPrimitives.ReadUInt32LittleEndian(noteBytes[(int)(at + ElfLayout.Nhdr.Type)..]);
            // The descriptor and the next note start at offsets aligned relative to this note's start.
            long nameAt = at + HeaderSize;
            long descAt = at + AlignUp(HeaderSize + (long)nameSize, alignment);
            if (descAt > length)
                throw new ElfFormatException(
                    $"{here}: name (namesz 0x{nameSize:x}, padded) runs past the end of the notes (0x{length:x} bytes)");
            long next = descAt + AlignUp(descSize, alignment);
            if (next > length)
                throw new ElfFormatException(
                    $"{here}: descriptor (descsz 0x{descSize:x}, padded) runs past the end of the notes (0x{length:x} bytes)");
            var name = noteBytes.Slice((int)nameAt, (int)nameSize);
            int nul = name.IndexOf((byte)0);
            string nameText = Encoding.Latin1.GetString(nul < 0 ? name : name[..nul]);
            notes.Add(new ElfNote(nameText, type, noteBytes.Slice((int)descAt, (int)descSize).ToArray()));
            at = next;
        }
        return notes;
    }

    private static long AlignUp(long size, int alignment) => (size + alignment - 1) / alignment * alignment;
}
