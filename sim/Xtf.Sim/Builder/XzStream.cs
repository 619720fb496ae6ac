using System.Runtime.CompilerServices;
using System.Buffers.Binary;

namespace Xtf.Sim.Builder;

/// <summary>
/// Xen 4.17's unxz (xen/common/unxz.c with its xz/dec_stream.c, dec_lzma2.c, dec_bcj.c) in single-call mode as the
/// dom0 builder uses it, from the .xz and LZMA2 format descriptions (docs/dom0.md §2.16). One stream is decoded;
/// what follows it is not read. Xen's result codes give its four lines:
/// <list type="bullet">
/// <item>wrong magic: "Input is not in the XZ format (wrong magic bytes)";</item>
/// <item>settings the decoder lacks (stream flags, a check other than none or CRC32 (CRC64 and SHA-256 are refused:
/// Xen is built without "any check"), block flags, a filter other than x86 BCJ before LZMA2, filter properties,
/// a dictionary property over 39, lc + lp over 4, non-zero header padding): "Input was encoded with settings that
/// are not supported by this XZ decoder";</item>
/// <item>everything else, input running out included: "XZ-compressed data is corrupt".</item>
/// </list>
/// </summary>
public static class XzStream
{
    public const string FormatMessage = "Input is not in the XZ format (wrong magic bytes)";
    public const string OptionsMessage = "Input was encoded with settings that are not supported by this XZ decoder";
    public const string CorruptMessage = "XZ-compressed data is corrupt";
    private static ReadOnlySpan<byte> HeaderMagic => [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];

    private sealed class XzError(string message) : Exception(message);

    public static byte[] Decompress(ReadOnlySpan<byte> input, long capacity, Func<string, Exception> fail)
    {
        try
        {
            return Run(input.ToArray(), capacity);
        }
        catch (XzError e)
        {
            throw fail(e.Message);
        }
    }

    private static XzError Corrupt() => new(CorruptMessage);
    private static XzError Options() => new(OptionsMessage);

