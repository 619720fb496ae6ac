using System.Runtime.CompilerServices;
using System.Buffers.Binary;
using System.Numerics;

namespace Xtf.Sim.Builder;

/// <summary>
/// Xen 4.17's unzstd (xen/common/unzstd.c, single-call: the frame's extent found first, then the frame decoded
/// with xen/common/zstd) as the dom0 builder uses it, from the Zstandard format description (RFC 8878; docs/dom0.md
/// §2.16): one frame (header, raw/RLE/compressed blocks, optional XXH64 checksum); a compressed block's literals
/// (raw, RLE, Huffman with 1 or 4 streams, or the previous table) and sequences (predefined, RLE, FSE or repeated
/// tables; repeat offsets 1, 4, 8). Xen's lines by its decoder's error class: a truncated frame, a block of
/// 128 KiB or more, reserved frame bits, a window over 128 MiB, a dictionary: "ZSTD-compressed data is probably
/// corrupt"; a reserved block type, any fault inside a block, a wrong checksum: "ZSTD-compressed data is corrupt".
/// </summary>
public static class ZstdFrame
{
    public const string CorruptMessage = "ZSTD-compressed data is corrupt";
    public const string ProbablyCorruptMessage = "ZSTD-compressed data is probably corrupt";
    public const uint Magic = 0xFD2FB528;
    private const int BlockSizeMax = 128 << 10;
    private const int WindowLogMax = 27;

    private sealed class ZstdError(string message) : Exception(message);
    private static ZstdError Corrupt() => new(CorruptMessage);
    private static ZstdError Probably() => new(ProbablyCorruptMessage);

    public static byte[] Decompress(ReadOnlySpan<byte> input, long capacity, Func<string, Exception> fail)
    {
        try
        {
            byte[] s = input.ToArray();
            int frameSize = FrameExtent(s);
            return new Decoder(s, frameSize, capacity).Run();
        }
        catch (ZstdError e)
        {
            throw fail(e.Message);
        }
    }

    private record struct FrameHeader(int Size, bool Checksum, ulong ContentSize, uint DictId);

    /// <summary>The frame header (ZSTD_getFrameParams' checks).</summary>
    private static FrameHeader Header(byte[] s, int length)
    {
        if (length < 5) throw Probably();
        if (BinaryPrimitives.ReadUInt32LittleEndian(s) != Magic) throw new ZstdError("Input is not in the ZSTD format (wrong magic bytes)");
        byte fhd = s[4];
        int dictIdCode = fhd & 3, fcsCode = fhd >> 6;
        bool single = (fhd & 0x20) != 0;
        int size = 5 + (single ? 0 : 1) + (dictIdCode == 0 ? 0 : 1 << (dictIdCode - 1)) + (fcsCode == 0 ? (single ? 1 : 0) : 1 << fcsCode);
        if (length < size) throw Probably();
        if ((fhd & 0x08) != 0) throw Probably();
        int pos = 5;
        ulong window = 0;
        if (!single)
        {
            byte wl = s[pos++];
            int windowLog = (wl >> 3) + 10;
            if (windowLog > WindowLogMax) throw Probably();
            window = 1UL << windowLog;
            window += (window >> 3) * (ulong)(wl & 7);
        }
        uint dictId = dictIdCode switch
        {
            1 => s[pos],
            2 => BinaryPrimitives.ReadUInt16LittleEndian(s.AsSpan(pos)),
            3 => BinaryPrimitives.ReadUInt32LittleEndian(s.AsSpan(pos)),
            _ => 0,
        };
        pos += dictIdCode == 0 ? 0 : 1 << (dictIdCode - 1);
        ulong content = fcsCode switch
        {
            0 => single ? s[pos] : 0UL,
            1 => BinaryPrimitives.ReadUInt16LittleEndian(s.AsSpan(pos)) + 256u,
            2 => BinaryPrimitives.ReadUInt32LittleEndian(s.AsSpan(pos)),
            _ => BinaryPrimitives.ReadUInt64LittleEndian(s.AsSpan(pos)),
        };
        if (window == 0) window = (uint)content;
        if (window > 1UL << WindowLogMax) throw Probably();
        return new FrameHeader(size, (fhd & 0x04) != 0, content, dictId);
    }

