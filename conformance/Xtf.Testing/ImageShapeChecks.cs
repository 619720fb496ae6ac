using System.Text;
using NUnit.Framework;
using Xtf.Elf;
using Xtf.Guest;
using ElfSharp = ELFSharp.ELF;
using ElfSharpSegments = ELFSharp.ELF.Segments;

namespace Xtf.Testing;

/// <summary>
/// The shape measured as accepted (docs/dom0.md §2.2) by Xen 4.17's dom0 builder, checked on one
/// generated kernel: one RWX PT_LOAD at VA = PA = 0x100000, a PT_NOTE inside it, Xen's notes, a jmp
/// at the entry and a poisoned hypercall page. The generator's tests apply these to hand-written
/// kernels, each suite's tests to every kernel of the suite.
/// </summary>
public static class ImageShapeChecks
{
    public static void Builds(KernelImage image, string name, string title)
    {
        Assert.Multiple(() =>
        {
            Assert.That(image.Name, Is.EqualTo(name));
            Assert.That(image.Title, Is.EqualTo(title));
            Assert.That(image.Entry, Is.EqualTo(GuestLayout.ImageBase));
            Assert.That(image.CodeBase % GuestLayout.PageSize, Is.Zero, "code starts on a page");
            Assert.That(image.CodeBase, Is.GreaterThanOrEqualTo(GuestLayout.DataBase + (ulong)image.DataSize));
            Assert.That(image.CodeSize, Is.Positive);
            Assert.That(image.Bytes.Length, Is.LessThan(GuestLayout.MaxImageBytes + 0x1000));
        });
    }

    public static void ElfHeaderAndSegments(KernelImage image)
    {
        var k = new LoadedKernel(image);
        var elf = k.Elf;
        Assert.Multiple(() =>
        {
            Assert.That(elf.Class, Is.EqualTo(ElfClass.Elf64));
            Assert.That(elf.FileType, Is.EqualTo(ElfFileType.ET_EXEC));
            Assert.That(elf.Machine, Is.EqualTo(ElfMachine.X86_64));
            Assert.That(elf.Entry, Is.EqualTo(0x100000UL));
        });

        var loads = elf.ProgramHeaders.Where(p => p.Type == SegmentType.Load).ToList();
        var notes = elf.ProgramHeaders.Where(p => p.Type == SegmentType.Note).ToList();
        Assert.That(loads, Has.Count.EqualTo(1), "exactly one PT_LOAD");
        Assert.That(notes, Has.Count.EqualTo(1), "exactly one PT_NOTE");
        Assert.That(elf.ProgramHeaders, Has.Count.EqualTo(2), "no other program headers");

        var load = loads[0];
        var note = notes[0];
        Assert.Multiple(() =>
        {
            Assert.That(load.VirtualAddress, Is.EqualTo(0x100000UL));
            Assert.That(load.PhysicalAddress, Is.EqualTo(0x100000UL));
            Assert.That(load.Flags, Is.EqualTo(SegmentFlags.R | SegmentFlags.W | SegmentFlags.X));
            Assert.That(load.Align, Is.EqualTo(0x1000UL));
            Assert.That(load.FileSize, Is.EqualTo(load.MemorySize));
            Assert.That(load.VirtualAddress + load.FileSize, Is.EqualTo(k.Image.CodeBase + (ulong)k.Image.CodeSize),
                "the load ends with the code");

            Assert.That(note.Align, Is.EqualTo(4UL));
            Assert.That(note.FileSize, Is.Positive);
            Assert.That(note.Offset, Is.GreaterThanOrEqualTo(load.Offset), "note inside the load (file)");
            Assert.That(note.Offset + note.FileSize, Is.LessThanOrEqualTo(load.Offset + load.FileSize));
            Assert.That(note.VirtualAddress, Is.GreaterThanOrEqualTo(load.VirtualAddress), "note inside the load (memory)");
            Assert.That(note.VirtualAddress + note.FileSize, Is.LessThanOrEqualTo(GuestLayout.HypercallPage),
                "notes live in page 0, before the hypercall page");
            Assert.That(note.VirtualAddress - load.VirtualAddress, Is.EqualTo(note.Offset - load.Offset),
                "the note's file offset and address agree with the load");
        });
        ElfSharpSeesTheSameHeaderAndSegments(image, elf);
    }

