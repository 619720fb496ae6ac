using System.Buffers.Binary;
using System.IO.Compression;
using System.Reflection;

namespace Xtf.Sim.Builder;

/// <summary>
/// How Xen 4.17 gets from the dom0 module to the bytes libelf parses (xen/arch/x86/bzimage.c, with
/// setup.c's relocation and xen/common/decompress.c). Specification: docs/dom0.md §2.15–2.16.
/// <list type="number">
/// <item>The setup-header check: a module of at least 0x250 bytes with "HdrS" at 0x202 is a bzImage;
/// a protocol older than 2.08 is refused (the message is printed, and the build fails).</item>
/// <item>A bzImage's payload starts (setup_sects + 1) × 512 + payload_offset bytes in and is
/// payload_length long; nothing checks that it lies inside the module (bytes past the module read as
/// zeros here).</item>
/// <item>An ELF payload (or module) is parsed where it is. Anything else is taken for a compressed
/// kernel whose last four bytes give the decompressed size: the headroom kept in front of the module
/// is that size plus (gzip) 1/4096 and 32 KiB + 18, or (others) plus the compressed size, page-rounded.</item>
/// <item>gzip is inflated by Xen's own inflate (a bad stream panics with its message); the other
/// formats go by their magic to decompress(): bzip2 (<see cref="Bzip2Stream"/>), xz (<see cref="XzStream"/>),
/// lzma (<see cref="LzmaStream"/>), lzo (<see cref="Lzop"/>, <see cref="Lzo1xBlock"/>), lz4 (<see cref="Lz4Legacy"/>),
/// zstd (<see cref="ZstdFrame"/>). Their output goes into the headroom without a bound in Xen; the model keeps the
/// headroom's size and reports a stream that decodes past it as not modelled. A failing decompressor prints its
/// message(s) (none for most bzip2 faults: an empty message) and the build fails. Bytes in no known format are
/// handed to libelf as they are.</item>
/// </list>
/// </summary>
public static class XenBzImage
{
    /// <summary>sizeof(struct setup_header) as Xen declares it: through payload_length.</summary>
    public const int SetupHeaderSize = 0x250;
    public const ushort MinimumVersion = 0x0208;
    private const int SetupSectsAt = 0x1f1, HeaderAt = 0x202, VersionAt = 0x206, PayloadOffsetAt = 0x248, PayloadLengthAt = 0x24c;
    private const ulong Page = 4096;
    /// <summary>
    /// How far past the module a payload may reach: the model reads zeros there (measured: 8 KiB past it, Xen
    /// found no kernel); beyond, Xen reads whatever memory follows, or faults (measured: 1 MiB past a 6 KiB
    /// module is a fatal page fault in bzimage_headroom), which depends on where the loader put the module.
    /// </summary>
    public const ulong MaxReachPastModule = 64 << 10;

    /// <summary>The line Xen prints for a protocol older than 2.08.</summary>
    public static string TooOldMessage(ushort version) => $"Cannot load bzImage v{version >> 8}.{version & 0xff:d2} at least v2.08 is required";

    /// <summary>bzimage_check: 0 not a bzImage, 1 a bzImage, -1 too old (<paramref name="version"/> says which).</summary>
    public static int Check(ReadOnlySpan<byte> module, ulong length, out ushort version)
    {
        version = 0;
        if (length < SetupHeaderSize) return 0;
        if (At(module, HeaderAt) != 'H' || At(module, HeaderAt + 1) != 'd' || At(module, HeaderAt + 2) != 'r' || At(module, HeaderAt + 3) != 'S') return 0;
        version = (ushort)(At(module, VersionAt) | At(module, VersionAt + 1) << 8);
        return version < MinimumVersion ? -1 : 1;
    }

    /// <summary>Where a bzImage's payload lies, relative to the module's start.</summary>
    public static (ulong Start, ulong Length) Payload(ReadOnlySpan<byte> module) =>
        ((ulong)(At(module, SetupSectsAt) + 1) * 512 + U32(module, PayloadOffsetAt), U32(module, PayloadLengthAt));

    /// <summary>
    /// bzimage_headroom on the module as the boot loader placed it: 0 for an ELF (or a refused bzImage),
    /// else room for the decompressed kernel, page-rounded.
    /// </summary>
    public static ulong Headroom(ReadOnlySpan<byte> module)
    {
        ulong start = 0, length = (ulong)module.Length;
        int check = Check(module, length, out _);
        if (check < 0) return 0;
        if (check > 0)
        {
            (start, length) = Payload(module);
            CheckReach(module.Length, start, length);
        }
        if (IsElfBinary(module, start, length)) return 0;
        ulong headroom = U32(module, start + length - 4);
        headroom += IsGzip(module, start, length) ? (headroom >> 12) + 32768 + 18 : length;
        return (headroom + Page - 1) & ~(Page - 1);
    }

