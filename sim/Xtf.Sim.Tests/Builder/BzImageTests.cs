using System.Buffers.Binary;
using Xtf.Elf;
using Xtf.Sim.Builder;

namespace Xtf.Sim.Tests.Builder;

/// <summary>
/// bzImage kernels (docs/dom0.md §2.16): the setup-header checks in Xen's order, the headroom rule, the
/// payload formats. The failure lines are those measured on real Xen 4.17.7 (suite builder-bzimage-refuse-*).
/// </summary>
public sealed class BzImageTests
{
    private static readonly byte[] Elf = BuilderKit.Kernel();

    private static IReadOnlyList<string> Lines(DomainBuildException e) => e.XenLines;

    [Test]
    public void AGzipBzImageBuildsTheSameDom0AsItsElf()
    {
        var (plain, _) = BuilderKit.Build(Elf);
        var (wrapped, _) = BuilderKit.Build(BzImage.WrapGzip(Elf));
        Assert.That(wrapped.BuildLog, Is.EqualTo(plain.BuildLog));
        Assert.That(wrapped.Rsi, Is.EqualTo(plain.Rsi));
    }

    [TestCase("elf")]
    [TestCase("lz4")]
    [TestCase("lzo")]
    public void OtherPayloadsBuildTheSameDom0(string format)
    {
        var (plain, _) = BuilderKit.Build(Elf);
        byte[] image = format switch { "elf" => BzImage.Wrap(Elf), "lz4" => BzImage.WrapLz4(Elf), _ => BzImage.WrapLzop(Elf) };
        Assert.That(BuilderKit.Build(image).Dom0.BuildLog, Is.EqualTo(plain.BuildLog));
    }

    [Test]
    public void TheHeaderIsRecognisedOnlyWholeAndSigned()
    {
        byte[] image = BzImage.WrapGzip(Elf);
        Assert.That(XenBzImage.Check(image, (ulong)image.Length, out ushort v), Is.EqualTo(1));
        Assert.That(v, Is.EqualTo(0x020f));
        Assert.That(XenBzImage.Check(image, XenBzImage.SetupHeaderSize - 1, out _), Is.EqualTo(0), "shorter than the header");
        Assert.That(XenBzImage.Check(BzImage.With(image, BzImage.Header, 0, 1), (ulong)image.Length, out _), Is.EqualTo(0));
        Assert.That(XenBzImage.Check(BzImage.With(image, BzImage.Version, 0x0207, 2), (ulong)image.Length, out v), Is.EqualTo(-1));
        Assert.That(XenBzImage.TooOldMessage(v), Is.EqualTo("Cannot load bzImage v2.07 at least v2.08 is required"));
        Assert.That(XenBzImage.Check(BzImage.With(image, BzImage.Version, 0x0208, 2), (ulong)image.Length, out _), Is.EqualTo(1));
    }

    [Test]
    public void AnOldProtocolFailsTheBuildWithXensLine()
    {
        var e = BuilderKit.BuildFails(BzImage.With(BzImage.WrapGzip(Elf), BzImage.Version, 0x0207, 2));
        Assert.That(e.Message, Is.EqualTo("Cannot load bzImage v2.07 at least v2.08 is required"));
        Assert.That(Lines(e), Is.EqualTo(new[] { "*** Building a PV Dom0 ***", "Cannot load bzImage v2.07 at least v2.08 is required",
            "", DomainBuildException.Stars, "Panic on CPU 0:", DomainBuildException.CouldNotConstruct, DomainBuildException.Stars, "" }));
    }

    [Test]
    public void ThePayloadIsFoundAfterTheSetupSectorsAndTheOffset()
    {
        byte[] image = BzImage.Wrap(Elf, setupSects: 3);
        Assert.That(XenBzImage.Payload(image), Is.EqualTo((4UL * 512, (ulong)Elf.Length)));
        var moved = BzImage.With(image.Concat(new byte[16]).ToArray(), BzImage.PayloadOffset, 0, 4);
        Assert.That(XenBzImage.Payload(moved), Is.EqualTo((2048UL, (ulong)Elf.Length)));
    }

