namespace Xtf.Abi;

/// <summary><c>struct cpu_user_regs</c> for x86-64 (docs/pv-abi.md §3.5), 200 bytes.</summary>
public sealed record CpuUserRegs : IAbiStruct<CpuUserRegs>
{
    public static class Layout
    {
        public const int Size = 200;
        public const int R15 = 0, R14 = 8, R13 = 16, R12 = 24, Rbp = 32, Rbx = 40, R11 = 48, R10 = 56;
        public const int R9 = 64, R8 = 72, Rax = 80, Rcx = 88, Rdx = 96, Rsi = 104, Rdi = 112;
        public const int ErrorCode = 120, EntryVector = 124, Rip = 128, Cs = 136, SavedUpcallMask = 140;
        public const int Rflags = 144, Rsp = 152, Ss = 160, Es = 168, Ds = 176, Fs = 184, Gs = 192;
    }

    public ulong R15 { get; init; }
    public ulong R14 { get; init; }
    public ulong R13 { get; init; }
    public ulong R12 { get; init; }
    public ulong Rbp { get; init; }
    public ulong Rbx { get; init; }
    public ulong R11 { get; init; }
    public ulong R10 { get; init; }
    public ulong R9 { get; init; }
    public ulong R8 { get; init; }
    public ulong Rax { get; init; }
    public ulong Rcx { get; init; }
    public ulong Rdx { get; init; }
    public ulong Rsi { get; init; }
    public ulong Rdi { get; init; }
    public uint ErrorCode { get; init; }
    public uint EntryVector { get; init; }
    public ulong Rip { get; init; }
    public ushort Cs { get; init; }
    public byte SavedUpcallMask { get; init; }
    public ulong Rflags { get; init; }
    public ulong Rsp { get; init; }
    public ushort Ss { get; init; }
    public ushort Es { get; init; }
    public ushort Ds { get; init; }
    public ushort Fs { get; init; }
    public ushort Gs { get; init; }

    static int IAbiStruct<CpuUserRegs>.Size => Layout.Size;

    public static CpuUserRegs Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(CpuUserRegs));
        return new()
        {
            R15 = Wire.U64(s, Layout.R15), R14 = Wire.U64(s, Layout.R14), R13 = Wire.U64(s, Layout.R13),
            R12 = Wire.U64(s, Layout.R12), Rbp = Wire.U64(s, Layout.Rbp), Rbx = Wire.U64(s, Layout.Rbx),
            R11 = Wire.U64(s, Layout.R11), R10 = Wire.U64(s, Layout.R10), R9 = Wire.U64(s, Layout.R9),
            R8 = Wire.U64(s, Layout.R8), Rax = Wire.U64(s, Layout.Rax), Rcx = Wire.U64(s, Layout.Rcx),
            Rdx = Wire.U64(s, Layout.Rdx), Rsi = Wire.U64(s, Layout.Rsi), Rdi = Wire.U64(s, Layout.Rdi),
            ErrorCode = Wire.U32(s, Layout.ErrorCode), EntryVector = Wire.U32(s, Layout.EntryVector),
            Rip = Wire.U64(s, Layout.Rip), Cs = Wire.U16(s, Layout.Cs),
            SavedUpcallMask = Wire.U8(s, Layout.SavedUpcallMask), Rflags = Wire.U64(s, Layout.Rflags),
            Rsp = Wire.U64(s, Layout.Rsp), Ss = Wire.U16(s, Layout.Ss), Es = Wire.U16(s, Layout.Es),
            Ds = Wire.U16(s, Layout.Ds), Fs = Wire.U16(s, Layout.Fs), Gs = Wire.U16(s, Layout.Gs),
        };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(CpuUserRegs));
        Wire.Put(d, Layout.R15, R15);
        Wire.Put(d, Layout.R14, R14);
        Wire.Put(d, Layout.R13, R13);
        Wire.Put(d, Layout.R12, R12);
        Wire.Put(d, Layout.Rbp, Rbp);
        Wire.Put(d, Layout.Rbx, Rbx);
        Wire.Put(d, Layout.R11, R11);
        Wire.Put(d, Layout.R10, R10);
        Wire.Put(d, Layout.R9, R9);
        Wire.Put(d, Layout.R8, R8);
        Wire.Put(d, Layout.Rax, Rax);
        Wire.Put(d, Layout.Rcx, Rcx);
        Wire.Put(d, Layout.Rdx, Rdx);
        Wire.Put(d, Layout.Rsi, Rsi);
        Wire.Put(d, Layout.Rdi, Rdi);
        Wire.Put(d, Layout.ErrorCode, ErrorCode);
        Wire.Put(d, Layout.EntryVector, EntryVector);
        Wire.Put(d, Layout.Rip, Rip);
        Wire.Put(d, Layout.Cs, Cs);
        Wire.Put(d, Layout.SavedUpcallMask, SavedUpcallMask);
        Wire.Put(d, Layout.Rflags, Rflags);
        Wire.Put(d, Layout.Rsp, Rsp);
        Wire.Put(d, Layout.Ss, Ss);
        Wire.Put(d, Layout.Es, Es);
        Wire.Put(d, Layout.Ds, Ds);
        Wire.Put(d, Layout.Fs, Fs);
        Wire.Put(d, Layout.Gs, Gs);
    }
}

