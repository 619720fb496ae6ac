using System.Buffers.Binary;
using System.IO.Compression;

namespace Xtf.Elf;

/// <summary>
/// The x86 boot protocol's setup header as a bzImage carries it, reduced to what a PV loader reads:
/// the setup sector count, the "HdrS" signature, the protocol version and (from version 2.08) where the
/// compressed payload lies. Offsets are the boot protocol's; the header ends at 0x250. The writer makes
/// the smallest image Xen's dom0 builder takes: the header sectors, then the payload.
/// </summary>
public static partial class BzImage
{
    public const int SetupSects = 0x1f1, BootFlag = 0x1fe, Header = 0x202, Version = 0x206;
    public const int PayloadOffset = 0x248, PayloadLength = 0x24c;
    /// <summary>The header through payload_length: shorter files are not bzImages to Xen.</summary>
    public const int HeaderEnd = 0x250;
    /// <summary>Protocol 2.08 added payload_offset/payload_length: the oldest Xen loads.</summary>
    public const ushort MinimumVersion = 0x0208;
    /// <summary>The version the writer puts in (2.15).</summary>
    public const ushort WrittenVersion = 0x020f;
    public static ReadOnlySpan<byte> Signature => "HdrS"u8;

    /// <summary>A bzImage whose payload (usually a compressed ELF) follows <paramref name="setupSects"/> + 1 sectors of header.</summary>
    public static byte[] Wrap(ReadOnlySpan<byte> payload, byte setupSects = 1, ushort version = WrittenVersion)
    {
        if (setupSects == 0) throw new ArgumentOutOfRangeException(nameof(setupSects), "at least one setup sector holds the header");
        int start = (setupSects + 1) * 512;
        var image = new byte[start + payload.Length];
        image[SetupSects] = setupSects;
        image[BootFlag] = 0x55;
        image[BootFlag + 1] = 0xaa;
        Signature.CopyTo(image.AsSpan(Header));
        BinaryPrimitives.WriteUInt16LittleEndian(image.AsSpan(Version), version);
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(PayloadOffset), 0);
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(PayloadLength), (uint)payload.Length);
        payload.CopyTo(image.AsSpan(start));
        return image;
    }

    /// <summary>A kernel as distributions ship it: <paramref name="elf"/> gzip-compressed (with gzip's size trailer) inside a bzImage.</summary>
    public static byte[] WrapGzip(ReadOnlySpan<byte> elf) => Wrap(Gzip(elf));

    /// <summary><paramref name="elf"/> in LZ4's legacy frame (literal-only blocks, <see cref="StoreLz4Legacy"/>) inside a bzImage.</summary>
    public static byte[] WrapLz4(ReadOnlySpan<byte> elf) => Wrap(StoreLz4Legacy(elf));

    /// <summary>A gzip member (no name, time 0) whose last four bytes are the input's size, as Xen reads it.</summary>
    public static byte[] Gzip(ReadOnlySpan<byte> data)
    {
        var output = new MemoryStream();
        using (var gz = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true)) gz.Write(data);
        return output.ToArray();
    }

    /// <summary>The LZ4 legacy frame's magic (little-endian), which the kernel build's "lz4 -l" writes.</summary>
    public const uint Lz4LegacyMagic = 0x184C2102;
    /// <summary>The legacy frame's block size: each block decodes to 8 MiB, the last to the rest.</summary>
    public const int Lz4LegacyBlock = 8 << 20;

    /// <summary>
    /// <paramref name="data"/> in LZ4's legacy frame as literal-only blocks (valid LZ4 that compresses nothing: one
    /// sequence of literals per 8 MiB block), with the 4-byte size trailer the kernel build appends.
    /// </summary>
    public static byte[] StoreLz4Legacy(ReadOnlySpan<byte> data)
    {
        var o = new MemoryStream();
        var word = new byte[4];
        void U32(uint v) { BinaryPrimitives.WriteUInt32LittleEndian(word, v); o.Write(word); }
        U32(Lz4LegacyMagic);
        int at = 0;
        do
        {
            var chunk = data.Slice(at, Math.Min(Lz4LegacyBlock, data.Length - at));
            var block = new MemoryStream();
            int n = chunk.Length;
            block.WriteByte((byte)(Math.Min(n, 15) << 4));
            for (int rest = n - 15; rest >= 0; rest -= 255) block.WriteByte((byte)Math.Min(rest, 255));
            block.Write(chunk);
            U32((uint)block.Length);
            block.WriteTo(o);
            at += chunk.Length;
        } while (at < data.Length);
        U32((uint)data.Length);
        return o.ToArray();
    }

    /// <summary><paramref name="elf"/> in an lzop file of stored blocks (<see cref="StoreLzop"/>) inside a bzImage.</summary>
    public static byte[] WrapLzop(ReadOnlySpan<byte> elf) => Wrap(StoreLzop(elf));

    /// <summary>The lzop block size: 256 KiB of output per block.</summary>
    public const int LzopBlock = 256 << 10;

    /// <summary>
    /// <paramref name="data"/> as an lzop file (format version 0x1030, LZO1X-1, an Adler-32 of each block's
    /// data) whose blocks are all stored (compressed length = length: lzop's rule for data that does not
    /// shrink), ended by a zero length, then the 4-byte size trailer the kernel build appends.
    /// </summary>
    public static byte[] StoreLzop(ReadOnlySpan<byte> data)
    {
        var o = new MemoryStream();
        var word = new byte[4];
        void Be32(uint v) { BinaryPrimitives.WriteUInt32BigEndian(word, v); o.Write(word); }
        o.Write([0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a]);
        long headerStart = o.Position;
        o.Write([0x10, 0x30, 0x20, 0x80, 0x09, 0x40, 0x01, 0x05]);   // version, library version, version needed, method, level
        Be32(0x1);                                                // flags: an Adler-32 of the uncompressed data
        Be32(0x81a4);                                             // mode
        Be32(0);                                                  // mtime low
        Be32(0);                                                  // mtime high
        o.WriteByte(0);                                           // no name
        Be32(Adler32(o.ToArray().AsSpan((int)headerStart)));
        for (int at = 0; at < data.Length; at += LzopBlock)
        {
            var block = data.Slice(at, Math.Min(LzopBlock, data.Length - at));
            Be32((uint)block.Length);
            Be32((uint)block.Length);
            Be32(Adler32(block));
            o.Write(block);
        }
        Be32(0);
        BinaryPrimitives.WriteUInt32LittleEndian(word, (uint)data.Length);
        o.Write(word);
        return o.ToArray();
    }

    private static uint Adler32(ReadOnlySpan<byte> data)
    {
        uint a = 1, b = 0;
        foreach (byte x in data)
        {
            a = (a + x) % 65521;
            b = (b + a) % 65521;
        }
        return b << 16 | a;
    }

    /// <summary>Whether <paramref name="image"/> has a whole setup header with the "HdrS" signature (any version).</summary>
    public static bool HasHeader(ReadOnlySpan<byte> image) => image.Length >= HeaderEnd && image.Slice(Header, 4).SequenceEqual(Signature);

    public static ushort ReadVersion(ReadOnlySpan<byte> image) => BinaryPrimitives.ReadUInt16LittleEndian(image[Version..]);

    /// <summary>Where the payload starts in the file: (setup_sects + 1) sectors, plus payload_offset.</summary>
    public static ulong PayloadStart(ReadOnlySpan<byte> image) =>
        (ulong)(image[SetupSects] + 1) * 512 + BinaryPrimitives.ReadUInt32LittleEndian(image[PayloadOffset..]);

    public static uint ReadPayloadLength(ReadOnlySpan<byte> image) => BinaryPrimitives.ReadUInt32LittleEndian(image[PayloadLength..]);

    /// <summary>Sets a little-endian field (an edit for tests of malformed headers); returns a copy.</summary>
    public static byte[] With(ReadOnlySpan<byte> image, int offset, uint value, int size)
    {
        var copy = image.ToArray();
        switch (size)
        {
            case 1: copy[offset] = (byte)value; break;
            case 2: BinaryPrimitives.WriteUInt16LittleEndian(copy.AsSpan(offset), (ushort)value); break;
            case 4: BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(offset), value); break;
            default: throw new ArgumentOutOfRangeException(nameof(size));
        }
        return copy;
    }
}
