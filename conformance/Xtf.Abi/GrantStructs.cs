namespace Xtf.Abi;

/// <summary><c>struct grant_entry_v1</c>: one v1 grant entry in the shared frames (docs/pv-abi.md §13.2), 8 bytes.</summary>
public sealed record GrantEntryV1 : IAbiStruct<GrantEntryV1>
{
    public static class Layout
    {
        public const int Size = 8;
        public const int Flags = 0, DomId = 2, Frame = 4;
    }

    /// <summary>GTF_* type and flags.</summary>
    public ushort Flags { get; init; }
    /// <summary>The domain granted access.</summary>
    public ushort DomId { get; init; }
    /// <summary>The granted frame (for a PV granter its MFN).</summary>
    public uint Frame { get; init; }

    static int IAbiStruct<GrantEntryV1>.Size => Layout.Size;

    public static GrantEntryV1 Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(GrantEntryV1));
        return new() { Flags = Wire.U16(s, Layout.Flags), DomId = Wire.U16(s, Layout.DomId), Frame = Wire.U32(s, Layout.Frame) };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(GrantEntryV1));
        Wire.Put(d, Layout.Flags, Flags);
        Wire.Put(d, Layout.DomId, DomId);
        Wire.Put(d, Layout.Frame, Frame);
    }
}

/// <summary><c>struct grant_entry_v2 (full_page form)</c>: one v2 grant entry (docs/pv-abi.md §13.2); the status bits live in the separate status frames, 16 bytes.</summary>
public sealed record GrantEntryV2 : IAbiStruct<GrantEntryV2>
{
    public static class Layout
    {
        public const int Size = 16;
        public const int Flags = 0, DomId = 2, Frame = 8;
    }

    /// <summary>GTF_* type and flags (no GTF_reading/GTF_writing in v2).</summary>
    public ushort Flags { get; init; }
    /// <summary>The domain granted access.</summary>
    public ushort DomId { get; init; }
    /// <summary>The granted frame.</summary>
    public ulong Frame { get; init; }

    static int IAbiStruct<GrantEntryV2>.Size => Layout.Size;

    public static GrantEntryV2 Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(GrantEntryV2));
        return new() { Flags = Wire.U16(s, Layout.Flags), DomId = Wire.U16(s, Layout.DomId), Frame = Wire.U64(s, Layout.Frame) };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(GrantEntryV2));
        Wire.Put(d, Layout.Flags, Flags);
        Wire.Put(d, Layout.DomId, DomId);
        Wire.Put(d, Layout.Frame, Frame);
    }
}

/// <summary><c>struct gnttab_setup_table</c>: GNTTABOP_setup_table (docs/pv-abi.md §13.3), 24 bytes.</summary>
public sealed record GnttabSetupTable : IAbiStruct<GnttabSetupTable>
{
    public static class Layout
    {
        public const int Size = 24;
        public const int Dom = 0, NrFrames = 4, Status = 8, FrameList = 16;
    }

    /// <summary>Domain id (DOMID_SELF allowed).</summary>
    public ushort Dom { get; init; }
    /// <summary>Frames wanted; their MFNs are written to FrameList.</summary>
    public uint NrFrames { get; init; }
    /// <summary>GNTST_* out.</summary>
    public short Status { get; init; }
    /// <summary>Guest address of an array of xen_pfn_t.</summary>
    public ulong FrameList { get; init; }

    static int IAbiStruct<GnttabSetupTable>.Size => Layout.Size;

    public static GnttabSetupTable Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(GnttabSetupTable));
        return new() { Dom = Wire.U16(s, Layout.Dom), NrFrames = Wire.U32(s, Layout.NrFrames), Status = unchecked((short)Wire.U16(s, Layout.Status)), FrameList = Wire.U64(s, Layout.FrameList) };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(GnttabSetupTable));
        Wire.Put(d, Layout.Dom, Dom);
        Wire.Put(d, Layout.NrFrames, NrFrames);
        Wire.Put(d, Layout.Status, unchecked((ushort)Status));
        Wire.Put(d, Layout.FrameList, FrameList);
    }
}

