using System.Buffers.Binary;
using System.Text;
using Xtf.Elf;
using Xtf.Sim.Builder;
using Xtf.Sim.Memory;

using Xtf.Hosting.Xen;

namespace Xtf.Sim.Tests.Builder;

/// <summary>Synthetic kernels shaped like XTF's, and a one-call build into fresh machine memory.</summary>
internal static class BuilderKit
{
    public const ulong Base = 0x100000;
    public const ulong HypercallPage = 0x101000;
    public const int NotesAt = 0x10;

    /// <summary>XTF's notes: GUEST_OS, LOADER "generic", XEN_VERSION "xen-3.0", FEATURES, PAE_MODE "yes", HYPERCALL_PAGE.</summary>
    public static List<ElfNote> XtfNotes(string? loader = "generic", string? guestOs = "XTF", string? xenVersion = "xen-3.0",
        ulong? hypercallPage = HypercallPage, string? features = "!writable_page_tables|pae_pgdir_above_4gb", string? pae = "yes",
        ulong? supportedFeatures = null, ulong? entry = null)
    {
        var notes = new List<ElfNote>();
        if (guestOs is not null) notes.Add(ElfNote.XenString(XenElfNote.GuestOs, guestOs));
        if (loader is not null) notes.Add(ElfNote.XenString(XenElfNote.Loader, loader));
        if (xenVersion is not null) notes.Add(ElfNote.XenString(XenElfNote.XenVersion, xenVersion));
        if (features is not null) notes.Add(ElfNote.XenString(XenElfNote.Features, features));
        if (pae is not null) notes.Add(ElfNote.XenString(XenElfNote.PaeMode, pae));
        if (hypercallPage is not null) notes.Add(ElfNote.XenNumeric(XenElfNote.HypercallPage, hypercallPage.Value));
        if (supportedFeatures is not null) notes.Add(ElfNote.XenNumeric(XenElfNote.SupportedFeatures, supportedFeatures.Value, 4));
        if (entry is not null) notes.Add(ElfNote.XenNumeric(XenElfNote.Entry, entry.Value));
        return notes;
    }

    /// <summary>
    /// One RWX PT_LOAD at 0x100000 of <paramref name="fileSize"/> bytes (a recognisable pattern after the
    /// notes) and <paramref name="memSize"/> in memory, with the notes inside it, like an XTF kernel.
    /// </summary>
    public static byte[] Kernel(ulong fileSize = 0x11000, ulong memSize = 0, List<ElfNote>? notes = null, ushort machine = ElfMachine.X86_64,
        ulong entry = Base, bool withNotes = true)
    {
        var image = Pattern((int)fileSize);
        byte[]? nb = withNotes ? ElfNotes.Encode(notes ?? XtfNotes()) : null;
        nb?.CopyTo(image, NotesAt);
        var b = new ElfBuilder(machine, entry)
            .AddLoad(Base, Base, image, memSize == 0 ? fileSize : memSize, SegmentFlags.R | SegmentFlags.W | SegmentFlags.X);
        if (nb is not null) b.AddNote(Base + NotesAt, (ulong)nb.Length);
        return b.Build();
    }

    /// <summary>Bytes i*7+3: never all zero, so copied and zeroed pages can be told apart.</summary>
    public static byte[] Pattern(int length)
    {
        var bytes = new byte[length];
        for (int i = 0; i < length; i++) bytes[i] = (byte)(i * 7 + 3);
        if (length > 0) bytes[0] = 0xF4;
        return bytes;
    }

