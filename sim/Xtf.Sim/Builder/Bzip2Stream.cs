using System.Runtime.CompilerServices;
namespace Xtf.Sim.Builder;

/// <summary>
/// Xen 4.17's bunzip2 (xen/common/bunzip2.c) as the dom0 builder uses it, from the bzip2 format description
/// (docs/dom0.md §2.16): "BZh1".."BZh9" (block size n × 100000), then blocks (48-bit magic 0x314159265359, block
/// CRC, no randomisation, origPtr, the used-byte map, 2–6 Huffman tables of code lengths 1–20, MTF-coded selectors,
/// the MTF/RUNA/RUNB symbols), each undone by the inverse BWT and the 4-run expansion; the end magic
/// 0x177245385090 carries the stream CRC. Xen prints one line only for a CRC mismatch (a block's, or the stream's):
/// "Data integrity error when decompressing."; every other fault (a bad magic, a table, a selector, a Huffman code
/// outside the table, a run or block over the block size, origPtr outside the block) fails with no line of its
/// own. Past the input's end a read that needs another byte gives 0 and consumes nothing.
/// </summary>
public static class Bzip2Stream
{
    public const string IntegrityMessage = "Data integrity error when decompressing.";
    private const int MaxGroups = 6, GroupSize = 50, MaxCodeBits = 20, MaxSymbols = 258;

    private sealed class Failure(string message) : Exception(message);
    private sealed class Silent() : Exception("");

    private sealed class Bits(byte[] input)
    {
        private int pos;
        private ulong buffer;
        private int count;

        /// <summary>get_bits: the next <paramref name="n"/> bits, big-endian; 0 (nothing consumed) when the input cannot supply them.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public uint Get(int n)
        {
            while (count < n)
            {
                if (pos >= input.Length) return 0;
                buffer = buffer << 8 | input[pos++];
                count += 8;
            }
            count -= n;
            return (uint)(buffer >> count) & (uint)((1UL << n) - 1);
        }

        /// <summary>The next <paramref name="n"/> bits without consuming them (zeros past the end).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public uint Peek(int n)
        {
            while (count < n && pos < input.Length) { buffer = buffer << 8 | input[pos++]; count += 8; }
            if (count >= n) return (uint)(buffer >> (count - n)) & (uint)((1UL << n) - 1);
            return (uint)(buffer << (n - count)) & (uint)((1UL << n) - 1);
        }

        public void Skip(int n) => count = Math.Max(0, count - n);
    }

    private static readonly uint[] CrcTable = MakeTable();

