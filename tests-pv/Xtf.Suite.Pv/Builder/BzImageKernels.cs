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
