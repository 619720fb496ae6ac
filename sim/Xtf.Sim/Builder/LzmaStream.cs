using System.Runtime.CompilerServices;
namespace Xtf.Sim.Builder;

/// <summary>
/// The output of a dom0 decompressor: Xen writes into the headroom with no bound (its buffer size is "unlimited");
/// the model keeps at most <see cref="Capacity"/> bytes (the headroom, in front of the module), allocated as they
/// are written, and reports a stream that would write further as not modelled (Xen would write over its own input).
/// </summary>
internal sealed class DecoderOutput(long capacity)
{
    /// <summary>The bytes so far (grown by doubling up to <see cref="Capacity"/>; valid through <see cref="Length"/>).</summary>
    public byte[] Buffer = new byte[Math.Min(Math.Max(0, capacity), 1 << 20)];
    public long Capacity { get; } = Math.Max(0, Math.Min(capacity, Array.MaxLength));
    public int Length;

    public void Put(byte b)
    {
        if (Length >= Buffer.Length) Grow(1);
        Buffer[Length++] = b;
    }

    /// <summary>The byte <paramref name="distance"/> + 1 back (0 before the output's start).</summary>
    public byte Back(long distance)
    {
        long at = Length - 1 - distance;
        return at >= 0 && at < Length ? Buffer[at] : (byte)0;
    }

    public void Copy(long distance, int count)
    {
        if (Length + (long)count > Buffer.Length) Grow(count);
        long from = Length - 1 - distance;
        if (from >= 0 && distance + 1 >= count)
        {
            Buffer.AsSpan((int)from, count).CopyTo(Buffer.AsSpan(Length));
            Length += count;
            return;
        }
        for (int i = 0; i < count; i++, from++) Buffer[Length++] = from >= 0 ? Buffer[from] : (byte)0;
    }

    public void Write(ReadOnlySpan<byte> bytes)
    {
        if (Length + (long)bytes.Length > Buffer.Length) Grow(bytes.Length);
        bytes.CopyTo(Buffer.AsSpan(Length));
        Length += bytes.Length;
    }

    public byte[] ToArray() => Length == Buffer.Length ? Buffer : Buffer.AsSpan(0, Length).ToArray();

    /// <summary>Room for <paramref name="more"/> bytes, or the headroom is exceeded (not modelled).</summary>
    private void Grow(long more)
    {
        long need = Length + more;
        if (need > Capacity)
            throw new NotSupportedException($"a dom0 kernel that decompresses past its {Capacity}-byte headroom (over its own input in Xen) is not modelled (docs/dom0.md §2.16)");
        long size = Math.Max(need, Math.Min(Capacity, Math.Max(4096L, (long)Buffer.Length * 2)));
        Array.Resize(ref Buffer, (int)size);
    }
}

/// <summary>
/// The LZMA range decoder (the format's public description): 11-bit probabilities moved by 1/32, a 32-bit range
/// normalised below 2^24. What happens past the input's end is the caller's (<see cref="PastEnd"/>).
/// </summary>
internal sealed class RangeDecoder(byte[] input, int start, int end)
{
    public uint Range = 0xFFFFFFFF, Code;
    public int Position = start;
    public int End = end;
    /// <summary>How many bytes were asked for past <see cref="End"/>.</summary>
    public int Overruns;
    /// <summary>The byte read past the end (unlzma reads its buffer's first byte again; xz stops at a chunk's end).</summary>
    public byte PastEndByte;
    public byte Next()
    {
        if (Position < End) return input[Position++];
        Overruns++;
        return PastEndByte;
    }

    public void Init()
    {
        Range = 0xFFFFFFFF;
        Code = 0;
        for (int i = 0; i < 5; i++) Code = Code << 8 | Next();
    }