/// <summary><c>struct gnttab_query_size</c>: GNTTABOP_query_size (docs/pv-abi.md §13.3), 16 bytes.</summary>
public sealed record GnttabQuerySize : IAbiStruct<GnttabQuerySize>
{
    public static class Layout
    {
        public const int Size = 16;
        public const int Dom = 0, NrFrames = 4, MaxNrFrames = 8, Status = 12;
    }

    /// <summary>Domain id (DOMID_SELF allowed).</summary>
    public ushort Dom { get; init; }
    /// <summary>Out: shared frames in use.</summary>
    public uint NrFrames { get; init; }
    /// <summary>Out: the domain's limit.</summary>
    public uint MaxNrFrames { get; init; }
    /// <summary>GNTST_* out.</summary>
    public short Status { get; init; }

    static int IAbiStruct<GnttabQuerySize>.Size => Layout.Size;

    public static GnttabQuerySize Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(GnttabQuerySize));
        return new() { Dom = Wire.U16(s, Layout.Dom), NrFrames = Wire.U32(s, Layout.NrFrames), MaxNrFrames = Wire.U32(s, Layout.MaxNrFrames), Status = unchecked((short)Wire.U16(s, Layout.Status)) };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(GnttabQuerySize));
        Wire.Put(d, Layout.Dom, Dom);
        Wire.Put(d, Layout.NrFrames, NrFrames);
        Wire.Put(d, Layout.MaxNrFrames, MaxNrFrames);
        Wire.Put(d, Layout.Status, unchecked((ushort)Status));
    }
}

/// <summary><c>struct gnttab_set_version</c>: GNTTABOP_set_version (docs/pv-abi.md §13.4), 4 bytes.</summary>
public sealed record GnttabSetVersion : IAbiStruct<GnttabSetVersion>
{
    public static class Layout
    {
        public const int Size = 4;
        public const int Version = 0;
    }

    /// <summary>In: 1 or 2; out: the version in force.</summary>
    public uint Version { get; init; }

    static int IAbiStruct<GnttabSetVersion>.Size => Layout.Size;

    public static GnttabSetVersion Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(GnttabSetVersion));
        return new() { Version = Wire.U32(s, Layout.Version) };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(GnttabSetVersion));
        Wire.Put(d, Layout.Version, Version);
    }
}

/// <summary><c>struct gnttab_get_version</c>: GNTTABOP_get_version (docs/pv-abi.md §13.4), 8 bytes.</summary>
public sealed record GnttabGetVersion : IAbiStruct<GnttabGetVersion>
{
    public static class Layout
    {
        public const int Size = 8;
        public const int Dom = 0, Version = 4;
    }

    /// <summary>Domain id (DOMID_SELF allowed).</summary>
    public ushort Dom { get; init; }
    /// <summary>Out: the version in force.</summary>
    public uint Version { get; init; }

    static int IAbiStruct<GnttabGetVersion>.Size => Layout.Size;

    public static GnttabGetVersion Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(GnttabGetVersion));
        return new() { Dom = Wire.U16(s, Layout.Dom), Version = Wire.U32(s, Layout.Version) };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(GnttabGetVersion));
        Wire.Put(d, Layout.Dom, Dom);
        Wire.Put(d, Layout.Version, Version);
    }
}

/// <summary><c>struct gnttab_get_status_frames</c>: GNTTABOP_get_status_frames (docs/pv-abi.md §13.4), 16 bytes.</summary>
public sealed record GnttabGetStatusFrames : IAbiStruct<GnttabGetStatusFrames>
{
    public static class Layout
    {
        public const int Size = 16;
        public const int NrFrames = 0, Dom = 4, Status = 6, FrameList = 8;
    }

