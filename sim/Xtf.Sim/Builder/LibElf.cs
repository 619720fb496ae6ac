using System.Buffers.Binary;
using System.Text;
using Xtf.Elf;

namespace Xtf.Sim.Builder;

/// <summary>
/// An ELF image as Xen's libelf sees it (<c>struct elf_binary</c>). Xen reads every header field on
/// its own, through a bounds-checked accessor that yields 0 for bytes outside the image, and it uses
/// the ELF32 field layout for any class other than ELFCLASS64. That leniency is what decides which
/// error a malformed image gets, so this reader copies it instead of validating up front the way
/// <see cref="Xtf.Elf.ElfImage"/> does.
/// </summary>
public sealed class XenElfBinary
{
    public const byte ClassElf32 = ElfLayout.ELFCLASS32, ClassElf64 = ElfLayout.ELFCLASS64;
    public const byte DataLsb = ElfLayout.ELFDATA2LSB, DataMsb = ElfLayout.ELFDATA2MSB;
    public const uint PtLoad = (uint)SegmentType.Load, PtNote = (uint)SegmentType.Note;
    public const uint ShtNote = SectionType.SHT_NOTE, ShtSymtab = 2, ShtStrtab = 3;
    public const ushort EmX86 = ElfMachine.X86, EmX86_64 = ElfMachine.X86_64, EmArm = ElfMachine.Arm;
    /// <summary>sizeof(Elf32_Ehdr): elf_is_elfbinary wants at least this many bytes.</summary>
    public const ulong MinimumSize = ElfLayout.Ehdr32.Size;
    /// <summary>ELF_MAX_STRING_LENGTH.</summary>
    public const ulong MaxStringLength = 4096;
    public const string OutOfRange = "out of range access";

    private readonly ReadOnlyMemory<byte> image;

    private XenElfBinary(ReadOnlyMemory<byte> image, ulong size)
    {
        this.image = image;
        Size = size;
        Class = (byte)Read(ElfLayout.Ident.Class, 1);
        Data = (byte)Read(ElfLayout.Ident.Data, 1);
    }

    /// <summary>The bytes held; <see cref="Size"/> may be larger (a module with headroom): the rest reads as zero.</summary>
    public ReadOnlySpan<byte> Image => image.Span;
    /// <summary>elf->size: what libelf may read.</summary>
    public ulong Size { get; }
    public byte Class { get; }
    public byte Data { get; }
    public bool Is64 => Class == ClassElf64;
    public bool Is32 => Class == ClassElf32;
    public bool Msb => Data == DataMsb;
    /// <summary>libelf byte-swaps whenever EI_DATA is not the host's (little-endian) value.</summary>
    private bool Swap => Data != DataLsb;

    /// <summary>elf->broken: the first problem elf_mark_broken was told of (Xen prints it at the end of the build).</summary>
    public string? Broken { get; private set; }

    public void MarkBroken(string message) => Broken ??= message;

    /// <summary>Lowest p_paddr and highest p_paddr + p_memsz of the loadable segments (elf_parse_binary).</summary>
    public ulong PStart { get; private set; } = ulong.MaxValue;
    public ulong PEnd { get; private set; }

    /// <summary>Image offset of the section name string table, when e_shstrndx names a section.</summary>
    public ulong? SectionStringTable { get; private set; }

    /// <summary>The SHT_SYMTAB section header elf_init found (with a valid sh_link), or null.</summary>
    public ulong? SymTab { get; private set; }

    /// <summary>Where elf_parse_bsdsyms puts the symbol table (0: nowhere).</summary>
    public ulong BsdSymtabPStart { get; private set; }
    public ulong BsdSymtabPEnd { get; private set; }

    // Field offsets from ElfLayout; anything but ELFCLASS64 gets the ELF32 layout, as in libelf.
    public ushort Machine => (ushort)Read(ElfLayout.Ehdr.Machine, 2);
    public ulong Entry => Is64 ? Read(ElfLayout.Ehdr.Entry, 8) : Read(ElfLayout.Ehdr32.Entry, 4);
    public ulong PhOff => Is64 ? Read(ElfLayout.Ehdr.PhOff, 8) : Read(ElfLayout.Ehdr32.PhOff, 4);
    public ulong ShOff => Is64 ? Read(ElfLayout.Ehdr.ShOff, 8) : Read(ElfLayout.Ehdr32.ShOff, 4);
    public ushort PhEntSize => (ushort)(Is64 ? Read(ElfLayout.Ehdr.PhEntSize, 2) : Read(ElfLayout.Ehdr32.PhEntSize, 2));
    public ushort PhNum => (ushort)(Is64 ? Read(ElfLayout.Ehdr.PhNum, 2) : Read(ElfLayout.Ehdr32.PhNum, 2));
    public ushort ShEntSize => (ushort)(Is64 ? Read(ElfLayout.Ehdr.ShEntSize, 2) : Read(ElfLayout.Ehdr32.ShEntSize, 2));
    public ushort ShNum => (ushort)(Is64 ? Read(ElfLayout.Ehdr.ShNum, 2) : Read(ElfLayout.Ehdr32.ShNum, 2));
    public ushort ShStrNdx => (ushort)(Is64 ? Read(ElfLayout.Ehdr.ShStrNdx, 2) : Read(ElfLayout.Ehdr32.ShStrNdx, 2));