    /// <summary>ZSTD_findFrameCompressedSize: the header, the blocks' headers and sizes, the checksum's 4 bytes.</summary>
    private static int FrameExtent(byte[] s)
    {
        var h = Header(s, s.Length);
        int at = h.Size;
        while (true)
        {
            if (s.Length - at < 3) throw Probably();
            uint bh = (uint)(s[at] | s[at + 1] << 8 | s[at + 2] << 16);
            int type = (int)(bh >> 1) & 3;
            int size = type == 1 ? 1 : (int)(bh >> 3);
            if (type == 3) throw Corrupt();
            if (3L + size > s.Length - at) throw Probably();
            at += 3 + size;
            if ((bh & 1) != 0) break;
        }
        if (h.Checksum)
        {
            if (s.Length - at < 4) throw Probably();
            at += 4;
        }
        return at;
    }

    private sealed class Decoder(byte[] s, int end, long capacity)
    {
        private readonly DecoderOutput output = new(capacity);
        private readonly uint[] rep = [1, 4, 8];
        private HuffmanTable? huffman;
        private FseTable? llTable, ofTable, mlTable;
        private byte[] literals = new byte[BlockSizeMax];

        public byte[] Run()
        {
            if (end < 6) throw Probably();
            var h = Header(s, end);
            if (h.DictId != 0) throw Probably();           // no dictionary loaded
            int at = h.Size;
            while (true)
            {
                uint bh = (uint)(s[at] | s[at + 1] << 8 | s[at + 2] << 16);
                int type = (int)(bh >> 1) & 3, size = (int)(bh >> 3);
                at += 3;
                switch (type)
                {
                    case 0:
                        output.Write(s.AsSpan(at, size));
                        at += size;
                        break;
                    case 1:
                        for (int i = 0; i < size; i++) output.Put(s[at]);
                        at += 1;
                        break;
                    case 2:
                        if (size >= BlockSizeMax) throw Probably();
                        Block(at, size);
                        at += size;
                        break;
                    default:
                        throw Corrupt();
                }
                if ((bh & 1) != 0) break;
            }
            if (h.Checksum)
            {
                if (end - at < 4) throw Corrupt();
                if ((uint)XxHash64(output.Buffer.AsSpan(0, output.Length)) != BinaryPrimitives.ReadUInt32LittleEndian(s.AsSpan(at))) throw Corrupt();
            }
            return output.ToArray();
        }

        private void Block(int at, int size)
        {
            int blockEnd = at + size;
            if (size < 3) throw Corrupt();
            int literalCount = Literals(ref at, blockEnd);
            Sequences(at, blockEnd, literalCount);
        }

