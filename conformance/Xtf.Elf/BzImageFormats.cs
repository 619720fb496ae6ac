using System.Buffers.Binary;

namespace Xtf.Elf;

/// <summary>
/// Small writers of the other formats Xen's dom0 builder decompresses (docs/dom0.md §2.16), written from the
/// formats' public descriptions so that the suite needs no external tool: each produces a valid stream that
/// compresses a little (enough to take the decoder's real paths), followed by the 4-byte size trailer the
/// kernel build appends.
/// </summary>
public static partial class BzImage
{
    /// <summary><paramref name="elf"/> as an "lzma alone" stream inside a bzImage.</summary>
    public static byte[] WrapLzma(ReadOnlySpan<byte> elf) => Wrap(Trailer(CompressLzma(elf), elf.Length));
    /// <summary><paramref name="elf"/> as a .xz stream (CRC32 check, LZMA2) inside a bzImage.</summary>
    public static byte[] WrapXz(ReadOnlySpan<byte> elf) => Wrap(Trailer(CompressXz(elf), elf.Length));
    /// <summary><paramref name="elf"/> as a bzip2 stream inside a bzImage.</summary>
    public static byte[] WrapBzip2(ReadOnlySpan<byte> elf) => Wrap(Trailer(CompressBzip2(elf), elf.Length));
    /// <summary><paramref name="elf"/> as a zstd frame inside a bzImage.</summary>
    public static byte[] WrapZstd(ReadOnlySpan<byte> elf) => Wrap(Trailer(CompressZstd(elf), elf.Length));
    /// <summary><paramref name="elf"/> as an lzop file of LZO1X-compressed blocks inside a bzImage.</summary>
    public static byte[] WrapLzo1x(ReadOnlySpan<byte> elf) => Wrap(CompressLzop(elf));