    /// <summary>elf_shdr_count: e_shnum, but never more headers than the image could hold (else marked broken).</summary>
    public uint ShCount
    {
        get
        {
            uint count = ShNum;
            ulong max = Math.Min(Size / (ulong)ElfLayout.Shdr32.HeaderSize, uint.MaxValue);
            if (count <= max) return count;
            MarkBroken("far too many section headers");
            return (uint)max;
        }
    }

    /// <summary>A byte of the image; past the bytes held (within <see cref="Size"/>) zero.</summary>
    public byte ByteAt(ulong offset) => offset < (ulong)image.Length ? image.Span[(int)offset] : (byte)0;

    /// <summary>Copies <paramref name="dest"/>.Length bytes from <paramref name="offset"/>; bytes the image does not hold read as zero.</summary>
    public void CopyOut(ulong offset, Span<byte> dest)
    {
        dest.Clear();
        if (offset >= (ulong)image.Length) return;
        int n = (int)Math.Min((ulong)dest.Length, (ulong)image.Length - offset);
        image.Span.Slice((int)offset, n).CopyTo(dest);
    }

    /// <summary>elf_access_unsigned: an unsigned field of 1, 2, 4 or 8 bytes; 0 (and marked broken) when any byte lies outside the image.</summary>
    public ulong Read(ulong offset, int size)
    {
        if (!AccessOk(offset, (ulong)size)) return 0;
        Span<byte> b = stackalloc byte[8];
        CopyOut(offset, b[..size]);
        ulong v = size switch
        {
            1 => b[0],
            2 => BinaryPrimitives.ReadUInt16LittleEndian(b),
            4 => BinaryPrimitives.ReadUInt32LittleEndian(b),
            8 => BinaryPrimitives.ReadUInt64LittleEndian(b),
            _ => throw new ArgumentOutOfRangeException(nameof(size)),
        };
        if (!Swap || size == 1) return v;
        return size switch
        {
            2 => BinaryPrimitives.ReverseEndianness((ushort)v),
            4 => BinaryPrimitives.ReverseEndianness((uint)v),
            _ => BinaryPrimitives.ReverseEndianness(v),
        };
    }

    /// <summary>elf_access_ok: the range lies inside the image (no wrap-around); when not, the image is marked broken.</summary>
    public bool AccessOk(ulong offset, ulong size)
    {
        if (InImage(offset, size)) return true;
        MarkBroken(OutOfRange);
        return false;
    }

    /// <summary>The same test without libelf's side effect, for the model's own bookkeeping.</summary>
    public bool InImage(ulong offset, ulong size) => offset <= Size && size <= Size - offset;

    /// <summary>elf_strval: the NUL-terminated string at <paramref name="offset"/>; null (and marked broken) when it runs off the image or past 4096 bytes.</summary>
    public string? StringAt(ulong offset)
    {
        if (!AccessOk(offset, 1)) return null;
        ulong avail = Size - offset, look = Math.Min(avail, MaxStringLength + 1);
        int held = offset < (ulong)image.Length ? (int)Math.Min(look, (ulong)image.Length - offset) : 0;
        int nul = held > 0 ? image.Span.Slice((int)offset, held).IndexOf((byte)0) : -1;
        if (nul < 0 && (ulong)held < look) nul = held;   // the zeros past the bytes held
        if (nul >= 0) return Encoding.Latin1.GetString(image.Span.Slice((int)offset, Math.Min(nul, held)));
        MarkBroken(look == avail ? OutOfRange : "excessively long string");
        return null;
    }

    // ---- program and section headers (xen/common/libelf/libelf-tools.c) ----

    public ulong? PhdrAt(int index) => index < PhNum ? unchecked(PhOff + (ulong)PhEntSize * (ulong)index) : null;
    public ulong? ShdrAt(uint index) => index < ShCount ? unchecked(ShOff + (ulong)ShEntSize * index) : null;

