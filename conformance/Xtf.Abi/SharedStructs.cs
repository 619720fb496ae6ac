namespace Xtf.Abi;

/// <summary><c>struct vcpu_time_info</c> (docs/pv-abi.md §3.1): the parameters for turning the TSC into Xen system time.</summary>
public sealed record VcpuTimeInfo : IAbiStruct<VcpuTimeInfo>
{
    public static class Layout
    {
        public const int Size = 32;
        public const int Version = 0, Pad0 = 4, TscTimestamp = 8, SystemTime = 16;
        public const int TscToSystemMul = 24, TscShift = 28, Flags = 29, Pad1 = 30;
    }

    public const byte FlagTscStable = 1 << 0;
    public const byte FlagGuestStopped = 1 << 1;

    /// <summary>Odd while Xen is in the middle of an update.</summary>
    public uint Version { get; init; }
    public uint Pad0 { get; init; }
    public ulong TscTimestamp { get; init; }
    /// <summary>Nanoseconds since Xen booted, as of <see cref="TscTimestamp"/>.</summary>
    public ulong SystemTime { get; init; }
    public uint TscToSystemMul { get; init; }
    public sbyte TscShift { get; init; }
    public byte Flags { get; init; }
    /// <summary>The two trailing pad bytes, first byte in the low half.</summary>
    public ushort Pad1 { get; init; }

    static int IAbiStruct<VcpuTimeInfo>.Size => Layout.Size;

    public static VcpuTimeInfo Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(VcpuTimeInfo));
        return new()
        {
            Version = Wire.U32(s, Layout.Version), Pad0 = Wire.U32(s, Layout.Pad0),
            TscTimestamp = Wire.U64(s, Layout.TscTimestamp), SystemTime = Wire.U64(s, Layout.SystemTime),
            TscToSystemMul = Wire.U32(s, Layout.TscToSystemMul), TscShift = Wire.I8(s, Layout.TscShift),
            Flags = Wire.U8(s, Layout.Flags), Pad1 = Wire.U16(s, Layout.Pad1),
        };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(VcpuTimeInfo));
        Wire.Put(d, Layout.Version, Version);
        Wire.Put(d, Layout.Pad0, Pad0);
        Wire.Put(d, Layout.TscTimestamp, TscTimestamp);
        Wire.Put(d, Layout.SystemTime, SystemTime);
        Wire.Put(d, Layout.TscToSystemMul, TscToSystemMul);
        Wire.Put(d, Layout.TscShift, TscShift);
        Wire.Put(d, Layout.Flags, Flags);
        Wire.Put(d, Layout.Pad1, Pad1);
    }
}

/// <summary>x86 part of <c>struct vcpu_info</c>: the faulting address of the last page fault, plus padding.</summary>
public sealed record ArchVcpuInfo : IAbiStruct<ArchVcpuInfo>
{
    public static class Layout
    {
        public const int Size = 16;
        public const int Cr2 = 0, Pad = 8;
    }

    public ulong Cr2 { get; init; }
    public ulong Pad { get; init; }

    static int IAbiStruct<ArchVcpuInfo>.Size => Layout.Size;

    public static ArchVcpuInfo Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(ArchVcpuInfo));
        return new() { Cr2 = Wire.U64(s, Layout.Cr2), Pad = Wire.U64(s, Layout.Pad) };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(ArchVcpuInfo));
        Wire.Put(d, Layout.Cr2, Cr2);
        Wire.Put(d, Layout.Pad, Pad);
    }
}

/// <summary><c>struct vcpu_info</c> (docs/pv-abi.md §3.2): per-vCPU event flags, arch state and time, 64 bytes.</summary>
public sealed record VcpuInfo : IAbiStruct<VcpuInfo>
{
    public static class Layout
    {
        public const int Size = 64;
        public const int EvtchnUpcallPending = 0, EvtchnUpcallMask = 1, EvtchnPendingSel = 8;
        public const int Arch = 16, ArchCr2 = 16, ArchPad = 24, Time = 32;
    }

    public byte EvtchnUpcallPending { get; init; }
    public byte EvtchnUpcallMask { get; init; }
    /// <summary>Bit n set: some port in word n of the pending array may be pending.</summary>
    public ulong EvtchnPendingSel { get; init; }
    public ArchVcpuInfo Arch { get; init; } = new();
    public VcpuTimeInfo Time { get; init; } = new();

    static int IAbiStruct<VcpuInfo>.Size => Layout.Size;

