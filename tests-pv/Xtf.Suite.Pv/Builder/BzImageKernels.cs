using Xtf.Elf;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Builder;

/// <summary>
/// The suite kernel handed to Xen as a bzImage (docs/dom0.md §2.16): a boot-protocol 2.15 setup header
/// whose payload is the ELF, compressed or not. Xen unwraps it before libelf sees anything, so the
/// guest must find exactly the layout and start_info of the plain ELF (the bodies are the same tests').
/// </summary>
public abstract class BzImageKernelTest : XtfTest
{
    public override string Category => "builder";
}

/// <summary>The usual distribution kernel: a gzip-compressed ELF as the payload; the layout test's checks.</summary>
public sealed class BzImageGzip : BzImageKernelTest
{
    public override string Name => "builder-bzimage";
    public override string Title => "dom0 builder: bzImage with a gzip payload";
    public override byte[] TransformImage(byte[] elf) => BzImage.WrapGzip(elf);
    public override void Body(GuestProgram g) => new BuilderLayout().Body(g);
}

/// <summary>A gzip payload, with the start_info test's checks (command line included).</summary>
public sealed class BzImageStartInfo : BzImageKernelTest
{
    public override string Name => "builder-bzimage-start-info";
    public override string Title => "dom0 builder: bzImage kernel's start_info";
    public override string? CommandLine => BuilderStartInfo.Words;
    public override byte[] TransformImage(byte[] elf) => BzImage.WrapGzip(elf);
    public override void Body(GuestProgram g) => new BuilderStartInfo().Body(g);
}

/// <summary>An uncompressed ELF as the payload: Xen parses it where it lies, no headroom.</summary>
public sealed class BzImageElf : BzImageKernelTest
{
    public override string Name => "builder-bzimage-elf";
    public override string Title => "dom0 builder: bzImage with an ELF payload";
    public override byte[] TransformImage(byte[] elf) => BzImage.Wrap(elf);
    public override void Body(GuestProgram g) => new BuilderLayout().Body(g);
}

/// <summary>An LZ4 payload (legacy frame, literal-only blocks): Xen's decompress() path rather than its inflate.</summary>
public sealed class BzImageLz4 : BzImageKernelTest
{
    public override string Name => "builder-bzimage-lz4";
    public override string Title => "dom0 builder: bzImage with an LZ4 payload";
    public override byte[] TransformImage(byte[] elf) => BzImage.WrapLz4(elf);
    public override void Body(GuestProgram g) => new BuilderLayout().Body(g);
}

/// <summary>An lzop payload of stored blocks: Xen's unlzo container (its blocks copied, no LZO1X decoding).</summary>
public sealed class BzImageLzo : BzImageKernelTest
{
    public override string Name => "builder-bzimage-lzo";
    public override string Title => "dom0 builder: bzImage with an lzo payload";
    public override byte[] TransformImage(byte[] elf) => BzImage.WrapLzop(elf);
    public override void Body(GuestProgram g) => new BuilderLayout().Body(g);
}

/// <summary>An "lzma alone" payload (literals and short repeats): Xen's unlzma.</summary>
public sealed class BzImageLzma : BzImageKernelTest
{
    public override string Name => "builder-bzimage-lzma";
    public override string Title => "dom0 builder: bzImage with an lzma payload";
    public override byte[] TransformImage(byte[] elf) => BzImage.WrapLzma(elf);
    public override void Body(GuestProgram g) => new BuilderLayout().Body(g);
}

/// <summary>An xz payload (LZMA2 chunks, CRC32 check): Xen's unxz.</summary>
public sealed class BzImageXz : BzImageKernelTest
{
    public override string Name => "builder-bzimage-xz";
    public override string Title => "dom0 builder: bzImage with an xz payload";
    public override byte[] TransformImage(byte[] elf) => BzImage.WrapXz(elf);
    public override void Body(GuestProgram g) => new BuilderLayout().Body(g);
}

/// <summary>A bzip2 payload (BWT, MTF, Huffman blocks of 64 KiB input): Xen's bunzip2.</summary>
public sealed class BzImageBzip2 : BzImageKernelTest
{
    public override string Name => "builder-bzimage-bzip2";
    public override string Title => "dom0 builder: bzImage with a bzip2 payload";
    public override byte[] TransformImage(byte[] elf) => BzImage.WrapBzip2(elf);
    public override void Body(GuestProgram g) => new BuilderLayout().Body(g);
}

/// <summary>A zstd payload (raw, RLE and compressed blocks): Xen's unzstd.</summary>
public sealed class BzImageZstd : BzImageKernelTest
{
    public override string Name => "builder-bzimage-zstd";
    public override string Title => "dom0 builder: bzImage with a zstd payload";
    public override byte[] TransformImage(byte[] elf) => BzImage.WrapZstd(elf);
    public override void Body(GuestProgram g) => new BuilderLayout().Body(g);
}

/// <summary>An lzop payload whose blocks are LZO1X-compressed: Xen's lzo1x_decompress_safe.</summary>
public sealed class BzImageLzo1x : BzImageKernelTest
{
    public override string Name => "builder-bzimage-lzo1x";
    public override string Title => "dom0 builder: bzImage with LZO1X-compressed lzo blocks";
    public override byte[] TransformImage(byte[] elf) => BzImage.WrapLzo1x(elf);
    public override void Body(GuestProgram g) => new BuilderLayout().Body(g);
}
