using Xtf.Elf;

namespace Xtf.Suite.Pv.Builder;

/// <summary>
/// bzImages Xen cannot build dom0 from (docs/dom0.md §2.16; each message measured on real Xen 4.17.7).
/// The header edits are the test: everything else is the gzip'd suite kernel of <see cref="BzImageGzip"/>.
/// </summary>
public sealed class BzImageRefuseOldProtocol : RefusedImageTest
{
    public override string Name => "builder-bzimage-refuse-v2.07";
    public override string Title => "dom0 builder: bzImage of boot protocol 2.07";
    public override string ExpectedRefusal => "Cannot load bzImage v2.07 at least v2.08 is required";
    public override byte[] TransformImage(byte[] elf) => BzImage.With(BzImage.WrapGzip(elf), BzImage.Version, 0x0207, 2);
}

/// <summary>"HdrX" for "HdrS": not a bzImage, so the whole file is taken for a compressed kernel in no known format.</summary>
public sealed class BzImageRefuseSignature : RefusedImageTest
{
    public override string Name => "builder-bzimage-refuse-signature";
    public override string Title => "dom0 builder: bzImage without the HdrS signature";
    public override string ExpectedRefusal => "ELF: not an ELF binary";
    public override byte[] TransformImage(byte[] elf) => BzImage.With(BzImage.WrapGzip(elf), BzImage.Header + 3, 'X', 1);
}

/// <summary>The file cut in the middle of the payload, payload_length unchanged: inflate runs out of input.</summary>
public sealed class BzImageRefuseTruncated : RefusedImageTest
{
    public override string Name => "builder-bzimage-refuse-truncated";
    public override string Title => "dom0 builder: bzImage cut in the middle of its payload";
    public override string ExpectedRefusal => "ran out of input data";
    public override byte[] TransformImage(byte[] elf)
    {
        byte[] image = BzImage.WrapGzip(elf);
        return image[..(int)(BzImage.PayloadStart(image) + BzImage.ReadPayloadLength(image) / 2)];
    }
}

/// <summary>payload_offset past the end of the file (by 8 KiB): the bytes there are no kernel.</summary>
public sealed class BzImageRefuseOutside : RefusedImageTest
{
    public override string Name => "builder-bzimage-refuse-outside";
    public override string Title => "dom0 builder: bzImage payload after the end of the file";
    public override string ExpectedRefusal => "ELF: not an ELF binary";
    public override byte[] TransformImage(byte[] elf)
    {
        byte[] image = BzImage.WrapGzip(elf);
        return BzImage.With(image, BzImage.PayloadOffset, (uint)(image.Length + 0x2000), 4);
    }
}

/// <summary>An LZ4 payload whose frame magic is wrong after its first two bytes: decompress() picks unlz4, which refuses it.</summary>
public sealed class BzImageRefuseLz4Header : RefusedImageTest
{
    public override string Name => "builder-bzimage-refuse-lz4-header";
    public override string Title => "dom0 builder: bzImage LZ4 payload with a bad frame magic";
    public override string ExpectedRefusal => "invalid header";
    public override byte[] TransformImage(byte[] elf)
    {
        byte[] image = BzImage.WrapLz4(elf);
        return BzImage.With(image, (int)BzImage.PayloadStart(image) + 2, 0x4d, 1);
    }
}

/// <summary>An LZ4 payload that claims 256 bytes more than its blocks hold: the block decoder fails.</summary>
public sealed class BzImageRefuseLz4Size : RefusedImageTest
{
    public override string Name => "builder-bzimage-refuse-lz4-size";
    public override string Title => "dom0 builder: bzImage LZ4 payload claiming too much";
    public override string ExpectedRefusal => "Decoding failed";
    public override byte[] TransformImage(byte[] elf)
    {
        byte[] image = BzImage.WrapLz4(elf);
        return BzImage.With(image, image.Length - 4, (uint)elf.Length + 256, 4);
    }
}

/// <summary>An lzop payload whose first block claims more than 256 KiB of output.</summary>
public sealed class BzImageRefuseLzoBlock : RefusedImageTest
{
    public override string Name => "builder-bzimage-refuse-lzo-block";
    public override string Title => "dom0 builder: bzImage lzo payload with an oversized block";
    public override string ExpectedRefusal => "dest len longer than block size";
    public override byte[] TransformImage(byte[] elf)
    {
        byte[] image = BzImage.WrapLzop(elf);
        const int firstBlock = 9 + 8 + 4 + 12 + 1 + 4;
        return BzImage.With(image, (int)BzImage.PayloadStart(image) + firstBlock, 0x00000804, 4);   // big-endian 0x04080000
    }
}