        /// <summary>The literals section into <see cref="literals"/>; its count. <paramref name="at"/> moves past it.</summary>
        private int Literals(ref int at, int blockEnd)
        {
            int b0 = s[at], type = b0 & 3, sizeFormat = (b0 >> 2) & 3;
            if (type <= 1)
            {
                int count, header;
                switch (sizeFormat)
                {
                    case 0: case 2: count = b0 >> 3; header = 1; break;
                    case 1: count = (b0 >> 4) + (s[at + 1] << 4); header = 2; break;
                    default:
                        if (blockEnd - at < 4) throw Corrupt();
                        count = (b0 >> 4) + (s[at + 1] << 4) + (s[at + 2] << 12); header = 3; break;
                }
                if (count > BlockSizeMax) throw Corrupt();
                at += header;
                if (type == 0)
                {
                    if (count > blockEnd - at) throw Corrupt();
                    s.AsSpan(at, count).CopyTo(literals);
                    at += count;
                }
                else
                {
                    if (at >= blockEnd) throw Corrupt();
                    literals.AsSpan(0, count).Fill(s[at]);
                    at += 1;
                }
                return count;
            }
            if (blockEnd - at < 5) throw Corrupt();
            int headerSize, regenerated, compressed;
            bool fourStreams = sizeFormat != 0;
            ulong v = 0;
            for (int i = 0; i < 5; i++) v |= (ulong)s[at + i] << (8 * i);
            switch (sizeFormat)
            {
                case 0: case 1: headerSize = 3; regenerated = (int)(v >> 4) & 0x3FF; compressed = (int)(v >> 14) & 0x3FF; break;
                case 2: headerSize = 4; regenerated = (int)(v >> 4) & 0x3FFF; compressed = (int)(v >> 18) & 0x3FFF; break;
                default: headerSize = 5; regenerated = (int)(v >> 4) & 0x3FFFF; compressed = (int)(v >> 22) & 0x3FFFF; break;
            }
            if (regenerated > BlockSizeMax) throw Corrupt();
            if (compressed + headerSize > blockEnd - at) throw Corrupt();
            at += headerSize;
            int streamsAt = at, streamsEnd = at + compressed;
            if (type == 2)
            {
                huffman = HuffmanTable.Read(s, ref streamsAt, streamsEnd);
            }
            else if (huffman is null) throw Corrupt();
            var table = huffman;
            if (!fourStreams) HuffmanStream(table, streamsAt, streamsEnd, 0, regenerated);
            else
            {
                if (streamsEnd - streamsAt < 10) throw Corrupt();
                int l1 = BinaryPrimitives.ReadUInt16LittleEndian(s.AsSpan(streamsAt));
                int l2 = BinaryPrimitives.ReadUInt16LittleEndian(s.AsSpan(streamsAt + 2));
                int l3 = BinaryPrimitives.ReadUInt16LittleEndian(s.AsSpan(streamsAt + 4));
                int p = streamsAt + 6;
                int l4 = streamsEnd - p - l1 - l2 - l3;
                if (l4 < 1) throw Corrupt();
                int segment = (regenerated + 3) / 4;
                if (regenerated - 3 * segment < 0) throw Corrupt();
                HuffmanStream(table, p, p + l1, 0, segment);
                HuffmanStream(table, p + l1, p + l1 + l2, segment, segment);
                HuffmanStream(table, p + l1 + l2, p + l1 + l2 + l3, 2 * segment, segment);
                HuffmanStream(table, p + l1 + l2 + l3, streamsEnd, 3 * segment, regenerated - 3 * segment);
            }
            at = streamsEnd;
            return regenerated;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void HuffmanStream(HuffmanTable table, int from, int to, int outAt, int count)
        {
            var bits = new BackwardBits(s, from, to);
            for (int i = 0; i < count; i++) literals[outAt + i] = table.Decode(bits);
            if (!bits.Finished) throw Corrupt();
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Sequences(int at, int blockEnd, int literalCount)
        {
            if (at >= blockEnd) throw Probably();
            int nb = s[at++];
            if (nb >= 128)
            {
                if (nb < 255)
                {
                    if (at >= blockEnd) throw Probably();
                    nb = ((nb - 128) << 8) + s[at++];
                }
                else
                {
                    if (blockEnd - at < 2) throw Probably();
                    nb = s[at] + (s[at + 1] << 8) + 0x7F00;
                    at += 2;
                }
            }
            int litPos = 0;
            if (nb > 0)
            {
                if (at >= blockEnd) throw Probably();
                int modes = s[at++];
                if ((modes & 3) != 0) throw Corrupt();
                llTable = FseTable.For(s, ref at, blockEnd, (modes >> 6) & 3, llTable, FseTable.LiteralLengthDefault, 6, 35, 9);
                ofTable = FseTable.For(s, ref at, blockEnd, (modes >> 4) & 3, ofTable, FseTable.OffsetDefault, 5, 28, 8);
                mlTable = FseTable.For(s, ref at, blockEnd, (modes >> 2) & 3, mlTable, FseTable.MatchLengthDefault, 6, 52, 9);
                var bits = new BackwardBits(s, at, blockEnd);
                int ll = (int)bits.Get(llTable.Log), of = (int)bits.Get(ofTable.Log), ml = (int)bits.Get(mlTable.Log);
                for (int n = 0; n < nb; n++)
                {
                    if (bits.Overflowed) throw Corrupt();
                    int llCode = llTable.Symbol[ll], ofCode = ofTable.Symbol[of], mlCode = mlTable.Symbol[ml];
                    if (ofCode > 31 || llCode > 35 || mlCode > 52) throw Corrupt();
                    uint offset = (1u << ofCode) + bits.Get(ofCode);
                    int matchLength = MlBase[mlCode] + (int)bits.Get(MlBits[mlCode]);
                    int literalLength = LlBase[llCode] + (int)bits.Get(LlBits[llCode]);
                    // Offset values over 3 are new offsets; 1–3 name a repeat offset (one further when there are no
                    // literals: 0 keeps the first, 1 and 2 bring the second or third forward, 3 is the first less one).
                    if (offset > 3) { rep[2] = rep[1]; rep[1] = rep[0]; rep[0] = offset - 3; }
                    else
                    {
                        uint idx = offset - 1 + (literalLength == 0 ? 1u : 0u);
                        if (idx != 0)
                        {
                            uint temp = idx == 3 ? rep[0] - 1 : rep[idx];
                            if (temp == 0) temp = 1;
                            if (idx != 1) rep[2] = rep[1];
                            rep[1] = rep[0];
                            rep[0] = temp;
                        }
                    }
                    // Execute: the literals, then the match.
                    if (literalLength > literalCount - litPos) throw Corrupt();
                    output.Write(literals.AsSpan(litPos, literalLength));
                    litPos += literalLength;
                    if (rep[0] > (uint)output.Length) throw Corrupt();
                    output.Copy(rep[0] - 1, matchLength);
                    // State updates: literal length, match length, offset.
                    ll = llTable.Next(ll, bits);
                    ml = mlTable.Next(ml, bits);
                    of = ofTable.Next(of, bits);
                }
            }
            output.Write(literals.AsSpan(litPos, literalCount - litPos));
        }
    }

    private static readonly int[] LlBase =
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 20, 22, 24, 28, 32, 40, 48, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536];
    private static readonly int[] LlBits =
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
    private static readonly int[] MlBase =
        [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34,
         35, 37, 39, 41, 43, 47, 51, 59, 67, 83, 99, 131, 259, 515, 1027, 2051, 4099, 8195, 16387, 32771, 65539];
    private static readonly int[] MlBits =
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
         1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];