    /// <summary>An ELF32 image (EM_386 unless told otherwise) with the XTF notes, built by hand: ElfBuilder writes ELF64 only.</summary>
    public static byte[] Kernel32(ushort machine = ElfMachine.X86)
    {
        const int size = 0x11000, off = 0x1000;
        var nb = ElfNotes.Encode(XtfNotes());
        var f = new byte[off + size];
        Ident(f, 1, 1);
        var s = f.AsSpan();
        BinaryPrimitives.WriteUInt16LittleEndian(s[16..], ElfFileType.ET_EXEC);
        BinaryPrimitives.WriteUInt16LittleEndian(s[18..], machine);
        BinaryPrimitives.WriteUInt32LittleEndian(s[20..], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(s[24..], (uint)Base);
        BinaryPrimitives.WriteUInt32LittleEndian(s[28..], 52);
        BinaryPrimitives.WriteUInt16LittleEndian(s[40..], 52);
        BinaryPrimitives.WriteUInt16LittleEndian(s[42..], 32);
        BinaryPrimitives.WriteUInt16LittleEndian(s[44..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(s[46..], 40);
        uint[] load = [1, off, (uint)Base, (uint)Base, size, size, 7, 0x1000];
        uint[] note = [4, off + NotesAt, (uint)Base + NotesAt, (uint)Base + NotesAt, (uint)nb.Length, (uint)nb.Length, 4, 4];
        for (int i = 0; i < 8; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(s[(52 + 4 * i)..], load[i]);
            BinaryPrimitives.WriteUInt32LittleEndian(s[(84 + 4 * i)..], note[i]);
        }
        nb.CopyTo(f, off + NotesAt);
        return f;
    }

    /// <summary>A big-endian ELF64 x86-64 image whose notes (big-endian too) are XTF's.</summary>
    public static byte[] KernelBigEndian()
    {
        var notes = new List<byte>();
        void Note(uint type, byte[] desc)
        {
            var h = new byte[12];
            BinaryPrimitives.WriteUInt32BigEndian(h, 4);
            BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(4), (uint)desc.Length);
            BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(8), type);
            notes.AddRange(h);
            notes.AddRange("Xen\0"u8.ToArray());
            notes.AddRange(desc);
            while (notes.Count % 4 != 0) notes.Add(0);
        }
        static byte[] S(string s) => Encoding.ASCII.GetBytes(s + "\0");
        Note(6, S("XTF")); Note(8, S("generic")); Note(5, S("xen-3.0")); Note(9, S("yes"));
        var hp = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(hp, HypercallPage);
        Note(2, hp);
        const int size = 0x11000, off = 0x1000;
        var f = new byte[off + size];
        Ident(f, 2, 2);
        var s = f.AsSpan();
        BinaryPrimitives.WriteUInt16BigEndian(s[16..], ElfFileType.ET_EXEC);
        BinaryPrimitives.WriteUInt16BigEndian(s[18..], ElfMachine.X86_64);
        BinaryPrimitives.WriteUInt32BigEndian(s[20..], 1);
        BinaryPrimitives.WriteUInt64BigEndian(s[24..], Base);
        BinaryPrimitives.WriteUInt64BigEndian(s[32..], 64);
        BinaryPrimitives.WriteUInt16BigEndian(s[52..], 64);
        BinaryPrimitives.WriteUInt16BigEndian(s[54..], 56);
        BinaryPrimitives.WriteUInt16BigEndian(s[56..], 2);
        BinaryPrimitives.WriteUInt16BigEndian(s[58..], 64);
        static void Phdr(Span<byte> p, uint type, uint flags, ulong offset, ulong addr, ulong size2, ulong align)
        {
            BinaryPrimitives.WriteUInt32BigEndian(p, type);
            BinaryPrimitives.WriteUInt32BigEndian(p[4..], flags);
            BinaryPrimitives.WriteUInt64BigEndian(p[8..], offset);
            BinaryPrimitives.WriteUInt64BigEndian(p[16..], addr);
            BinaryPrimitives.WriteUInt64BigEndian(p[24..], addr);
            BinaryPrimitives.WriteUInt64BigEndian(p[32..], size2);
            BinaryPrimitives.WriteUInt64BigEndian(p[40..], size2);
            BinaryPrimitives.WriteUInt64BigEndian(p[48..], align);
        }
        Phdr(s[64..], 1, 7, off, Base, size, 0x1000);
        Phdr(s[120..], 4, 4, off + NotesAt, Base + NotesAt, (ulong)notes.Count, 4);
        notes.ToArray().CopyTo(f, off + NotesAt);
        return f;
    }

    private static void Ident(byte[] f, byte elfClass, byte data)
    {
        f[0] = 0x7f; f[1] = (byte)'E'; f[2] = (byte)'L'; f[3] = (byte)'F';
        f[4] = elfClass; f[5] = data; f[6] = 1;
    }

    public static (Dom0 Dom0, MachineMemory Memory) Build(byte[] kernel, int memoryMiB = 512, int pcpus = 1, int vcpus = 1,
        string cmdline = "", string? xenCommandLine = null)
    {
        var profile = MachineProfile.For(memoryMiB, pcpus, vcpus);
        var memory = new MachineMemory(profile.MachineFrames);
        return (Dom0Builder.Build(kernel, cmdline, profile, memory, xenCommandLine), memory);
    }

    public static DomainBuildException BuildFails(byte[] kernel, int memoryMiB = 512)
    {
        var profile = MachineProfile.For(memoryMiB, 1, 1);
        var memory = new MachineMemory(profile.MachineFrames);
        return Assert.Throws<DomainBuildException>(() => Dom0Builder.Build(kernel, "", profile, memory))!;
    }

    /// <summary>Xen's lines from "*** Building a PV Dom0 ***" up to and including the first line starting with <paramref name="last"/>.</summary>
    public static List<string> XenBuildLines(IReadOnlyList<string> transcriptLines, string last)
    {
        var result = new List<string>();
        bool on = false;
        foreach (var line in transcriptLines)
        {
            var x = Xtf.Hosting.ConsoleProtocol.XenText(line);
            if (x is null) continue;
            if (x == "*** Building a PV Dom0 ***") on = true;
            if (!on) continue;
            result.Add(x);
            if (x.StartsWith(last, StringComparison.Ordinal)) break;
        }
        return result;
    }

    /// <summary>The guest's view of <paramref name="length"/> bytes at <paramref name="va"/> through dom0's page tables.</summary>
    public static byte[] ReadVirtual(MachineMemory memory, ulong cr3, ulong va, int length)
    {
        var bytes = new byte[length];
        for (int i = 0; i < length;)
        {
            ulong at = PvPageTables.Translate(memory, cr3, va + (ulong)i) ?? throw new InvalidOperationException($"0x{va + (ulong)i:x} is not mapped");
            int n = Math.Min(length - i, MachineMemory.PageSize - (int)(at & MachineMemory.PageMask));
            memory.Read(at, bytes.AsSpan(i, n));
            i += n;
        }
        return bytes;
    }
}
