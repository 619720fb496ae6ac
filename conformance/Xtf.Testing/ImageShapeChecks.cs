using System.Text;
using NUnit.Framework;
using Xtf.Elf;
using Xtf.Guest;

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
