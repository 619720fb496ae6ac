using System.Buffers.Binary;
using System.IO.Compression;
using FsCheck;
using FsCheck.Fluent;
using Xtf.Elf;

namespace Xtf.Runner.Tests;

/// <summary>What one mutation changes in an image.</summary>
public enum MutationKind
{
    /// <summary>One byte anywhere (mostly in the headers and notes) set to a value.</summary>
    SetByte,
    /// <summary>One bit flipped.</summary>
    FlipBit,
    /// <summary>An ELF header field.</summary>
    Ehdr,
    /// <summary>A program header field.</summary>
    Phdr,
    /// <summary>A note header field, its numeric descriptor, or its string.</summary>
    Note,
    /// <summary>The image cut to a length.</summary>
    Truncate,
    /// <summary>Bytes appended.</summary>
    Append,
}

/// <summary>One change; <see cref="Field"/> and <see cref="Value"/> are read by <see cref="Kind"/>.</summary>
public sealed record Mutation(MutationKind Kind, int Target, int Field, ulong Value)
{
    public override string ToString() => $"{Kind}({Target},{Field},0x{Value:x})";
}

/// <summary>
/// A mutated suite kernel: base image <see cref="Base"/> (an index into the base list), the mutations
/// in order, then optionally gzip (and a cut of the gzip stream). The record is the whole recipe:
/// its text replays the image.
/// </summary>
public sealed record KernelMutant(int Base, Mutation[] Mutations, bool Gzip, int GzipCut)
{
    public override string ToString() =>
        $"base {Base}: {string.Join(" ", Mutations.Select(m => m.ToString()))}{(Gzip ? $" gzip{(GzipCut > 0 ? $" cut {GzipCut}" : "")}" : "")}";

    // ELF64 field (offset, size): the kinds of field a mutation may hit.
    private static readonly (int Offset, int Size)[] EhdrFields =
    [
        (4, 1), (5, 1), (16, 2), (18, 2), (20, 4), (24, 8), (32, 8), (40, 8), (48, 4), (52, 2), (54, 2), (56, 2), (58, 2), (60, 2), (62, 2),
    ];
    private static readonly (int Offset, int Size)[] PhdrFields = [(0, 4), (4, 4), (8, 8), (16, 8), (24, 8), (32, 8), (40, 8), (48, 8)];

    /// <summary>Values that sit on the builder's edges: the 512 MiB layout, page and table boundaries, Xen's area, wrap-around.</summary>
    public static readonly ulong[] Interesting =
    [
        0, 1, 2, 3, 4, 7, 8, 11, 15, 16, 17, 18, 0x38, 0x40, 0xfff, 0x1000, 0x1001, 0xffff, 0x10000, 0x100000, 0x101000, 0x108000,
        0x10f000, 0x111000, 0x1f0000, 0x1f4000, 0x1f5000, 0x1fa000, 0x1fb000, 0x1ff000, 0x200000, 0x3ff000, 0x3fffff, 0x400000,
        0x1000000, 0x20000000, 0x7fffffff, 0x80000000, 0xfffff000, 0xffffffff, 0x1_0000_0000, 0x80_0000_0000, 0x7fff_ffff_f000,
        0x8000_0000_0000, 0xffff_8000_0000_0000, 0xffff_8800_0000_0000, 0xffff_ffff_8000_0000, 0xffff_ffff_fff0_0000,
        0xffff_ffff_ffff_f000, 0xffff_ffff_ffff_fffe, ulong.MaxValue,
    ];

    private static Gen<ulong> ValueGen() => Gen.Frequency(
        (6, Gen.Elements(Interesting)),
        (2, Gen.Choose(0, 0x3000).Select(x => (ulong)x)),
        (2, Gen.Choose(0, 63).Select(bit => 1UL << bit)),
        (1, Gen.Choose(int.MinValue, int.MaxValue).Two().Select(t => ((ulong)(uint)t.Item1 << 32) | (uint)t.Item2)));