/// <summary><c>struct trap_info</c> (docs/pv-abi.md §3.6): one virtual IDT entry, 16 bytes.</summary>
public sealed record TrapInfo : IAbiStruct<TrapInfo>
{
    public static class Layout
    {
        public const int Size = 16;
        public const int Vector = 0, Flags = 1, Cs = 2, Address = 8;
    }

    public byte Vector { get; init; }
    /// <summary>DPL in bits 0-1 and the mask-events bit, see <see cref="TrapInfoFlags"/>.</summary>
    public byte Flags { get; init; }
    public ushort Cs { get; init; }
    public ulong Address { get; init; }

    static int IAbiStruct<TrapInfo>.Size => Layout.Size;

    public static TrapInfo Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(TrapInfo));
        return new()
        {
            Vector = Wire.U8(s, Layout.Vector), Flags = Wire.U8(s, Layout.Flags),
            Cs = Wire.U16(s, Layout.Cs), Address = Wire.U64(s, Layout.Address),
        };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(TrapInfo));
        Wire.Put(d, Layout.Vector, Vector);
        Wire.Put(d, Layout.Flags, Flags);
        Wire.Put(d, Layout.Cs, Cs);
        Wire.Put(d, Layout.Address, Address);
    }
}

/// <summary>
/// <c>struct vcpu_guest_context</c> for x86-64 (docs/pv-abi.md §3.7): the argument of VCPUOP_initialise, 5168 bytes.
/// </summary>
/// <remarks>Array properties compare by reference under record equality; compare byte images instead.</remarks>
public sealed record VcpuGuestContext : IAbiStruct<VcpuGuestContext>
{
    public static class Layout
    {
        public const int Size = 5168;
        public const int FpuCtxt = 0, Flags = 512, UserRegs = 520, TrapCtxt = 720, LdtBase = 4816, LdtEnts = 4824;
        public const int GdtFrames = 4832, GdtEnts = 4960, KernelSs = 4968, KernelSp = 4976;
        public const int Ctrlreg = 4984, Debugreg = 5048;
        public const int EventCallbackEip = 5112, FailsafeCallbackEip = 5120, SyscallCallbackEip = 5128;
        public const int VmAssist = 5136, FsBase = 5144, GsBaseKernel = 5152, GsBaseUser = 5160;
    }

    public const int FpuCtxtSize = 512;
    public const int TrapCtxtCount = 256;
    public const int GdtFramesCount = 16;
    public const int CtrlregCount = 8;
    public const int DebugregCount = 8;