    [Test]
    public void HeadroomIsTheClaimedSizePlusTheFormatsMargin()
    {
        Assert.That(XenBzImage.Headroom(Elf), Is.Zero, "an ELF");
        Assert.That(XenBzImage.Headroom(BzImage.Wrap(Elf)), Is.Zero, "an ELF payload");
        ulong n = (ulong)Elf.Length;
        Assert.That(XenBzImage.Headroom(BzImage.WrapGzip(Elf)), Is.EqualTo((n + (n >> 12) + 32786 + 4095) & ~4095UL));
        byte[] lz4 = BzImage.StoreLz4Legacy(Elf);
        Assert.That(XenBzImage.Headroom(BzImage.Wrap(lz4)), Is.EqualTo((n + (ulong)lz4.Length + 4095) & ~4095UL));
        Assert.That(XenBzImage.Headroom(BzImage.With(BzImage.WrapGzip(Elf), BzImage.Version, 0x0200, 2)), Is.Zero, "refused: no headroom");
    }

    [Test]
    public void AHugeClaimedSizeCannotBeRelocated()
    {
        byte[] image = BzImage.WrapGzip(Elf);
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(image.Length - 4), 0xF000_0000);
        Assert.That(BuilderKit.BuildFails(image).Message, Is.EqualTo("Not enough memory to relocate the dom0 kernel image"));
    }

    [Test]
    public void AWrongSignatureIsACompressedKernelInNoKnownFormat()
    {
        var e = BuilderKit.BuildFails(BzImage.With(BzImage.WrapGzip(Elf), BzImage.Header + 3, 'X', 1));
        Assert.That(e.Message, Is.EqualTo("ELF: not an ELF binary"));
    }

    [Test]
    public void ACutPayloadRunsInflateOutOfInput()
    {
        byte[] image = BzImage.WrapGzip(Elf);
        var e = BuilderKit.BuildFails(image[..(int)(BzImage.PayloadStart(image) + BzImage.ReadPayloadLength(image) / 2)]);
        Assert.That(Lines(e), Is.EqualTo(new[] { "*** Building a PV Dom0 ***", "", DomainBuildException.Stars, "Panic on CPU 0:",
            "ran out of input data", DomainBuildException.Stars, "" }));
    }

    [Test]
    public void APayloadJustPastTheFileReadsAsNoKernelAndFarPastIsNotModelled()
    {
        byte[] image = BzImage.WrapGzip(Elf);
        var near = BzImage.With(image, BzImage.PayloadOffset, (uint)image.Length + 0x2000, 4);
        Assert.That(BuilderKit.BuildFails(near).Message, Is.EqualTo("ELF: not an ELF binary"));
        var far = BzImage.With(image, BzImage.PayloadOffset, 0x100000, 4);
        Assert.That(() => BuilderKit.Build(far), Throws.InstanceOf<NotSupportedException>().With.Message.Contains("not modelled"));
    }

    [TestCase("bzip2", new byte[] { 0x42, 0x5a, 0x68 }, null)]
    [TestCase("xz", new byte[] { 0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00 }, "XZ-compressed data is corrupt")]
    [TestCase("lzma", new byte[] { 0x5d, 0x00 }, "ELF: not an ELF binary")]   // an output size of 0: nothing decoded
    [TestCase("zstd", new byte[] { 0x28, 0xb5, 0x2f, 0xfd }, "ZSTD-compressed data is probably corrupt")]
    public void GarbageAfterAMagicFailsWithTheDecompressorsLine(string format, byte[] magic, string? line)
    {
        byte[] payload = [.. magic, .. new byte[64], 0x00, 0x10, 0x00, 0x00];
        Assert.That(XenBzImage.FormatOf(payload), Is.EqualTo(format));
        var e = BuilderKit.BuildFails(BzImage.Wrap(payload));
        Assert.That(e.Message, Is.EqualTo(line ?? DomainBuildException.CouldNotConstruct), "bunzip2 prints nothing for a bad block");
        Assert.That(Lines(e)[^3], Is.EqualTo(DomainBuildException.CouldNotConstruct));
    }

    [TestCase("lzma")]
    [TestCase("xz")]
    [TestCase("bzip2")]
    [TestCase("zstd")]
    [TestCase("lzo1x")]
    public void TheOtherDecompressorsBuildTheSameDom0(string format)
    {
        var (plain, _) = BuilderKit.Build(Elf);
        byte[] image = format switch
        {
            "lzma" => BzImage.WrapLzma(Elf),
            "xz" => BzImage.WrapXz(Elf),
            "bzip2" => BzImage.WrapBzip2(Elf),
            "zstd" => BzImage.WrapZstd(Elf),
            _ => BzImage.WrapLzo1x(Elf),
        };
        Assert.That(BuilderKit.Build(image).Dom0.BuildLog, Is.EqualTo(plain.BuildLog));
    }

    [Test]
    public void AnLz4FrameWithABadMagicIsAnInvalidHeader()
    {
        byte[] image = BzImage.WrapLz4(Elf);
        var e = BuilderKit.BuildFails(BzImage.With(image, (int)BzImage.PayloadStart(image) + 2, 0x4d, 1));
        Assert.That(e.Message, Is.EqualTo("invalid header"));
        Assert.That(Lines(e)[^3], Is.EqualTo(DomainBuildException.CouldNotConstruct), "decompress() prints, then the build fails");
    }

    [Test]
    public void AnLz4FrameClaimingMoreThanItHoldsFailsToDecode()
    {
        byte[] image = BzImage.WrapLz4(Elf);
        var e = BuilderKit.BuildFails(BzImage.With(image, image.Length - 4, (uint)Elf.Length + 256, 4));
        Assert.That(e.Message, Is.EqualTo("Decoding failed"));
    }
}

