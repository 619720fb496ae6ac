namespace Xtf.Abi;

/// <summary>Reserved domain identifiers (docs/pv-abi.md §0.5).</summary>
public static class DomId
{
    public const ushort FirstReserved = 0x7FF0;
    public const ushort Self = 0x7FF0;
    public const ushort Io = 0x7FF1;
    public const ushort Xen = 0x7FF2;
    public const ushort Cow = 0x7FF3;
    public const ushort Invalid = 0x7FF4;
    public const ushort Idle = 0x7FFF;
    public const ushort Mask = 0x7FFF;
}

/// <summary>Selectors, address-space boundaries and sizes of the x86-64 PV environment (docs/pv-abi.md §2.8, §11.9).</summary>
public static class PvLayout
{
    // 64-bit PV kernels run in ring 3, so the "kernel" selectors are the ring-3 ones.
    public const ushort FlatKernelCs = 0xE033;
    public const ushort FlatKernelSs = 0xE02B;
    public const ushort FlatKernelDs = 0x0000;
    public const ushort FlatRing3Cs64 = FlatKernelCs;
    public const ushort FlatRing3Ss64 = FlatKernelSs;
    public const ushort FlatRing3Ds64 = FlatKernelDs;
    public const ushort FlatRing3Cs32 = 0xE023;
    public const ushort FlatRing3Ds32 = 0xE02B;

    /// <summary>Start of the hole reserved for Xen; also what XENVER_platform_parameters reports.</summary>
    public const ulong HypervisorVirtStart = 0xFFFF_8000_0000_0000;
    public const ulong HypervisorVirtEnd = 0xFFFF_8800_0000_0000;
    public const ulong MachToPhysVirtStart = 0xFFFF_8000_0000_0000;
    public const ulong MachToPhysVirtEnd = 0xFFFF_8040_0000_0000;

    /// <summary>Number of vcpu_info slots inside shared_info.</summary>
    public const int LegacyMaxVcpus = 32;
    /// <summary>First GDT entry owned by Xen (GDT page 14 onwards).</summary>
    public const int FirstReservedGdtEntry = 7168;

    public const int PageShift = 12;
    public const int PageSize = 4096;
    /// <summary>Stride of the stubs in the hypercall page (stub n at offset 32·n).</summary>
    public const int HypercallStubSize = 32;
    public const int HypercallStubCount = 128;
}

/// <summary>x86-64 page-table entry bits relevant to PV guests.</summary>
public static class PageTableFlags
{
    public const ulong Present = 1UL << 0;
    public const ulong Rw = 1UL << 1;
    public const ulong User = 1UL << 2;
    public const ulong Accessed = 1UL << 5;
    public const ulong Dirty = 1UL << 6;
    public const ulong Pse = 1UL << 7;
    /// <summary>Software-available bit Xen uses to tag mappings that belong to the guest kernel.</summary>
    public const ulong XenGuestKernel = 1UL << 52;
    public const ulong Nx = 1UL << 63;
}

/// <summary>Sizes of the character/byte buffers XENVER_* commands fill (docs/pv-abi.md §9).</summary>
public static class XenVersionBuffers
{
    public const int ExtraversionSize = 16;
    public const int CapabilitiesSize = 1024;
    public const int ChangesetSize = 64;
    public const int GuestHandleSize = 16;
    public const int CommandlineSize = 1024;
}
