namespace Xtf.Elf;

/// <summary>
/// The ELF file layout (System V gABI): field offsets and record sizes of the identification, the
/// file header, program and section headers and note headers, and the e_ident values. The one place
/// these numbers are written; the writer, the strict reader, the simulator's model of Xen's libelf and
/// the image editors all use it. ELF64 is the layout this suite writes; the ELF32 offsets are for the
/// readers, which must also see 32-bit kernels.
/// </summary>
public static class ElfLayout
{
    /// <summary>e_ident: the first 16 bytes, the same in both classes.</summary>
    public static class Ident
    {
        public const int Mag0 = 0, Mag1 = 1, Mag2 = 2, Mag3 = 3;
        public const int Class = 4, Data = 5, Version = 6;
        public const int Size = 16;

        /// <summary>ELFMAG: 0x7f 'E' 'L' 'F'.</summary>
        public const byte Magic0 = 0x7f, Magic1 = (byte)'E', Magic2 = (byte)'L', Magic3 = (byte)'F';
    }

    /// <summary>EI_CLASS values.</summary>
    public const byte ELFCLASS32 = 1, ELFCLASS64 = 2;
    /// <summary>EI_DATA values.</summary>
    public const byte ELFDATA2LSB = 1, ELFDATA2MSB = 2;
    /// <summary>EI_VERSION and e_version.</summary>
    public const byte EV_CURRENT = 1;

    /// <summary>e_phnum value meaning "the count is in section header 0's sh_info".</summary>
    public const ushort PN_XNUM = 0xffff;
    /// <summary>e_shstrndx value meaning "the index is in section header 0's sh_link".</summary>
    public const ushort SHN_XINDEX = 0xffff;

    /// <summary>Elf64_Ehdr, 64 bytes.</summary>
    public static class Ehdr
    {
        public const int Type = 16, Machine = 18, Version = 20, Entry = 24, PhOff = 32, ShOff = 40, Flags = 48;
        public const int EhSize = 52, PhEntSize = 54, PhNum = 56, ShEntSize = 58, ShNum = 60, ShStrNdx = 62;
        public const int Size = 64;
    }

    /// <summary>Elf64_Phdr, 56 bytes.</summary>
    public static class Phdr
    {
        public const int Type = 0, Flags = 4, Offset = 8, Vaddr = 16, Paddr = 24, Filesz = 32, Memsz = 40, Align = 48;
        public const int Size = 56;
    }

    /// <summary>Elf64_Shdr, 64 bytes.</summary>
    public static class Shdr
    {
        public const int Name = 0, Type = 4, Flags = 8, Addr = 16, Offset = 24, Size = 32, Link = 40, Info = 44;
        public const int AddrAlign = 48, EntSize = 56;
        /// <summary>The size of the header itself (<see cref="Size"/> is the sh_size field).</summary>
        public const int HeaderSize = 64;
    }

    /// <summary>Elf32_Ehdr, 52 bytes: e_ident and the first three fields as in ELF64, then 4-byte words.</summary>
    public static class Ehdr32
    {
        public const int Type = 16, Machine = 18, Version = 20, Entry = 24, PhOff = 28, ShOff = 32, Flags = 36;
        public const int EhSize = 40, PhEntSize = 42, PhNum = 44, ShEntSize = 46, ShNum = 48, ShStrNdx = 50;
        public const int Size = 52;
    }

    /// <summary>Elf32_Phdr, 32 bytes: p_flags comes after p_memsz, not after p_type.</summary>
    public static class Phdr32
    {
        public const int Type = 0, Offset = 4, Vaddr = 8, Paddr = 12, Filesz = 16, Memsz = 20, Flags = 24, Align = 28;
        public const int Size = 32;
    }

    /// <summary>Elf32_Shdr, 40 bytes.</summary>
    public static class Shdr32
    {
        public const int Name = 0, Type = 4, Flags = 8, Addr = 12, Offset = 16, Size = 20, Link = 24, Info = 28;
        public const int AddrAlign = 32, EntSize = 36;
        /// <summary>The size of the header itself (<see cref="Size"/> is the sh_size field).</summary>
        public const int HeaderSize = 40;
    }

    /// <summary>Elf_Nhdr (same in both classes): three 4-byte words, then the name and the descriptor, each padded.</summary>
    public static class Nhdr
    {
        public const int NameSz = 0, DescSz = 4, Type = 8;
        public const int Size = 12;
    }
}