    public uint PType(ulong ph) => (uint)Read(ph + ElfLayout.Phdr.Type, 4);
    public uint PFlags(ulong ph) => (uint)(Is64 ? Read(ph + ElfLayout.Phdr.Flags, 4) : Read(ph + ElfLayout.Phdr32.Flags, 4));
    public ulong POffset(ulong ph) => Is64 ? Read(ph + ElfLayout.Phdr.Offset, 8) : Read(ph + ElfLayout.Phdr32.Offset, 4);
    public ulong PVaddr(ulong ph) => Is64 ? Read(ph + ElfLayout.Phdr.Vaddr, 8) : Read(ph + ElfLayout.Phdr32.Vaddr, 4);
    public ulong PPaddr(ulong ph) => Is64 ? Read(ph + ElfLayout.Phdr.Paddr, 8) : Read(ph + ElfLayout.Phdr32.Paddr, 4);
    public ulong PFilesz(ulong ph) => Is64 ? Read(ph + ElfLayout.Phdr.Filesz, 8) : Read(ph + ElfLayout.Phdr32.Filesz, 4);
    public ulong PMemsz(ulong ph) => Is64 ? Read(ph + ElfLayout.Phdr.Memsz, 8) : Read(ph + ElfLayout.Phdr32.Memsz, 4);

    public uint ShName(ulong sh) => (uint)Read(sh + ElfLayout.Shdr.Name, 4);
    public uint ShType(ulong sh) => (uint)Read(sh + ElfLayout.Shdr.Type, 4);
    public ulong ShOffset(ulong sh) => Is64 ? Read(sh + ElfLayout.Shdr.Offset, 8) : Read(sh + ElfLayout.Shdr32.Offset, 4);
    public ulong ShSize(ulong sh) => Is64 ? Read(sh + ElfLayout.Shdr.Size, 8) : Read(sh + ElfLayout.Shdr32.Size, 4);
    public uint ShLink(ulong sh) => (uint)(Is64 ? Read(sh + ElfLayout.Shdr.Link, 4) : Read(sh + ElfLayout.Shdr32.Link, 4));

    /// <summary>sizeof(Elf64_Shdr) or sizeof(Elf32_Shdr), by class.</summary>
    public ulong ShdrSize => Is64 ? (ulong)ElfLayout.Shdr.HeaderSize : ElfLayout.Shdr32.HeaderSize;

    /// <summary>elf_round_up: to 8 bytes for ELF64, 4 otherwise.</summary>
    public ulong RoundUp(ulong addr)
    {
        ulong r = Is64 ? 7UL : 3UL;
        return unchecked((addr + r) & ~r);
    }

    /// <summary>elf_phdr_is_loadable: PT_LOAD with at least one of R, W, X.</summary>
    public bool IsLoadable(ulong ph) => PType(ph) == PtLoad && (PFlags(ph) & 7) != 0;

    /// <summary>elf_section_name: "unknown" without a string table, null when the name runs off the image.</summary>
    public string? SectionName(ulong sh) =>
        SectionStringTable is { } strtab ? StringAt(unchecked(strtab + ShName(sh))) : "unknown";

    /// <summary>elf_shdr_by_name (from section 1).</summary>
    public ulong? ShdrByName(string name)
    {
        uint count = ShCount;
        for (uint i = 1; i < count; i++)
        {
            var sh = ShdrAt(i)!.Value;
            if (!AccessOk(sh, 1)) break;
            if (SectionName(sh) == name) return sh;
        }
        return null;
    }