    /// <summary>FXSAVE image; only used when <see cref="VgcfFlags.I387Valid"/> is set.</summary>
    public byte[] FpuCtxt { get; init; } = new byte[FpuCtxtSize];
    /// <summary>VGCF_* bits, see <see cref="VgcfFlags"/>.</summary>
    public ulong Flags { get; init; }
    public CpuUserRegs UserRegs { get; init; } = new();
    public TrapInfo[] TrapCtxt { get; init; } = Enumerable.Repeat(new TrapInfo(), TrapCtxtCount).ToArray();
    public ulong LdtBase { get; init; }
    public ulong LdtEnts { get; init; }
    public ulong[] GdtFrames { get; init; } = new ulong[GdtFramesCount];
    public ulong GdtEnts { get; init; }
    public ulong KernelSs { get; init; }
    public ulong KernelSp { get; init; }
    /// <summary>Control registers; [3] is the kernel CR3 and [1] the user-mode CR3, both MFN &lt;&lt; 12.</summary>
    public ulong[] Ctrlreg { get; init; } = new ulong[CtrlregCount];
    public ulong[] Debugreg { get; init; } = new ulong[DebugregCount];
    public ulong EventCallbackEip { get; init; }
    public ulong FailsafeCallbackEip { get; init; }
    public ulong SyscallCallbackEip { get; init; }
    public ulong VmAssist { get; init; }
    public ulong FsBase { get; init; }
    public ulong GsBaseKernel { get; init; }
    public ulong GsBaseUser { get; init; }

    static int IAbiStruct<VcpuGuestContext>.Size => Layout.Size;

    public static VcpuGuestContext Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(VcpuGuestContext));
        return new()
        {
            FpuCtxt = Wire.Bytes(s, Layout.FpuCtxt, FpuCtxtSize),
            Flags = Wire.U64(s, Layout.Flags),
            UserRegs = CpuUserRegs.Read(s[Layout.UserRegs..]),
            TrapCtxt = Wire.Structs<TrapInfo>(s, Layout.TrapCtxt, TrapCtxtCount),
            LdtBase = Wire.U64(s, Layout.LdtBase), LdtEnts = Wire.U64(s, Layout.LdtEnts),
            GdtFrames = Wire.U64s(s, Layout.GdtFrames, GdtFramesCount),
            GdtEnts = Wire.U64(s, Layout.GdtEnts), KernelSs = Wire.U64(s, Layout.KernelSs),
            KernelSp = Wire.U64(s, Layout.KernelSp),
            Ctrlreg = Wire.U64s(s, Layout.Ctrlreg, CtrlregCount),
            Debugreg = Wire.U64s(s, Layout.Debugreg, DebugregCount),
            EventCallbackEip = Wire.U64(s, Layout.EventCallbackEip),
            FailsafeCallbackEip = Wire.U64(s, Layout.FailsafeCallbackEip),
            SyscallCallbackEip = Wire.U64(s, Layout.SyscallCallbackEip),
            VmAssist = Wire.U64(s, Layout.VmAssist), FsBase = Wire.U64(s, Layout.FsBase),
            GsBaseKernel = Wire.U64(s, Layout.GsBaseKernel), GsBaseUser = Wire.U64(s, Layout.GsBaseUser),
        };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(VcpuGuestContext));
        Wire.PutBytes(d, Layout.FpuCtxt, FpuCtxtSize, FpuCtxt, nameof(FpuCtxt));
        Wire.Put(d, Layout.Flags, Flags);
        UserRegs?.Write(d[Layout.UserRegs..]);
        Wire.PutStructs(d, Layout.TrapCtxt, TrapCtxtCount, TrapCtxt, nameof(TrapCtxt));
        Wire.Put(d, Layout.LdtBase, LdtBase);
        Wire.Put(d, Layout.LdtEnts, LdtEnts);
        Wire.PutU64s(d, Layout.GdtFrames, GdtFramesCount, GdtFrames, nameof(GdtFrames));
        Wire.Put(d, Layout.GdtEnts, GdtEnts);
        Wire.Put(d, Layout.KernelSs, KernelSs);
        Wire.Put(d, Layout.KernelSp, KernelSp);
        Wire.PutU64s(d, Layout.Ctrlreg, CtrlregCount, Ctrlreg, nameof(Ctrlreg));
        Wire.PutU64s(d, Layout.Debugreg, DebugregCount, Debugreg, nameof(Debugreg));
        Wire.Put(d, Layout.EventCallbackEip, EventCallbackEip);
        Wire.Put(d, Layout.FailsafeCallbackEip, FailsafeCallbackEip);
        Wire.Put(d, Layout.SyscallCallbackEip, SyscallCallbackEip);
        Wire.Put(d, Layout.VmAssist, VmAssist);
        Wire.Put(d, Layout.FsBase, FsBase);
        Wire.Put(d, Layout.GsBaseKernel, GsBaseKernel);
        Wire.Put(d, Layout.GsBaseUser, GsBaseUser);
    }
}

