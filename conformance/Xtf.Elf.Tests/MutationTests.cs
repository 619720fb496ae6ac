using System.Buffers.Binary;
using Xtf.Elf;
using static Xtf.Elf.ElfLayout;
using static Xtf.Elf.Tests.TestImages;

namespace Xtf.Elf.Tests;

/// <summary>Seeded random damage to valid images: Parse must succeed or throw ElfFormatException, nothing else.</summary>
public class MutationTests
{
    private const int Seed = 0x5EED_E1F;

    [TestCase(0, 4000)]
    [TestCase(1, 1500)]
    public void MutatedImage_ParsesOrThrowsElfFormatException(int baseImage, int iterations)
    {
        var (original, fields) = baseImage == 0 ? Elf64Fields() : Elf32Fields();
        var random = new Random(Seed + baseImage);
        int parsed = 0, rejected = 0;
        for (int iteration = 0; iteration < iterations; iteration++)
        {
            var bytes = original;
            var log = new List<string>();
            for (int n = random.Next(1, 4); n > 0; n--)
                bytes = Mutate(bytes, fields, random, log);
            string where = $"seed 0x{Seed + baseImage:x}, iteration {iteration}, mutations [{string.Join("; ", log)}]";
            try
            {
                var image = ElfImage.Parse(bytes);
                foreach (var ph in image.ProgramHeaders)
                    _ = image.FileBytes(ph).Length;
                _ = (image.Xen.Broken, image.Xen.HypercallPage, image.Xen.Loader, image.Sections.Count);
                parsed++;
            }
            catch (ElfFormatException ex)
            {
                Assert.That(ex.Message, Is.Not.Empty.And.Not.Contain('\n'), where);
                rejected++;
            }
            catch (Exception ex)
            {
                Assert.Fail($"{where}: {ex.GetType().Name}: {ex.Message}\n{ex.StackTrace}");
            }
        }
        TestContext.Out.WriteLine($"seed 0x{Seed + baseImage:x}: {iterations} mutants, {parsed} parsed, {rejected} rejected");
        Assert.That(parsed, Is.GreaterThan(iterations / 20), $"seed 0x{Seed + baseImage:x}: some mutants still parse");
        Assert.That(rejected, Is.GreaterThan(iterations / 5), $"seed 0x{Seed + baseImage:x}: most mutants are rejected");
    }

    private static readonly ulong[] Interesting =
    [
        0, 1, 2, 3, 4, 7, 8, 0x10, 0x40, 0xfff, 0x1000, 0x1001, 0x7fff, 0xffff, 0x10000, 0x7fffffff, 0x80000000,
        0xffffffff, 0x100000000, 0x7fffffffffffffff, 0x8000000000000000, 0xfffffffffffff000, ulong.MaxValue,
    ];

    private static byte[] Mutate(byte[] bytes, List<(int At, int Size)> fields, Random random, List<string> log)
    {
        var b = (byte[])bytes.Clone();
        switch (random.Next(10))
        {
            case < 5: // overwrite a header / table / note-header field
            {
                var (at, size) = fields[random.Next(fields.Count)];
                if (at + size > b.Length)
                    goto default;
                ulong value = random.Next(4) switch
                {
                    0 => (ulong)b.Length + (ulong)random.Next(-2, 3),
                    1 => (ulong)random.NextInt64(),
                    _ => Interesting[random.Next(Interesting.Length)],
                };
                WriteField(b, at, size, value);
                log.Add($"field 0x{at:x}/{size} = 0x{value:x}");
                return b;
            }
            case < 8: // flip bits in one byte, mostly in the structural parts
            {
                int at = random.Next(2) == 0 ? fields[random.Next(fields.Count)].At + random.Next(8) : random.Next(b.Length);
                if (at >= b.Length)
                    goto default;
                byte mask = (byte)random.Next(1, 256);
                b[at] ^= mask;
                log.Add($"byte 0x{at:x} ^= 0x{mask:x2}");
                return b;
            }
            case 8: // truncate
            {
                int length = random.Next(b.Length);
                log.Add($"truncate to 0x{length:x}");
                return b[..length];
            }
            default: // fill a run with 0x00 or 0xff
            {
                int at = random.Next(b.Length), length = Math.Min(random.Next(1, 64), b.Length - at);
                byte fill = random.Next(2) == 0 ? (byte)0 : (byte)0xff;
                b.AsSpan(at, length).Fill(fill);
                log.Add($"fill 0x{at:x}+0x{length:x} with 0x{fill:x2}");
                return b;
            }
        }
    }