    private static Gen<Mutation> MutationGen() =>
        from kind in Gen.Frequency(
            (3, Gen.Constant(MutationKind.SetByte)), (2, Gen.Constant(MutationKind.FlipBit)), (3, Gen.Constant(MutationKind.Ehdr)),
            (5, Gen.Constant(MutationKind.Phdr)), (6, Gen.Constant(MutationKind.Note)), (2, Gen.Constant(MutationKind.Truncate)),
            (1, Gen.Constant(MutationKind.Append)))
        from target in Gen.Frequency((4, Gen.Choose(0, 0x200)), (3, Gen.Choose(0x1000, 0x1100)), (2, Gen.Choose(0, 1 << 20)), (1, Gen.Choose(0, 7)))
        from field in Gen.Choose(0, 15)
        from value in ValueGen()
        select new Mutation(kind, target, field, value);

    public static Gen<KernelMutant> Generator(int bases) =>
        from b in Gen.Choose(0, bases - 1)
        from n in Gen.Frequency((6, Gen.Constant(1)), (3, Gen.Constant(2)), (1, Gen.Constant(3)))
        from ms in Gen.ArrayOf(MutationGen(), n)
        from gz in Gen.Frequency((19, Gen.Constant(false)), (1, Gen.Constant(true)))
        from cut in Gen.Frequency((4, Gen.Constant(0)), (1, Gen.Choose(1, 4000)))
        select new KernelMutant(b, ms, gz, cut);

    /// <summary>Mutant number <paramref name="index"/> of the campaign <paramref name="seed"/>: the same pair gives the same mutant.</summary>
    public static KernelMutant Nth(ulong seed, long index, int bases) =>
        Generator(bases).Sample(8, new Rnd(seed ^ (ulong)index * 0x9E37_79B9_7F4A_7C15UL, 0xBF58_476D_1CE4_E5B9UL), 1).First();