    /// <summary>
    /// elf_init (libelf-loader.c) on <paramref name="size"/> bytes of which <paramref name="image"/> holds the first:
    /// the magic, then the program and section header tables must end inside the image; then the section
    /// name table and the symbol table are found. On failure the libelf message is added to <paramref name="log"/> and null returned.
    /// </summary>
    public static XenElfBinary? Init(ReadOnlyMemory<byte> image, ulong size, List<string> log)
    {
        var s = image.Span;
        // elf_is_elfbinary: at least an Elf32_Ehdr, and the four magic bytes.
        if (size < MinimumSize || s.Length < 4 || s[ElfLayout.Ident.Mag0] != ElfLayout.Ident.Magic0 || s[ElfLayout.Ident.Mag1] != ElfLayout.Ident.Magic1 ||
            s[ElfLayout.Ident.Mag2] != ElfLayout.Ident.Magic2 || s[ElfLayout.Ident.Mag3] != ElfLayout.Ident.Magic3)
        {
            log.Add("ELF: not an ELF binary");
            return null;
        }
        var elf = new XenElfBinary(image, size);
        ulong end = unchecked(elf.PhOff + (ulong)elf.PhEntSize * elf.PhNum);
        if (end > elf.Size)
        {
            log.Add($"ELF: phdr overflow (off {end:x} > size {elf.Size:x})");
            return null;
        }
        end = unchecked(elf.ShOff + (ulong)elf.ShEntSize * elf.ShCount);
        if (end > elf.Size)
        {
            log.Add($"ELF: shdr overflow (off {end:x} > size {elf.Size:x})");
            return null;
        }
        if (elf.ShdrAt(elf.ShStrNdx) is { } strtab)
            elf.SectionStringTable = elf.ShOffset(strtab);

        // The symbol table: the first SHT_SYMTAB whose sh_link names a section (an out-of-range link ends the search).
        uint count = elf.ShCount;
        for (uint i = 1; i < count; i++)
        {
            ulong sh = elf.ShdrAt(i)!.Value;
            if (!elf.AccessOk(sh, 1)) break;
            if (elf.ShType(sh) != ShtSymtab) continue;
            uint link = elf.ShLink(sh);
            if (link == 0 || link >= count) break;
            elf.SymTab = sh;
            break;
        }
        return elf;
    }

    /// <summary>elf_parse_binary (libelf-loader.c): the physical extent of the loadable segments.</summary>
    public void ParseBinary()
    {
        ulong low = ulong.MaxValue, high = 0;
        for (int i = 0; i < PhNum; i++)
        {
            ulong ph = PhdrAt(i)!.Value;
            if (!AccessOk(ph, 1)) break;   // an absurd e_phnum: stop at the end of the image
            if (!IsLoadable(ph)) continue;
            ulong paddr = PPaddr(ph), memsz = PMemsz(ph);
            if (low > paddr) low = paddr;
            if (high < unchecked(paddr + memsz)) high = unchecked(paddr + memsz);
        }
        PStart = low;
        PEnd = high;
    }

    /// <summary>
    /// elf_parse_bsdsyms (libelf-loader.c): room after the kernel for a size word, an ELF header with three
    /// section headers, the symbol table and its string table, each rounded; nothing when there is no usable table.
    /// </summary>
    public void ParseBsdSyms(ulong pstart)
    {
        if (SymTab is not { } symtab)
        {
            MarkBroken("invalid ELF handle for symtab section");
            return;
        }
        pstart = RoundUp(pstart);
        ulong sz = RoundUp(BsdSymHeaderBytes + BsdSymSections * ShdrSize);
        sz = RoundUp(unchecked(sz + ShSize(symtab)));
        ulong? strtab = ShdrAt(ShLink(symtab));
        if (strtab is null || !AccessOk(strtab.Value, 1)) return;
        if (ShType(strtab.Value) != ShtStrtab) return;
        sz = RoundUp(unchecked(sz + ShSize(strtab.Value)));
        BsdSymtabPStart = pstart;
        BsdSymtabPEnd = unchecked(pstart + sz);
    }

    /// <summary>ELF_BSDSYM_SECTIONS: the null section, the symbol table and its strings.</summary>
    public const int BsdSymSections = 3;
    /// <summary>sizeof(uint32_t) + offsetof(struct elf_sym_header, elf_header.section): the size word, then the 64-byte ELF header union.</summary>
    public const ulong BsdSymHeaderBytes = 4 + 4 + 64;
}

/// <summary>XEN_PAE_* values of <see cref="ElfDomParms.Pae"/>.</summary>
public enum XenPaeMode { None = 0, Yes = 1, ExtCr3 = 2, Bimodal = 3 }

/// <summary>
/// What libelf extracts from the Xen notes (<c>struct elf_dom_parms</c>). Unset numeric values are
/// null. The four identification strings are stored as libelf stores them: at most 15 bytes.
/// </summary>
public sealed class ElfDomParms
{
    /// <summary>sizeof(parms->loader) etc.: 16 bytes including the NUL.</summary>
    public const int IdStringBytes = 16;