    /// <summary>ELFSharp's reading of the header and program headers: what the writer was asked for, field by field.</summary>
    private static void ElfSharpSeesTheSameHeaderAndSegments(KernelImage image, ElfImage ours)
    {
        using var elf = ReadWithElfSharp(image);
        Assert.Multiple(() =>
        {
            Assert.That(elf.Class, Is.EqualTo(ElfSharp.Class.Bit64), "ELFSharp: class");
            Assert.That(elf.Endianess, Is.EqualTo(ELFSharp.Endianess.LittleEndian), "ELFSharp: data");
            Assert.That(elf.Machine, Is.EqualTo(ElfSharp.Machine.AMD64), "ELFSharp: machine");
            Assert.That(elf.Type, Is.EqualTo(ElfSharp.FileType.Executable), "ELFSharp: type");
            Assert.That(elf.EntryPoint, Is.EqualTo(image.Entry), "ELFSharp: entry is the image's entry");
        });

        var segments = elf.Segments.ToList();
        Assert.That(segments, Has.Count.EqualTo(2), "ELFSharp: two program headers");
        var load = segments.Single(s => s.Type == ElfSharpSegments.SegmentType.Load);
        var note = segments.Single(s => s.Type == ElfSharpSegments.SegmentType.Note);
        Assert.Multiple(() =>
        {
            Assert.That(load.Address, Is.EqualTo(GuestLayout.ImageBase), "ELFSharp: PT_LOAD vaddr");
            Assert.That(load.PhysicalAddress, Is.EqualTo(GuestLayout.ImageBase), "ELFSharp: PT_LOAD paddr");
            Assert.That(load.Flags, Is.EqualTo(ElfSharpSegments.SegmentFlags.Read | ElfSharpSegments.SegmentFlags.Write | ElfSharpSegments.SegmentFlags.Execute),
                "ELFSharp: PT_LOAD is RWX");
            Assert.That(load.Alignment, Is.EqualTo(GuestLayout.PageSize), "ELFSharp: PT_LOAD align");
            Assert.That((ulong)load.FileSize, Is.EqualTo(image.CodeBase + (ulong)image.CodeSize - GuestLayout.ImageBase),
                "ELFSharp: the load runs from the image base to the end of the code");
            Assert.That(load.Size, Is.EqualTo((ulong)load.FileSize), "ELFSharp: no bss");
            Assert.That(load.GetFileContents(), Is.EqualTo(ours.FileBytes(ours.ProgramHeaders.Single(p => p.Type == SegmentType.Load)).ToArray()),
                "ELFSharp: the load's bytes");

            Assert.That(note.Flags, Is.EqualTo(ElfSharpSegments.SegmentFlags.Read), "ELFSharp: PT_NOTE is R");
            Assert.That(note.Alignment, Is.EqualTo(4UL), "ELFSharp: PT_NOTE align");
            Assert.That(note.Address - load.Address, Is.EqualTo((ulong)(note.Offset - load.Offset)), "ELFSharp: the note lies inside the load");
            Assert.That(note.Address + (ulong)note.FileSize, Is.LessThanOrEqualTo(GuestLayout.HypercallPage), "ELFSharp: notes before the hypercall page");
        });

        // Field by field, the same program headers as our reader's: the two readers agree on every image.
        Assert.That(segments.Select(s => $"{(uint)s.Type} {(uint)s.Flags} 0x{s.Offset:x} 0x{s.Address:x} 0x{s.PhysicalAddress:x} 0x{s.FileSize:x} 0x{s.Size:x} 0x{s.Alignment:x}"),
            Is.EqualTo(ours.ProgramHeaders.Select(p => $"{(uint)p.Type} {(uint)p.Flags} 0x{p.Offset:x} 0x{p.VirtualAddress:x} 0x{p.PhysicalAddress:x} 0x{p.FileSize:x} 0x{p.MemorySize:x} 0x{p.Align:x}")),
            "ELFSharp and our reader see the same program headers");
    }