    /// <summary>Applies the recipe to a copy of <paramref name="image"/> (an ELF64 suite kernel).</summary>
    public byte[] Apply(byte[] image)
    {
        var bytes = image.ToList();
        foreach (var m in Mutations) Apply(bytes, m);
        var result = bytes.ToArray();
        if (!Gzip) return result;
        var packed = new MemoryStream();
        using (var gz = new GZipStream(packed, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(result);
        var p = packed.ToArray();
        return GzipCut > 0 && GzipCut < p.Length ? p[..^GzipCut] : p;
    }

    private static void Apply(List<byte> b, Mutation m)
    {
        if (b.Count == 0) return;
        switch (m.Kind)
        {
            case MutationKind.SetByte:
                b[m.Target % b.Count] = (byte)m.Value;
                break;
            case MutationKind.FlipBit:
                b[m.Target % b.Count] ^= (byte)(1 << (m.Field & 7));
                break;
            case MutationKind.Ehdr:
            {
                var (off, size) = EhdrFields[m.Field % EhdrFields.Length];
                Write(b, off, size, Value(m, Read(b, off, size), b.Count));
                break;
            }
            case MutationKind.Phdr:
            {
                int phoff = (int)Math.Min(Read(b, 32, 8), int.MaxValue), phnum = (int)Read(b, 56, 2);
                int index = m.Target % Math.Max(1, Math.Min(phnum + 1, 4));
                var (off, size) = PhdrFields[m.Field % PhdrFields.Length];
                long at = (long)phoff + index * 56L + off;
                if (at + size <= b.Count) Write(b, (int)at, size, Value(m, Read(b, (int)at, size), b.Count));
                break;
            }
            case MutationKind.Note:
                MutateNote(b, m);
                break;
            case MutationKind.Truncate:
            {
                int keep = (m.Field & 3) switch
                {
                    0 => m.Target % b.Count,
                    1 => (int)(m.Value % (ulong)b.Count),
                    2 => Math.Max(0, b.Count - 1 - m.Target % 0x2000),
                    _ => m.Target % 0x140,
                };
                keep = Math.Min(keep, b.Count);
                b.RemoveRange(keep, b.Count - keep);
                break;
            }
            case MutationKind.Append:
                for (int i = 0; i < m.Target % 0x3000; i++) b.Add((byte)(m.Value >> (8 * (i & 7))));
                break;
        }
    }

    /// <summary>The note at position <see cref="Mutation.Target"/> in the first PT_NOTE segment (walked as libelf does).</summary>
    private static void MutateNote(List<byte> b, Mutation m)
    {
        int phoff = (int)Math.Min(Read(b, 32, 8), int.MaxValue), phnum = (int)Read(b, 56, 2);
        long start = -1, end = -1;
        for (int i = 0; i < Math.Min(phnum, 16); i++)
        {
            long ph = (long)phoff + i * 56L;
            if (ph + 56 > b.Count) break;
            if (Read(b, (int)ph, 4) != (uint)SegmentType.Note) continue;
            start = (long)Math.Min(Read(b, (int)ph + 8, 8), int.MaxValue);
            end = start + (long)Math.Min(Read(b, (int)ph + 32, 8), int.MaxValue);
            break;
        }
        if (start < 0) return;
        var notes = new List<long>();
        for (long n = start; n + 12 <= Math.Min(end, b.Count) && notes.Count < 64;)
        {
            notes.Add(n);
            long namesz = (long)Read(b, (int)n, 4), descsz = (long)Read(b, (int)n + 4, 4);
            n += 12 + ((namesz + 3) & ~3) + ((descsz + 3) & ~3);
        }
        if (notes.Count == 0) return;
        int note = (int)notes[m.Target % notes.Count];
        long desc = note + 12 + (((long)Read(b, note, 4) + 3) & ~3);
        int descLen = (int)Math.Min(Read(b, note + 4, 4), 64);
        switch (m.Field % 7)
        {
            case 0: Write(b, note, 4, Value(m, Read(b, note, 4), b.Count)); break;                    // namesz
            case 1: Write(b, note + 4, 4, Value(m, Read(b, note + 4, 4), b.Count)); break;            // descsz
            case 2: case 3: Write(b, note + 8, 4, m.Value % 20); break;                               // type: a known one
            case 4: if (desc + 8 <= b.Count) Write(b, (int)desc, 8, Value(m, Read(b, (int)desc, 8), b.Count)); break;   // numeric value
            case 5: if (descLen > 0 && desc + descLen <= b.Count) b[(int)desc + descLen - 1] = (byte)'x'; break;      // string without NUL
            default:                                                                                 // string "yes"
                if (desc + 4 <= b.Count) { b[(int)desc] = (byte)'y'; b[(int)desc + 1] = (byte)'e'; b[(int)desc + 2] = (byte)'s'; b[(int)desc + 3] = 0; }
                break;
        }
    }

    /// <summary>The new value of a field: the drawn value, or a small change to the old one, or one near the image size.</summary>
    private static ulong Value(Mutation m, ulong old, int imageSize) => (m.Target & 3) switch
    {
        0 or 1 => m.Value,
        2 => unchecked(old + (m.Value % 0x4000) - 0x2000),
        _ => unchecked((ulong)imageSize + (m.Value % 0x20) - 0x10),
    };

    private static ulong Read(List<byte> b, int at, int size)
    {
        if (at < 0 || at + size > b.Count) return 0;
        ulong v = 0;
        for (int i = size - 1; i >= 0; i--) v = (v << 8) | b[at + i];
        return v;
    }

    private static void Write(List<byte> b, int at, int size, ulong value)
    {
        if (at < 0 || at + size > b.Count) return;
        for (int i = 0; i < size; i++) b[at + i] = (byte)(value >> (8 * i));
    }
}