    private static byte[] Run(byte[] s, long capacity)
    {
        // Stream header: magic, flags (0, check), CRC32 of the flags.
        if (s.Length < 12) throw s.AsSpan().StartsWith(HeaderMagic[..Math.Min(6, s.Length)]) ? Corrupt() : new XzError(FormatMessage);
        if (!s.AsSpan(0, 6).SequenceEqual(HeaderMagic)) throw new XzError(FormatMessage);
        if (Crc32.Compute(s.AsSpan(6, 2)) != BinaryPrimitives.ReadUInt32LittleEndian(s.AsSpan(8))) throw Corrupt();
        if (s[6] != 0) throw Options();
        int check = s[7];
        if (check > 1) throw Options();          // 2..15 reserved or CRC64/SHA-256: not built in
        int checkSize = check == 1 ? 4 : 0;
        int at = 12;
        var output = new DecoderOutput(capacity);
        var records = new List<(ulong Unpadded, ulong Uncompressed)>();
        var lzma2 = new Lzma2Decoder();
        while (true)
        {
            if (at >= s.Length) throw Corrupt();
            if (s[at] == 0) break;                // the index
            int headerSize = (s[at] + 1) * 4;
            if (at + headerSize > s.Length) throw Corrupt();
            var header = s.AsSpan(at, headerSize);
            if (Crc32.Compute(header[..^4]) != BinaryPrimitives.ReadUInt32LittleEndian(header[^4..])) throw Corrupt();
            byte flags = header[1];
            if ((flags & 0x3E) != 0) throw Options();
            int hp = 2, hend = headerSize - 4;
            ulong? compressedSize = null, uncompressedSize = null;
            if ((flags & 0x40) != 0) compressedSize = Vli(header, ref hp, hend) ?? throw Corrupt();
            if ((flags & 0x80) != 0) uncompressedSize = Vli(header, ref hp, hend) ?? throw Corrupt();
            bool bcj = (flags & 0x01) != 0;
            if (bcj)
            {
                if (hend - hp < 2) throw Options();
                if (header[hp++] != 0x04) throw Options();   // x86 only (Xen defines XZ_DEC_X86 on x86)
                if (header[hp++] != 0x00) throw Options();   // no start offset
            }
            if (hend - hp < 2) throw Corrupt();
            if (header[hp++] != 0x21) throw Options();
            if (header[hp++] != 0x01) throw Options();
            if (hend - hp < 1) throw Corrupt();
            byte dictProps = header[hp++];
            if (dictProps > 39) throw Options();
            while (hp < hend) if (header[hp++] != 0) throw Options();
            at += headerSize;

            int blockStart = at, outStart = output.Length;
            at = lzma2.Run(s, at, output);
            if (bcj) X86Filter(output.Buffer.AsSpan(outStart, output.Length - outStart));
            ulong compressed = (ulong)(at - blockStart), uncompressed = (ulong)(output.Length - outStart);
            if (compressedSize is { } c && c != compressed) throw Corrupt();
            if (uncompressedSize is { } u && u != uncompressed) throw Corrupt();
            while ((at - blockStart) % 4 != 0)
            {
                if (at >= s.Length || s[at] != 0) throw Corrupt();
                at++;
            }
            if (checkSize > 0)
            {
                if (at + 4 > s.Length) throw Corrupt();
                if (Crc32.Compute(output.Buffer.AsSpan(outStart, output.Length - outStart)) != BinaryPrimitives.ReadUInt32LittleEndian(s.AsSpan(at))) throw Corrupt();
                at += 4;
            }
            records.Add(((ulong)headerSize + compressed + (ulong)checkSize, uncompressed));
        }

        // Index: indicator, count, records, padding, CRC32; it must list the blocks decoded.
        int indexStart = at++;
        ulong count = Vli(s, ref at, s.Length) ?? throw Corrupt();
        if (count != (ulong)records.Count) throw Corrupt();
        foreach (var (unpadded, uncompressed) in records)
        {
            if (Vli(s, ref at, s.Length) != unpadded) throw Corrupt();
            if (Vli(s, ref at, s.Length) != uncompressed) throw Corrupt();
        }
        while ((at - indexStart) % 4 != 0)
        {
            if (at >= s.Length || s[at] != 0) throw Corrupt();
            at++;
        }
        if (at + 4 > s.Length) throw Corrupt();
        if (Crc32.Compute(s.AsSpan(indexStart, at - indexStart)) != BinaryPrimitives.ReadUInt32LittleEndian(s.AsSpan(at))) throw Corrupt();
        at += 4;
        long indexSize = at - indexStart;

        // Stream footer: CRC32, backward size, flags (as in the header), "YZ".
        if (at + 12 > s.Length) throw Corrupt();
        var footer = s.AsSpan(at, 12);
        if (footer[10] != (byte)'Y' || footer[11] != (byte)'Z') throw Corrupt();
        if (Crc32.Compute(footer[4..10]) != BinaryPrimitives.ReadUInt32LittleEndian(footer)) throw Corrupt();
        if (((long)BinaryPrimitives.ReadUInt32LittleEndian(footer[4..]) + 1) * 4 != indexSize) throw Corrupt();
        if (footer[8] != s[6] || footer[9] != s[7]) throw Corrupt();
        return output.ToArray();
    }

    /// <summary>A variable-length integer (7 bits a byte, at most 9 bytes, no superfluous zero byte); null when malformed or cut.</summary>
    private static ulong? Vli(ReadOnlySpan<byte> s, ref int at, int end)
    {
        ulong value = 0;
        for (int i = 0; i < 9; i++)
        {
            if (at >= end) return null;
            byte b = s[at++];
            value |= (ulong)(b & 0x7f) << (7 * i);
            if ((b & 0x80) == 0) return i > 0 && b == 0 ? null : value;
        }
        return null;
    }

    /// <summary>
    /// The LZMA2 chunk sequence: control 0 ends; 1 (dictionary reset) and 2 are stored chunks; 0x80 and above are
    /// LZMA chunks (bits 5–6: nothing, state reset, new properties, dictionary reset). The first chunk must reset the
    /// dictionary and the first LZMA chunk after it must bring properties. An LZMA chunk must produce exactly its
    /// size, use exactly its compressed bytes and end with the range coder's code at 0; no match may reach before
    /// the dictionary's reset or past the chunk.
    /// </summary>
    private sealed class Lzma2Decoder
    {
        private readonly LzmaModel model = new();

