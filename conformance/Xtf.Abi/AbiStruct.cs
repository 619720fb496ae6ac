namespace Xtf.Abi;

/// <summary>
/// A fixed-size Xen ABI structure that can be encoded to and decoded from its exact little-endian
/// x86-64 byte image.
/// </summary>
public interface IAbiStruct<TSelf> where TSelf : IAbiStruct<TSelf>
{
    /// <summary>Size in bytes of the C structure (same value as the type's <c>Layout.Size</c>).</summary>
    static abstract int Size { get; }

    /// <summary>Decodes the first <see cref="Size"/> bytes of <paramref name="src"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="src"/> is shorter than <see cref="Size"/>.</exception>
    static abstract TSelf Read(ReadOnlySpan<byte> src);

    /// <summary>
    /// Encodes the structure into the first <see cref="Size"/> bytes of <paramref name="dst"/>; padding is
    /// written as zero and bytes beyond <see cref="Size"/> are left alone.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="dst"/> is too short, or a string/array field does not fit.</exception>
    void Write(Span<byte> dst);
}

/// <summary>Convenience operations over every <see cref="IAbiStruct{TSelf}"/>.</summary>
public static class AbiStruct
{
    public static int SizeOf<T>() where T : IAbiStruct<T> => T.Size;

    /// <summary>Returns a fresh array holding exactly the structure's byte image.</summary>
    public static byte[] ToBytes<T>(this T value) where T : IAbiStruct<T>
    {
        var bytes = new byte[T.Size];
        value.Write(bytes);
        return bytes;
    }
}
