using Xtf.Elf;

namespace Xtf.Suite.Pv.Builder;

/// <summary>
/// bzImages whose payload is a damaged bzip2, xz, lzma, zstd or lzo stream: each decompressor's own line, then
/// "Could not construct domain 0" (docs/dom0.md §2.16; each message measured on real Xen 4.17.7).
/// </summary>
internal static class CorruptPayload
{
    /// <summary>The payload's byte at <paramref name="offset"/> (from its start; negative from its end) XORed with <paramref name="mask"/>.</summary>
    public static byte[] Flip(byte[] image, int offset, byte mask)
    {
        int start = (int)BzImage.PayloadStart(image), length = (int)BzImage.ReadPayloadLength(image);
        var copy = (byte[])image.Clone();
        copy[offset >= 0 ? start + offset : start + length + offset] ^= mask;
        return copy;
    }
}

/// <summary>xz with a CRC64 check (the xz tool's default): Xen's decoder knows only none and CRC32.</summary>
public sealed class BzImageRefuseXzCrc64 : RefusedImageTest
{
    public override string Name => "builder-bzimage-refuse-xz-crc64";
    public override string Title => "dom0 builder: bzImage xz payload with a CRC64 check";
    public override string ExpectedRefusal => "Input was encoded with settings that are not supported by this XZ decoder";
    public override byte[] TransformImage(byte[] elf) => BzImage.Wrap([.. BzImage.CompressXz(elf, check: 4), .. BitConverter.GetBytes(elf.Length)]);
}

/// <summary>xz with a byte of its LZMA2 data changed: the chunk or the CRC32 no longer checks out.</summary>
public sealed class BzImageRefuseXzData : RefusedImageTest
{
    public override string Name => "builder-bzimage-refuse-xz-data";
    public override string Title => "dom0 builder: bzImage xz payload with damaged data";
    public override string ExpectedRefusal => "XZ-compressed data is corrupt";
    public override byte[] TransformImage(byte[] elf)
    {
        byte[] image = BzImage.WrapXz(elf);
        return CorruptPayload.Flip(image, (int)BzImage.ReadPayloadLength(image) / 2, 0x20);
    }
}

/// <summary>An lzma stream cut in half (payload_length says so): unlzma runs out of input.</summary>
public sealed class BzImageRefuseLzmaTruncated : RefusedImageTest
{
    public override string Name => "builder-bzimage-refuse-lzma-truncated";
    public override string Title => "dom0 builder: bzImage lzma payload cut short";
    public override string ExpectedRefusal => "unexpected EOF";
    public override byte[] TransformImage(byte[] elf)
    {
        byte[] lzma = BzImage.CompressLzma(elf);
        return BzImage.Wrap([.. lzma.AsSpan(0, lzma.Length / 2), .. BitConverter.GetBytes(elf.Length)]);
    }
}

/// <summary>A bzip2 stream whose stream CRC (its last 32 bits) is wrong.</summary>
public sealed class BzImageRefuseBzip2Crc : RefusedImageTest
{
    public override string Name => "builder-bzimage-refuse-bzip2-crc";
    public override string Title => "dom0 builder: bzImage bzip2 payload with a wrong CRC";
    public override string ExpectedRefusal => "Data integrity error when decompressing.";
    public override byte[] TransformImage(byte[] elf) => CorruptPayload.Flip(BzImage.WrapBzip2(elf), -4 - 2, 0x10);
}

/// <summary>A zstd frame whose first block has the reserved block type.</summary>
public sealed class BzImageRefuseZstdBlock : RefusedImageTest
{
    public override string Name => "builder-bzimage-refuse-zstd-block";
    public override string Title => "dom0 builder: bzImage zstd payload with a reserved block type";
    public override string ExpectedRefusal => "ZSTD-compressed data is corrupt";
    public override byte[] TransformImage(byte[] elf) => CorruptPayload.Flip(BzImage.WrapZstd(elf), 9, 0x02);   // header 9 bytes, then the block header: compressed (2) becomes 3
}

/// <summary>A zstd frame header with its reserved bit set.</summary>
public sealed class BzImageRefuseZstdHeader : RefusedImageTest
{
    public override string Name => "builder-bzimage-refuse-zstd-header";
    public override string Title => "dom0 builder: bzImage zstd payload with a reserved header bit";
    public override string ExpectedRefusal => "ZSTD-compressed data is probably corrupt";
    public override byte[] TransformImage(byte[] elf) => CorruptPayload.Flip(BzImage.WrapZstd(elf), 4, 0x08);
}

/// <summary>An LZO1X block whose first literal run is shortened: the block no longer decodes to its length.</summary>
public sealed class BzImageRefuseLzo1x : RefusedImageTest
{
    public override string Name => "builder-bzimage-refuse-lzo1x";
    public override string Title => "dom0 builder: bzImage lzo payload with a broken LZO1X block";
    public override string ExpectedRefusal => "Compressed data violation";
    public override byte[] TransformImage(byte[] elf)
    {
        const int firstBlockData = 9 + 8 + 4 + 12 + 1 + 4 + 12;         // header, then the block's two lengths and checksum
        return CorruptPayload.Flip(BzImage.WrapLzo1x(elf), firstBlockData, 0x01);
    }
}
