using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace Xtf.Elf;

/// <summary>
/// A parsed, validated little-endian ELF32 or ELF64 file. <see cref="Parse"/> throws only
/// <see cref="ElfFormatException"/> for bad input. All range arithmetic is done in 128 bits.
/// </summary>
public sealed class ElfImage
{
    public const int MaxProgramHeaders = 65536;
    private const int IdentSize = ElfLayout.Ident.Size;
    private const ushort PnXnum = ElfLayout.PN_XNUM;
    private const ushort ShnXindex = ElfLayout.SHN_XINDEX;

    private ElfImage(ReadOnlyMemory<byte> bytes, ElfClass elfClass, ushort fileType, ushort machine, ulong entry,
        IReadOnlyList<ProgramHeader> programHeaders, IReadOnlyList<SectionHeader> sections, IReadOnlyList<ElfNote> notes)
    {
        Bytes = bytes;
        Class = elfClass;
        FileType = fileType;
        Machine = machine;
        Entry = entry;
        ProgramHeaders = programHeaders;
        Sections = sections;
        Notes = notes;
        Xen = new XenNotes(notes);
    }

    public ElfClass Class { get; }
    /// <summary>Always true: big-endian files are rejected.</summary>
    public bool LittleEndian => true;
    public ushort FileType { get; }
    public ushort Machine { get; }
    public ulong Entry { get; }
    public IReadOnlyList<ProgramHeader> ProgramHeaders { get; }
    public IReadOnlyList<SectionHeader> Sections { get; }

    /// <summary>
    /// Notes from the PT_NOTE segments (those with p_offset 0 are skipped, as Xen does); when there is
    /// no such segment, from the SHT_NOTE sections.
    /// </summary>
    public IReadOnlyList<ElfNote> Notes { get; }
    public ReadOnlyMemory<byte> Bytes { get; }
    public XenNotes Xen { get; }

    /// <summary>The p_filesz bytes at p_offset of a segment.</summary>
    public ReadOnlySpan<byte> FileBytes(ProgramHeader ph)
    {
        ArgumentNullException.ThrowIfNull(ph);
        if ((UInt128)ph.Offset + ph.FileSize > (ulong)Bytes.Length)
            throw new ArgumentOutOfRangeException(nameof(ph),
                $"file range 0x{ph.Offset:x}+0x{ph.FileSize:x} is outside the file (0x{Bytes.Length:x} bytes)");
        return Bytes.Span.Slice((int)ph.Offset, (int)ph.FileSize);
    }