    /// <summary>Status frames wanted.</summary>
    public uint NrFrames { get; init; }
    /// <summary>Domain id (DOMID_SELF allowed).</summary>
    public ushort Dom { get; init; }
    /// <summary>GNTST_* out.</summary>
    public short Status { get; init; }
    /// <summary>Guest address of an array of uint64_t.</summary>
    public ulong FrameList { get; init; }

    static int IAbiStruct<GnttabGetStatusFrames>.Size => Layout.Size;

    public static GnttabGetStatusFrames Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(GnttabGetStatusFrames));
        return new() { NrFrames = Wire.U32(s, Layout.NrFrames), Dom = Wire.U16(s, Layout.Dom), Status = unchecked((short)Wire.U16(s, Layout.Status)), FrameList = Wire.U64(s, Layout.FrameList) };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(GnttabGetStatusFrames));
        Wire.Put(d, Layout.NrFrames, NrFrames);
        Wire.Put(d, Layout.Dom, Dom);
        Wire.Put(d, Layout.Status, unchecked((ushort)Status));
        Wire.Put(d, Layout.FrameList, FrameList);
    }
}

/// <summary><c>struct gnttab_map_grant_ref</c>: GNTTABOP_map_grant_ref (docs/pv-abi.md §13.5), 32 bytes.</summary>
public sealed record GnttabMapGrantRef : IAbiStruct<GnttabMapGrantRef>
{
    public static class Layout
    {
        public const int Size = 32;
        public const int HostAddr = 0, Flags = 8, Ref = 12, Dom = 16, Status = 18, Handle = 20, DevBusAddr = 24;
    }

    /// <summary>A linear address, or with GNTMAP_contains_pte the machine address of an L1 entry.</summary>
    public ulong HostAddr { get; init; }
    /// <summary>GNTMAP_* flags.</summary>
    public uint Flags { get; init; }
    /// <summary>The grant reference.</summary>
    public uint Ref { get; init; }
    /// <summary>The granting domain (a real id: DOMID_SELF is refused).</summary>
    public ushort Dom { get; init; }
    /// <summary>GNTST_* out.</summary>
    public short Status { get; init; }
    /// <summary>Out: the maptrack handle.</summary>
    public uint Handle { get; init; }
    /// <summary>Out: the frame's machine address.</summary>
    public ulong DevBusAddr { get; init; }

    static int IAbiStruct<GnttabMapGrantRef>.Size => Layout.Size;

    public static GnttabMapGrantRef Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(GnttabMapGrantRef));
        return new() { HostAddr = Wire.U64(s, Layout.HostAddr), Flags = Wire.U32(s, Layout.Flags), Ref = Wire.U32(s, Layout.Ref), Dom = Wire.U16(s, Layout.Dom), Status = unchecked((short)Wire.U16(s, Layout.Status)), Handle = Wire.U32(s, Layout.Handle), DevBusAddr = Wire.U64(s, Layout.DevBusAddr) };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(GnttabMapGrantRef));
        Wire.Put(d, Layout.HostAddr, HostAddr);
        Wire.Put(d, Layout.Flags, Flags);
        Wire.Put(d, Layout.Ref, Ref);
        Wire.Put(d, Layout.Dom, Dom);
        Wire.Put(d, Layout.Status, unchecked((ushort)Status));
        Wire.Put(d, Layout.Handle, Handle);
        Wire.Put(d, Layout.DevBusAddr, DevBusAddr);
    }
}

/// <summary><c>struct gnttab_unmap_grant_ref</c>: GNTTABOP_unmap_grant_ref (docs/pv-abi.md §13.5), 24 bytes.</summary>
public sealed record GnttabUnmapGrantRef : IAbiStruct<GnttabUnmapGrantRef>
{
    public static class Layout
    {
        public const int Size = 24;
        public const int HostAddr = 0, DevBusAddr = 8, Handle = 16, Status = 20;
    }