    /// <summary>A backward bit stream: the last byte's highest set bit marks its start; read toward the first byte.</summary>
    private sealed class BackwardBits
    {
        private readonly byte[] s;
        private readonly int from;
        private readonly long available;
        private long consumed;

        public BackwardBits(byte[] s, int from, int to)
        {
            this.s = s;
            this.from = from;
            if (to <= from || s[to - 1] == 0) throw Corrupt();
            available = (long)(to - from - 1) * 8 + BitOperations.Log2(s[to - 1]);
        }

        public bool Overflowed => consumed > available;
        public bool Finished => consumed == available;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public uint Peek(int n)
        {
            if (n == 0) return 0;
            long low = available - consumed - n;   // bit index of the lowest bit wanted
            ulong value = 0;
            long first = Math.Max(low, 0), last = available - consumed;   // [first, last)
            if (last <= first) return 0;
            for (long byteAt = first >> 3; byteAt <= (last - 1) >> 3; byteAt++)
                value |= (ulong)s[from + byteAt] << (int)(byteAt * 8 - (first & ~7L));
            value >>= (int)(first & 7);
            value &= (1UL << (int)(last - first)) - 1;
            return (uint)(value << (int)(first - low));
        }

        public uint Get(int n)
        {
            uint v = Peek(n);
            consumed += n;
            return v;
        }

        public void Skip(int n) => consumed += n;
    }

    /// <summary>A Huffman decoding table (weights → code lengths, filled by increasing weight).</summary>
    private sealed class HuffmanTable
    {
        private readonly byte[] symbol, bitsOf;
        private readonly int maxBits;

