namespace Xtf.Abi;

/// <summary>
/// <c>struct hvm_start_info</c> (public arch-x86/hvm/start_info.h): what Xen hands a PVH kernel in ebx,
/// 56 bytes (docs/hvm.md; values measured on a PVH dom0 in docs/dom0.md §4.3).
/// </summary>
public sealed record HvmStartInfo : IAbiStruct<HvmStartInfo>
{
    public static class Layout
    {
        public const int Size = 56;
        public const int Magic = 0, Version = 4, Flags = 8, NrModules = 12, ModlistPaddr = 16, CmdlinePaddr = 24;
        public const int RsdpPaddr = 32, MemmapPaddr = 40, MemmapEntries = 48, Reserved = 52;
    }

    /// <summary>XEN_HVM_START_MAGIC_VALUE.</summary>
    public const uint MagicValue = 0x336E_C578;

    public uint Magic { get; init; }
    public uint Version { get; init; }
    /// <summary>SIF_* bits (SIF_PRIVILEGED 1, SIF_INITDOMAIN 2).</summary>
    public uint Flags { get; init; }
    public uint NrModules { get; init; }
    public ulong ModlistPaddr { get; init; }
    public ulong CmdlinePaddr { get; init; }
    public ulong RsdpPaddr { get; init; }
    public ulong MemmapPaddr { get; init; }
    public uint MemmapEntries { get; init; }

    static int IAbiStruct<HvmStartInfo>.Size => Layout.Size;

    public static HvmStartInfo Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(HvmStartInfo));
        return new()
        {
            Magic = Wire.U32(s, Layout.Magic), Version = Wire.U32(s, Layout.Version), Flags = Wire.U32(s, Layout.Flags),
            NrModules = Wire.U32(s, Layout.NrModules), ModlistPaddr = Wire.U64(s, Layout.ModlistPaddr),
            CmdlinePaddr = Wire.U64(s, Layout.CmdlinePaddr), RsdpPaddr = Wire.U64(s, Layout.RsdpPaddr),
            MemmapPaddr = Wire.U64(s, Layout.MemmapPaddr), MemmapEntries = Wire.U32(s, Layout.MemmapEntries),
        };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(HvmStartInfo));
        Wire.Put(d, Layout.Magic, Magic);
        Wire.Put(d, Layout.Version, Version);
        Wire.Put(d, Layout.Flags, Flags);
        Wire.Put(d, Layout.NrModules, NrModules);
        Wire.Put(d, Layout.ModlistPaddr, ModlistPaddr);
        Wire.Put(d, Layout.CmdlinePaddr, CmdlinePaddr);
        Wire.Put(d, Layout.RsdpPaddr, RsdpPaddr);
        Wire.Put(d, Layout.MemmapPaddr, MemmapPaddr);
        Wire.Put(d, Layout.MemmapEntries, MemmapEntries);
        Wire.Put(d, Layout.Reserved, 0u);
    }
}

/// <summary><c>struct xen_add_to_physmap</c> (public memory.h), XENMEM_add_to_physmap: 24 bytes.</summary>
public sealed record XenAddToPhysmap : IAbiStruct<XenAddToPhysmap>
{
    public static class Layout
    {
        public const int Size = 24;
        public const int Domid = 0, Pages = 2, Space = 4, Idx = 8, Gpfn = 16;
    }

    /// <summary>XENMAPSPACE_shared_info.</summary>
    public const uint SpaceSharedInfo = 0;

    public ushort Domid { get; init; }
    /// <summary>Pages for XENMAPSPACE_gmfn_range.</summary>
    public ushort Pages { get; init; }
    public uint Space { get; init; }
    public ulong Idx { get; init; }
    public ulong Gpfn { get; init; }

    static int IAbiStruct<XenAddToPhysmap>.Size => Layout.Size;

