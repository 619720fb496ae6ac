using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using Xtf.Elf;
using Xtf.Sim.Builder;

namespace Xtf.Sim.Tests.Builder;

/// <summary>
/// The dom0 builder's bzip2, xz, lzma, zstd and LZO1X decoders (docs/dom0.md §2.16) on fixtures made by the
/// reference tools (Fixtures/: bzip2 -1, xz --check=crc32 [--x86 --lzma2] / --check=none -1, xz --format=lzma,
/// zstd -19 --check / -1 --no-check, of <see cref="Data"/>), and on corrupted copies: a fault gives Xen's line
/// through the failure callback, never another exception.
/// </summary>
public sealed class DecompressorTests
{
    private sealed class Failed(string message) : Exception(message);
    private static Exception Fail(string m) => new Failed(m);
    private const long Capacity = 4 << 20;

    private static string FixtureDir([CallerFilePath] string here = "") => Path.Combine(Path.GetDirectoryName(here)!, "Fixtures");
    private static byte[] Fixture(string name) => File.ReadAllBytes(Path.Combine(FixtureDir(), name));

    /// <summary>The fixtures' plain text: words, zero runs, E8 calls and single random bytes from a fixed LCG (120000 bytes).</summary>
    public static byte[] Data(int n = 120000)
    {
        var o = new List<byte>(n + 64);
        uint x = 12345;
        uint Next() => x = (x * 1103515245 + 12345) & 0x7fffffff;
        while (o.Count < n)
        {
            uint v = Next();
            switch ((v >> 16) % 4)
            {
                case 0: o.AddRange(Encoding.ASCII.GetBytes($"word{(v >> 8) % 50} ")); break;
                case 1: o.AddRange(new byte[(v >> 8) % 40]); break;
                case 2: o.Add(0xe8); o.AddRange(BitConverter.GetBytes((v >> 4) % 5000)); break;
                default: o.Add((byte)((Next() >> 16) & 0xff)); break;
            }
        }
        return [.. o.Take(n)];
    }

    private static readonly byte[] Plain = Data();

    /// <summary>The payload as the kernel build writes it: the stream, then the little-endian output size.</summary>
    private static byte[] WithSize(byte[] stream) => [.. stream, .. BitConverter.GetBytes(Plain.Length)];

    public static byte[] Decode(string format, byte[] input, long capacity = Capacity) => format switch
    {
        "bzip2" => Bzip2Stream.Decompress(input, capacity, Fail),
        "xz" => XzStream.Decompress(input, capacity, Fail),
        "lzma" => LzmaStream.Decompress(input, capacity, Fail),
        "zstd" => ZstdFrame.Decompress(input, capacity, Fail),
        "lzo" => Lzop.Decompress(input, Fail),
        _ => throw new ArgumentException(format),
    };

    [TestCase("bzip2", "data.bz2")]
    [TestCase("xz", "data.xz")]
    [TestCase("xz", "data-x86.xz")]
    [TestCase("xz", "data-none.xz")]
    [TestCase("lzma", "data.lzma")]
    [TestCase("zstd", "data.zst")]
    [TestCase("zstd", "data-nocheck.zst")]
    public void ReferenceStreamsDecode(string format, string fixture)
    {
        byte[] input = WithSize(Fixture(fixture));
        Assert.That(XenBzImage.FormatOf(input), Is.EqualTo(format));
        Assert.That(Decode(format, input), Is.EqualTo(Plain));
    }

    /// <summary>A benchmark, not a check (speed is never asserted): run it explicitly to print the figures docs/dom0.md §2.16 records.</summary>
    [Explicit("benchmark: prints decode speed")]
    [TestCase("bzip2", "data.bz2")]
    [TestCase("xz", "data.xz")]
    [TestCase("lzma", "data.lzma")]
    [TestCase("zstd", "data.zst")]
    public void DecodeSpeed(string format, string fixture)
    {
        byte[] input = WithSize(Fixture(fixture));
        Decode(format, input);
        var process = Process.GetCurrentProcess();
        var cpu = process.TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        for (int i = 0; i < 8; i++) Decode(format, input);   // 8 × 120000 bytes ≈ 1 MiB
        process.Refresh();
        double cpuMs = (process.TotalProcessorTime - cpu).TotalMilliseconds;
        TestContext.Out.WriteLine($"{format}: 8 × {Plain.Length} bytes in {watch.ElapsedMilliseconds} ms, {cpuMs:f0} ms of CPU");
        // Processor time of the whole process (GC included), not wall time: the machine may be shared.
    }

