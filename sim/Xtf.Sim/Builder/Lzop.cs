using System.Buffers.Binary;

namespace Xtf.Sim.Builder;

/// <summary>
/// Xen 4.17's unlzo (xen/common/unlzo.c) as the dom0 builder uses it, from the lzop file format and Xen's
/// observable rules (docs/dom0.md §2.16): the header is checked for its magic and skipped by its version
/// (its checksum is not checked; too short or another magic is "invalid header"); then blocks, each an
/// output length (0 ends the file; over 256 KiB is "dest len longer than block size"), an input length and
/// one 4-byte checksum that is skipped; an input length of 0, over the output length or past the input is
/// "file corrupted", as is input ending before a length. A block whose lengths are equal is stored and
/// copied; any other is decoded by <see cref="Lzo1xBlock"/>, which must give exactly the output length (else
/// "Compressed data violation").
/// </summary>
public static class Lzop
{
    public const int BlockSize = 256 << 10;
    private static ReadOnlySpan<byte> Magic => [0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a];
    private const int HeaderSizeMin = 9 + 7 + 4 + 8 + 1 + 4;

    /// <summary>The file's output; past <paramref name="capacity"/> (the headroom) it is not modelled.</summary>
    public static byte[] Decompress(ReadOnlySpan<byte> input, Func<string, Exception> fail, long capacity = long.MaxValue)
    {
        int skip = HeaderLength(input) ?? throw fail("invalid header");
        var s = input[skip..];
        var output = new MemoryStream();
        while (true)
        {
            if (s.Length < 4) throw fail("file corrupted");
            uint dst = BinaryPrimitives.ReadUInt32BigEndian(s);
            s = s[4..];
            if (dst == 0) break;
            if (dst > BlockSize) throw fail("dest len longer than block size");
            if (s.Length < 8) throw fail("file corrupted");
            uint src = BinaryPrimitives.ReadUInt32BigEndian(s);
            s = s[8..];
            if (src == 0 || src > dst || src > (uint)s.Length) throw fail("file corrupted");
            if (output.Length + dst > capacity)
                throw new NotSupportedException($"a dom0 kernel that decompresses past its {capacity}-byte headroom (over its own input in Xen) is not modelled (docs/dom0.md §2.16)");
            if (src == dst) output.Write(s[..(int)src]);
            else
            {
                var block = new byte[dst];
                var result = Lzo1xBlock.Decompress(s[..(int)src], block, out int written);
                if (result != Lzo1xBlock.Result.Ok || written != dst) throw fail("Compressed data violation");
                output.Write(block);
            }
            s = s[(int)src..];
        }
        return output.ToArray();
    }

    /// <summary>parse_header: the header's length, or null when it is not an lzop header Xen takes.</summary>
    private static int? HeaderLength(ReadOnlySpan<byte> s)
    {
        if (s.Length < HeaderSizeMin || !s.StartsWith(Magic)) return null;
        int at = 9;
        ushort version = BinaryPrimitives.ReadUInt16BigEndian(s[at..]);
        at += 7;                                           // version, library version, version needed, method
        if (version >= 0x0940) at++;                       // level
        if (at + 4 > s.Length) return null;
        at += (BinaryPrimitives.ReadUInt32BigEndian(s[at..]) & 0x800) != 0 ? 8 : 4;   // flags (and a filter)
        if (s.Length - at < 8 + 1 + 4) return null;
        at += 8;                                           // mode, mtime low
        if (version >= 0x0940) at += 4;                    // mtime high
        int name = s[at++];
        if (s.Length - at < name + 4) return null;
        return at + name + 4;                              // the name and the header checksum
    }
}