    public static XenAddToPhysmap Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(XenAddToPhysmap));
        return new()
        {
            Domid = Wire.U16(s, Layout.Domid), Pages = Wire.U16(s, Layout.Pages), Space = Wire.U32(s, Layout.Space),
            Idx = Wire.U64(s, Layout.Idx), Gpfn = Wire.U64(s, Layout.Gpfn),
        };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(XenAddToPhysmap));
        Wire.Put(d, Layout.Domid, Domid);
        Wire.Put(d, Layout.Pages, Pages);
        Wire.Put(d, Layout.Space, Space);
        Wire.Put(d, Layout.Idx, Idx);
        Wire.Put(d, Layout.Gpfn, Gpfn);
    }
}

/// <summary>One e820 entry as XENMEM_memory_map returns it: address, size, type; 20 bytes, packed.</summary>
public sealed record E820Entry : IAbiStruct<E820Entry>
{
    public static class Layout
    {
        public const int Size = 20;
        public const int Addr = 0, Length = 8, Type = 16;
    }

    public ulong Addr { get; init; }
    public ulong Length { get; init; }
    /// <summary>1 RAM, 2 reserved, 3 ACPI, 4 NVS, 5 unusable.</summary>
    public uint Type { get; init; }

    static int IAbiStruct<E820Entry>.Size => Layout.Size;

    public static E820Entry Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(E820Entry));
        return new() { Addr = Wire.U64(s, Layout.Addr), Length = Wire.U64(s, Layout.Length), Type = Wire.U32(s, Layout.Type) };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(E820Entry));
        Wire.Put(d, Layout.Addr, Addr);
        Wire.Put(d, Layout.Length, Length);
        Wire.Put(d, Layout.Type, Type);
    }
}

/// <summary><c>struct xen_memory_map</c> (public memory.h), XENMEM_memory_map: entry count in/out and the buffer; 16 bytes.</summary>
public sealed record XenMemoryMap : IAbiStruct<XenMemoryMap>
{
    public static class Layout
    {
        public const int Size = 16;
        public const int NrEntries = 0, Buffer = 8;
    }

    public uint NrEntries { get; init; }
    public ulong Buffer { get; init; }

    static int IAbiStruct<XenMemoryMap>.Size => Layout.Size;

    public static XenMemoryMap Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(XenMemoryMap));
        return new() { NrEntries = Wire.U32(s, Layout.NrEntries), Buffer = Wire.U64(s, Layout.Buffer) };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(XenMemoryMap));
        Wire.Put(d, Layout.NrEntries, NrEntries);
        Wire.Put(d, Layout.Buffer, Buffer);
    }
}

/// <summary><c>struct xen_hvm_param</c> (public hvm/hvm_op.h), HVMOP_set_param / HVMOP_get_param: 16 bytes.</summary>
public sealed record XenHvmParam : IAbiStruct<XenHvmParam>
{
    public static class Layout
    {
        public const int Size = 16;
        public const int Domid = 0, Index = 4, Value = 8;
    }

    public ushort Domid { get; init; }
    public uint Index { get; init; }
    public ulong Value { get; init; }

    static int IAbiStruct<XenHvmParam>.Size => Layout.Size;

    public static XenHvmParam Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(XenHvmParam));
        return new() { Domid = Wire.U16(s, Layout.Domid), Index = Wire.U32(s, Layout.Index), Value = Wire.U64(s, Layout.Value) };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(XenHvmParam));
        Wire.Put(d, Layout.Domid, Domid);
        Wire.Put(d, Layout.Index, Index);
        Wire.Put(d, Layout.Value, Value);
    }
}

/// <summary>HVMOP_* sub-commands of <see cref="Hypercall.HvmOp"/> (public hvm/hvm_op.h).</summary>
public enum HvmOp
{
    SetParam = 0,
    GetParam = 1,
}

/// <summary>HVM_PARAM_* indices (public hvm/params.h) the suite uses.</summary>
public enum HvmParam
{
    CallbackIrq = 0,
    StorePfn = 1,
    StoreEvtchn = 2,
    PaeEnabled = 4,
    IoreqPfn = 5,
    BufioreqPfn = 6,
    Timer = 10,
    Hpet = 11,
    ConsolePfn = 17,
    ConsoleEvtchn = 18,
    Nr = 39,
}