    /// <summary>ELFSharp's reading of the PT_NOTE segment: the Xen notes, in the writer's order.</summary>
    private static void ElfSharpSeesTheSameNotes(KernelImage image, IReadOnlyList<ElfNote> expected)
    {
        using var elf = ReadWithElfSharp(image);
        var note = elf.Segments.OfType<ElfSharpSegments.INoteSegment>().Single();
        var seen = note.Notes.Select(n => new ElfNote(n.Name, checked((uint)n.Type), n.Description.ToArray())).ToList();
        Assert.That(seen, Is.EqualTo(expected), "ELFSharp reads the Xen notes the writer was given");
    }

    /// <summary>
    /// ELFSharp over the image's bytes. ELFSharp 2.17.3 applies the extended section numbering rule
    /// (e_shnum 0: the count is section 0's sh_size) without checking e_shoff, so for an image with no
    /// section table (e_shoff 0, as ours) it reads the ELF header as a section header and fails. It is
    /// given a copy whose e_shoff points at one appended all-zero SHT_NULL entry (count 0, no string
    /// table); every byte it is asked about here (header, program headers, notes, the load) is the
    /// writer's.
    /// </summary>
    private static ElfSharp.ELF<ulong> ReadWithElfSharp(KernelImage image)
    {
        Assert.That(BitConverter.ToUInt64(image.Bytes, ElfLayout.Ehdr.ShOff), Is.Zero, "the writer emits no section table");
        var bytes = new byte[image.Bytes.Length + ElfLayout.Shdr.HeaderSize];
        image.Bytes.CopyTo(bytes, 0);
        BitConverter.TryWriteBytes(bytes.AsSpan(ElfLayout.Ehdr.ShOff), (ulong)image.Bytes.Length);
        var stream = new MemoryStream(bytes, writable: false);
        Assert.That(ElfSharp.ELFReader.TryLoad(stream, shouldOwnStream: true, out ElfSharp.ELF<ulong> elf), Is.True, "ELFSharp reads the image");
        Assert.That(elf.Sections, Is.Empty, "ELFSharp sees no sections");
        return elf;
    }

    public static void XenNotesAreExactly(KernelImage image)
    {
        var elf = new LoadedKernel(image).Elf;
        Assert.That(elf.Notes.All(n => n.Name == ElfNote.XenOwner), "every note is owned by Xen");

        var byType = elf.Notes.ToDictionary(n => (XenElfNote)n.Type, n => n.Descriptor);
        Assert.That(byType.Keys, Is.EquivalentTo(new[]
        {
            XenElfNote.GuestOs, XenElfNote.GuestVersion, XenElfNote.Loader, XenElfNote.XenVersion,
            XenElfNote.Features, XenElfNote.PaeMode, XenElfNote.HypercallPage,
        }), "no VIRT_BASE, PADDR_OFFSET or ENTRY note; each type once");

        static string Str(byte[] d)
        {
            Assert.That(d, Is.Not.Empty);
            Assert.That(d[^1], Is.Zero, "string notes are NUL-terminated");
            Assert.That(Array.IndexOf(d, (byte)0), Is.EqualTo(d.Length - 1), "exactly one NUL, at the end");
            return Encoding.ASCII.GetString(d, 0, d.Length - 1);
        }

        Assert.Multiple(() =>
        {
            Assert.That(Str(byType[XenElfNote.GuestOs]), Is.EqualTo("Xtf.NET"));
            Assert.That(Str(byType[XenElfNote.GuestVersion]), Is.EqualTo(KernelBuilder.GuestVersion));
            Assert.That(Str(byType[XenElfNote.Loader]), Is.EqualTo("generic"));
            Assert.That(Str(byType[XenElfNote.XenVersion]), Is.EqualTo("xen-3.0"));
            Assert.That(Str(byType[XenElfNote.Features]), Is.EqualTo("!writable_page_tables|pae_pgdir_above_4gb"));
            Assert.That(Str(byType[XenElfNote.PaeMode]), Is.EqualTo("yes"));
            Assert.That(byType[XenElfNote.HypercallPage], Has.Length.EqualTo(8), "HYPERCALL_PAGE is an 8-byte address");
            Assert.That(BitConverter.ToUInt64(byType[XenElfNote.HypercallPage]), Is.EqualTo(0x101000UL));

            // The same through Xen's own reading of the notes.
            Assert.That(elf.Xen.Broken, Is.False, string.Join("; ", elf.Xen.Problems));
            Assert.That(elf.Xen.HypercallPage, Is.EqualTo(0x101000UL));
            Assert.That(elf.Xen.GuestOs, Is.EqualTo("Xtf.NET"));
            Assert.That(elf.Xen.Loader, Is.EqualTo("generic"));
            Assert.That(elf.Xen.XenVersion, Is.EqualTo("xen-3.0"));
            Assert.That(elf.Xen.Features, Is.EqualTo("!writable_page_tables|pae_pgdir_above_4gb"));
            Assert.That(elf.Xen.PaeMode, Is.EqualTo("yes"));
            Assert.That(elf.Xen.VirtBase, Is.Null);
            Assert.That(elf.Xen.PaddrOffset, Is.Null);
            Assert.That(elf.Xen.Entry, Is.Null);
        });

        ElfSharpSeesTheSameNotes(image,
        [
            ElfNote.XenString(XenElfNote.GuestOs, "Xtf.NET"),
            ElfNote.XenString(XenElfNote.GuestVersion, KernelBuilder.GuestVersion),
            ElfNote.XenString(XenElfNote.Loader, "generic"),
            ElfNote.XenString(XenElfNote.XenVersion, "xen-3.0"),
            ElfNote.XenString(XenElfNote.Features, "!writable_page_tables|pae_pgdir_above_4gb"),
            ElfNote.XenString(XenElfNote.PaeMode, "yes"),
            ElfNote.XenNumeric(XenElfNote.HypercallPage, GuestLayout.HypercallPage),
        ]);
    }