    public static ElfImage Parse(ReadOnlyMemory<byte> bytes)
    {
        var file = bytes.Span;
        CheckIdentification(file);
        var elfClass = (ElfClass)file[ElfLayout.Ident.Class];
        bool is64 = elfClass == ElfClass.Elf64;
        int ehSize = is64 ? ElfLayout.Ehdr.Size : ElfLayout.Ehdr32.Size;
        int phEntSize = is64 ? ElfLayout.Phdr.Size : ElfLayout.Phdr32.Size;
        int shEntSize = is64 ? ElfLayout.Shdr.HeaderSize : ElfLayout.Shdr32.HeaderSize;
        string className = is64 ? "ELF64" : "ELF32";
        if (file.Length < ehSize)
            throw Fail($"file is too short for the {className} header ({file.Length} bytes, need {ehSize})");

        // e_type, e_machine and e_version sit at the same offsets in both classes.
        ushort fileType = U16(file, ElfLayout.Ehdr.Type), machine = U16(file, ElfLayout.Ehdr.Machine);
        uint version = U32(file, ElfLayout.Ehdr.Version);
        if (version != ElfLayout.EV_CURRENT)
            throw Fail($"bad e_version {version} (expected 1)");
        ulong entry = is64 ? U64(file, ElfLayout.Ehdr.Entry) : U32(file, ElfLayout.Ehdr32.Entry);
        ulong phoff = is64 ? U64(file, ElfLayout.Ehdr.PhOff) : U32(file, ElfLayout.Ehdr32.PhOff);
        ulong shoff = is64 ? U64(file, ElfLayout.Ehdr.ShOff) : U32(file, ElfLayout.Ehdr32.ShOff);
        ushort eEhSize = U16(file, is64 ? ElfLayout.Ehdr.EhSize : ElfLayout.Ehdr32.EhSize);
        ushort ePhEntSize = U16(file, is64 ? ElfLayout.Ehdr.PhEntSize : ElfLayout.Ehdr32.PhEntSize);
        ushort ePhNum = U16(file, is64 ? ElfLayout.Ehdr.PhNum : ElfLayout.Ehdr32.PhNum);
        ushort eShEntSize = U16(file, is64 ? ElfLayout.Ehdr.ShEntSize : ElfLayout.Ehdr32.ShEntSize);
        ushort eShNum = U16(file, is64 ? ElfLayout.Ehdr.ShNum : ElfLayout.Ehdr32.ShNum);
        ushort eShStrNdx = U16(file, is64 ? ElfLayout.Ehdr.ShStrNdx : ElfLayout.Ehdr32.ShStrNdx);
        if (eEhSize != ehSize)
            throw Fail($"e_ehsize is {eEhSize} but an {className} header is {ehSize} bytes");

        // Section header 0 holds the real counts when e_phnum, e_shnum or e_shstrndx overflow.
        ulong phCount = ePhNum, shCount = eShNum, strIndex = eShStrNdx;
        if (shoff != 0)
        {
            if (eShEntSize != shEntSize)
                throw Fail($"e_shentsize is {eShEntSize} but an {className} section header is {shEntSize} bytes");
            CheckTable("section header table", shoff, 1, shEntSize, ehSize, file.Length);
            var (_, first) = ReadSection(file[(int)shoff..], is64);
            if (eShNum == 0) shCount = first.Size;
            if (ePhNum == PnXnum) phCount = first.Info;
            if (eShStrNdx == ShnXindex) strIndex = first.Link;
        }
        else if (eShNum != 0)
            throw Fail($"e_shnum is {eShNum} but e_shoff is 0");
        else if (ePhNum == PnXnum)
            throw Fail("e_phnum is PN_XNUM (0xffff) but there is no section header 0 holding the real count");

        var programHeaders = ReadProgramHeaders(file, is64, phoff, phCount, ePhEntSize, phEntSize, ehSize, className);
        var sections = ReadSections(file, is64, shoff, shCount, strIndex, shEntSize, ehSize);
        var notes = ReadNotes(bytes, programHeaders, sections);
        return new ElfImage(bytes, elfClass, fileType, machine, entry, programHeaders, sections, notes);
    }

    private static void CheckIdentification(ReadOnlySpan<byte> file)
    {
        if (file.Length == 0)
            throw Fail("file is empty");
        if (file.Length < IdentSize)
            throw Fail($"file is too short for the ELF identification ({file.Length} bytes, need {IdentSize})");
        if (file[ElfLayout.Ident.Mag0] != ElfLayout.Ident.Magic0 || file[ElfLayout.Ident.Mag1] != ElfLayout.Ident.Magic1 ||
            file[ElfLayout.Ident.Mag2] != ElfLayout.Ident.Magic2 || file[ElfLayout.Ident.Mag3] != ElfLayout.Ident.Magic3)
            throw Fail($"not an ELF file (starts with {Convert.ToHexString(file[..4])}, expected 7F454C46)");
        byte elfClass = file[ElfLayout.Ident.Class], data = file[ElfLayout.Ident.Data], identVersion = file[ElfLayout.Ident.Version];
        if (elfClass is not (ElfLayout.ELFCLASS32 or ElfLayout.ELFCLASS64))
            throw Fail($"bad EI_CLASS {elfClass} (expected 1 for ELF32 or 2 for ELF64)");
        if (data == ElfLayout.ELFDATA2MSB)
            throw Fail("big-endian ELF is not supported");
        if (data != ElfLayout.ELFDATA2LSB)
            throw Fail($"bad EI_DATA {data} (expected 1 for little-endian)");
        if (identVersion != ElfLayout.EV_CURRENT)
            throw Fail($"bad EI_VERSION {identVersion} (expected 1)");
    }