/// <summary>Xen's LZ4 legacy-frame decoder as modelled (<see cref="Lz4Legacy"/>).</summary>
public sealed class Lz4LegacyTests
{
    private static Exception Fail(string m) => new InvalidOperationException(m);

    private static byte[] Frame(params byte[][] blocks)
    {
        var o = new List<byte>();
        o.AddRange(BitConverter.GetBytes(Lz4Legacy.Magic));
        foreach (var b in blocks) { o.AddRange(BitConverter.GetBytes(b.Length)); o.AddRange(b); }
        return [.. o];
    }

    private static byte[] WithSize(byte[] frame, int size) => [.. frame, .. BitConverter.GetBytes(size)];

    [TestCase(0)]
    [TestCase(1)]
    [TestCase(14)]
    [TestCase(15)]
    [TestCase(270)]
    [TestCase(100_000)]
    public void LiteralOnlyFramesRoundTrip(int length)
    {
        var data = BuilderKit.Pattern(length);
        Assert.That(Lz4Legacy.Decompress(BzImage.StoreLz4Legacy(data), Fail), Is.EqualTo(data));
    }

    [Test]
    public void AFrameLongerThanABlockIsSplitAt8MiB()
    {
        var data = BuilderKit.Pattern(Lz4Legacy.ChunkSize + 100);
        Assert.That(Lz4Legacy.Decompress(BzImage.StoreLz4Legacy(data), Fail), Is.EqualTo(data));
    }