/// <summary><c>struct vcpu_runstate_info</c> (docs/pv-abi.md §4.6), output of VCPUOP_get_runstate_info, 48 bytes.</summary>
/// <remarks>Array properties compare by reference under record equality; compare byte images instead.</remarks>
public sealed record VcpuRunstateInfo : IAbiStruct<VcpuRunstateInfo>
{
    public static class Layout
    {
        public const int Size = 48;
        public const int State = 0, StateEntryTime = 8, Time = 16;
    }

    /// <summary>XEN_RUNSTATE_UPDATE: bit 63 of state_entry_time while Xen rewrites a registered area (docs/pv-abi.md §2.3).</summary>
    public const ulong UpdateFlag = 1UL << 63;
    public const int TimeCount = 4;

    /// <summary>A <see cref="RunState"/> value.</summary>
    public int State { get; init; }
    public ulong StateEntryTime { get; init; }
    /// <summary>Nanoseconds spent in each <see cref="RunState"/>, indexed by state.</summary>
    public ulong[] Time { get; init; } = new ulong[TimeCount];

    static int IAbiStruct<VcpuRunstateInfo>.Size => Layout.Size;

    public static VcpuRunstateInfo Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(VcpuRunstateInfo));
        return new()
        {
            State = Wire.I32(s, Layout.State), StateEntryTime = Wire.U64(s, Layout.StateEntryTime),
            Time = Wire.U64s(s, Layout.Time, TimeCount),
        };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(VcpuRunstateInfo));
        Wire.Put(d, Layout.State, State);
        Wire.Put(d, Layout.StateEntryTime, StateEntryTime);
        Wire.PutU64s(d, Layout.Time, TimeCount, Time, nameof(Time));
    }
}

/// <summary><c>struct vcpu_register_runstate_memory_area</c> (docs/pv-abi.md §4.7): a guest virtual address, 8 bytes.</summary>
public sealed record VcpuRegisterRunstateMemoryArea : IAbiStruct<VcpuRegisterRunstateMemoryArea>
{
    public static class Layout
    {
        public const int Size = 8;
        public const int Addr = 0;
    }

    public ulong Addr { get; init; }

    static int IAbiStruct<VcpuRegisterRunstateMemoryArea>.Size => Layout.Size;

    public static VcpuRegisterRunstateMemoryArea Read(ReadOnlySpan<byte> src) =>
        new() { Addr = Wire.U64(Wire.In(src, Layout.Size, nameof(VcpuRegisterRunstateMemoryArea)), Layout.Addr) };

    public void Write(Span<byte> dst) =>
        Wire.Put(Wire.Out(dst, Layout.Size, nameof(VcpuRegisterRunstateMemoryArea)), Layout.Addr, Addr);
}

/// <summary><c>struct vcpu_set_periodic_timer</c> (docs/pv-abi.md §4.8), 8 bytes.</summary>
public sealed record VcpuSetPeriodicTimer : IAbiStruct<VcpuSetPeriodicTimer>
{
    public static class Layout
    {
        public const int Size = 8;
        public const int PeriodNs = 0;
    }

    public ulong PeriodNs { get; init; }

    static int IAbiStruct<VcpuSetPeriodicTimer>.Size => Layout.Size;

    public static VcpuSetPeriodicTimer Read(ReadOnlySpan<byte> src) =>
        new() { PeriodNs = Wire.U64(Wire.In(src, Layout.Size, nameof(VcpuSetPeriodicTimer)), Layout.PeriodNs) };

    public void Write(Span<byte> dst) =>
        Wire.Put(Wire.Out(dst, Layout.Size, nameof(VcpuSetPeriodicTimer)), Layout.PeriodNs, PeriodNs);
}

/// <summary><c>struct vcpu_set_singleshot_timer</c> (docs/pv-abi.md §4.9), 16 bytes.</summary>
public sealed record VcpuSetSingleshotTimer : IAbiStruct<VcpuSetSingleshotTimer>
{
    public static class Layout
    {
        public const int Size = 16;
        public const int TimeoutAbsNs = 0, Flags = 8;
    }