    private static List<ProgramHeader> ReadProgramHeaders(ReadOnlySpan<byte> file, bool is64, ulong phoff, ulong count,
        ushort entSize, int expectedEntSize, int ehSize, string className)
    {
        var result = new List<ProgramHeader>();
        if (count == 0)
            return result;
        if (count > MaxProgramHeaders)
            throw Fail($"program header count {count} is absurd (more than {MaxProgramHeaders})");
        if (entSize != expectedEntSize)
            throw Fail($"e_phentsize is {entSize} but an {className} program header is {expectedEntSize} bytes");
        CheckTable("program header table", phoff, count, entSize, ehSize, file.Length);

        UInt128 addressLimit = is64 ? (UInt128)1 << 64 : (UInt128)1 << 32;
        for (int i = 0; i < (int)count; i++)
        {
            var ph = ReadProgramHeader(file[((int)phoff + i * entSize)..], is64);
            CheckSegment(i, ph, file.Length, addressLimit, is64 ? 64 : 32);
            result.Add(ph);
        }
        var loads = result.Select((ph, i) => (Index: i, Ph: ph))
            .Where(x => x.Ph.Type == SegmentType.Load && x.Ph.MemorySize != 0).ToList();
        CheckNoOverlap(loads.Select(x => (x.Index, x.Ph.VirtualAddress, x.Ph.MemorySize)).ToList(), "virtual");
        CheckNoOverlap(loads.Select(x => (x.Index, x.Ph.PhysicalAddress, x.Ph.MemorySize)).ToList(), "physical");
        return result;
    }

    private static ProgramHeader ReadProgramHeader(ReadOnlySpan<byte> e, bool is64) => is64
        ? new ProgramHeader((SegmentType)U32(e, ElfLayout.Phdr.Type), (SegmentFlags)U32(e, ElfLayout.Phdr.Flags),
            U64(e, ElfLayout.Phdr.Offset), U64(e, ElfLayout.Phdr.Vaddr), U64(e, ElfLayout.Phdr.Paddr),
            U64(e, ElfLayout.Phdr.Filesz), U64(e, ElfLayout.Phdr.Memsz), U64(e, ElfLayout.Phdr.Align))
        : new ProgramHeader((SegmentType)U32(e, ElfLayout.Phdr32.Type), (SegmentFlags)U32(e, ElfLayout.Phdr32.Flags),
            U32(e, ElfLayout.Phdr32.Offset), U32(e, ElfLayout.Phdr32.Vaddr), U32(e, ElfLayout.Phdr32.Paddr),
            U32(e, ElfLayout.Phdr32.Filesz), U32(e, ElfLayout.Phdr32.Memsz), U32(e, ElfLayout.Phdr32.Align));

    private static void CheckSegment(int index, ProgramHeader ph, int fileLength, UInt128 addressLimit, int bits)
    {
        string who = $"program header {index} ({TypeName(ph.Type)})";
        if ((UInt128)ph.Offset + ph.FileSize > (ulong)fileLength)
            throw Fail($"{who}: file range 0x{ph.Offset:x}+0x{ph.FileSize:x} extends past end of file (0x{fileLength:x} bytes)");
        if (ph.Align != 0 && !BitOperations.IsPow2(ph.Align))
            throw Fail($"{who}: p_align 0x{ph.Align:x} is not a power of two");
        if ((UInt128)ph.VirtualAddress + ph.MemorySize > addressLimit)
            throw Fail($"{who}: virtual range 0x{ph.VirtualAddress:x}+0x{ph.MemorySize:x} overflows the {bits}-bit address space");
        if ((UInt128)ph.PhysicalAddress + ph.MemorySize > addressLimit)
            throw Fail($"{who}: physical range 0x{ph.PhysicalAddress:x}+0x{ph.MemorySize:x} overflows the {bits}-bit address space");
        if (ph.Type != SegmentType.Load)
            return;
        if (ph.FileSize > ph.MemorySize)
            throw Fail($"{who}: p_filesz 0x{ph.FileSize:x} is larger than p_memsz 0x{ph.MemorySize:x}");
        if (ph.Align > 1 && unchecked(ph.VirtualAddress - ph.Offset) % ph.Align != 0)
            throw Fail($"{who}: p_vaddr 0x{ph.VirtualAddress:x} and p_offset 0x{ph.Offset:x} are not congruent modulo p_align 0x{ph.Align:x}");
    }