    public static VcpuInfo Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(VcpuInfo));
        return new()
        {
            EvtchnUpcallPending = Wire.U8(s, Layout.EvtchnUpcallPending),
            EvtchnUpcallMask = Wire.U8(s, Layout.EvtchnUpcallMask),
            EvtchnPendingSel = Wire.U64(s, Layout.EvtchnPendingSel),
            Arch = ArchVcpuInfo.Read(s[Layout.Arch..]),
            Time = VcpuTimeInfo.Read(s[Layout.Time..]),
        };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(VcpuInfo));
        Wire.Put(d, Layout.EvtchnUpcallPending, EvtchnUpcallPending);
        Wire.Put(d, Layout.EvtchnUpcallMask, EvtchnUpcallMask);
        Wire.Put(d, Layout.EvtchnPendingSel, EvtchnPendingSel);
        Arch?.Write(d[Layout.Arch..]);
        Time?.Write(d[Layout.Time..]);
    }
}

/// <summary>x86 tail of <c>struct shared_info</c> (docs/pv-abi.md §3.3, offsets relative to the tail).</summary>
public sealed record ArchSharedInfo : IAbiStruct<ArchSharedInfo>
{
    public static class Layout
    {
        public const int Size = 48;
        public const int MaxPfn = 0, PfnToMfnFrameListList = 8, NmiReason = 16;
        public const int P2mCr3 = 24, P2mVaddr = 32, P2mGeneration = 40;
    }

    public ulong MaxPfn { get; init; }
    public ulong PfnToMfnFrameListList { get; init; }
    public ulong NmiReason { get; init; }
    public ulong P2mCr3 { get; init; }
    public ulong P2mVaddr { get; init; }
    public ulong P2mGeneration { get; init; }

    static int IAbiStruct<ArchSharedInfo>.Size => Layout.Size;

    public static ArchSharedInfo Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(ArchSharedInfo));
        return new()
        {
            MaxPfn = Wire.U64(s, Layout.MaxPfn), PfnToMfnFrameListList = Wire.U64(s, Layout.PfnToMfnFrameListList),
            NmiReason = Wire.U64(s, Layout.NmiReason), P2mCr3 = Wire.U64(s, Layout.P2mCr3),
            P2mVaddr = Wire.U64(s, Layout.P2mVaddr), P2mGeneration = Wire.U64(s, Layout.P2mGeneration),
        };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(ArchSharedInfo));
        Wire.Put(d, Layout.MaxPfn, MaxPfn);
        Wire.Put(d, Layout.PfnToMfnFrameListList, PfnToMfnFrameListList);
        Wire.Put(d, Layout.NmiReason, NmiReason);
        Wire.Put(d, Layout.P2mCr3, P2mCr3);
        Wire.Put(d, Layout.P2mVaddr, P2mVaddr);
        Wire.Put(d, Layout.P2mGeneration, P2mGeneration);
    }
}

/// <summary>
/// <c>struct shared_info</c> (docs/pv-abi.md §3.3): the page shared by Xen and the domain. Only the first
/// 3136 bytes are defined; the rest of the page is unused.
/// </summary>
/// <remarks>Array properties compare by reference under record equality; compare byte images instead.</remarks>
public sealed record SharedInfo : IAbiStruct<SharedInfo>
{
    public static class Layout
    {
        public const int Size = 3136;
        public const int VcpuInfo = 0, EvtchnPending = 2048, EvtchnMask = 2560;
        public const int WcVersion = 3072, WcSec = 3076, WcNsec = 3080, WcSecHi = 3084;
        public const int Arch = 3088, ArchMaxPfn = 3088, ArchPfnToMfnFrameListList = 3096, ArchNmiReason = 3104;
        public const int ArchP2mCr3 = 3112, ArchP2mVaddr = 3120, ArchP2mGeneration = 3128;

        /// <summary>Offset of the vcpu_info slot of vCPU <paramref name="vcpu"/> (0..31).</summary>
        public static int VcpuInfoAt(int vcpu)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(vcpu);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(vcpu, PvLayout.LegacyMaxVcpus);
            return VcpuInfo + Xtf.Abi.VcpuInfo.Layout.Size * vcpu;
        }

        /// <summary>Offset of the 64-bit word holding port <paramref name="port"/>'s pending bit (bit port % 64).</summary>
        public static int EvtchnPendingWordAt(int port) => EvtchnPending + 8 * PortWord(port);

        /// <summary>Offset of the 64-bit word holding port <paramref name="port"/>'s mask bit (bit port % 64).</summary>
        public static int EvtchnMaskWordAt(int port) => EvtchnMask + 8 * PortWord(port);

