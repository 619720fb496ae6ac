namespace Xtf.Elf;

/// <summary>Thrown by the reader for any malformed input; the message is one line saying what and where.</summary>
public sealed class ElfFormatException : Exception
{
    public ElfFormatException(string message) : base(message) { }
}

/// <summary>EI_CLASS.</summary>
public enum ElfClass : byte { Elf32 = ElfLayout.ELFCLASS32, Elf64 = ElfLayout.ELFCLASS64 }

/// <summary>p_type values (unknown values are kept as their number).</summary>
public enum SegmentType : uint
{
    Null = 0, Load = 1, Dynamic = 2, Interp = 3, Note = 4, Shlib = 5, Phdr = 6, Tls = 7,
    GnuEhFrame = 0x6474e550, GnuStack = 0x6474e551, GnuRelro = 0x6474e552, GnuProperty = 0x6474e553,
}

/// <summary>p_flags.</summary>
[Flags]
public enum SegmentFlags : uint { None = 0, X = 1, W = 2, R = 4 }

/// <summary>e_machine values used by this suite (EM_386, EM_X86_64, and EM_ARM, which Xen's libelf treats specially).</summary>
public static class ElfMachine
{
    public const ushort X86 = 3;
    public const ushort X86_64 = 62;
    public const ushort Arm = 40;
}

/// <summary>e_type values.</summary>
public static class ElfFileType
{
    public const ushort ET_NONE = 0;
    public const ushort ET_REL = 1;
    public const ushort ET_EXEC = 2;
    public const ushort ET_DYN = 3;
    public const ushort ET_CORE = 4;
}

/// <summary>sh_type values the reader interprets.</summary>
public static class SectionType
{
    public const uint SHT_NULL = 0;
    public const uint SHT_PROGBITS = 1;
    public const uint SHT_STRTAB = 3;
    public const uint SHT_NOTE = 7;
    public const uint SHT_NOBITS = 8;
}

public sealed record ProgramHeader(
    SegmentType Type, SegmentFlags Flags, ulong Offset, ulong VirtualAddress, ulong PhysicalAddress,
    ulong FileSize, ulong MemorySize, ulong Align);

public sealed record SectionHeader(
    string Name, uint Type, ulong Flags, ulong Address, ulong Offset, ulong Size,
    uint Link, uint Info, ulong AddressAlign, ulong EntrySize);