    public ulong? VirtBase { get; set; }
    public ulong? VirtEntry { get; set; }
    public ulong? VirtHypercall { get; set; }
    public ulong? VirtHvStartLow { get; set; }
    public ulong? P2mBase { get; set; }
    public ulong? ElfPaddrOffset { get; set; }
    public ulong? PhysEntry { get; set; }
    public XenPaeMode Pae { get; set; }
    public bool BsdSymtab { get; set; }
    public bool UnmappedInitrd { get; set; }
    public string Loader { get; set; } = "";
    public string GuestOs { get; set; } = "";
    public string GuestVersion { get; set; } = "";
    public string XenVersion { get; set; } = "";
    /// <summary>XENFEAT bits the kernel supports (submap 0).</summary>
    public uint FeaturesSupported { get; set; }
    /// <summary>XENFEAT bits the kernel requires (the '!' features).</summary>
    public uint FeaturesRequired { get; set; }
    /// <summary>Note types seen (parms->elf_notes[type].type != XEN_ENT_NONE).</summary>
    public HashSet<uint> NotesPresent { get; } = [];
    /// <summary>A note area was found (parms->elf_note_start valid).</summary>
    public bool HasNoteArea { get; set; }
    /// <summary>The legacy '__xen_guest' section was used (parms->guest_info valid).</summary>
    public bool HasGuestInfo { get; set; }
    
    /// <summary>The raw Xen-owned notes, in file order (for <see cref="Xtf.Elf.XenNotes"/>).</summary>
    public List<Xtf.Elf.ElfNote> RawXenNotes { get; } = [];

    public ulong VirtKStart { get; set; }
    public ulong VirtKEnd { get; set; }

    public bool Supports(int feature) => (FeaturesSupported & (1u << feature)) != 0;
    public bool Requires(int feature) => (FeaturesRequired & (1u << feature)) != 0;
}

/// <summary>
/// libelf's Xen-specific parsing (xen/common/libelf/libelf-dominfo.c), PV mode: notes from the
/// PT_NOTE segments, else the SHT_NOTE sections, else the legacy '__xen_guest' section; then the
/// required-note check and the address calculation. Error texts are the ones Xen 4.17 prints
/// (measured: no function-name prefix).
/// </summary>
public static class LibElfDomInfo
{
    public const uint NoteEntry = 1, NoteHypercallPage = 2, NoteVirtBase = 3, NotePaddrOffset = 4, NoteXenVersion = 5,
        NoteGuestOs = 6, NoteGuestVersion = 7, NoteLoader = 8, NotePaeMode = 9, NoteFeatures = 10, NoteBsdSymtab = 11,
        NoteHvStartLow = 12, NoteSuspendCancel = 14, NoteInitP2m = 15, NoteModStartPfn = 16,
        NoteSupportedFeatures = 17, NotePhys32Entry = 18;

    /// <summary>ELF_MAX_TOTAL_NOTE_COUNT.</summary>
    public const int MaxTotalNotes = 65536;

    /// <summary>elf_xen_feature_names: the names libelf knows, by XENFEAT bit.</summary>
    private static readonly (string Name, int Bit)[] FeatureNames =
    [
        ("writable_page_tables", 0), ("writable_descriptor_tables", 1), ("auto_translated_physmap", 2),
        ("supervisor_mode_kernel", 3), ("pae_pgdir_above_4gb", 4), ("hvm_callback_vector", 8), ("dom0", 11),
    ];

    /// <summary>Which note types carry strings (note_desc[].str); null = a type libelf does not know.</summary>
    private static bool? IsStringNote(uint type) => type switch
    {
        NoteEntry or NoteHypercallPage or NoteVirtBase or NoteInitP2m or NotePaddrOffset or NoteHvStartLow
            or NoteSupportedFeatures or NoteSuspendCancel or NoteModStartPfn or NotePhys32Entry => false,
        NoteXenVersion or NoteGuestOs or NoteGuestVersion or NoteLoader or NotePaeMode or NoteFeatures or NoteBsdSymtab => true,
        _ => null,
    };