    [TestCase("bzip2", "data.bz2", Bzip2Stream.IntegrityMessage)]
    [TestCase("xz", "data.xz", XzStream.CorruptMessage)]
    [TestCase("lzma", "data.lzma", "LZMA data is corrupt")]
    [TestCase("zstd", "data.zst", ZstdFrame.CorruptMessage)]
    public void AFlippedByteInTheMiddleGivesXensLine(string format, string fixture, string message)
    {
        byte[] input = WithSize(Fixture(fixture));
        input[input.Length / 2] ^= 0x55;
        var e = Assert.Throws<Failed>(() => Decode(format, input))!;
        Assert.That(e.Message.Split('\n')[^1], Is.EqualTo(message));
    }

    /// <summary>Every 61st byte flipped in turn: each decoder returns or fails through the callback (or reports an overrun as not modelled).</summary>
    [TestCase("bzip2", "data.bz2")]
    [TestCase("xz", "data.xz")]
    [TestCase("xz", "data-x86.xz")]
    [TestCase("lzma", "data.lzma")]
    [TestCase("zstd", "data.zst")]
    [TestCase("zstd", "data-nocheck.zst")]
    [TestCase("lzo", null)]
    public void CorruptionNeverThrowsAnythingElse(string format, string? fixture)
    {
        byte[] good = fixture is null ? BzImage.CompressLzop(Plain) : WithSize(Fixture(fixture));
        for (int at = 0; at < good.Length; at += 61)
        {
            byte[] bad = (byte[])good.Clone();
            bad[at] ^= (byte)(0x5a + at);
            try { Decode(format, bad, 1 << 20); }
            catch (Failed) { }
            catch (NotSupportedException e) when (e.Message.Contains("headroom")) { }
        }
        for (int cut = 1; cut < good.Length; cut += good.Length / 17)
        {
            try { Decode(format, good[..cut], 1 << 20); }
            catch (Failed) { }
        }
    }

    [Test]
    public void XenAcceptsOnlyTheNoneAndCrc32Checks()
    {
        byte[] xz = Fixture("data.xz");
        xz[7] = 4;                                              // CRC64, the xz tool's default
        BitConverter.GetBytes(Crc(xz.AsSpan(6, 2))).CopyTo(xz, 8);
        Assert.That(() => Decode("xz", xz), Throws.InstanceOf<Failed>().With.Message.EqualTo(XzStream.OptionsMessage));
        byte[] wrongMagic = Fixture("data.xz");
        wrongMagic[5] = 1;
        Assert.That(() => Decode("xz", wrongMagic), Throws.InstanceOf<Failed>().With.Message.EqualTo(XzStream.FormatMessage));
        byte[] flags = Fixture("data.xz");
        flags[7] ^= 1;                                          // the header CRC no longer matches
        Assert.That(() => Decode("xz", flags), Throws.InstanceOf<Failed>().With.Message.EqualTo(XzStream.CorruptMessage));
    }