    /// <summary>Sorted by start, any overlap shows up between neighbours.</summary>
    private static void CheckNoOverlap(List<(int Index, ulong Start, ulong Size)> ranges, string space)
    {
        ranges.Sort((a, b) => a.Start != b.Start ? a.Start.CompareTo(b.Start) : a.Index.CompareTo(b.Index));
        for (int k = 1; k < ranges.Count; k++)
        {
            var (a, b) = (ranges[k - 1], ranges[k]);
            if ((UInt128)a.Start + a.Size > b.Start)
            {
                var (lo, hi) = a.Index < b.Index ? (a, b) : (b, a);
                throw Fail($"program headers {lo.Index} and {hi.Index} (PT_LOAD): {space} ranges " +
                           $"0x{lo.Start:x}+0x{lo.Size:x} and 0x{hi.Start:x}+0x{hi.Size:x} overlap");
            }
        }
    }

    private static List<SectionHeader> ReadSections(ReadOnlySpan<byte> file, bool is64, ulong shoff, ulong count,
        ulong strIndex, int entSize, int ehSize)
    {
        var result = new List<SectionHeader>();
        if (strIndex != 0 && strIndex >= count)
            throw Fail($"e_shstrndx {strIndex} is out of range ({count} sections)");
        if (count == 0)
            return result;
        CheckTable("section header table", shoff, count, entSize, ehSize, file.Length);

        var raw = new List<(uint NameOffset, SectionHeader Header)>();
        for (int i = 0; i < (int)count; i++)
        {
            var (nameOffset, sh) = ReadSection(file[((int)shoff + i * entSize)..], is64);
            if (sh.Type != SectionType.SHT_NULL && sh.Type != SectionType.SHT_NOBITS &&
                (UInt128)sh.Offset + sh.Size > (ulong)file.Length)
                throw Fail($"section {i}: file range 0x{sh.Offset:x}+0x{sh.Size:x} extends past end of file (0x{file.Length:x} bytes)");
            raw.Add((nameOffset, sh));
        }
        if (strIndex == 0)
            return raw.Select(x => x.Header).ToList(); // SHN_UNDEF: sections have no names

        var strtab = raw[(int)strIndex].Header;
        if (strtab.Type != SectionType.SHT_STRTAB)
            throw Fail($"e_shstrndx {strIndex} names a section of type 0x{strtab.Type:x}, not SHT_STRTAB");
        var names = file.Slice((int)strtab.Offset, (int)strtab.Size);
        for (int i = 0; i < raw.Count; i++)
            result.Add(raw[i].Header with { Name = SectionName(i, names, raw[i].NameOffset) });
        return result;
    }

    /// <summary>A section header with an empty Name, and its sh_name offset.</summary>
    private static (uint NameOffset, SectionHeader Header) ReadSection(ReadOnlySpan<byte> e, bool is64) => is64
        ? (U32(e, ElfLayout.Shdr.Name), new SectionHeader("", U32(e, ElfLayout.Shdr.Type), U64(e, ElfLayout.Shdr.Flags),
            U64(e, ElfLayout.Shdr.Addr), U64(e, ElfLayout.Shdr.Offset), U64(e, ElfLayout.Shdr.Size),
            U32(e, ElfLayout.Shdr.Link), U32(e, ElfLayout.Shdr.Info), U64(e, ElfLayout.Shdr.AddrAlign), U64(e, ElfLayout.Shdr.EntSize)))
        : (U32(e, ElfLayout.Shdr32.Name), new SectionHeader("", U32(e, ElfLayout.Shdr32.Type), U32(e, ElfLayout.Shdr32.Flags),
            U32(e, ElfLayout.Shdr32.Addr), U32(e, ElfLayout.Shdr32.Offset), U32(e, ElfLayout.Shdr32.Size),
            U32(e, ElfLayout.Shdr32.Link), U32(e, ElfLayout.Shdr32.Info), U32(e, ElfLayout.Shdr32.AddrAlign), U32(e, ElfLayout.Shdr32.EntSize)));