    [Test]
    public void MatchesCopyEarlierOutputAndOverlapRepeats()
    {
        // "abcd", then a match of 16 at offset 4 (token 0x4C: 4 literals, match 12+4), then 8 literal "xyzxyzxy".
        byte[] block = [0x4C, (byte)'a', (byte)'b', (byte)'c', (byte)'d', 4, 0, 0x80, .. "xyzxyzxy"u8.ToArray()];
        var output = Lz4Legacy.Decompress(WithSize(Frame(block), 28), Fail);
        Assert.That(System.Text.Encoding.ASCII.GetString(output), Is.EqualTo("abcdabcdabcdabcdabcdxyzxyzxy"));
    }

    [Test]
    public void ARepeatedMagicIsSkipped()
    {
        var data = BuilderKit.Pattern(40);
        byte[] frame = BzImage.StoreLz4Legacy(data);
        byte[] doubled = [.. frame[..4], .. frame];
        Assert.That(Lz4Legacy.Decompress(doubled, Fail), Is.EqualTo(data));
    }

    [Test]
    public void TheRulesOfXensDecoderAreErrors()
    {
        Assert.That(() => Lz4Legacy.Decompress([1, 2, 3], Fail), Throws.InvalidOperationException.With.Message.EqualTo("invalid header"));
        // A match before the start of the output.
        byte[] early = [0x10, (byte)'a', 9, 0, 0x80, .. "12345678"u8.ToArray()];
        Assert.That(() => Lz4Legacy.Decompress(WithSize(Frame(early), 13), Fail), Throws.InvalidOperationException.With.Message.EqualTo("Decoding failed"));
        // The last literals end 3 bytes short of the claimed size (inside the last 8 bytes, not at the end).
        byte[] shortLiterals = [0x50, .. "12345"u8.ToArray()];
        Assert.That(() => Lz4Legacy.Decompress(WithSize(Frame(shortLiterals), 8), Fail), Throws.InvalidOperationException.With.Message.EqualTo("Decoding failed"));
        // Bytes left over after the last block whose length field is not the magic: the decoder reads past the input.
        byte[] frame = [.. Frame([0x30, 1, 2, 3]), 0xAA, 0xBB];
        Assert.That(() => Lz4Legacy.Decompress(WithSize(frame, 3), Fail), Throws.InvalidOperationException);
    }
}

/// <summary>Xen's lzop container as modelled (<see cref="Lzop"/>): stored blocks, and the errors in Xen's order.</summary>
public sealed class LzopTests
{
    private static Exception Fail(string m) => new InvalidOperationException(m);

    [TestCase(0)]
    [TestCase(100)]
    [TestCase(Lzop.BlockSize + 1)]
    public void StoredBlocksRoundTrip(int length)
    {
        var data = BuilderKit.Pattern(length);
        Assert.That(Lzop.Decompress(BzImage.StoreLzop(data), Fail), Is.EqualTo(data));
    }

    [Test]
    public void XensErrors()
    {
        byte[] good = BzImage.StoreLzop(BuilderKit.Pattern(100));
        const int firstBlock = 9 + 8 + 4 + 12 + 1 + 4;
        string Error(byte[] b) => Assert.Throws<InvalidOperationException>(() => Lzop.Decompress(b, Fail))!.Message;
        Assert.That(Error(good[..20]), Is.EqualTo("invalid header"));
        Assert.That(Error(BzImage.With(good, 5, 0, 1)), Is.EqualTo("invalid header"));
        byte[] big = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt32BigEndian(big.AsSpan(firstBlock), Lzop.BlockSize + 1);
        Assert.That(Error(big), Is.EqualTo("dest len longer than block size"));
        byte[] zeroSource = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt32BigEndian(zeroSource.AsSpan(firstBlock + 4), 0);
        Assert.That(Error(zeroSource), Is.EqualTo("file corrupted"));
        Assert.That(Error(good[..(firstBlock + 20)]), Is.EqualTo("file corrupted"));
        byte[] compressed = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt32BigEndian(compressed.AsSpan(firstBlock + 4), 50);
        Assert.That(Error(compressed), Is.EqualTo("Compressed data violation"), "stored bytes read as an LZO1X block");
    }
}
