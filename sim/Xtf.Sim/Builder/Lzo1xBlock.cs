using System.Runtime.CompilerServices;
namespace Xtf.Sim.Builder;

/// <summary>
/// LZO1X block decoding as Xen 4.17's lzo1x_decompress_safe does it (xen/common/lzo.c), written from the LZO1X
/// instruction format (docs/dom0.md §2.16): a first byte over 17 is a literal run of byte − 17; then instructions
/// by their first byte: 0–15 a literal run (after a match that copied no literals) or a 2/3-byte short match,
/// 16–31 a far match (distance 16384 + …; distance 16384 itself is the end marker), 32–63 a match up to 16 KiB
/// back, 64–255 a short match up to 2 KiB back; the low two bits of a match's distance field copy 0–3 literals.
/// The input is bounded by the block, the output by the block's claimed size, and a match may not reach before
/// the output's start. Only an exact result is OK: the end marker found with the input used up.
/// </summary>
public static class Lzo1xBlock
{
    public enum Result { Ok, Error, InputOverrun, OutputOverrun, LookbehindOverrun, InputNotConsumed }

    private const int M2MaxOffset = 0x0800;

    /// <summary>Decodes <paramref name="input"/> into <paramref name="output"/> (its length is the limit); the result and the bytes written.</summary>
    private static byte In(ReadOnlySpan<byte> s, int at) => at < s.Length ? s[at] : (byte)0;

    /// <summary>
    /// A length whose count field was 0: each zero byte adds 255, then the first non-zero byte plus
    /// <paramref name="bias"/> (the field's base). False when the zeros run to the end of the input.
    /// </summary>
    private static bool LongLength(ReadOnlySpan<byte> input, ref int ip, int bias, out int length)
    {
        int last = ip;
        while (In(input, ip) == 0)
        {
            ip++;
            if (ip >= input.Length)
            {
                length = 0;
                return false;
            }
        }
        long zeros = ip - last;
        length = (int)Math.Min(int.MaxValue / 2, bias + (zeros << 8) - zeros + In(input, ip++));
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static Result Decompress(ReadOnlySpan<byte> input, Span<byte> output, out int written)
    {
        int ip = 0, op = 0, end = input.Length, outEnd = output.Length;
        int t, next, mPos, state = 0;
        written = 0;
        if (end < 3) return Result.InputOverrun;
        bool literalFirst = false, matchNextFirst = false;
        t = 0;
        next = 0;
        if (input[0] > 17)
        {
            t = input[ip++] - 17;
            if (t < 4) { next = t; matchNextFirst = true; }
            else literalFirst = true;
        }
        while (true)
        {
            bool copyMatch = true;
            if (matchNextFirst) { matchNextFirst = false; copyMatch = false; goto MatchNext; }
            if (literalFirst) { literalFirst = false; goto CopyLiteral; }
            t = In(input, ip++);
            if (t < 16)
            {
                if (state == 0)
                {
                    if (t == 0)
                    {
                        if (!LongLength(input, ref ip, 15, out t)) { written = op; return Result.InputOverrun; }
                    }
                    t += 3;
                    goto CopyLiteral;
                }
                if (state != 4)
                {
                    next = t & 3;
                    mPos = op - 1 - (t >> 2) - (In(input, ip++) << 2);
                    if (mPos < 0) { written = op; return Result.LookbehindOverrun; }
                    if (outEnd - op < 2) { written = op; return Result.OutputOverrun; }
                    output[op] = output[mPos];
                    output[op + 1] = output[mPos + 1];
                    op += 2;
                    copyMatch = false;
                    goto MatchNext;
                }
                next = t & 3;
                mPos = op - (1 + M2MaxOffset) - (t >> 2) - (In(input, ip++) << 2);
                t = 3;
            }
            else if (t >= 64)
            {
                next = t & 3;
                mPos = op - 1 - ((t >> 2) & 7) - (In(input, ip++) << 3);
                t = (t >> 5) - 1 + 2;
            }
            else if (t >= 32)
            {
                t = (t & 31) + 2;
                if (t == 2)
                {
                    if (!LongLength(input, ref ip, t + 31, out t)) { written = op; return Result.InputOverrun; }
                    if (end - ip < 2) { written = op; return Result.InputOverrun; }
                }
                next = In(input, ip) | In(input, ip + 1) << 8;
                ip += 2;
                mPos = op - 1 - (next >> 2);
                next &= 3;
            }
            else
            {
                mPos = op - ((t & 8) << 11);
                t = (t & 7) + 2;
                if (t == 2)
                {
                    if (!LongLength(input, ref ip, t + 7, out t)) { written = op; return Result.InputOverrun; }
                    if (end - ip < 2) { written = op; return Result.InputOverrun; }
                }
                next = In(input, ip) | In(input, ip + 1) << 8;
                ip += 2;
                mPos -= next >> 2;
                next &= 3;
                if (mPos == op)
                {
                    written = op;
                    return t != 3 ? Result.Error : ip == end ? Result.Ok : ip < end ? Result.InputNotConsumed : Result.InputOverrun;
                }
                mPos -= 0x4000;
            }
            if (mPos < 0) { written = op; return Result.LookbehindOverrun; }
            if (outEnd - op < t) { written = op; return Result.OutputOverrun; }
            for (int i = 0; i < t; i++) output[op + i] = output[mPos + i];
            op += t;
            goto MatchNext;

        CopyLiteral:
            if (outEnd - op < t) { written = op; return Result.OutputOverrun; }
            if (end - ip < t + 3) { written = op; return Result.InputOverrun; }
            input.Slice(ip, t).CopyTo(output[op..]);
            ip += t;
            op += t;
            state = 4;
            continue;

        MatchNext:
            _ = copyMatch;
            state = next;
            t = next;
            if (end - ip < t + 3) { written = op; return Result.InputOverrun; }
            if (outEnd - op < t) { written = op; return Result.OutputOverrun; }
            input.Slice(ip, t).CopyTo(output[op..]);
            ip += t;
            op += t;
        }
    }
}