    /// <summary>elf_xen_parse (PV): null and a message in <paramref name="log"/> (sometimes none, as in Xen) on failure.</summary>
    public static ElfDomParms? Parse(XenElfBinary elf, List<string> log)
    {
        var parms = new ElfDomParms();
        int total = 0, xenNotes = 0;

        // Notes in PT_NOTE segments (those with p_offset 0 are skipped: some binutils left it unset).
        for (int i = 0; i < elf.PhNum; i++)
        {
            ulong ph = elf.PhdrAt(i)!.Value;
            if (!elf.AccessOk(ph, 1)) break;
            if (elf.PType(ph) != XenElfBinary.PtNote) continue;
            ulong offset = elf.POffset(ph);
            if (offset == 0) continue;
            int more = ParseNotes(elf, parms, offset, unchecked(offset + elf.PFilesz(ph)), ref total);
            if (more < 0) return null;
            xenNotes += more;
        }

        // Fall back to SHT_NOTE sections.
        if (xenNotes == 0)
        {
            uint count = elf.ShCount;
            for (uint i = 1; i < count; i++)
            {
                ulong sh = elf.ShdrAt(i)!.Value;
                if (!elf.AccessOk(sh, 1)) break;
                if (elf.ShType(sh) != XenElfBinary.ShtNote) continue;
                ulong offset = elf.ShOffset(sh);
                int more = ParseNotes(elf, parms, offset, unchecked(offset + elf.ShSize(sh)), ref total);
                if (more < 0) return null;
                xenNotes += more;
            }
        }

        // Finally the legacy '__xen_guest' section.
        if (xenNotes == 0 && elf.ShdrByName("__xen_guest") is { } guest)
        {
            parms.HasGuestInfo = true;
            parms.HasNoteArea = false;
            ParseGuestInfo(elf, parms, elf.ShOffset(guest));
        }

        if (!NoteCheck(elf, parms, log)) return null;
        if (!AddrCalcCheck(elf, parms, log)) return null;
        return parms;
    }

    /// <summary>elf_xen_parse_notes: the Xen notes in [start, end); -1 when one is invalid.</summary>
    private static int ParseNotes(XenElfBinary elf, ElfDomParms parms, ulong start, ulong end, ref int total)
    {
        int xenNotes = 0;
        parms.HasNoteArea = true;
        for (ulong note = start; note < end; note = NextNote(elf, note))
        {
            if (total >= MaxTotalNotes)
            {
                elf.MarkBroken("too many ELF notes");
                break;
            }
            total++;
            string? name = elf.StringAt(unchecked(note + ElfLayout.Nhdr.Size));   // elf_note_name
            if (name != "Xen") continue;
            ulong desc = NoteDesc(elf, note);
            uint descsz = (uint)elf.Read(note + ElfLayout.Nhdr.DescSz, 4);
            var bytes = new byte[elf.InImage(desc, 0) ? Math.Min(descsz, elf.Size - desc) : 0];
            elf.CopyOut(desc, bytes);
            parms.RawXenNotes.Add(new Xtf.Elf.ElfNote("Xen", (uint)elf.Read(note + ElfLayout.Nhdr.Type, 4), bytes));
            if (!ParseNote(elf, parms, note, desc, descsz)) return -1;
            xenNotes++;
        }
        return xenNotes;
    }

    /// <summary>elf_note_desc: past the 12-byte header and the name, its size rounded up to 4 in 32 bits.</summary>
    private static ulong NoteDesc(XenElfBinary elf, ulong note) =>
        unchecked(note + ElfLayout.Nhdr.Size + (uint)((elf.Read(note + ElfLayout.Nhdr.NameSz, 4) + 3) & ~3UL));

    /// <summary>elf_note_next: past the descriptor; the end of the walk when that wraps or sticks, or the note lies outside the image.</summary>
    private static ulong NextNote(XenElfBinary elf, ulong note)
    {
        uint namesz = (uint)((elf.Read(note + ElfLayout.Nhdr.NameSz, 4) + 3) & ~3UL);
        uint descsz = (uint)((elf.Read(note + ElfLayout.Nhdr.DescSz, 4) + 3) & ~3UL);
        ulong next = unchecked(note + ElfLayout.Nhdr.Size + namesz + descsz);
        return next <= note || !elf.AccessOk(note, 1) ? ulong.MaxValue : next;
    }