        public int Run(byte[] s, int at, DecoderOutput output)
        {
            bool needDictReset = true, needProps = true;
            long dictStart = output.Length;
            while (true)
            {
                if (at >= s.Length) throw Corrupt();
                int control = s[at++];
                if (control == 0) return at;
                if (control >= 0xE0 || control == 0x01)
                {
                    needProps = true;
                    needDictReset = false;
                    dictStart = output.Length;
                }
                else if (needDictReset) throw Corrupt();
                if (control >= 0x80)
                {
                    if (at + 4 > s.Length) throw Corrupt();
                    int unpacked = ((control & 0x1f) << 16) + (s[at] << 8) + s[at + 1] + 1;
                    int packed = (s[at + 2] << 8) + s[at + 3] + 1;
                    at += 4;
                    if (control >= 0xC0)
                    {
                        needProps = false;
                        if (at >= s.Length) throw Corrupt();
                        int props = s[at++];
                        if (props > (4 * 5 + 4) * 9 + 8) throw Corrupt();
                        int pb = props / 45, lp = props / 9 % 5, lc = props % 9;
                        if (lc + lp > 4) throw Options();
                        model.SetProperties(lc, lp, pb);
                        model.Reset();
                    }
                    else if (needProps) throw Corrupt();
                    else if (control >= 0xA0) model.Reset();
                    if (at + packed > s.Length) throw Corrupt();
                    Chunk(s, at, packed, unpacked, output, dictStart);
                    at += packed;
                }
                else
                {
                    if (control > 2) throw Corrupt();
                    if (at + 2 > s.Length) throw Corrupt();
                    int size = (s[at] << 8) + s[at + 1] + 1;
                    at += 2;
                    if (at + size > s.Length) throw Corrupt();
                    output.Write(s.AsSpan(at, size));
                    at += size;
                }
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Chunk(byte[] s, int at, int packed, int unpacked, DecoderOutput output, long dictStart)
        {
            var rc = new RangeDecoder(s, at, at + packed);
            rc.Init();
            long end = output.Length + (long)unpacked;
            while (output.Length < end)
            {
                if (rc.Overruns > 0) throw Corrupt();
                long pos = output.Length;
                var step = model.Decode(rc, output, pos - dictStart, pos > dictStart ? output.Back(0) : (byte)0, out int length);
                if (step == LzmaModel.Step.Literal) continue;
                if (step == LzmaModel.Step.EndMarker || model.Rep0 >= pos - dictStart || pos + length > end) throw Corrupt();
                output.Copy(model.Rep0, length);
            }
            rc.Normalize();                       // the decoder leaves each chunk normalised
            if (rc.Overruns > 0 || rc.Position != at + packed || rc.Code != 0) throw Corrupt();
        }
    }

    /// <summary>The x86 BCJ filter's decoder (the .xz format's "x86" filter): relative CALL/JMP targets made absolute again, over the whole block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void X86Filter(Span<byte> buf)
    {
        ReadOnlySpan<bool> allowed = [true, true, true, false, true, false, false, false];
        ReadOnlySpan<int> bitNumber = [0, 1, 2, 2, 3, 3, 3, 3];
        if (buf.Length <= 4) return;
        int size = buf.Length - 4;
        long prevPos = -5;
        uint prevMask = 0;
        for (int i = 0; i < size; i++)
        {
            if ((buf[i] & 0xFE) != 0xE8) continue;
            long gap = i - prevPos;
            if (gap > 3) prevMask = 0;
            else
            {
                prevMask = (prevMask << (int)(gap - 1)) & 7;
                if (prevMask != 0)
                {
                    byte b = buf[i + 4 - bitNumber[(int)prevMask]];
                    if (!allowed[(int)prevMask] || b == 0 || b == 0xFF)
                    {
                        prevPos = i;
                        prevMask = prevMask << 1 | 1;
                        continue;
                    }
                }
            }
            prevPos = i;
            if (buf[i + 4] == 0 || buf[i + 4] == 0xFF)
            {
                uint src = BinaryPrimitives.ReadUInt32LittleEndian(buf[(i + 1)..]);
                uint dest;
                while (true)
                {
                    dest = src - (uint)(i + 5);
                    if (prevMask == 0) break;
                    int j = bitNumber[(int)prevMask] * 8;
                    byte b = (byte)(dest >> (24 - j));
                    if (b != 0 && b != 0xFF) break;
                    src = dest ^ ((1u << (32 - j)) - 1);
                }
                dest &= 0x01FFFFFF;
                dest |= 0u - (dest & 0x01000000);
                BinaryPrimitives.WriteUInt32LittleEndian(buf[(i + 1)..], dest);
                i += 4;
            }
            else prevMask = prevMask << 1 | 1;
        }
    }
}

/// <summary>CRC-32 as gzip, xz and lzop's CRC option use it (reflected, polynomial 0xEDB88320), table-driven.</summary>
internal static class Crc32
{
    private static readonly uint[] Table = Make();

    private static uint[] Make()
    {
        var t = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (uint)-(int)(c & 1));
            t[i] = c;
        }
        return t;
    }

    public static uint Compute(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data) crc = Table[(byte)(crc ^ b)] ^ (crc >> 8);
        return ~crc;
    }
}