        private static int PortWord(int port)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(port);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(port, EvtchnWords * 64);
            return port / 64;
        }
    }

    /// <summary>Number of 64-bit words in each of the pending and mask arrays (4096 ports).</summary>
    public const int EvtchnWords = 64;

    public VcpuInfo[] VcpuInfo { get; init; } = Enumerable.Repeat(new VcpuInfo(), PvLayout.LegacyMaxVcpus).ToArray();
    public ulong[] EvtchnPending { get; init; } = new ulong[EvtchnWords];
    public ulong[] EvtchnMask { get; init; } = new ulong[EvtchnWords];
    public uint WcVersion { get; init; }
    public uint WcSec { get; init; }
    public uint WcNsec { get; init; }
    public uint WcSecHi { get; init; }
    public ArchSharedInfo Arch { get; init; } = new();

    static int IAbiStruct<SharedInfo>.Size => Layout.Size;

    public static SharedInfo Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(SharedInfo));
        return new()
        {
            VcpuInfo = Wire.Structs<VcpuInfo>(s, Layout.VcpuInfo, PvLayout.LegacyMaxVcpus),
            EvtchnPending = Wire.U64s(s, Layout.EvtchnPending, EvtchnWords),
            EvtchnMask = Wire.U64s(s, Layout.EvtchnMask, EvtchnWords),
            WcVersion = Wire.U32(s, Layout.WcVersion), WcSec = Wire.U32(s, Layout.WcSec),
            WcNsec = Wire.U32(s, Layout.WcNsec), WcSecHi = Wire.U32(s, Layout.WcSecHi),
            Arch = ArchSharedInfo.Read(s[Layout.Arch..]),
        };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(SharedInfo));
        Wire.PutStructs(d, Layout.VcpuInfo, PvLayout.LegacyMaxVcpus, VcpuInfo, nameof(VcpuInfo));
        Wire.PutU64s(d, Layout.EvtchnPending, EvtchnWords, EvtchnPending, nameof(EvtchnPending));
        Wire.PutU64s(d, Layout.EvtchnMask, EvtchnWords, EvtchnMask, nameof(EvtchnMask));
        Wire.Put(d, Layout.WcVersion, WcVersion);
        Wire.Put(d, Layout.WcSec, WcSec);
        Wire.Put(d, Layout.WcNsec, WcNsec);
        Wire.Put(d, Layout.WcSecHi, WcSecHi);
        Arch?.Write(d[Layout.Arch..]);
    }
}

/// <summary>
/// <c>struct start_info</c> for x86-64 (docs/pv-abi.md §3.4), the page whose address a PV kernel receives in rsi.
/// </summary>
/// <remarks>
/// The console member is a union. <see cref="ConsoleMfn"/>/<see cref="ConsoleEvtchn"/> are the domU view
/// and hold the storage; <see cref="ConsoleInfoOff"/>/<see cref="ConsoleInfoSize"/> are the dom0 view of the
/// same bytes (low and high half of the mfn slot). Setting a view property rewrites the shared storage, so in
/// an object initializer the later assignment wins where they overlap.
/// </remarks>
public sealed record StartInfo : IAbiStruct<StartInfo>
{
    public static class Layout
    {
        public const int Size = 1168;
        public const int Magic = 0, NrPages = 32, SharedInfo = 40, Flags = 48, StoreMfn = 56, StoreEvtchn = 64;
        public const int ConsoleMfn = 72, ConsoleEvtchn = 80, ConsoleInfoOff = 72, ConsoleInfoSize = 76;
        public const int PtBase = 88, NrPtFrames = 96, MfnList = 104, ModStart = 112, ModLen = 120;
        public const int CmdLine = 128, FirstP2mPfn = 1152, NrP2mFrames = 1160;
    }

    public const int MagicLength = 32;
    public const int CmdLineLength = 1024;
    /// <summary>Magic a toolstack-built 64-bit domU sees (the guest type, not the Xen version).</summary>
    public const string DomUMagic = "xen-3.0-x86_64";

    public string Magic { get; init; } = "";
    public ulong NrPages { get; init; }
    /// <summary>Machine address of the shared_info page.</summary>
    public ulong SharedInfo { get; init; }
    /// <summary>SIF_* bits, see <see cref="SifFlags"/>.</summary>
    public uint Flags { get; init; }
    public ulong StoreMfn { get; init; }
    public uint StoreEvtchn { get; init; }
    public ulong ConsoleMfn { get; init; }
    public uint ConsoleEvtchn { get; init; }