    private static string SectionName(int index, ReadOnlySpan<byte> names, uint offset)
    {
        if (offset >= (uint)names.Length)
            throw Fail($"section {index}: name offset 0x{offset:x} is past the end of the section name string table (0x{names.Length:x} bytes)");
        var rest = names[(int)offset..];
        int nul = rest.IndexOf((byte)0);
        if (nul < 0)
            throw Fail($"section {index}: name at offset 0x{offset:x} runs past the end of the section name string table (no NUL)");
        return Encoding.Latin1.GetString(rest[..nul]);
    }

    private static List<ElfNote> ReadNotes(ReadOnlyMemory<byte> bytes, List<ProgramHeader> programHeaders,
        List<SectionHeader> sections)
    {
        var notes = new List<ElfNote>();
        bool fromSegments = false;
        for (int i = 0; i < programHeaders.Count; i++)
        {
            var ph = programHeaders[i];
            if (ph.Type != SegmentType.Note || ph.Offset == 0)
                continue;
            fromSegments = true;
            var span = bytes.Span.Slice((int)ph.Offset, (int)ph.FileSize);
            notes.AddRange(ElfNotes.Decode(span, $"program header {i} (PT_NOTE)", ph.Align == 8 ? 8 : 4));
        }
        if (fromSegments)
            return notes;
        for (int i = 0; i < sections.Count; i++)
        {
            var sh = sections[i];
            if (sh.Type != SectionType.SHT_NOTE)
                continue;
            var span = bytes.Span.Slice((int)sh.Offset, (int)sh.Size);
            notes.AddRange(ElfNotes.Decode(span, $"section {i} ({sh.Name}, SHT_NOTE)", sh.AddressAlign == 8 ? 8 : 4));
        }
        return notes;
    }

    private static void CheckTable(string what, ulong offset, ulong count, int entSize, int ehSize, int fileLength)
    {
        if (offset < (ulong)ehSize)
            throw Fail($"{what} at offset 0x{offset:x} overlaps the ELF header (0x{ehSize:x} bytes)");
        if ((UInt128)offset + (UInt128)count * (uint)entSize > (ulong)fileLength)
            throw Fail($"{what}: {count} entries of {entSize} bytes at offset 0x{offset:x} extend past end of file (0x{fileLength:x} bytes)");
    }

    private static string TypeName(SegmentType type) => type switch
    {
        SegmentType.Null => "PT_NULL", SegmentType.Load => "PT_LOAD", SegmentType.Dynamic => "PT_DYNAMIC",
        SegmentType.Interp => "PT_INTERP", SegmentType.Note => "PT_NOTE", SegmentType.Shlib => "PT_SHLIB",
        SegmentType.Phdr => "PT_PHDR", SegmentType.Tls => "PT_TLS", SegmentType.GnuEhFrame => "PT_GNU_EH_FRAME",
        SegmentType.GnuStack => "PT_GNU_STACK", SegmentType.GnuRelro => "PT_GNU_RELRO",
        SegmentType.GnuProperty => "PT_GNU_PROPERTY", _ => $"type 0x{(uint)type:x}",
    };

    private static ElfFormatException Fail(string message) => new(message);
    private static ushort U16(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt16LittleEndian(b[at..]);
    private static uint U32(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b[at..]);
    private static ulong U64(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt64LittleEndian(b[at..]);
}