    /// <summary>The mapping to remove (0: none).</summary>
    public ulong HostAddr { get; init; }
    /// <summary>The device mapping to remove (0: none).</summary>
    public ulong DevBusAddr { get; init; }
    /// <summary>The handle map_grant_ref returned.</summary>
    public uint Handle { get; init; }
    /// <summary>GNTST_* out.</summary>
    public short Status { get; init; }

    static int IAbiStruct<GnttabUnmapGrantRef>.Size => Layout.Size;

    public static GnttabUnmapGrantRef Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(GnttabUnmapGrantRef));
        return new() { HostAddr = Wire.U64(s, Layout.HostAddr), DevBusAddr = Wire.U64(s, Layout.DevBusAddr), Handle = Wire.U32(s, Layout.Handle), Status = unchecked((short)Wire.U16(s, Layout.Status)) };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(GnttabUnmapGrantRef));
        Wire.Put(d, Layout.HostAddr, HostAddr);
        Wire.Put(d, Layout.DevBusAddr, DevBusAddr);
        Wire.Put(d, Layout.Handle, Handle);
        Wire.Put(d, Layout.Status, unchecked((ushort)Status));
    }
}

/// <summary><c>struct gnttab_unmap_and_replace</c>: GNTTABOP_unmap_and_replace (docs/pv-abi.md §13.5), 24 bytes.</summary>
public sealed record GnttabUnmapAndReplace : IAbiStruct<GnttabUnmapAndReplace>
{
    public static class Layout
    {
        public const int Size = 24;
        public const int HostAddr = 0, NewAddr = 8, Handle = 16, Status = 20;
    }

    /// <summary>The grant mapping to remove.</summary>
    public ulong HostAddr { get; init; }
    /// <summary>A linear address whose PTE moves to HostAddr (0: none).</summary>
    public ulong NewAddr { get; init; }
    /// <summary>The handle map_grant_ref returned.</summary>
    public uint Handle { get; init; }
    /// <summary>GNTST_* out.</summary>
    public short Status { get; init; }

    static int IAbiStruct<GnttabUnmapAndReplace>.Size => Layout.Size;

    public static GnttabUnmapAndReplace Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(GnttabUnmapAndReplace));
        return new() { HostAddr = Wire.U64(s, Layout.HostAddr), NewAddr = Wire.U64(s, Layout.NewAddr), Handle = Wire.U32(s, Layout.Handle), Status = unchecked((short)Wire.U16(s, Layout.Status)) };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(GnttabUnmapAndReplace));
        Wire.Put(d, Layout.HostAddr, HostAddr);
        Wire.Put(d, Layout.NewAddr, NewAddr);
        Wire.Put(d, Layout.Handle, Handle);
        Wire.Put(d, Layout.Status, unchecked((ushort)Status));
    }
}

/// <summary><c>struct xen_memory_reservation</c>: XENMEM_increase/decrease_reservation, populate_physmap, and each half of XENMEM_exchange (docs/pv-abi.md §13.7), 32 bytes.</summary>
public sealed record XenMemoryReservation : IAbiStruct<XenMemoryReservation>
{
    public static class Layout
    {
        public const int Size = 32;
        public const int ExtentStart = 0, NrExtents = 8, ExtentOrder = 16, MemFlags = 20, DomId = 24;
    }

    /// <summary>Guest address of an array of xen_pfn_t.</summary>
    public ulong ExtentStart { get; init; }
    /// <summary>Number of extents.</summary>
    public ulong NrExtents { get; init; }
    /// <summary>log2 of the pages per extent.</summary>
    public uint ExtentOrder { get; init; }
    /// <summary>XENMEMF_* flags.</summary>
    public uint MemFlags { get; init; }
    /// <summary>Domain id (DOMID_SELF allowed).</summary>
    public ushort DomId { get; init; }

    static int IAbiStruct<XenMemoryReservation>.Size => Layout.Size;