    /// <summary>dom0 view: offset of the <see cref="Dom0VgaConsoleInfo"/> from the start of start_info.</summary>
    public uint ConsoleInfoOff
    {
        get => (uint)ConsoleMfn;
        init => ConsoleMfn = (ConsoleMfn & 0xFFFF_FFFF_0000_0000) | value;
    }

    /// <summary>dom0 view: size of the <see cref="Dom0VgaConsoleInfo"/> that follows.</summary>
    public uint ConsoleInfoSize
    {
        get => (uint)(ConsoleMfn >> 32);
        init => ConsoleMfn = (ConsoleMfn & 0xFFFF_FFFF) | ((ulong)value << 32);
    }

    public ulong PtBase { get; init; }
    public ulong NrPtFrames { get; init; }
    public ulong MfnList { get; init; }
    public ulong ModStart { get; init; }
    public ulong ModLen { get; init; }
    public string CmdLine { get; init; } = "";
    public ulong FirstP2mPfn { get; init; }
    public ulong NrP2mFrames { get; init; }

    static int IAbiStruct<StartInfo>.Size => Layout.Size;

    public static StartInfo Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(StartInfo));
        return new()
        {
            Magic = Wire.Str(s, Layout.Magic, MagicLength),
            NrPages = Wire.U64(s, Layout.NrPages), SharedInfo = Wire.U64(s, Layout.SharedInfo),
            Flags = Wire.U32(s, Layout.Flags), StoreMfn = Wire.U64(s, Layout.StoreMfn),
            StoreEvtchn = Wire.U32(s, Layout.StoreEvtchn),
            ConsoleMfn = Wire.U64(s, Layout.ConsoleMfn), ConsoleEvtchn = Wire.U32(s, Layout.ConsoleEvtchn),
            PtBase = Wire.U64(s, Layout.PtBase), NrPtFrames = Wire.U64(s, Layout.NrPtFrames),
            MfnList = Wire.U64(s, Layout.MfnList), ModStart = Wire.U64(s, Layout.ModStart),
            ModLen = Wire.U64(s, Layout.ModLen), CmdLine = Wire.Str(s, Layout.CmdLine, CmdLineLength),
            FirstP2mPfn = Wire.U64(s, Layout.FirstP2mPfn), NrP2mFrames = Wire.U64(s, Layout.NrP2mFrames),
        };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(StartInfo));
        Wire.PutString(d, Layout.Magic, MagicLength, Magic, nameof(Magic));
        Wire.Put(d, Layout.NrPages, NrPages);
        Wire.Put(d, Layout.SharedInfo, SharedInfo);
        Wire.Put(d, Layout.Flags, Flags);
        Wire.Put(d, Layout.StoreMfn, StoreMfn);
        Wire.Put(d, Layout.StoreEvtchn, StoreEvtchn);
        Wire.Put(d, Layout.ConsoleMfn, ConsoleMfn);
        Wire.Put(d, Layout.ConsoleEvtchn, ConsoleEvtchn);
        Wire.Put(d, Layout.PtBase, PtBase);
        Wire.Put(d, Layout.NrPtFrames, NrPtFrames);
        Wire.Put(d, Layout.MfnList, MfnList);
        Wire.Put(d, Layout.ModStart, ModStart);
        Wire.Put(d, Layout.ModLen, ModLen);
        Wire.PutString(d, Layout.CmdLine, CmdLineLength, CmdLine, nameof(CmdLine));
        Wire.Put(d, Layout.FirstP2mPfn, FirstP2mPfn);
        Wire.Put(d, Layout.NrP2mFrames, NrP2mFrames);
    }
}

/// <summary>
/// <c>dom0_vga_console_info</c> (docs/dom0.md §2.9): boot video description Xen appends after dom0's
/// start_info. The 36 bytes after <see cref="VideoType"/> are a union; the VESA/EFI framebuffer fields hold
/// the storage and the text-mode properties are a view of its first ten bytes.
/// </summary>
public sealed record Dom0VgaConsoleInfo : IAbiStruct<Dom0VgaConsoleInfo>
{
    public static class Layout
    {
        public const int Size = 40;
        public const int VideoType = 0;
        // Text mode 3 view.
        public const int FontHeight = 4, CursorX = 6, CursorY = 8, Rows = 10, Columns = 12;
        // VESA / EFI linear framebuffer view.
        public const int Width = 4, Height = 6, BytesPerLine = 8, BitsPerPixel = 10, LfbBase = 12, LfbSize = 16;
        public const int RedPos = 20, RedSize = 21, GreenPos = 22, GreenSize = 23;
        public const int BluePos = 24, BlueSize = 25, RsvdPos = 26, RsvdSize = 27;
        public const int GblCaps = 28, ModeAttrs = 32, Pad = 34, ExtLfbBase = 36;
    }