    private static byte[] Trailer(byte[] stream, int size)
    {
        var o = new byte[stream.Length + 4];
        stream.CopyTo(o, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(o.AsSpan(stream.Length), (uint)size);
        return o;
    }

    // ---- LZMA: a range coder over literals and "short rep" packets (a byte equal to the one before it). ----

    private sealed class RangeEncoder
    {
        public readonly List<byte> Output = [];
        private ulong low;
        private uint range = 0xFFFFFFFF;
        private byte cache;
        private long cacheSize = 1;

        public void Bit(ref ushort p, int bit)
        {
            uint bound = (range >> 11) * p;
            if (bit == 0) { range = bound; p += (ushort)((2048 - p) >> 5); }
            else { low += bound; range -= bound; p -= (ushort)(p >> 5); }
            while (range < 1u << 24) { range <<= 8; ShiftLow(); }
        }

        private void ShiftLow()
        {
            if ((uint)low < 0xFF000000u || (low >> 32) != 0)
            {
                byte carry = (byte)(low >> 32), temp = cache;
                do { Output.Add((byte)(temp + carry)); temp = 0xFF; } while (--cacheSize != 0);
                cache = (byte)(low >> 24);
            }
            cacheSize++;
            low = (low & 0x00FFFFFF) << 8;
        }

        public void Flush() { for (int i = 0; i < 5; i++) ShiftLow(); }
    }

    /// <summary>The LZMA model for lc=3, lp=0, pb=2, encoding literals and short reps (distance 1).</summary>
    private sealed class LzmaLiteralEncoder
    {
        private readonly ushort[] isMatch = new ushort[192], isRep = new ushort[12], isRepG0 = new ushort[12], isRep0Long = new ushort[192];
        private readonly ushort[] literal = new ushort[0x300 << 3];
        private int state;

        public LzmaLiteralEncoder()
        {
            foreach (var a in new[] { isMatch, isRep, isRepG0, isRep0Long, literal }) a.AsSpan().Fill(1024);
        }

        /// <summary>Encodes data[from..to) where positions count from <paramref name="origin"/> (the dictionary's start).</summary>
        public void Encode(RangeEncoder rc, ReadOnlySpan<byte> data, int from, int to, int origin)
        {
            for (int i = from; i < to; i++)
            {
                int pos = i - origin, posState = pos & 3;
                byte b = data[i];
                byte previous = pos > 0 ? data[i - 1] : (byte)0;
                if (pos > 0 && b == previous)
                {
                    rc.Bit(ref isMatch[state << 4 | posState], 1);
                    rc.Bit(ref isRep[state], 1);
                    rc.Bit(ref isRepG0[state], 0);
                    rc.Bit(ref isRep0Long[state << 4 | posState], 0);
                    state = state < 7 ? 9 : 11;
                    continue;
                }
                rc.Bit(ref isMatch[state << 4 | posState], 0);
                int at = 0x300 * (previous >> 5);
                int m = 1;
                if (state >= 7)
                {
                    int match = previous;                      // rep0 is distance 1: the byte before
                    bool same = true;
                    for (int k = 7; k >= 0; k--)
                    {
                        int bit = (b >> k) & 1;
                        if (same)
                        {
                            int matchBit = (match >> k) & 1;
                            rc.Bit(ref literal[at + ((1 + matchBit) << 8) + m], bit);
                            same = matchBit == bit;
                        }
                        else rc.Bit(ref literal[at + m], bit);
                        m = m << 1 | bit;
                    }
                }
                else
                {
                    for (int k = 7; k >= 0; k--)
                    {
                        int bit = (b >> k) & 1;
                        rc.Bit(ref literal[at + m], bit);
                        m = m << 1 | bit;
                    }
                }
                state = state < 4 ? 0 : state < 10 ? state - 3 : state - 6;
            }
        }
    }

    /// <summary>An "lzma alone" stream: properties 0x5d (lc 3, lp 0, pb 2), an 8 MiB dictionary, the size, the packets.</summary>
    public static byte[] CompressLzma(ReadOnlySpan<byte> data)
    {
        var rc = new RangeEncoder();
        new LzmaLiteralEncoder().Encode(rc, data, 0, data.Length, 0);
        rc.Flush();
        var o = new byte[13 + rc.Output.Count];
        o[0] = 0x5d;
        BinaryPrimitives.WriteUInt32LittleEndian(o.AsSpan(1), 8 << 20);
        BinaryPrimitives.WriteUInt64LittleEndian(o.AsSpan(5), (ulong)data.Length);
        rc.Output.CopyTo(o, 13);
        return o;
    }

    /// <summary>
    /// A .xz stream: one block (LZMA2) of 32 KiB LZMA chunks, its check, the index, the footer. <paramref name="check"/>
    /// is the check type written: 1 (CRC32) or 0 (none); any other writes its ID with a 4-byte zero field, for tests of
    /// decoders that refuse the type from the stream header on.
    /// </summary>
    public static byte[] CompressXz(ReadOnlySpan<byte> data, byte check = 1)
    {
        var o = new List<byte>();
        void U32(uint v) { var b = new byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(b, v); o.AddRange(b); }
        void Vli(ulong v) { while (v >= 0x80) { o.Add((byte)(v | 0x80)); v >>= 7; } o.Add((byte)v); }
        o.AddRange([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, check]);
        U32(Crc32(o.ToArray().AsSpan(6, 2)));
        int blockStart = o.Count;
        byte[] header = [0x02, 0x00, 0x21, 0x01, 0x16, 0x00, 0x00, 0x00];   // size (3+1)*4, flags, LZMA2, 1 byte: 8 MiB
        o.AddRange(header);
        U32(Crc32(header));
        int dataStart = o.Count;
        var encoder = new LzmaLiteralEncoder();
        const int Chunk = 32 << 10;
        for (int at = 0; at < data.Length; at += Chunk)
        {
            int n = Math.Min(Chunk, data.Length - at);
            var rc = new RangeEncoder();
            if (at > 0) encoder = new LzmaLiteralEncoder();
            encoder.Encode(rc, data, at, at + n, 0);
            rc.Flush();
            int packed = rc.Output.Count;
            o.Add((byte)((at == 0 ? 0xE0 : 0xA0) | ((n - 1) >> 16)));
            o.Add((byte)((n - 1) >> 8)); o.Add((byte)(n - 1));
            o.Add((byte)((packed - 1) >> 8)); o.Add((byte)(packed - 1));
            if (at == 0) o.Add(0x5d);
            o.AddRange(rc.Output);
        }
        o.Add(0x00);
        ulong compressed = (ulong)(o.Count - dataStart);
        while ((o.Count - blockStart) % 4 != 0) o.Add(0);
        int checkSize = check == 0 ? 0 : 4;
        if (check == 1) U32(Crc32(data));
        else if (check != 0) U32(0);
        ulong unpadded = (ulong)header.Length + 4 + compressed + (ulong)checkSize;
        int indexStart = o.Count;
        o.Add(0x00);
        Vli(1);
        Vli(unpadded);
        Vli((ulong)data.Length);
        while ((o.Count - indexStart) % 4 != 0) o.Add(0);
        U32(Crc32(o.ToArray().AsSpan(indexStart)));
        int indexSize = o.Count - indexStart;
        var footer = new byte[6];
        BinaryPrimitives.WriteUInt32LittleEndian(footer, (uint)(indexSize / 4 - 1));
        footer[5] = check;
        U32(Crc32(footer));
        o.AddRange(footer);
        o.AddRange("YZ"u8.ToArray());
        return [.. o];
    }

    private static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (uint)-(int)(crc & 1));
        }
        return ~crc;
    }

    // ---- zstd: RLE blocks for uniform runs, else alternately compressed blocks of raw literals and raw blocks. ----

    /// <summary>A zstd frame (single segment, 4-byte content size, no checksum) of 64 KiB blocks.</summary>
    public static byte[] CompressZstd(ReadOnlySpan<byte> data)
    {
        var o = new List<byte>();
        o.AddRange([0x28, 0xb5, 0x2f, 0xfd, 0xA0]);
        var size = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(size, (uint)data.Length);
        o.AddRange(size);
        const int Block = 64 << 10;
        int index = 0;
        for (int at = 0; at < data.Length || index == 0; at += Block, index++)
        {
            var chunk = data.Slice(at, Math.Min(Block, data.Length - at));
            int last = at + chunk.Length >= data.Length ? 1 : 0;
            bool uniform = chunk.Length > 0 && chunk.IndexOfAnyExcept(chunk[0]) < 0;
            void Header(int type, int length) { uint h = (uint)(last | type << 1 | length << 3); o.Add((byte)h); o.Add((byte)(h >> 8)); o.Add((byte)(h >> 16)); }
            if (uniform) { Header(1, chunk.Length); o.Add(chunk[0]); }
            else if (index % 2 == 0 && chunk.Length > 0)
            {
                Header(2, 3 + chunk.Length + 1);
                o.Add((byte)(chunk.Length << 4 | 3 << 2)); o.Add((byte)(chunk.Length >> 4)); o.Add((byte)(chunk.Length >> 12));
                o.AddRange(chunk.ToArray());
                o.Add(0);                                       // no sequences
            }
            else { Header(0, chunk.Length); o.AddRange(chunk.ToArray()); }
        }
        return [.. o];
    }

    // ---- bzip2: run-length, BWT (rotation sort by prefix doubling), MTF/RUNA/RUNB, two equal flat Huffman tables. ----

    private sealed class BitWriter
    {
        public readonly List<byte> Output = [];
        private ulong buffer;
        private int count;

        public void Put(int bits, uint value)
        {
            for (int i = bits - 1; i >= 0; i--)
            {
                buffer = buffer << 1 | ((value >> i) & 1);
                if (++count == 8) { Output.Add((byte)buffer); buffer = 0; count = 0; }
            }
        }

        public void Flush() { if (count > 0) Put(8 - count, 0); }
    }

    private static uint Bzip2Crc(uint crc, byte b)
    {
        crc ^= (uint)b << 24;
        for (int k = 0; k < 8; k++) crc = (crc & 0x80000000) != 0 ? crc << 1 ^ 0x04c11db7 : crc << 1;
        return crc;
    }

    /// <summary>A bzip2 stream ("BZh9") of blocks of at most 64 KiB of input each.</summary>
    public static byte[] CompressBzip2(ReadOnlySpan<byte> data)
    {
        var w = new BitWriter();
        w.Put(32, 0x425a6839);
        uint combined = 0;
        const int Chunk = 64 << 10;
        for (int at = 0; at < data.Length; at += Chunk)
        {
            var chunk = data.Slice(at, Math.Min(Chunk, data.Length - at));
            uint crc = 0xFFFFFFFF;
            foreach (byte b in chunk) crc = Bzip2Crc(crc, b);
            crc = ~crc;
            combined = (combined << 1 | combined >> 31) ^ crc;
            Bzip2Block(w, RunLength(chunk), crc);
        }
        w.Put(24, 0x177245); w.Put(24, 0x385090); w.Put(32, combined);
        w.Flush();
        return [.. w.Output];
    }

    /// <summary>The first run-length stage: runs of 4–255 equal bytes become 4 bytes and a count.</summary>
    private static byte[] RunLength(ReadOnlySpan<byte> data)
    {
        var o = new List<byte>(data.Length + data.Length / 4 + 4);
        for (int i = 0; i < data.Length;)
        {
            int run = 1;
            while (i + run < data.Length && run < 255 && data[i + run] == data[i]) run++;
            if (run >= 4) { o.AddRange([data[i], data[i], data[i], data[i], (byte)(run - 4)]); }
            else for (int k = 0; k < run; k++) o.Add(data[i]);
            i += run;
        }
        return [.. o];
    }

    private static void Bzip2Block(BitWriter w, byte[] block, uint crc)
    {
        int n = block.Length;
        // Rotations sorted by prefix doubling.
        var sa = new int[n];
        var rank = new int[n];
        var next = new int[n];
        for (int i = 0; i < n; i++) { sa[i] = i; rank[i] = block[i]; }
        for (int k = 1; ; k <<= 1)
        {
            int kk = k % n;
            Comparison<int> cmp = (a, b) =>
            {
                int c = rank[a].CompareTo(rank[b]);
                return c != 0 ? c : rank[(a + kk) % n].CompareTo(rank[(b + kk) % n]);
            };
            Array.Sort(sa, cmp);
            next[sa[0]] = 0;
            for (int i = 1; i < n; i++) next[sa[i]] = next[sa[i - 1]] + (cmp(sa[i - 1], sa[i]) < 0 ? 1 : 0);
            Array.Copy(next, rank, n);
            if (rank[sa[n - 1]] == n - 1 || k >= n) break;
        }
        int origPtr = Array.IndexOf(sa, 0);
        var last = new byte[n];
        for (int i = 0; i < n; i++) last[i] = block[(sa[i] + n - 1) % n];

        var inUse = new bool[256];
        foreach (byte b in block) inUse[b] = true;
        var seqToUnseq = new List<byte>();
        for (int i = 0; i < 256; i++) if (inUse[i]) seqToUnseq.Add((byte)i);
        int nInUse = seqToUnseq.Count, alphaSize = nInUse + 2, eob = nInUse + 1;
        // MTF and zero runs.
        var mtf = seqToUnseq.ToList();
        var symbols = new List<int>();
        int zeros = 0;
        void EmitRun() { while (zeros > 0) { if ((zeros & 1) == 1) { symbols.Add(0); zeros = (zeros - 1) / 2; } else { symbols.Add(1); zeros = (zeros - 2) / 2; } } }
        foreach (byte b in last)
        {
            int j = mtf.IndexOf(b);
            if (j == 0) { zeros++; continue; }
            EmitRun();
            mtf.RemoveAt(j);
            mtf.Insert(0, b);
            symbols.Add(j + 1);
        }
        EmitRun();
        symbols.Add(eob);
        // One flat complete code: 2^k − alphaSize symbols one bit shorter.
        int bits = 1;
        while (1 << bits < alphaSize) bits++;
        int shorter = (1 << bits) - alphaSize;
        var lengths = new int[alphaSize];
        for (int i = 0; i < alphaSize; i++) lengths[i] = i < shorter ? bits - 1 : bits;
        var codes = new uint[alphaSize];
        uint code = 0;
        for (int len = 1; len <= 20; len++)
        {
            for (int i = 0; i < alphaSize; i++) if (lengths[i] == len) codes[i] = code++;
            code <<= 1;
        }

        w.Put(24, 0x314159); w.Put(24, 0x265359); w.Put(32, crc);
        w.Put(1, 0);
        w.Put(24, (uint)origPtr);
        uint used16 = 0;
        for (int i = 0; i < 16; i++) for (int j = 0; j < 16; j++) if (inUse[i * 16 + j]) used16 |= 1u << (15 - i);
        w.Put(16, used16);
        for (int i = 0; i < 16; i++)
        {
            if ((used16 & (1u << (15 - i))) == 0) continue;
            uint map = 0;
            for (int j = 0; j < 16; j++) if (inUse[i * 16 + j]) map |= 1u << (15 - j);
            w.Put(16, map);
        }
        int nSelectors = (symbols.Count + 49) / 50;
        w.Put(3, 2);
        w.Put(15, (uint)nSelectors);
        for (int i = 0; i < nSelectors; i++) w.Put(1, 0);       // always table 0
        for (int t = 0; t < 2; t++)
        {
            int current = lengths[0];
            w.Put(5, (uint)current);
            for (int i = 0; i < alphaSize; i++)
            {
                while (current < lengths[i]) { w.Put(2, 2); current++; }
                while (current > lengths[i]) { w.Put(2, 3); current--; }
                w.Put(1, 0);
            }
        }
        foreach (int s in symbols) w.Put(lengths[s], codes[s]);
    }

    // ---- LZO1X: greedy matches up to 16 KiB back (32–63 instructions), literal runs between them. ----

    /// <summary>
    /// <paramref name="data"/> as an lzop file (as <see cref="StoreLzop"/>) whose blocks are LZO1X-compressed when that is
    /// shorter (else stored), with the size trailer.
    /// </summary>
    public static byte[] CompressLzop(ReadOnlySpan<byte> data)
    {
        byte[] stored = StoreLzop(data);
        // The header is the stored file's up to its first block.
        int headerLength = 9 + 8 + 4 + 4 + 4 + 4 + 1 + 4;
        var o = new List<byte>(stored.AsSpan(0, headerLength).ToArray());
        var word = new byte[4];
        void Be32(uint v) { BinaryPrimitives.WriteUInt32BigEndian(word, v); o.AddRange(word); }
        for (int at = 0; at < data.Length; at += LzopBlock)
        {
            var block = data.Slice(at, Math.Min(LzopBlock, data.Length - at));
            byte[] packed = Lzo1x(block);
            bool compress = packed.Length < block.Length;
            Be32((uint)block.Length);
            Be32((uint)(compress ? packed.Length : block.Length));
            Be32(Adler32(block));
            o.AddRange(compress ? packed : block.ToArray());
        }
        Be32(0);
        BinaryPrimitives.WriteUInt32LittleEndian(word, (uint)data.Length);
        o.AddRange(word);
        return [.. o];
    }

    private static byte[] Lzo1x(ReadOnlySpan<byte> span)
    {
        byte[] s = span.ToArray();
        var o = new List<byte>(s.Length);
        var head = new int[1 << 14];
        Array.Fill(head, -1);
        int literalStart = 0, i = 0;
        bool first = true;
        void Count(int value, int bitsInOpcode, byte opcode)
        {
            int limit = (1 << bitsInOpcode) - 1;
            if (value <= limit) { o.Add((byte)(opcode | value)); return; }
            o.Add(opcode);
            int rest = value - limit;
            while (rest > 255) { o.Add(0); rest -= 255; }
            o.Add((byte)rest);
        }
        void Literals(int from, int to)
        {
            int n = to - from;
            if (n == 0) return;
            if (first) { if (n <= 238) o.Add((byte)(17 + n)); else Count(n - 3, 4, 0); }
            else if (n <= 3) o[^2] |= (byte)n;                   // in the last match's distance field
            else Count(n - 3, 4, 0);
            for (int k = from; k < to; k++) o.Add(s[k]);
            first = false;
        }
        while (i + 4 <= s.Length)
        {
            int h = (int)((BinaryPrimitives.ReadUInt32LittleEndian(s.AsSpan(i)) * 2654435761u) >> 18);
            int candidate = head[h];
            head[h] = i;
            int distance = i - candidate;
            bool firstNeedsFour = first && i - literalStart < 4;
            if (candidate >= 0 && distance <= 16384 && !firstNeedsFour && s.AsSpan(candidate, 4).SequenceEqual(s.AsSpan(i, 4)))
            {
                int length = 4;
                while (i + length < s.Length && s[candidate + length] == s[i + length] && length < 264) length++;
                Literals(literalStart, i);
                Count(length - 2, 5, 32);
                o.Add((byte)(((distance - 1) & 0x3f) << 2));
                o.Add((byte)((distance - 1) >> 6));
                i += length;
                literalStart = i;
            }
            else i++;
        }
        if (first && s.Length - literalStart < 4) return s;   // nothing to gain: stored
        Literals(literalStart, s.Length);
        o.AddRange([0x11, 0x00, 0x00]);
        return [.. o];
    }
}