    /// <summary>Absolute Xen system time in nanoseconds.</summary>
    public ulong TimeoutAbsNs { get; init; }
    /// <summary>See <see cref="VcpuSshotTmr"/>.</summary>
    public uint Flags { get; init; }

    static int IAbiStruct<VcpuSetSingleshotTimer>.Size => Layout.Size;

    public static VcpuSetSingleshotTimer Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(VcpuSetSingleshotTimer));
        return new() { TimeoutAbsNs = Wire.U64(s, Layout.TimeoutAbsNs), Flags = Wire.U32(s, Layout.Flags) };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(VcpuSetSingleshotTimer));
        Wire.Put(d, Layout.TimeoutAbsNs, TimeoutAbsNs);
        Wire.Put(d, Layout.Flags, Flags);
    }
}

/// <summary><c>struct vcpu_register_vcpu_info</c> (docs/pv-abi.md §4.11), 16 bytes.</summary>
public sealed record VcpuRegisterVcpuInfo : IAbiStruct<VcpuRegisterVcpuInfo>
{
    public static class Layout
    {
        public const int Size = 16;
        public const int Mfn = 0, Offset = 8, Rsvd = 12;
    }

    public ulong Mfn { get; init; }
    /// <summary>Byte offset of the new vcpu_info inside the frame (≤ 4032, multiple of 8).</summary>
    public uint Offset { get; init; }
    public uint Rsvd { get; init; }

    static int IAbiStruct<VcpuRegisterVcpuInfo>.Size => Layout.Size;

    public static VcpuRegisterVcpuInfo Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(VcpuRegisterVcpuInfo));
        return new() { Mfn = Wire.U64(s, Layout.Mfn), Offset = Wire.U32(s, Layout.Offset), Rsvd = Wire.U32(s, Layout.Rsvd) };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(VcpuRegisterVcpuInfo));
        Wire.Put(d, Layout.Mfn, Mfn);
        Wire.Put(d, Layout.Offset, Offset);
        Wire.Put(d, Layout.Rsvd, Rsvd);
    }
}

/// <summary><c>struct vcpu_get_physid</c> (docs/pv-abi.md §4.13), 8 bytes: APIC id in the low half, ACPI id in the high half.</summary>
public sealed record VcpuGetPhysid : IAbiStruct<VcpuGetPhysid>
{
    public static class Layout
    {
        public const int Size = 8;
        public const int PhysId = 0;
    }

    public ulong PhysId { get; init; }
    public uint ApicId => (uint)PhysId;
    public uint AcpiId => (uint)(PhysId >> 32);

    static int IAbiStruct<VcpuGetPhysid>.Size => Layout.Size;

    public static VcpuGetPhysid Read(ReadOnlySpan<byte> src) =>
        new() { PhysId = Wire.U64(Wire.In(src, Layout.Size, nameof(VcpuGetPhysid)), Layout.PhysId) };

    public void Write(Span<byte> dst) =>
        Wire.Put(Wire.Out(dst, Layout.Size, nameof(VcpuGetPhysid)), Layout.PhysId, PhysId);
}

/// <summary><c>struct vcpu_register_time_memory_area</c> (docs/pv-abi.md §4.14): a guest virtual address, 8 bytes.</summary>
public sealed record VcpuRegisterTimeMemoryArea : IAbiStruct<VcpuRegisterTimeMemoryArea>
{
    public static class Layout
    {
        public const int Size = 8;
        public const int Addr = 0;
    }

    public ulong Addr { get; init; }

    static int IAbiStruct<VcpuRegisterTimeMemoryArea>.Size => Layout.Size;

    public static VcpuRegisterTimeMemoryArea Read(ReadOnlySpan<byte> src) =>
        new() { Addr = Wire.U64(Wire.In(src, Layout.Size, nameof(VcpuRegisterTimeMemoryArea)), Layout.Addr) };

    public void Write(Span<byte> dst) =>
        Wire.Put(Wire.Out(dst, Layout.Size, nameof(VcpuRegisterTimeMemoryArea)), Layout.Addr, Addr);
}