    public static XenMemoryReservation Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(XenMemoryReservation));
        return new() { ExtentStart = Wire.U64(s, Layout.ExtentStart), NrExtents = Wire.U64(s, Layout.NrExtents), ExtentOrder = Wire.U32(s, Layout.ExtentOrder), MemFlags = Wire.U32(s, Layout.MemFlags), DomId = Wire.U16(s, Layout.DomId) };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(XenMemoryReservation));
        Wire.Put(d, Layout.ExtentStart, ExtentStart);
        Wire.Put(d, Layout.NrExtents, NrExtents);
        Wire.Put(d, Layout.ExtentOrder, ExtentOrder);
        Wire.Put(d, Layout.MemFlags, MemFlags);
        Wire.Put(d, Layout.DomId, DomId);
    }
}
/// <summary><c>struct xen_memory_exchange</c>: XENMEM_exchange (docs/pv-abi.md §13.7), 72 bytes.</summary>
public sealed record XenMemoryExchange : IAbiStruct<XenMemoryExchange>
{
    public static class Layout
    {
        public const int Size = 72;
        public const int In = 0, Out = 32, NrExchanged = 64;
    }

    /// <summary>The extents given up.</summary>
    public XenMemoryReservation In { get; init; } = new();
    /// <summary>The extents wanted in exchange.</summary>
    public XenMemoryReservation Out { get; init; } = new();
    /// <summary>In/out: extents already exchanged (Xen continues from here; the guest sets 0).</summary>
    public ulong NrExchanged { get; init; }

    static int IAbiStruct<XenMemoryExchange>.Size => Layout.Size;

    public static XenMemoryExchange Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(XenMemoryExchange));
        return new()
        {
            In = XenMemoryReservation.Read(s[Layout.In..]),
            Out = XenMemoryReservation.Read(s[Layout.Out..]),
            NrExchanged = Wire.U64(s, Layout.NrExchanged),
        };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(XenMemoryExchange));
        In.Write(d[Layout.In..]);
        Out.Write(d[Layout.Out..]);
        Wire.Put(d, Layout.NrExchanged, NrExchanged);
    }
}

/// <summary>GNTTABOP_* sub-commands of <see cref="Hypercall.GrantTableOp"/> (Xen's public grant_table.h).</summary>
public enum GnttabOp
{
    MapGrantRef = 0,
    UnmapGrantRef = 1,
    SetupTable = 2,
    DumpTable = 3,
    Transfer = 4,
    Copy = 5,
    QuerySize = 6,
    UnmapAndReplace = 7,
    SetVersion = 8,
    GetStatusFrames = 9,
    GetVersion = 10,
    SwapGrantRef = 11,
    CacheFlush = 12,
}

/// <summary>GNTST_* per-operation status values of grant-table operations (negative: failure).</summary>
public enum GnttabStatus : short
{
    Okay = 0,
    GeneralError = -1,
    BadDomain = -2,
    BadGntref = -3,
    BadHandle = -4,
    BadVirtAddr = -5,
    BadDevAddr = -6,
    NoDeviceSpace = -7,
    PermissionDenied = -8,
    BadPage = -9,
    BadCopyArg = -10,
    AddressTooBig = -11,
    Eagain = -12,
    NoSpace = -13,
}

/// <summary>GNTMAP_* flags of <see cref="GnttabMapGrantRef.Flags"/>.</summary>
[Flags]
public enum GntMap : uint
{
    None = 0,
    DeviceMap = 1 << 0,
    HostMap = 1 << 1,
    Readonly = 1 << 2,
    ApplicationMap = 1 << 3,
    ContainsPte = 1 << 4,
}

/// <summary>GTF_* bits of a grant entry's flags.</summary>
[Flags]
public enum Gtf : ushort
{
    Invalid = 0,
    PermitAccess = 1,
    AcceptTransfer = 2,
    Transitive = 3,
    TypeMask = 3,
    Readonly = 1 << 2,
    Reading = 1 << 3,
    Writing = 1 << 4,
    Pwt = 1 << 5,
    Pcd = 1 << 6,
    Pat = 1 << 7,
    SubPage = 1 << 8,
}
