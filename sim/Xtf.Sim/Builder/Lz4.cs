using System.Buffers.Binary;

namespace Xtf.Sim.Builder;

/// <summary>
/// Xen 4.17's unlz4 (xen/common/unlz4.c with its lz4 block decoder) as the dom0 builder uses it, written
/// from the LZ4 block format and Xen's observable rules (docs/dom0.md §2.16):
/// <list type="bullet">
/// <item>the stream is the legacy frame: the magic 0x184C2102 (else "invalid header"), then blocks, each
/// behind a 4-byte length; a repeated magic is skipped; the last 4 bytes of the input are the total
/// output size, not data;</item>
/// <item>each block is decoded to an exact output size (8 MiB, the last one what is left of the total):
/// the length written in front of a block is not used, the decoder's own consumption is; the input
/// must then end exactly after a block (else "data corrupted");</item>
/// <item>a block that breaks the decoder's rules (a match before the output's start, past its end or
/// within the last literals, literals that end near but not at the end) is "Decoding failed".</item>
/// </list>
/// The output is what was decoded (at most the claimed total).
/// </summary>
public static class Lz4Legacy
{
    public const uint Magic = 0x184C2102;
    public const int ChunkSize = 8 << 20;
    private const int CopyLength = 8;

    public static byte[] Decompress(ReadOnlySpan<byte> input, Func<string, Exception> fail)
    {
        if (input.Length < 4) throw fail("invalid header");
        long size = input.Length - 4;
        long outLeft = BinaryPrimitives.ReadUInt32LittleEndian(input[^4..]);
        var output = new byte[outLeft];
        long op = 0;
        long ip = 0;
        if (Read32(input, ip) != Magic) throw fail("invalid header");
        ip += 4;
        size -= 4;
        while (true)
        {
            if (Read32(input, ip) == Magic)
            {
                ip += 4;
                size -= 4;
                continue;
            }
            ip += 4;
            size -= 4;
            long dest = Math.Min(outLeft, ChunkSize);
            outLeft -= dest;
            long consumed = Block(input, ip, output, op, dest);
            if (consumed < 0) throw fail("Decoding failed");
            op += dest;
            size -= consumed;
            if (size == 0) break;
            if (size < 0) throw fail("data corrupted");
            ip += consumed;
        }
        return output;
    }

    /// <summary>A byte of the input; past its end the model reads zeros (Xen reads whatever follows).</summary>
    private static byte In(ReadOnlySpan<byte> s, long at) => at >= 0 && at < s.Length ? s[(int)at] : (byte)0;

    private static uint Read32(ReadOnlySpan<byte> s, long at) =>
        (uint)(In(s, at) | In(s, at + 1) << 8 | In(s, at + 2) << 16 | In(s, at + 3) << 24);

    /// <summary>Decodes one block to exactly <paramref name="length"/> bytes at <paramref name="start"/>; the input bytes used, or -1.</summary>
    private static long Block(ReadOnlySpan<byte> s, long source, byte[] output, long start, long length)
    {
        long ip = source, op = start, end = start + length;
        while (true)
        {
            int token = In(s, ip++);
            long literals = token >> 4;
            if (literals == 15)
            {
                int b;
                do { b = In(s, ip++); literals += b; } while (b == 255);
            }
            long literalEnd = op + literals;
            if (literalEnd > end - CopyLength)
            {
                if (literalEnd != end) return -1;   // the last literals must end the block exactly
                Copy(s, ip, output, op, literals);
                ip += literals;
                return ip - source;
            }
            Copy(s, ip, output, op, literals);
            ip += literals;
            op = literalEnd;

            long offset = In(s, ip) | In(s, ip + 1) << 8;
            ip += 2;
            long reference = op - offset;
            if (reference < start) return -1;       // before the output's start (Xen's decoder measures from the block's)
            long match = token & 15;
            if (match == 15)
            {
                int b;
                do { b = In(s, ip++); match += b; } while (b == 255);
            }
            match += 4;
            long matchEnd = op + match;
            if (matchEnd > end - CopyLength)
            {
                if (matchEnd > end || reference + 2 * CopyLength > end || matchEnd == end) return -1;
            }
            for (long i = 0; i < match; i++) output[op + i] = output[reference + i];   // overlapping copies repeat the pattern
            op = matchEnd;
        }
    }

    private static void Copy(ReadOnlySpan<byte> s, long from, byte[] output, long to, long count)
    {
        for (long i = 0; i < count; i++) output[to + i] = In(s, from + i);
    }
}