    /// <summary>
    /// bzimage_parse on the relocated module (libelf's view: the module followed by <paramref name="headroom"/>
    /// more bytes, read as zeros). Returns the bytes libelf parses and its size (bytes past the array read as zero).
    /// <paramref name="fail"/> makes the build fail after a message (dom0_construct_pv returns an error);
    /// <paramref name="panic"/> is inflate's own panic.
    /// </summary>
    public static (ReadOnlyMemory<byte> Image, ulong Size) Parse(ReadOnlyMemory<byte> module, ulong headroom,
        Func<string, Exception> fail, Func<string, Exception> panic)
    {
        var s = module.Span;
        ulong start = 0, length = (ulong)s.Length + headroom;
        int check = Check(s, length, out ushort version);
        if (check < 0) throw fail(TooOldMessage(version));
        if (check > 0)
        {
            (start, length) = Payload(s);
            CheckReach(s.Length, start, length);
        }
        if (IsElfBinary(s, start, length)) return (Window(module, start, length), length);

        // orig_image_len: the length bzimage_headroom saw (the payload's, or the module's own).
        ulong compressed = check > 0 ? length : (ulong)s.Length;
        ulong claimed = U32(s, start + compressed - 4);
        var input = Window(module, start, compressed, materialise: true);
        if (IsGzip(s, start, compressed)) return (Gunzip(input.Span, InModule(s, start, compressed), claimed, panic), claimed);
        if (FormatOf(input.Span) is { } format)
        {
            var output = format switch
            {
                "bzip2" => Bzip2Stream.Decompress(input.Span, (long)headroom, fail),
                "xz" => XzStream.Decompress(input.Span, (long)headroom, fail),
                "lzma" => LzmaStream.Decompress(input.Span, (long)headroom, fail),
                "lz4" => Lz4Legacy.Decompress(input.Span, fail),
                "lzo" => Lzop.Decompress(input.Span, fail, (long)headroom),
                _ => ZstdFrame.Decompress(input.Span, (long)headroom, fail),
            };
            return (output, claimed);
        }
        return (Window(module, start, length), length);   // decompress() knows the format not: libelf sees the bytes
    }