    private static void WriteField(byte[] b, int at, int size, ulong value)
    {
        var span = b.AsSpan(at, size);
        switch (size)
        {
            case 1: span[0] = (byte)value; break;
            case 2: BinaryPrimitives.WriteUInt16LittleEndian(span, (ushort)value); break;
            case 4: BinaryPrimitives.WriteUInt32LittleEndian(span, (uint)value); break;
            default: BinaryPrimitives.WriteUInt64LittleEndian(span, value); break;
        }
    }

    /// <summary>The Xen PV kernel with a section table, and the (offset, size) of every structural field in it.</summary>
    private static (byte[], List<(int, int)>) Elf64Fields()
    {
        var image = XenPvKernelWithSections();
        var fields = new List<(int, int)>
        {
            (Ident.Class, 1), (Ident.Data, 1), (Ident.Version, 1), (Ehdr.Type, 2), (Ehdr.Machine, 2), (Ehdr.Version, 4),
            (Ehdr.Entry, 8), (Ehdr.PhOff, 8), (Ehdr.ShOff, 8), (Ehdr.Flags, 4),
            (Ehdr.EhSize, 2), (Ehdr.PhEntSize, 2), (Ehdr.PhNum, 2), (Ehdr.ShEntSize, 2), (Ehdr.ShNum, 2), (Ehdr.ShStrNdx, 2),
        };
        for (int i = 0; i < 2; i++)
            fields.AddRange(new[]
                {
                    (Phdr.Type, 4), (Phdr.Flags, 4), (Phdr.Offset, 8), (Phdr.Vaddr, 8), (Phdr.Paddr, 8), (Phdr.Filesz, 8),
                    (Phdr.Memsz, 8), (Phdr.Align, 8),
                }
                .Select(f => (Ph64(i, f.Item1), f.Item2)));
        int sh = SectionTableOffset(image);
        for (int i = 0; i < 3; i++)
            fields.AddRange(new[]
                {
                    (Shdr.Name, 4), (Shdr.Type, 4), (Shdr.Flags, 8), (Shdr.Addr, 8), (Shdr.Offset, 8), (Shdr.Size, 8),
                    (Shdr.Link, 4), (Shdr.Info, 4), (Shdr.AddrAlign, 8), (Shdr.EntSize, 8),
                }
                .Select(f => (sh + i * Shdr.HeaderSize + f.Item1, f.Item2)));
        fields.AddRange(NoteHeaderFields(image, 0x1000 + NoteOffsetInText, NoteBytesLength));
        return (image, fields);
    }

    private static (byte[], List<(int, int)>) Elf32Fields()
    {
        var image = Elf32Kernel();
        var fields = new List<(int, int)>
        {
            (Ident.Class, 1), (Ident.Data, 1), (Ident.Version, 1), (Ehdr32.Type, 2), (Ehdr32.Machine, 2), (Ehdr32.Version, 4),
            (Ehdr32.Entry, 4), (Ehdr32.PhOff, 4), (Ehdr32.ShOff, 4), (Ehdr32.Flags, 4),
            (Ehdr32.EhSize, 2), (Ehdr32.PhEntSize, 2), (Ehdr32.PhNum, 2), (Ehdr32.ShEntSize, 2), (Ehdr32.ShNum, 2), (Ehdr32.ShStrNdx, 2),
        };
        // Every Elf32_Phdr field is a 4-byte word.
        for (int i = 0; i < 2; i++)
            fields.AddRange(Enumerable.Range(0, Phdr32.Size / 4).Select(f => (Ph32(i, f * 4), 4)));
        fields.AddRange(NoteHeaderFields(image, 0x1010, BinaryPrimitives.ReadInt32LittleEndian(image.AsSpan(Ph32(1, Phdr32.Filesz)))));
        return (image, fields);
    }

    /// <summary>namesz, descsz and type of each note in a valid note area.</summary>
    private static IEnumerable<(int, int)> NoteHeaderFields(byte[] image, int start, int length)
    {
        var result = new List<(int, int)>();
        for (int at = 0; at + Nhdr.Size <= length;)
        {
            result.AddRange([(start + at + Nhdr.NameSz, 4), (start + at + Nhdr.DescSz, 4), (start + at + Nhdr.Type, 4)]);
            int namesz = BinaryPrimitives.ReadInt32LittleEndian(image.AsSpan(start + at + Nhdr.NameSz));
            int descsz = BinaryPrimitives.ReadInt32LittleEndian(image.AsSpan(start + at + Nhdr.DescSz));
            at += Nhdr.Size + (namesz + 3) / 4 * 4 + (descsz + 3) / 4 * 4;
        }
        return result;
    }
}