    public void Normalize()
    {
        if (Range < 1u << 24) { Range <<= 8; Code = Code << 8 | Next(); }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int Bit(ref ushort p)
    {
        if (Range < 1u << 24) { Range <<= 8; Code = Code << 8 | Next(); }
        uint bound = (Range >> 11) * p;
        if (Code < bound)
        {
            Range = bound;
            p += (ushort)((2048 - p) >> 5);
            return 0;
        }
        Range -= bound;
        Code -= bound;
        p -= (ushort)(p >> 5);
        return 1;
    }

    public uint Direct(int count)
    {
        uint result = 0;
        for (int i = 0; i < count; i++)
        {
            if (Range < 1u << 24) { Range <<= 8; Code = Code << 8 | Next(); }
            Range >>= 1;
            uint bit = Code >= Range ? 1u : 0u;
            if (bit != 0) Code -= Range;
            result = result << 1 | bit;
        }
        return result;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int Tree(ushort[] probs, int offset, int bits)
    {
        int m = 1;
        for (int i = 0; i < bits; i++) m = m << 1 | Bit(ref probs[offset + m]);
        return m - (1 << bits);
    }

    public int ReverseTree(ushort[] probs, int offset, int bits)
    {
        int m = 1, result = 0;
        for (int i = 0; i < bits; i++)
        {
            int bit = Bit(ref probs[offset + m]);
            m = m << 1 | bit;
            result |= bit << i;
        }
        return result;
    }
}

/// <summary>
/// The LZMA decoder's model (literal coder with lc/lp, match/rep flags, length and distance coders) as the
/// format describes it, shared by "lzma alone" (<see cref="LzmaStream"/>) and LZMA2 (<see cref="XzStream"/>).
/// Distances are kept 0-based (Xen's unlzma keeps them 1-based: the same values).
/// </summary>
internal sealed class LzmaModel
{
    public int Lc, Lp, Pb;
    public int State;
    public uint Rep0, Rep1, Rep2, Rep3;
    private readonly ushort[] isMatch = new ushort[12 << 4], isRep = new ushort[12], isRepG0 = new ushort[12],
        isRepG1 = new ushort[12], isRepG2 = new ushort[12], isRep0Long = new ushort[12 << 4],
        posSlot = new ushort[4 << 6], posSpecial = new ushort[1 + 114], align = new ushort[16],
        lenCoder = new ushort[LenSize], repLenCoder = new ushort[LenSize];
    private ushort[] literal = [];
    // choice, choice2, low[16][8], mid[16][8], high[256]
    private const int LenSize = 2 + 16 * 8 + 16 * 8 + 256, LowAt = 2, MidAt = 2 + 128, HighAt = 2 + 256;

    public void SetProperties(int lc, int lp, int pb)
    {
        Lc = lc; Lp = lp; Pb = pb;
        int size = 0x300 << (lc + lp);
        if (literal.Length != size) literal = new ushort[size];
    }

    /// <summary>All probabilities to 1/2, state 0, the four distances 0.</summary>
    public void Reset()
    {
        foreach (var a in new[] { isMatch, isRep, isRepG0, isRepG1, isRepG2, isRep0Long, posSlot, posSpecial, align, lenCoder, repLenCoder, literal })
            a.AsSpan().Fill(1024);
        State = 0;
        Rep0 = Rep1 = Rep2 = Rep3 = 0;
    }

    public enum Step { Literal, Match, Rep, EndMarker }

    /// <summary>
    /// Decodes one packet at output position <paramref name="pos"/>. A literal is written to <paramref name="output"/>;
    /// for a match, <paramref name="length"/> and <see cref="Rep0"/> say what to copy (the caller checks the distance).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public Step Decode(RangeDecoder rc, DecoderOutput output, long pos, byte previous, out int length)
    {
        int posState = (int)pos & ((1 << Pb) - 1);
        length = 0;
        if (rc.Bit(ref isMatch[State << 4 | posState]) == 0)
        {
            int at = 0x300 * (int)((((uint)pos & ((1u << Lp) - 1)) << Lc) + ((uint)previous >> (8 - Lc)));
            int symbol = 1;
            if (State >= 7)
            {
                int match = output.Back(Rep0);
                while (symbol < 0x100)
                {
                    int matchBit = (match >> 7) & 1;
                    match <<= 1;
                    int bit = rc.Bit(ref literal[at + ((1 + matchBit) << 8) + symbol]);
                    symbol = symbol << 1 | bit;
                    if (matchBit != bit) break;
                }
            }
            while (symbol < 0x100) symbol = symbol << 1 | rc.Bit(ref literal[at + symbol]);
            output.Put((byte)symbol);
            State = State < 4 ? 0 : State < 10 ? State - 3 : State - 6;
            return Step.Literal;
        }
        if (rc.Bit(ref isRep[State]) == 0)
        {
            Rep3 = Rep2; Rep2 = Rep1; Rep1 = Rep0;
            length = Length(rc, lenCoder, posState);
            State = State < 7 ? 7 : 10;
            Rep0 = Distance(rc, length);
            return Rep0 == 0xFFFFFFFF ? Step.EndMarker : Step.Match;
        }
        if (rc.Bit(ref isRepG0[State]) == 0)
        {
            if (rc.Bit(ref isRep0Long[State << 4 | posState]) == 0)
            {
                State = State < 7 ? 9 : 11;
                length = 1;
                return Step.Rep;
            }
        }
        else
        {
            uint distance;
            if (rc.Bit(ref isRepG1[State]) == 0) distance = Rep1;
            else
            {
                if (rc.Bit(ref isRepG2[State]) == 0) distance = Rep2;
                else { distance = Rep3; Rep3 = Rep2; }
                Rep2 = Rep1;
            }
            Rep1 = Rep0;
            Rep0 = distance;
        }
        length = Length(rc, repLenCoder, posState);
        State = State < 7 ? 8 : 11;
        return Step.Rep;
    }

    private static int Length(RangeDecoder rc, ushort[] p, int posState)
    {
        if (rc.Bit(ref p[0]) == 0) return 2 + rc.Tree(p, LowAt + (posState << 3), 3);
        if (rc.Bit(ref p[1]) == 0) return 2 + 8 + rc.Tree(p, MidAt + (posState << 3), 3);
        return 2 + 16 + rc.Tree(p, HighAt - 1, 8);
    }

    private uint Distance(RangeDecoder rc, int length)
    {
        int lenState = Math.Min(length - 2, 3);
        int slot = rc.Tree(posSlot, lenState << 6, 6);
        if (slot < 4) return (uint)slot;
        int direct = (slot >> 1) - 1;
        uint distance = (uint)(2 | (slot & 1)) << direct;
        if (slot < 14) return distance + (uint)rc.ReverseTree(posSpecial, (int)distance - slot, direct);
        distance += rc.Direct(direct - 4) << 4;
        return distance + (uint)rc.ReverseTree(align, 0, 4);
    }
}

/// <summary>
/// Xen 4.17's unlzma (xen/common/unlzma.c) as the dom0 builder uses it, from the "lzma alone" format (docs/dom0.md
/// §2.16): a 13-byte header (properties byte, dictionary size, 64-bit output size; a properties byte of 225 or more
/// is "bad header"); packets are decoded while the output is shorter than the header's size (all ones: until the
/// end marker). A new match farther back than the output or the dictionary is "LZMA data is corrupt". Input past
/// the end prints "unexpected EOF" for each byte asked for (the decoder then reads its buffer's first byte), and the
/// packet's end stops the build; reaching the end marker first does not.
/// </summary>
public static class LzmaStream
{
    public const int HeaderSize = 13;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static byte[] Decompress(ReadOnlySpan<byte> input, long capacity, Func<string, Exception> fail)
    {
        byte[] s = input.ToArray();
        // Each byte asked for past the end prints "unexpected EOF" (and reads the buffer's first byte again).
        var rc = new RangeDecoder(s, 0, s.Length) { PastEndByte = s.Length > 0 ? s[0] : (byte)0 };
        Span<byte> header = stackalloc byte[HeaderSize];
        for (int i = 0; i < HeaderSize; i++) header[i] = rc.Next();
        if (header[0] >= 9 * 5 * 5) throw Fail(rc.Overruns, "bad header", fail);
        int props = header[0];
        uint dictionary = BitConverter.ToUInt32(header[1..5]);
        ulong size = BitConverter.ToUInt64(header[5..13]);
        if (dictionary == 0) dictionary = 1;
        var model = new LzmaModel();
        model.SetProperties(props % 9, props / 9 % 5, props / 45);
        model.Reset();
        var output = new DecoderOutput(capacity);
        rc.Init();
        byte previous = 0;
        while ((ulong)output.Length < size)
        {
            var step = model.Decode(rc, output, output.Length, previous, out int length);
            if (step == LzmaModel.Step.EndMarker) break;
            if (step != LzmaModel.Step.Literal)
            {
                // A new match is checked against the dictionary and the output so far; a repeated one is not.
                if (step == LzmaModel.Step.Match && ((ulong)model.Rep0 + 1 > dictionary || (ulong)model.Rep0 + 1 > (ulong)output.Length))
                    throw Fail(rc.Overruns, "LZMA data is corrupt", fail);
                output.Copy(model.Rep0, length);
            }
            previous = output.Back(0);
            if (rc.Overruns > 0) throw Fail(rc.Overruns, null, fail);
        }
        return output.ToArray();
    }

    private static Exception Fail(int eofs, string? last, Func<string, Exception> fail)
    {
        var lines = Enumerable.Repeat("unexpected EOF", eofs).ToList();
        if (last is not null) lines.Add(last);
        return fail(string.Join('\n', lines));
    }
}