    /// <summary>elf_xen_parse_note: one Xen note into <paramref name="parms"/>; false for an unknown required feature.</summary>
    private static bool ParseNote(XenElfBinary elf, ElfDomParms parms, ulong note, ulong desc, uint descsz)
    {
        uint type = (uint)elf.Read(note + ElfLayout.Nhdr.Type, 4);
        bool? isString = IsStringNote(type);
        if (isString is null) return true;   // unknown type: ignored
        string? str = null;
        ulong val = 0;
        if (isString.Value)
        {
            str = elf.StringAt(desc);
            if (str is null) return true;   // elf_strval marked the image broken
        }
        else
        {
            val = descsz is 1 or 2 or 4 or 8 ? elf.Read(desc, (int)descsz) : 0;   // elf_note_numeric
        }
        parms.NotesPresent.Add(type);

        switch (type)
        {
            case NoteLoader: parms.Loader = IdString(str!); break;
            case NoteGuestOs: parms.GuestOs = IdString(str!); break;
            case NoteGuestVersion: parms.GuestVersion = IdString(str!); break;
            case NoteXenVersion: parms.XenVersion = IdString(str!); break;
            case NotePaeMode:
                if (str == "yes") parms.Pae = XenPaeMode.ExtCr3;
                if (str!.Contains("bimodal", StringComparison.Ordinal)) parms.Pae = XenPaeMode.Bimodal;
                break;
            case NoteBsdSymtab:
                if (str == "yes") parms.BsdSymtab = true;
                break;
            case NoteVirtBase: parms.VirtBase = val; break;
            case NoteEntry: parms.VirtEntry = val; break;
            case NoteInitP2m: parms.P2mBase = val; break;
            case NoteModStartPfn: parms.UnmappedInitrd = val != 0; break;
            case NotePaddrOffset: parms.ElfPaddrOffset = val; break;
            case NoteHypercallPage: parms.VirtHypercall = val; break;
            case NoteHvStartLow: parms.VirtHvStartLow = val; break;
            case NoteFeatures:
                if (!ParseFeatures(str!, parms)) return false;
                break;
            case NoteSupportedFeatures:
                // elf_note_numeric_array with 4-byte units: submap 0 is the first u32 (XENFEAT_NR_SUBMAPS = 1).
                if (descsz % 4 == 0 && descsz / 4 > 0) parms.FeaturesSupported |= (uint)elf.Read(desc, 4);
                break;
            case NotePhys32Entry: parms.PhysEntry = val; break;
        }
        return true;
    }

    /// <summary>safe_strcpy into a 16-byte buffer: at most 15 bytes survive.</summary>
    private static string IdString(string s) => s.Length < ElfDomParms.IdStringBytes ? s : s[..(ElfDomParms.IdStringBytes - 1)];

    /// <summary>
    /// elf_xen_parse_features: names separated by '|', at most 63 characters each (a longer one is cut
    /// and its rest read as the next name); '!' marks a required feature. An unknown required name fails.
    /// </summary>
    public static bool ParseFeatures(string features, ElfDomParms parms)
    {
        int pos = 0;
        while (pos < features.Length)
        {
            var feature = new StringBuilder();
            int len = 0;
            for (; ; len++)
            {
                if (len >= 63) break;
                if (pos + len >= features.Length) break;
                if (features[pos + len] == '|')
                {
                    len++;
                    break;
                }
                feature.Append(features[pos + len]);
            }
            pos += len;
            string f = feature.ToString();
            bool required = f.StartsWith('!');
            string name = required ? f[1..] : f;
            int bit = Array.FindIndex(FeatureNames, x => x.Name == name);
            if (bit >= 0)
            {
                uint mask = 1u << FeatureNames[bit].Bit;
                parms.FeaturesSupported |= mask;
                if (required) parms.FeaturesRequired |= mask;
            }
            else if (required)
            {
                return false;
            }
            if (len == 0) break;
        }
        return true;
    }

    /// <summary>elf_xen_parse_guest_info: the legacy comma-separated NAME=VALUE string.</summary>
    private static void ParseGuestInfo(XenElfBinary elf, ElfDomParms parms, ulong h)
    {
        byte At(ulong p) => (byte)elf.Read(p, 1);
        while (At(h) != 0)
        {
            var name = new StringBuilder();
            var value = new StringBuilder();
            for (int len = 0; ; len++, h++)
            {
                if (len >= 31) break;
                byte c = At(h);
                if (c == 0) break;
                if (c == ',')
                {
                    h++;
                    break;
                }
                if (c == '=')
                {
                    h++;
                    for (int vlen = 0; ; vlen++, h++)
                    {
                        if (vlen >= 127) break;
                        byte v = At(h);
                        if (v == 0) break;
                        if (v == ',')
                        {
                            h++;
                            break;
                        }
                        value.Append((char)v);
                    }
                    break;
                }
                name.Append((char)c);
            }
            string n = name.ToString(), val = value.ToString();
            switch (n)
            {
                case "LOADER": parms.Loader = IdString(val); break;
                case "GUEST_OS": parms.GuestOs = IdString(val); break;
                case "GUEST_VER": parms.GuestVersion = IdString(val); break;
                case "XEN_VER": parms.XenVersion = IdString(val); break;
                case "PAE":
                    if (val == "yes[extended-cr3]") parms.Pae = XenPaeMode.ExtCr3;
                    else if (val.StartsWith("yes", StringComparison.Ordinal)) parms.Pae = XenPaeMode.Yes;
                    break;
                case "BSD_SYMTAB": parms.BsdSymtab = true; break;
                case "VIRT_BASE": parms.VirtBase = StrToUll(val); break;
                case "VIRT_ENTRY": parms.VirtEntry = StrToUll(val); break;
                case "ELF_PADDR_OFFSET": parms.ElfPaddrOffset = StrToUll(val); break;
                case "HYPERCALL_PAGE": parms.VirtHypercall = unchecked((StrToUll(val) << 12) + (parms.VirtBase ?? ulong.MaxValue)); break;
                case "FEATURES": ParseFeatures(val, parms); break;
            }
        }
    }