    /// <summary>decompress()'s formats by magic, in its order (gzip is handled before it); null for none.</summary>
    public static string? FormatOf(ReadOnlySpan<byte> s) =>
        s.StartsWith("BZh"u8) ? "bzip2"
        : s.StartsWith((ReadOnlySpan<byte>)[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) ? "xz"
        : s.StartsWith((ReadOnlySpan<byte>)[0x5d, 0x00]) ? "lzma"
        : s.StartsWith((ReadOnlySpan<byte>)[0x89, 0x4c, 0x5a, 0x4f, 0x00]) ? "lzo"
        : s.StartsWith((ReadOnlySpan<byte>)[0x02, 0x21]) ? "lz4"
        : s.StartsWith((ReadOnlySpan<byte>)[0x28, 0xb5, 0x2f, 0xfd]) ? "zstd"
        : null;

    /// <summary>gzip_check (xen/common/gunzip.c): 1f 8b, or 1f 9e.</summary>
    public static bool IsGzip(ReadOnlySpan<byte> s) => s.Length >= 2 && s[0] == 0x1f && s[1] is 0x8b or 0x9e;

    private static bool IsGzip(ReadOnlySpan<byte> module, ulong start, ulong length) =>
        length >= 2 && At(module, start) == 0x1f && At(module, start + 1) is 0x8b or 0x9e;

    /// <summary>elf_is_elfbinary: at least an Elf32_Ehdr's 52 bytes, starting with the magic.</summary>
    private static bool IsElfBinary(ReadOnlySpan<byte> module, ulong start, ulong length) =>
        length >= XenElfBinary.MinimumSize && At(module, start) == 0x7f && At(module, start + 1) == 'E' && At(module, start + 2) == 'L' && At(module, start + 3) == 'F';

    /// <summary>A byte at <paramref name="at"/> from the module's start: past the module, zero.</summary>
    private static byte At(ReadOnlySpan<byte> s, ulong at) => at < (ulong)s.Length ? s[(int)at] : (byte)0;

    private static uint U32(ReadOnlySpan<byte> s, ulong at) =>
        (uint)(At(s, at) | At(s, at + 1) << 8 | At(s, at + 2) << 16 | At(s, at + 3) << 24);

    /// <summary>
    /// The module's bytes from <paramref name="start"/> on (past its end zeros, up to <paramref name="length"/> when
    /// <paramref name="materialise"/>).
    /// </summary>
    private static ReadOnlyMemory<byte> Window(ReadOnlyMemory<byte> module, ulong start, ulong length, bool materialise = false)
    {
        ulong have = (ulong)module.Length;
        if (start >= have) return materialise ? new byte[length] : ReadOnlyMemory<byte>.Empty;
        var inside = module[(int)start..(int)Math.Min(have, start + length)];
        if (!materialise || (ulong)inside.Length == length) return inside;
        var padded = new byte[length];
        inside.CopyTo(padded);
        return padded;
    }

    /// <summary>A payload that reaches more than <see cref="MaxReachPastModule"/> past the module is not modelled.</summary>
    private static void CheckReach(int moduleLength, ulong start, ulong length)
    {
        if (start + length > (ulong)moduleLength + MaxReachPastModule)
            throw new NotSupportedException($"a dom0 kernel payload at {start} of {length} bytes, reaching past the {moduleLength}-byte module, is not modelled (docs/dom0.md §2.16)");
    }

    /// <summary>
    /// xen/common/gunzip.c, perform_gunzip: at most <paramref name="claimed"/> bytes are kept (Xen parses that
    /// many; a longer stream would run over its own input, not modelled). Xen's inflate panics on a bad stream
    /// with its own message (measured: "crc error"); the header checks are its own (xen/common/inflate.c, gunzip).
    /// </summary>
    private static byte[] Gunzip(ReadOnlySpan<byte> s, int available, ulong claimed, Func<string, Exception> panic)
    {
        string? headerProblem = s.Length < 10 ? "out of input data"
            : s[2] != 8 ? "internal error, invalid method"
            : (s[3] & 0x20) != 0 ? "Input is encrypted"
            : (s[3] & 0x02) != 0 ? "Multi part input"
            : (s[3] & 0xC0) != 0 ? "Input has invalid flags"
            : s[1] != 0x8b ? "invalid compressed format (other)"
            : null;
        if (headerProblem is not null) throw panic(headerProblem);
        var output = new byte[claimed];
        ulong total = 0;
        uint crc = 0xFFFFFFFF;
        try
        {
            // The header by hand (xen/common/inflate.c skips the same optional fields), then raw deflate: the CRC is checked here, as Xen does.
            int at = 10;
            byte flags = s[3];
            if ((flags & 0x04) != 0) at = s.Length >= at + 2 ? at + 2 + BinaryPrimitives.ReadUInt16LittleEndian(s[at..]) : s.Length;
            if ((flags & 0x08) != 0) { while (at < s.Length && s[at] != 0) at++; at++; }
            if ((flags & 0x10) != 0) { while (at < s.Length && s[at] != 0) at++; at++; }
            if (at >= available) throw panic("ran out of input data");
            using var gz = new DeflateStream(new MemoryStream(s[at..available].ToArray(), writable: false), CompressionMode.Decompress);
            var buffer = new byte[1 << 16];
            while (true)
            {
                int n = gz.Read(buffer, 0, buffer.Length);
                if (n == 0) break;
                if (total < claimed) buffer.AsSpan(0, (int)Math.Min((ulong)n, claimed - total)).CopyTo(output.AsSpan((int)total));
                crc = Crc32(crc, buffer.AsSpan(0, n));
                total += (ulong)n;
                // Past its claimed size Xen writes over its own input: modelled as its length check failing.
                if (total > claimed + MaxGzipOverrun) throw panic("length error");
            }
            // A stream without its last block runs Xen's inflate out of input (measured: a payload cut short,
            // whose length reaches past the module). Bytes past the module are not the kernel's: the model stops there.
            if (!InflaterFinished(gz)) throw panic("ran out of input data");
        }
        catch (InvalidDataException)
        {
            throw panic("invalid compressed format (err=1)");
        }
        if (s.Length < 18) throw panic("ran out of input data");
        if (~crc != BinaryPrimitives.ReadUInt32LittleEndian(s[^8..])) throw panic("crc error");
        if (total != claimed) throw panic("length error");
        return output;
    }

    /// <summary>How many of a window's bytes are the module's (the rest lies past its end).</summary>
    private static int InModule(ReadOnlySpan<byte> module, ulong start, ulong length) =>
        start >= (ulong)module.Length ? 0 : (int)Math.Min(length, (ulong)module.Length - start);

    /// <summary>Whether the deflate stream reached its final block (System.IO.Compression keeps this in its inflater).</summary>
    private static bool InflaterFinished(DeflateStream stream)
    {
        var field = typeof(DeflateStream).GetField("_inflater", BindingFlags.NonPublic | BindingFlags.Instance);
        object? inflater = field?.GetValue(stream);
        var finished = inflater?.GetType().GetMethod("Finished", BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance, Type.EmptyTypes);
        return finished?.Invoke(inflater, null) is not false;
    }

    /// <summary>How far past its claimed size a gzip stream is followed before the build gives up on it.</summary>
    private const ulong MaxGzipOverrun = 16 << 20;

    /// <summary>CRC-32 (gzip's), continued from <paramref name="crc"/> (start with 0xFFFFFFFF, finish with ~).</summary>
    private static uint Crc32(uint crc, ReadOnlySpan<byte> data)
    {
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (uint)-(int)(crc & 1));
        }
        return crc;
    }
}