    private static uint[] MakeTable()
    {
        var t = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i << 24;
            for (int j = 0; j < 8; j++) c = (c & 0x80000000) != 0 ? c << 1 ^ 0x04c11db7 : c << 1;
            t[i] = c;
        }
        return t;
    }

    public static byte[] Decompress(ReadOnlySpan<byte> input, long capacity, Func<string, Exception> fail)
    {
        var output = new DecoderOutput(capacity);
        try
        {
            Run(input.ToArray(), output);
        }
        catch (Silent)
        {
            throw fail("");
        }
        catch (Failure e)
        {
            throw fail(e.Message);
        }
        return output.ToArray();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Run(byte[] s, DecoderOutput output)
    {
        var bits = new Bits(s);
        uint magic = bits.Get(32);
        uint level = magic - 0x425a6830u;     // "BZh0"
        if (level - 1 >= 9) throw new Silent();
        int blockSize = (int)level * 100000;
        var tt = new uint[blockSize];
        uint total = 0;
        while (true)
        {
            uint a = bits.Get(24), b = bits.Get(24), crc = bits.Get(32);
            if (a == 0x177245 && b == 0x385090)
            {
                if (crc != total) throw new Failure(IntegrityMessage);
                return;
            }
            if (a != 0x314159 || b != 0x265359) throw new Silent();
            int count = Block(bits, tt, blockSize, out int origPtr);
            uint blockCrc = Unbwt(tt, count, origPtr, output);
            total = (total << 1 | total >> 31) ^ blockCrc;
            if (blockCrc != crc) throw new Failure(IntegrityMessage);
        }
    }

    /// <summary>get_next_block after the magic: fills <paramref name="tt"/> with the block's bytes; their count.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int Block(Bits bits, uint[] tt, int blockSize, out int origPtr)
    {
        if (bits.Get(1) != 0) throw new Silent();                 // randomised blocks: obsolete
        origPtr = (int)bits.Get(24);
        if (origPtr >= blockSize) throw new Silent();
        Span<byte> symToByte = stackalloc byte[256];
        int symTotal = 0;
        uint used = bits.Get(16);
        for (int i = 0; i < 16; i++)
        {
            if ((used & (1u << (15 - i))) == 0) continue;
            uint k = bits.Get(16);
            for (int j = 0; j < 16; j++)
                if ((k & (1u << (15 - j))) != 0) symToByte[symTotal++] = (byte)(16 * i + j);
        }
        int groups = (int)bits.Get(3);
        if (groups < 2 || groups > MaxGroups) throw new Silent();
        int nSelectors = (int)bits.Get(15);
        if (nSelectors == 0) throw new Silent();
        var selectors = new byte[nSelectors];
        Span<byte> mtfGroup = stackalloc byte[MaxGroups];
        for (int i = 0; i < groups; i++) mtfGroup[i] = (byte)i;
        for (int i = 0; i < nSelectors; i++)
        {
            int j = 0;
            while (bits.Get(1) != 0) { if (j >= groups) throw new Silent(); j++; }
            if (j >= groups) throw new Silent();               // Xen reads past its MTF list here: not modelled, a failure
            byte g = mtfGroup[j];
            for (; j > 0; j--) mtfGroup[j] = mtfGroup[j - 1];
            mtfGroup[0] = g;
            selectors[i] = g;
        }
        int symCount = symTotal + 2;
        var tables = new Huffman[groups];
        var lengths = new byte[symCount];
        for (int g = 0; g < groups; g++)
        {
            int t = (int)bits.Get(5) - 1;
            for (int i = 0; i < symCount; i++)
            {
                while (true)
                {
                    if ((uint)t > MaxCodeBits - 1) throw new Silent();
                    if (bits.Get(1) == 0) break;
                    t += bits.Get(1) == 0 ? 1 : -1;
                }
                lengths[i] = (byte)(t + 1);
            }
            tables[g] = new Huffman(lengths, symCount);
        }

        Span<byte> mtf = stackalloc byte[256];
        for (int i = 0; i < 256; i++) mtf[i] = (byte)i;
        int count = 0, selector = 0, left = 0;
        Huffman table = tables[0];
        long run = 0, runPos = 0;
        while (true)
        {
            if (left-- == 0)
            {
                left = GroupSize - 1;
                if (selector >= nSelectors) throw new Silent();
                table = tables[selectors[selector++]];
            }
            int sym = table.Decode(bits);
            if (sym < 0) throw new Silent();
            if (sym <= 1)
            {
                if (runPos == 0) { runPos = 1; run = 0; }
                run += runPos << sym;
                if (runPos < blockSize) runPos <<= 1;
                if (run >= blockSize) throw new Silent();
                continue;
            }
            if (runPos != 0)
            {
                runPos = 0;
                if (count + run >= blockSize) throw new Silent();
                byte value = symToByte[mtf[0]];
                for (long r = 0; r < run; r++) tt[count++] = value;
            }
            if (sym > symTotal) break;                          // end of block
            if (count >= blockSize) throw new Silent();
            int at = sym - 1;
            byte m = mtf[at];
            for (; at > 0; at--) mtf[at] = mtf[at - 1];
            mtf[0] = m;
            tt[count++] = symToByte[m];
        }
        if (count > 0 && origPtr >= count) throw new Silent();
        return count;
    }

    /// <summary>The inverse BWT from origPtr, the runs of four expanded, written out; the block's CRC.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static uint Unbwt(uint[] tt, int count, int origPtr, DecoderOutput output)
    {
        Span<int> start = stackalloc int[256];
        for (int i = 0; i < count; i++) start[(int)(tt[i] & 0xff)]++;
        int sum = 0;
        for (int i = 0; i < 256; i++) { int c = start[i]; start[i] = sum; sum += c; }
        for (int i = 0; i < count; i++)
        {
            int b = (int)(tt[i] & 0xff);
            tt[start[b]++] |= (uint)i << 8;
        }
        uint crc = 0xFFFFFFFF;
        if (count == 0) return ~crc;
        uint pos = tt[origPtr] >> 8;
        int previous = -1, same = 0;
        for (int n = 0; n < count; n++)
        {
            uint entry = tt[pos];
            byte current = (byte)entry;
            pos = entry >> 8;
            if (same == 4)
            {
                for (int r = 0; r < current; r++) { output.Put((byte)previous); crc = crc << 8 ^ CrcTable[(crc >> 24) ^ (byte)previous]; }
                same = 0;
                previous = -1;
                continue;
            }
            output.Put(current);
            crc = crc << 8 ^ CrcTable[(crc >> 24) ^ current];
            same = current == previous ? same + 1 : 1;
            previous = current;
        }
        return ~crc;
    }

    /// <summary>A canonical Huffman table (codes by length, then symbol), decoded by peeking its longest length.</summary>
    private sealed class Huffman
    {
        private readonly int minLen, maxLen;
        private readonly int[] first = new int[MaxCodeBits + 2], countOf = new int[MaxCodeBits + 2], offset = new int[MaxCodeBits + 2];
        private readonly int[] symbols;

        public Huffman(byte[] lengths, int n)
        {
            minLen = 32; maxLen = 0;
            for (int i = 0; i < n; i++) { minLen = Math.Min(minLen, lengths[i]); maxLen = Math.Max(maxLen, lengths[i]); countOf[lengths[i]]++; }
            symbols = new int[n];
            int code = 0, at = 0;
            for (int len = 1; len <= MaxCodeBits; len++)
            {
                first[len] = code;
                offset[len] = at;
                for (int i = 0; i < n; i++) if (lengths[i] == len) symbols[at++] = i;
                code = (code + countOf[len]) << 1;
            }
            // Codes of up to FastBits bits straight from a table (symbol << 5 | length; 0 for longer codes).
            fastBits = Math.Min(maxLen, 10);
            fast = new int[1 << fastBits];
            for (int len = minLen; len <= fastBits; len++)
                for (int v = 0; v < countOf[len]; v++)
                {
                    int c = (first[len] + v) << (fastBits - len);
                    if (c >= fast.Length) break;
                    fast.AsSpan(c, Math.Min(1 << (fastBits - len), fast.Length - c)).Fill(symbols[offset[len] + v] << 5 | len);
                }
        }

        private readonly int fastBits;
        private readonly int[] fast;

        /// <summary>The next symbol, or -1 when the bits match no code.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public int Decode(Bits bits)
        {
            uint j = bits.Peek(maxLen);
            int hit = fast[j >> (maxLen - fastBits)];
            if (hit != 0)
            {
                bits.Skip(hit & 31);
                return hit >> 5;
            }
            for (int len = minLen; len <= maxLen; len++)
            {
                int v = (int)(j >> (maxLen - len)) - first[len];
                if (v >= 0 && v < countOf[len])
                {
                    bits.Skip(len);
                    return symbols[offset[len] + v];
                }
            }
            return -1;
        }
    }
}
