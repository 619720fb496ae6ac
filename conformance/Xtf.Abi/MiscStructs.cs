namespace Xtf.Abi;

/// <summary><c>struct multicall_entry</c> for x86-64: one batched hypercall, 64 bytes.</summary>
/// <remarks>Array properties compare by reference under record equality; compare byte images instead.</remarks>
public sealed record MulticallEntry : IAbiStruct<MulticallEntry>
{
    public static class Layout
    {
        public const int Size = 64;
        public const int Op = 0, Result = 8, Args = 16;
    }

    public const int ArgCount = 6;

    /// <summary>A <see cref="Hypercall"/> number.</summary>
    public ulong Op { get; init; }
    /// <summary>Output: the call's return value.</summary>
    public long Result { get; init; }
    public ulong[] Args { get; init; } = new ulong[ArgCount];

    static int IAbiStruct<MulticallEntry>.Size => Layout.Size;

    public static MulticallEntry Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(MulticallEntry));
        return new() { Op = Wire.U64(s, Layout.Op), Result = Wire.I64(s, Layout.Result), Args = Wire.U64s(s, Layout.Args, ArgCount) };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(MulticallEntry));
        Wire.Put(d, Layout.Op, Op);
        Wire.Put(d, Layout.Result, Result);
        Wire.PutU64s(d, Layout.Args, ArgCount, Args, nameof(Args));
    }
}

/// <summary><c>struct mmu_update</c>: one request for HYPERVISOR_mmu_update, 16 bytes.</summary>
public sealed record MmuUpdate : IAbiStruct<MmuUpdate>
{
    public static class Layout
    {
        public const int Size = 16;
        public const int Ptr = 0, Val = 8;
    }

    /// <summary>Machine address of the target (8-byte aligned) with the command in the low two bits.</summary>
    public ulong Ptr { get; init; }
    public ulong Val { get; init; }

    /// <summary>The command encoded in the low two bits of <see cref="Ptr"/>.</summary>
    public MmuUpdateCmd Command => (MmuUpdateCmd)(int)(Ptr & 3);

    static int IAbiStruct<MmuUpdate>.Size => Layout.Size;

    public static MmuUpdate Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(MmuUpdate));
        return new() { Ptr = Wire.U64(s, Layout.Ptr), Val = Wire.U64(s, Layout.Val) };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(MmuUpdate));
        Wire.Put(d, Layout.Ptr, Ptr);
        Wire.Put(d, Layout.Val, Val);
    }
}

/// <summary><c>struct mmuext_op</c>: one request for HYPERVISOR_mmuext_op (public xen.h), 24 bytes on x86-64.</summary>
public sealed record MmuextRequest : IAbiStruct<MmuextRequest>
{
    public static class Layout
    {
        public const int Size = 24;
        public const int Cmd = 0, Arg1 = 8, Arg2 = 16;
    }

    public MmuextCmd Cmd { get; init; }
    /// <summary>arg1: an mfn (pin, unpin, new baseptr, clear/copy page) or a linear address (invlpg, set_ldt).</summary>
    public ulong Arg1 { get; init; }
    /// <summary>arg2: nr_ents (set_ldt), a vcpumask handle (the _MULTI flushes) or src_mfn (copy_page).</summary>
    public ulong Arg2 { get; init; }

    static int IAbiStruct<MmuextRequest>.Size => Layout.Size;

    public static MmuextRequest Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(MmuextRequest));
        return new() { Cmd = (MmuextCmd)Wire.U32(s, Layout.Cmd), Arg1 = Wire.U64(s, Layout.Arg1), Arg2 = Wire.U64(s, Layout.Arg2) };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(MmuextRequest));
        Wire.Put(d, Layout.Cmd, (uint)Cmd);
        Wire.Put(d, Layout.Arg1, Arg1);
        Wire.Put(d, Layout.Arg2, Arg2);
    }
}

/// <summary><c>struct xen_feature_info</c>, argument of XENVER_get_features (docs/pv-abi.md §9), 8 bytes.</summary>
public sealed record XenFeatureInfo : IAbiStruct<XenFeatureInfo>
{
    public static class Layout
    {
        public const int Size = 8;
        public const int SubmapIdx = 0, Submap = 4;
    }

    public uint SubmapIdx { get; init; }
    /// <summary>Output: bit n set means <see cref="XenFeature"/> n (+ 32·index) is present.</summary>
    public uint Submap { get; init; }

    public bool Has(XenFeature feature) =>
        SubmapIdx == (uint)feature / 32 && ((Submap >> ((int)feature % 32)) & 1) != 0;

    static int IAbiStruct<XenFeatureInfo>.Size => Layout.Size;

    public static XenFeatureInfo Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(XenFeatureInfo));
        return new() { SubmapIdx = Wire.U32(s, Layout.SubmapIdx), Submap = Wire.U32(s, Layout.Submap) };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(XenFeatureInfo));
        Wire.Put(d, Layout.SubmapIdx, SubmapIdx);
        Wire.Put(d, Layout.Submap, Submap);
    }
}

/// <summary><c>struct xen_platform_parameters</c>, output of XENVER_platform_parameters (docs/pv-abi.md §9), 8 bytes.</summary>
public sealed record XenPlatformParameters : IAbiStruct<XenPlatformParameters>
{
    public static class Layout
    {
        public const int Size = 8;
        public const int VirtStart = 0;
    }

    public ulong VirtStart { get; init; }

    static int IAbiStruct<XenPlatformParameters>.Size => Layout.Size;

    public static XenPlatformParameters Read(ReadOnlySpan<byte> src) =>
        new() { VirtStart = Wire.U64(Wire.In(src, Layout.Size, nameof(XenPlatformParameters)), Layout.VirtStart) };

    public void Write(Span<byte> dst) =>
        Wire.Put(Wire.Out(dst, Layout.Size, nameof(XenPlatformParameters)), Layout.VirtStart, VirtStart);
}

/// <summary><c>struct xen_compile_info</c>, output of XENVER_compile_info (docs/pv-abi.md §9), 144 bytes of C strings.</summary>
public sealed record XenCompileInfo : IAbiStruct<XenCompileInfo>
{
    public static class Layout
    {
        public const int Size = 144;
        public const int Compiler = 0, CompileBy = 64, CompileDomain = 80, CompileDate = 112;
    }

    public const int CompilerLength = 64, CompileByLength = 16, CompileDomainLength = 32, CompileDateLength = 32;

    public string Compiler { get; init; } = "";
    public string CompileBy { get; init; } = "";
    public string CompileDomain { get; init; } = "";
    public string CompileDate { get; init; } = "";

    static int IAbiStruct<XenCompileInfo>.Size => Layout.Size;

    public static XenCompileInfo Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(XenCompileInfo));
        return new()
        {
            Compiler = Wire.Str(s, Layout.Compiler, CompilerLength),
            CompileBy = Wire.Str(s, Layout.CompileBy, CompileByLength),
            CompileDomain = Wire.Str(s, Layout.CompileDomain, CompileDomainLength),
            CompileDate = Wire.Str(s, Layout.CompileDate, CompileDateLength),
        };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(XenCompileInfo));
        Wire.PutString(d, Layout.Compiler, CompilerLength, Compiler, nameof(Compiler));
        Wire.PutString(d, Layout.CompileBy, CompileByLength, CompileBy, nameof(CompileBy));
        Wire.PutString(d, Layout.CompileDomain, CompileDomainLength, CompileDomain, nameof(CompileDomain));
        Wire.PutString(d, Layout.CompileDate, CompileDateLength, CompileDate, nameof(CompileDate));
    }
}