    /// <summary>strtoull(value, NULL, 0): optional 0x (hex) or leading 0 (octal) prefix, stops at the first bad digit.</summary>
    public static ulong StrToUll(string s)
    {
        int i = 0;
        while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
        int radix = 10;
        if (i + 1 < s.Length && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) { radix = 16; i += 2; }
        else if (i < s.Length && s[i] == '0') radix = 8;
        ulong v = 0;
        for (; i < s.Length; i++)
        {
            int d = s[i] switch
            {
                >= '0' and <= '9' => s[i] - '0',
                >= 'a' and <= 'f' => s[i] - 'a' + 10,
                >= 'A' and <= 'F' => s[i] - 'A' + 10,
                _ => 99,
            };
            if (d >= radix) break;
            v = unchecked(v * (ulong)radix + (ulong)d);
        }
        return v;
    }

    /// <summary>elf_xen_note_check (PV): notes present, generic loader or Linux, Xen 3.0.</summary>
    private static bool NoteCheck(XenElfBinary elf, ElfDomParms parms, List<string> log)
    {
        if (!parms.HasNoteArea && !parms.HasGuestInfo)
        {
            if (elf.Machine is XenElfBinary.EmX86 or XenElfBinary.EmX86_64)
            {
                log.Add("ERROR: Not a Xen-ELF image: No ELF notes or '__xen_guest' section found");
                return false;
            }
            return true;
        }
        if (elf.Machine == XenElfBinary.EmArm) return true;   // "Not bothering with notes on ARM"

        bool generic = parms.Loader.StartsWith("generic", StringComparison.Ordinal);
        bool linux = parms.GuestOs.StartsWith("linux", StringComparison.Ordinal);
        if (!generic && !linux)
        {
            log.Add("ERROR: Will only load images built for the generic loader or Linux images " +
                    $"(Not '{parms.Loader}' and '{parms.GuestOs}') or with PHYS32_ENTRY set");
            return false;
        }
        if (!parms.XenVersion.StartsWith("xen-3.0", StringComparison.Ordinal))
        {
            log.Add($"ERROR: Xen will only load images built for Xen v3.0 (Not '{parms.XenVersion}')");
            return false;
        }
        return true;
    }

    /// <summary>elf_xen_addr_calc_check: VIRT_BASE/PADDR_OFFSET defaults, the kernel's virtual extent, entry bounds.</summary>
    private static bool AddrCalcCheck(XenElfBinary elf, ElfDomParms parms, List<string> log)
    {
        if (parms.ElfPaddrOffset is not null && parms.VirtBase is null)
        {
            log.Add("ERROR: ELF_PADDR_OFFSET set, VIRT_BASE unset");
            return false;
        }
        parms.VirtBase ??= 0;
        // Notes default the offset to 0; the legacy section defaults it to VIRT_BASE.
        parms.ElfPaddrOffset ??= parms.HasNoteArea ? 0 : parms.VirtBase;
        ulong virtOffset = unchecked(parms.VirtBase.Value - parms.ElfPaddrOffset.Value);
        parms.VirtKStart = unchecked(elf.PStart + virtOffset);
        parms.VirtKEnd = unchecked(elf.PEnd + virtOffset);
        parms.VirtEntry ??= elf.Entry;
        if (parms.BsdSymtab)
        {
            // BSD_SYMTAB "yes": the symbol table is loaded after the kernel, whose extent grows by it.
            elf.ParseBsdSyms(elf.PEnd);
            if (elf.BsdSymtabPEnd != 0) parms.VirtKEnd = unchecked(elf.BsdSymtabPEnd + virtOffset);
        }

        if (parms.VirtKStart > parms.VirtKEnd || parms.VirtEntry < parms.VirtKStart ||
            parms.VirtEntry > parms.VirtKEnd || parms.VirtBase > parms.VirtKStart)
        {
            log.Add("ERROR: ELF start or entries are out of bounds");
            return false;
        }
        if (parms.P2mBase is { } p2m && p2m >= parms.VirtKStart && p2m < parms.VirtKEnd)
        {
            log.Add("ERROR: P->M table base is out of bounds");
            return false;
        }
        return true;
    }
}
