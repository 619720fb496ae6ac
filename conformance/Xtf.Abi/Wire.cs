using System.Buffers.Binary;
using System.Text;

namespace Xtf.Abi;

/// <summary>
/// Little-endian primitives shared by the structure codecs. Readers take a span already checked to be
/// large enough; writers take a span that has already been cleared, so anything not written is zero.
/// </summary>
internal static class Wire
{
    public static ReadOnlySpan<byte> In(ReadOnlySpan<byte> src, int size, string type) =>
        src.Length >= size
            ? src[..size]
            : throw new ArgumentException($"{type} needs {size} bytes but only {src.Length} were supplied.", nameof(src));

    public static Span<byte> Out(Span<byte> dst, int size, string type)
    {
        if (dst.Length < size)
            throw new ArgumentException($"{type} needs {size} bytes but the destination holds only {dst.Length}.", nameof(dst));
        var d = dst[..size];
        d.Clear();
        return d;
    }

    public static byte U8(ReadOnlySpan<byte> s, int off) => s[off];
    public static sbyte I8(ReadOnlySpan<byte> s, int off) => unchecked((sbyte)s[off]);
    public static ushort U16(ReadOnlySpan<byte> s, int off) => BinaryPrimitives.ReadUInt16LittleEndian(s[off..]);
    public static uint U32(ReadOnlySpan<byte> s, int off) => BinaryPrimitives.ReadUInt32LittleEndian(s[off..]);
    public static int I32(ReadOnlySpan<byte> s, int off) => BinaryPrimitives.ReadInt32LittleEndian(s[off..]);
    public static ulong U64(ReadOnlySpan<byte> s, int off) => BinaryPrimitives.ReadUInt64LittleEndian(s[off..]);
    public static long I64(ReadOnlySpan<byte> s, int off) => BinaryPrimitives.ReadInt64LittleEndian(s[off..]);

    public static void Put(Span<byte> d, int off, byte v) => d[off] = v;
    public static void Put(Span<byte> d, int off, sbyte v) => d[off] = unchecked((byte)v);
    public static void Put(Span<byte> d, int off, ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(d[off..], v);
    public static void Put(Span<byte> d, int off, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(d[off..], v);
    public static void Put(Span<byte> d, int off, int v) => BinaryPrimitives.WriteInt32LittleEndian(d[off..], v);
    public static void Put(Span<byte> d, int off, ulong v) => BinaryPrimitives.WriteUInt64LittleEndian(d[off..], v);
    public static void Put(Span<byte> d, int off, long v) => BinaryPrimitives.WriteInt64LittleEndian(d[off..], v);

    public static ulong[] U64s(ReadOnlySpan<byte> s, int off, int count)
    {
        var values = new ulong[count];
        for (var i = 0; i < count; i++)
            values[i] = U64(s, off + 8 * i);
        return values;
    }

    public static byte[] Bytes(ReadOnlySpan<byte> s, int off, int count) => s.Slice(off, count).ToArray();

    public static T[] Structs<T>(ReadOnlySpan<byte> s, int off, int count) where T : IAbiStruct<T>
    {
        var values = new T[count];
        for (var i = 0; i < count; i++)
            values[i] = T.Read(s[(off + T.Size * i)..]);
        return values;
    }

    /// <summary>
    /// Decodes a C character array: bytes up to the first NUL (or the whole array), one char per byte.
    /// </summary>
    public static string Str(ReadOnlySpan<byte> s, int off, int length)
    {
        var field = s.Slice(off, length);
        var end = field.IndexOf((byte)0);
        return Encoding.Latin1.GetString(end < 0 ? field : field[..end]);
    }

    // Arrays may be shorter than the C array (the tail is left zero) but never longer.
    public static void PutU64s(Span<byte> d, int off, int count, ulong[]? values, string field)
    {
        if (values is null) return;
        Fits(values.Length, count, field);
        for (var i = 0; i < values.Length; i++)
            Put(d, off + 8 * i, values[i]);
    }

    public static void PutBytes(Span<byte> d, int off, int count, byte[]? values, string field)
    {
        if (values is null) return;
        Fits(values.Length, count, field);
        values.CopyTo(d[off..]);
    }

    public static void PutStructs<T>(Span<byte> d, int off, int count, T?[]? values, string field) where T : class, IAbiStruct<T>
    {
        if (values is null) return;
        Fits(values.Length, count, field);
        for (var i = 0; i < values.Length; i++)
            values[i]?.Write(d[(off + T.Size * i)..]);
    }

    /// <summary>
    /// Encodes a string into a C character array, one byte per char (code points above U+00FF are
    /// rejected). A string shorter than the array is NUL-terminated by the zeroed tail; a string of
    /// exactly the array length is stored without a terminator.
    /// </summary>
    public static void PutString(Span<byte> d, int off, int length, string? value, string field)
    {
        if (string.IsNullOrEmpty(value)) return;
        Fits(value.Length, length, field);
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c > '\u00FF')
                throw new ArgumentException($"{field} contains U+{(int)c:X4}, which has no single-byte encoding.");
            d[off + i] = (byte)c;
        }
    }

    private static void Fits(int have, int capacity, string field)
    {
        if (have > capacity)
            throw new ArgumentException($"{field} holds {have} elements but the ABI field has room for {capacity}.");
    }
}