    private static uint Crc(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (uint)-(int)(crc & 1));
        }
        return ~crc;
    }

    [Test]
    public void LzmaCutShortPrintsUnexpectedEofForEachByteAskedFor()
    {
        byte[] lzma = Fixture("data.lzma");
        var e = Assert.Throws<Failed>(() => Decode("lzma", lzma[..(lzma.Length / 2)]))!;
        var lines = e.Message.Split('\n');
        Assert.That(lines, Is.Not.Empty);
        Assert.That(lines.Distinct(), Is.EqualTo(new[] { "unexpected EOF" }));
        byte[] badProps = Fixture("data.lzma");
        badProps[0] = 225;
        Assert.That(() => Decode("lzma", badProps), Throws.InstanceOf<Failed>().With.Message.EqualTo("bad header"));
    }

    [Test]
    public void Bzip2FaultsOtherThanACrcArePrintedAsNothing()
    {
        byte[] bz = Fixture("data.bz2");
        bz[3] = (byte)'0';                                      // block size 0
        Assert.That(() => Decode("bzip2", bz), Throws.InstanceOf<Failed>().With.Message.EqualTo(""));
        byte[] magic = Fixture("data.bz2");
        magic[4] ^= 1;                                          // the first block's magic
        Assert.That(() => Decode("bzip2", magic), Throws.InstanceOf<Failed>().With.Message.EqualTo(""));
        byte[] streamCrc = Fixture("data.bz2");
        streamCrc[^2] ^= 1;                                     // inside the stream CRC
        Assert.That(() => Decode("bzip2", streamCrc), Throws.InstanceOf<Failed>().With.Message.EqualTo(Bzip2Stream.IntegrityMessage));
    }

    [Test]
    public void ZstdTruncationIsProbablyCorruptAndAChecksumIsChecked()
    {
        byte[] zst = Fixture("data.zst");
        Assert.That(() => Decode("zstd", zst[..(zst.Length - 10)]), Throws.InstanceOf<Failed>().With.Message.EqualTo(ZstdFrame.ProbablyCorruptMessage));
        byte[] sum = Fixture("data.zst");
        sum[^1] ^= 1;
        Assert.That(() => Decode("zstd", sum), Throws.InstanceOf<Failed>().With.Message.EqualTo(ZstdFrame.CorruptMessage));
        byte[] reserved = Fixture("data.zst");
        reserved[4] |= 0x08;
        Assert.That(() => Decode("zstd", reserved), Throws.InstanceOf<Failed>().With.Message.EqualTo(ZstdFrame.ProbablyCorruptMessage));
    }

    [Test]
    public void OutputPastTheHeadroomIsNotModelled()
    {
        Assert.That(() => Decode("xz", Fixture("data.xz"), 1000), Throws.InstanceOf<NotSupportedException>().With.Message.Contains("headroom"));
    }

    [TestCase("lzma")]
    [TestCase("xz")]
    [TestCase("bzip2")]
    [TestCase("zstd")]
    public void TheSuiteWritersStreamsDecode(string format)
    {
        foreach (var data in new[] { Plain, [], [7], new byte[70000], BuilderKit.Kernel() })
        {
            byte[] stream = format switch
            {
                "lzma" => BzImage.CompressLzma(data),
                "xz" => BzImage.CompressXz(data),
                "bzip2" => BzImage.CompressBzip2(data),
                _ => BzImage.CompressZstd(data),
            };
            if (data.Length == 0 && format == "bzip2") continue;
            Assert.That(Decode(format, stream), Is.EqualTo(data), $"{data.Length} bytes");
        }
    }

    [Test]
    public void Lzo1xBlocksFromTheSuiteWriterRoundTrip()
    {
        byte[] lzop = BzImage.CompressLzop(Plain);
        Assert.That(Lzop.Decompress(lzop, Fail), Is.EqualTo(Plain));
        byte[] bad = (byte[])lzop.Clone();
        bad[bad.Length / 2] ^= 0x55;
        try { Lzop.Decompress(bad, Fail); } catch (Failed) { }
    }

    [Test]
    public void Lzo1xDecodesEachInstructionKind()
    {
        // A first literal run of 4 ("abcd" as 17 + 4), an M2 match (len 3, distance 4: 0x4C? see below), end marker.
        // M2: t >= 64: length (t >> 5) - 1 + 2, distance 1 + ((t >> 2) & 7) + (next << 3), low 2 bits: literals after.
        byte t = (byte)((2 << 5) | (3 << 2) | 1);              // length 3, distance 4, then 1 literal
        byte[] block = [21, (byte)'a', (byte)'b', (byte)'c', (byte)'d', t, 0, (byte)'x', 0x11, 0, 0];
        var output = new byte[8];
        Assert.That(Lzo1xBlock.Decompress(block, output, out int n), Is.EqualTo(Lzo1xBlock.Result.Ok));
        Assert.That(Encoding.ASCII.GetString(output, 0, n), Is.EqualTo("abcdabcx"));
        Assert.That(Lzo1xBlock.Decompress(block, new byte[7], out _), Is.EqualTo(Lzo1xBlock.Result.OutputOverrun));
        byte[] far = [21, (byte)'a', (byte)'b', (byte)'c', (byte)'d', (byte)((2 << 5) | (7 << 2)), 9, 0x11, 0, 0];
        Assert.That(Lzo1xBlock.Decompress(far, new byte[16], out _), Is.EqualTo(Lzo1xBlock.Result.LookbehindOverrun));
        byte[] extra = [.. block, 0];
        Assert.That(Lzo1xBlock.Decompress(extra, new byte[8], out _), Is.EqualTo(Lzo1xBlock.Result.InputNotConsumed));
    }
}