        private HuffmanTable(byte[] weights, int count)
        {
            long total = 0;
            for (int i = 0; i < count; i++)
            {
                if (weights[i] > 12) throw Corrupt();
                if (weights[i] > 0) total += 1L << (weights[i] - 1);
            }
            if (total == 0) throw Corrupt();
            maxBits = BitOperations.Log2((ulong)total) + 1;
            if (maxBits > 12) throw Corrupt();
            long rest = (1L << maxBits) - total;
            if (!BitOperations.IsPow2(rest)) throw Corrupt();
            weights[count] = (byte)(BitOperations.Log2((ulong)rest) + 1);
            count++;
            symbol = new byte[1 << maxBits];
            bitsOf = new byte[1 << maxBits];
            Span<int> start = stackalloc int[14];
            Span<int> rankCount = stackalloc int[14];
            for (int i = 0; i < count; i++) rankCount[weights[i]]++;
            int next = 0;
            for (int w = 1; w <= 13; w++) { start[w] = next; next += rankCount[w] << (w - 1); }
            for (int i = 0; i < count; i++)
            {
                int w = weights[i];
                if (w == 0) continue;
                int len = 1 << (w - 1);
                symbol.AsSpan(start[w], len).Fill((byte)i);
                bitsOf.AsSpan(start[w], len).Fill((byte)(maxBits + 1 - w));
                start[w] += len;
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public byte Decode(BackwardBits bits)
        {
            uint v = bits.Peek(maxBits);
            bits.Skip(bitsOf[v]);
            return symbol[v];
        }

        public static HuffmanTable Read(byte[] s, ref int at, int end)
        {
            if (at >= end) throw Corrupt();
            int header = s[at++];
            var weights = new byte[256];
            int count;
            if (header >= 128)
            {
                count = header - 127;
                int bytes = (count + 1) / 2;
                if (bytes > end - at) throw Corrupt();
                for (int i = 0; i < count; i++) weights[i] = (byte)(i % 2 == 0 ? s[at + i / 2] >> 4 : s[at + i / 2] & 15);
                at += bytes;
            }
            else
            {
                if (header == 0 || header > end - at) throw Corrupt();
                int p = at;
                var fse = FseTable.Read(s, ref p, at + header, 255, 6);
                var bits = new BackwardBits(s, p, at + header);
                int s1 = (int)bits.Get(fse.Log), s2 = (int)bits.Get(fse.Log);
                count = 0;
                while (true)
                {
                    if (count >= 255) throw Corrupt();
                    weights[count++] = fse.Symbol[s1];
                    s1 = fse.Next(s1, bits);
                    if (bits.Overflowed) { weights[count++] = fse.Symbol[s2]; break; }
                    if (count >= 255) throw Corrupt();
                    weights[count++] = fse.Symbol[s2];
                    s2 = fse.Next(s2, bits);
                    if (bits.Overflowed) { if (count >= 255) throw Corrupt(); weights[count++] = fse.Symbol[s1]; break; }
                }
                at += header;
            }
            if (count >= 256) throw Corrupt();
            return new HuffmanTable(weights, count);
        }
    }

    /// <summary>An FSE decoding table: per state its symbol, bits to read and base of the next state.</summary>
    private sealed class FseTable
    {
        public readonly int Log;
        public readonly byte[] Symbol;
        private readonly byte[] bits;
        private readonly int[] baseline;

        public static readonly short[] LiteralLengthDefault =
            [4, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 2, 1, 1, 1, 1, 1, -1, -1, -1, -1];
        public static readonly short[] MatchLengthDefault =
            [1, 4, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1, -1, -1];
        public static readonly short[] OffsetDefault =
            [1, 1, 1, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1];

        private static readonly Dictionary<short[], FseTable> Predefined = new(ReferenceEqualityComparer.Instance);

        public FseTable(ReadOnlySpan<short> norm, int log)
        {
            Log = log;
            int size = 1 << log;
            Symbol = new byte[size];
            bits = new byte[size];
            baseline = new int[size];
            Span<int> next = stackalloc int[256];
            int high = size - 1;
            for (int sym = 0; sym < norm.Length; sym++)
            {
                if (norm[sym] == -1) { Symbol[high--] = (byte)sym; next[sym] = 1; }
                else next[sym] = norm[sym];
            }
            int step = (size >> 1) + (size >> 3) + 3, mask = size - 1, pos = 0;
            for (int sym = 0; sym < norm.Length; sym++)
            {
                for (int i = 0; i < norm[sym]; i++)
                {
                    Symbol[pos] = (byte)sym;
                    do pos = (pos + step) & mask; while (pos > high);
                }
            }
            if (pos != 0) throw Corrupt();
            for (int u = 0; u < size; u++)
            {
                int sym = Symbol[u];
                int n = next[sym]++;
                int nb = log - BitOperations.Log2((uint)n);
                bits[u] = (byte)nb;
                baseline[u] = (n << nb) - size;
            }
        }

        public int Next(int state, BackwardBits stream) => baseline[state] + (int)stream.Get(bits[state]);

        public static FseTable For(byte[] s, ref int at, int end, int mode, FseTable? previous, short[] defaults, int defaultLog, int maxSymbol, int maxLog)
        {
            switch (mode)
            {
                case 0:
                    lock (Predefined)
                    {
                        if (!Predefined.TryGetValue(defaults, out var t)) Predefined[defaults] = t = new FseTable(defaults, defaultLog);
                        return t;
                    }
                case 1:
                    if (at >= end) throw Probably();
                    int sym = s[at++];
                    if (sym > maxSymbol) throw Corrupt();
                    var norm = new short[sym + 1];
                    norm[sym] = 1;
                    return new FseTable(norm, 0);
                case 2:
                    return Read(s, ref at, end, maxSymbol, maxLog);
                default:
                    return previous ?? throw Corrupt();
            }
        }

        /// <summary>An FSE table description (accuracy log + 5, then the normalised counts, zero runs by 2-bit repeats).</summary>
        public static FseTable Read(byte[] s, ref int at, int end, int maxSymbol, int maxLog)
        {
            long bitPos = (long)at * 8, bitEnd = (long)end * 8;
            uint Bits(int n)
            {
                uint v = 0;
                for (int i = 0; i < n; i++, bitPos++)
                    if (bitPos < bitEnd && ((s[bitPos >> 3] >> (int)(bitPos & 7)) & 1) != 0) v |= 1u << i;
                return v;
            }
            uint PeekBits(int n)
            {
                long save = bitPos;
                uint v = Bits(n);
                bitPos = save;
                return v;
            }
            if (end - at < 1) throw Corrupt();
            int log = (int)Bits(4) + 5;
            if (log > maxLog) throw Corrupt();
            var norm = new short[maxSymbol + 1];
            int remaining = (1 << log) + 1, threshold = 1 << log, nbBits = log + 1, symbol = 0;
            bool previous0 = false;
            while (remaining > 1 && symbol <= maxSymbol)
            {
                if (previous0)
                {
                    int n0 = symbol;
                    uint r;
                    while ((r = Bits(2)) == 3) { n0 += 3; if (bitPos > bitEnd) throw Corrupt(); }
                    n0 += (int)r;
                    if (n0 > maxSymbol) throw Corrupt();
                    symbol = n0;
                }
                int max = (2 * threshold - 1) - remaining;
                int count;
                uint peek = PeekBits(nbBits);
                if ((peek & (uint)(threshold - 1)) < (uint)max) { count = (int)(peek & (uint)(threshold - 1)); bitPos += nbBits - 1; }
                else
                {
                    count = (int)(peek & (uint)(2 * threshold - 1));
                    if (count >= threshold) count -= max;
                    bitPos += nbBits;
                }
                count--;
                remaining -= Math.Abs(count);
                norm[symbol++] = (short)count;
                previous0 = count == 0;
                while (remaining < threshold) { nbBits--; threshold >>= 1; }
                if (bitPos > bitEnd) throw Corrupt();
            }
            if (remaining != 1 || bitPos > bitEnd) throw Corrupt();
            at = (int)((bitPos + 7) >> 3);
            return new FseTable(norm.AsSpan(0, symbol), log);
        }
    }

    /// <summary>XXH64 with seed 0 (the frame checksum keeps its low 32 bits).</summary>
    internal static ulong XxHash64(ReadOnlySpan<byte> data)
    {
        const ulong P1 = 11400714785074694791UL, P2 = 14029467366897019727UL, P3 = 1609587929392839161UL, P4 = 9650029242287828579UL, P5 = 2870177450012600261UL;
        static ulong Round(ulong acc, ulong lane) => BitOperations.RotateLeft(acc + lane * P2, 31) * P1;
        static ulong Merge(ulong h, ulong v) => (h ^ Round(0, v)) * P1 + P4;
        int i = 0, n = data.Length;
        ulong h;
        if (n >= 32)
        {
            ulong v1 = unchecked(P1 + P2), v2 = P2, v3 = 0, v4 = unchecked(0 - P1);
            for (; i + 32 <= n; i += 32)
            {
                v1 = Round(v1, BinaryPrimitives.ReadUInt64LittleEndian(data[i..]));
                v2 = Round(v2, BinaryPrimitives.ReadUInt64LittleEndian(data[(i + 8)..]));
                v3 = Round(v3, BinaryPrimitives.ReadUInt64LittleEndian(data[(i + 16)..]));
                v4 = Round(v4, BinaryPrimitives.ReadUInt64LittleEndian(data[(i + 24)..]));
            }
            h = BitOperations.RotateLeft(v1, 1) + BitOperations.RotateLeft(v2, 7) + BitOperations.RotateLeft(v3, 12) + BitOperations.RotateLeft(v4, 18);
            h = Merge(h, v1); h = Merge(h, v2); h = Merge(h, v3); h = Merge(h, v4);
        }
        else h = P5;
        h += (ulong)n;
        for (; i + 8 <= n; i += 8) h = BitOperations.RotateLeft(h ^ Round(0, BinaryPrimitives.ReadUInt64LittleEndian(data[i..])), 27) * P1 + P4;
        for (; i + 4 <= n; i += 4) h = BitOperations.RotateLeft(h ^ BinaryPrimitives.ReadUInt32LittleEndian(data[i..]) * P1, 23) * P2 + P3;
        for (; i < n; i++) h = BitOperations.RotateLeft(h ^ data[i] * P5, 11) * P1;
        h ^= h >> 33; h *= P2; h ^= h >> 29; h *= P3; h ^= h >> 32;
        return h;
    }
}