    public const byte TypeTextMode3 = 0x03;
    public const byte TypeVesaLfb = 0x23;
    public const byte TypeEfiLfb = 0x70;

    public byte VideoType { get; init; }

    public ushort Width { get; init; }
    public ushort Height { get; init; }
    public ushort BytesPerLine { get; init; }
    public ushort BitsPerPixel { get; init; }
    /// <summary>Low 32 bits of the framebuffer's physical address.</summary>
    public uint LfbBase { get; init; }
    /// <summary>Framebuffer size in 64 KiB units.</summary>
    public uint LfbSize { get; init; }
    public byte RedPos { get; init; }
    public byte RedSize { get; init; }
    public byte GreenPos { get; init; }
    public byte GreenSize { get; init; }
    public byte BluePos { get; init; }
    public byte BlueSize { get; init; }
    public byte RsvdPos { get; init; }
    public byte RsvdSize { get; init; }
    public uint GblCaps { get; init; }
    public ushort ModeAttrs { get; init; }
    public ushort Pad { get; init; }
    /// <summary>High 32 bits of the framebuffer's physical address.</summary>
    public uint ExtLfbBase { get; init; }

    // Text-mode view of the union (aliases of the framebuffer fields above).
    public ushort FontHeight { get => Width; init => Width = value; }
    public ushort CursorX { get => Height; init => Height = value; }
    public ushort CursorY { get => BytesPerLine; init => BytesPerLine = value; }
    public ushort Rows { get => BitsPerPixel; init => BitsPerPixel = value; }
    public ushort Columns { get => (ushort)LfbBase; init => LfbBase = (LfbBase & 0xFFFF_0000) | value; }

    static int IAbiStruct<Dom0VgaConsoleInfo>.Size => Layout.Size;

    public static Dom0VgaConsoleInfo Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(Dom0VgaConsoleInfo));
        return new()
        {
            VideoType = Wire.U8(s, Layout.VideoType),
            Width = Wire.U16(s, Layout.Width), Height = Wire.U16(s, Layout.Height),
            BytesPerLine = Wire.U16(s, Layout.BytesPerLine), BitsPerPixel = Wire.U16(s, Layout.BitsPerPixel),
            LfbBase = Wire.U32(s, Layout.LfbBase), LfbSize = Wire.U32(s, Layout.LfbSize),
            RedPos = Wire.U8(s, Layout.RedPos), RedSize = Wire.U8(s, Layout.RedSize),
            GreenPos = Wire.U8(s, Layout.GreenPos), GreenSize = Wire.U8(s, Layout.GreenSize),
            BluePos = Wire.U8(s, Layout.BluePos), BlueSize = Wire.U8(s, Layout.BlueSize),
            RsvdPos = Wire.U8(s, Layout.RsvdPos), RsvdSize = Wire.U8(s, Layout.RsvdSize),
            GblCaps = Wire.U32(s, Layout.GblCaps), ModeAttrs = Wire.U16(s, Layout.ModeAttrs),
            Pad = Wire.U16(s, Layout.Pad), ExtLfbBase = Wire.U32(s, Layout.ExtLfbBase),
        };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(Dom0VgaConsoleInfo));
        Wire.Put(d, Layout.VideoType, VideoType);
        Wire.Put(d, Layout.Width, Width);
        Wire.Put(d, Layout.Height, Height);
        Wire.Put(d, Layout.BytesPerLine, BytesPerLine);
        Wire.Put(d, Layout.BitsPerPixel, BitsPerPixel);
        Wire.Put(d, Layout.LfbBase, LfbBase);
        Wire.Put(d, Layout.LfbSize, LfbSize);
        Wire.Put(d, Layout.RedPos, RedPos);
        Wire.Put(d, Layout.RedSize, RedSize);
        Wire.Put(d, Layout.GreenPos, GreenPos);
        Wire.Put(d, Layout.GreenSize, GreenSize);
        Wire.Put(d, Layout.BluePos, BluePos);
        Wire.Put(d, Layout.BlueSize, BlueSize);
        Wire.Put(d, Layout.RsvdPos, RsvdPos);
        Wire.Put(d, Layout.RsvdSize, RsvdSize);
        Wire.Put(d, Layout.GblCaps, GblCaps);
        Wire.Put(d, Layout.ModeAttrs, ModeAttrs);
        Wire.Put(d, Layout.Pad, Pad);
        Wire.Put(d, Layout.ExtLfbBase, ExtLfbBase);
    }
}