    public static void EntryIsAJmpRel32ToTheCodeBase(KernelImage image)
    {
        var k = new LoadedKernel(image);
        var entry = k.At(0x100000, 5);
        Assert.That(entry[0], Is.EqualTo((byte)0xE9), "jmp rel32");
        ulong target = unchecked(0x100000UL + 5 + (ulong)(long)BitConverter.ToInt32(entry[1..]));
        Assert.Multiple(() =>
        {
            Assert.That(target, Is.EqualTo(k.Image.CodeBase), "the jmp lands on the code base");
            Assert.That(k.Image.Symbols["rt_entry"], Is.EqualTo(target), "the jmp lands on the entry label");
            Assert.That(k.Image.Symbols["code"], Is.EqualTo(k.Image.CodeBase));
            Assert.That(k.Image.Symbols["data"], Is.EqualTo(GuestLayout.DataBase));
            Assert.That(k.Image.Symbols["hypercall_page"], Is.EqualTo(GuestLayout.HypercallPage));
        });
    }

    public static void HypercallPageIsPoisoned(KernelImage image)
    {
        var k = new LoadedKernel(image);
        var page = k.At(GuestLayout.HypercallPage, (int)GuestLayout.PageSize);
        for (int i = 0; i < page.Length; i += 2)
        {
            if (page[i] != 0x0F || page[i + 1] != 0x0B)
                Assert.Fail($"hypercall page byte 0x{i:x} is {page[i]:x2} {page[i + 1]:x2}, expected 0f 0b (ud2)");
        }
        Assert.That(k.U64(GuestLayout.HypercallPage), Is.Not.EqualTo(GuestLayout.FilledStub0),
            "the poison must not look like a filled stub 0");
    }

    /// <summary>Two fresh builds of the same kernel (<paramref name="build"/> must not cache) are identical.</summary>
    public static void BuildIsDeterministic(Func<KernelImage> build)
    {
        var first = build();
        var second = build();
        Assert.Multiple(() =>
        {
            Assert.That(second.Bytes, Is.EqualTo(first.Bytes), "byte-identical images");
            Assert.That(second.CodeBase, Is.EqualTo(first.CodeBase));
            Assert.That(second.CodeSize, Is.EqualTo(first.CodeSize));
            Assert.That(second.DataSize, Is.EqualTo(first.DataSize));
            Assert.That(second.Symbols, Is.EqualTo(first.Symbols));
        });
    }
}
