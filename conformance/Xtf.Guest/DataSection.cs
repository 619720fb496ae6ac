using System.Text;

namespace Xtf.Guest;

/// <summary>
/// The initialised data of a kernel: strings, variables, buffers and stacks. Addresses are final
/// the moment they are handed out, because the section starts at a fixed base.
/// </summary>
public sealed class DataSection
{
    private readonly List<byte> bytes = new();
    private readonly Dictionary<string, ulong> strings = new(StringComparer.Ordinal);

    public DataSection(ulong baseAddress) => Base = baseAddress;

    public ulong Base { get; }
    public int Size => bytes.Count;
    public ulong End => Base + (ulong)bytes.Count;

    /// <summary>Reserves <paramref name="size"/> zeroed bytes at the given alignment.</summary>
    public ulong Reserve(int size, int align = 8)
    {
        if (size < 0) throw new ArgumentOutOfRangeException(nameof(size));
        if (align <= 0 || (align & (align - 1)) != 0) throw new ArgumentException("alignment must be a power of two", nameof(align));
        Pad(align);
        ulong at = End;
        if ((long)bytes.Count + size > GuestLayout.MaxImageBytes)
            throw new InvalidOperationException($"guest data exceeds {GuestLayout.MaxImageBytes} bytes");
        int old = bytes.Count;
        System.Runtime.InteropServices.CollectionsMarshal.SetCount(bytes, old + size);
        System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes)[old..].Clear();
        return at;
    }

    public ulong Add(ReadOnlySpan<byte> data, int align = 1)
    {
        ulong at = Reserve(data.Length, align);
        Write(at, data);
        return at;
    }

    /// <summary>An ASCII string with a terminating NUL; equal strings share storage.</summary>
    public ulong String(string text)
    {
        if (strings.TryGetValue(text, out ulong at)) return at;
        var encoded = Encoding.ASCII.GetBytes(text + "\0");
        at = Add(encoded);
        strings.Add(text, at);
        return at;
    }

    public void Write(ulong address, ReadOnlySpan<byte> data)
    {
        if (address < Base || address - Base > (ulong)(Size - data.Length) || data.Length > Size)
            throw new ArgumentOutOfRangeException(nameof(address), $"0x{address:x} is outside the data section");
        data.CopyTo(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes)[(int)(address - Base)..]);
    }

    public void WriteU64(ulong address, ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        Write(address, b);
    }

    private void Pad(int align)
    {
        while (((Base + (ulong)bytes.Count) & (ulong)(align - 1)) != 0) bytes.Add(0);
    }

    public byte[] ToArray() => bytes.ToArray();
}
