namespace Xtf.Abi;

/// <summary><c>struct callback_register</c> (xen/include/public/callback.h), CALLBACKOP_register's argument, 16 bytes.</summary>
public sealed record CallbackRegister : IAbiStruct<CallbackRegister>
{
    public static class Layout
    {
        public const int Size = 16;
        public const int Type = 0, Flags = 2, Address = 8;
    }

    /// <summary>CALLBACKTYPE_*: 0 event, 1 failsafe, 2 syscall, 4 nmi, 5 sysenter, 7 syscall32.</summary>
    public ushort Type { get; init; }
    public ushort Flags { get; init; }
    /// <summary>xen_callback_t: a 64-bit PV guest's entry point.</summary>
    public ulong Address { get; init; }

    static int IAbiStruct<CallbackRegister>.Size => Layout.Size;

    public static CallbackRegister Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(CallbackRegister));
        return new() { Type = Wire.U16(s, Layout.Type), Flags = Wire.U16(s, Layout.Flags), Address = Wire.U64(s, Layout.Address) };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(CallbackRegister));
        Wire.Put(d, Layout.Type, Type);
        Wire.Put(d, Layout.Flags, Flags);
        Wire.Put(d, Layout.Address, Address);
    }
}

/// <summary><c>struct callback_unregister</c> (xen/include/public/callback.h), CALLBACKOP_unregister's argument, 4 bytes.</summary>
public sealed record CallbackUnregister : IAbiStruct<CallbackUnregister>
{
    public static class Layout
    {
        public const int Size = 4;
        public const int Type = 0;
    }

    public ushort Type { get; init; }

    static int IAbiStruct<CallbackUnregister>.Size => Layout.Size;

    public static CallbackUnregister Read(ReadOnlySpan<byte> src) =>
        new() { Type = Wire.U16(Wire.In(src, Layout.Size, nameof(CallbackUnregister)), Layout.Type) };

    public void Write(Span<byte> dst) => Wire.Put(Wire.Out(dst, Layout.Size, nameof(CallbackUnregister)), Layout.Type, Type);
}

/// <summary>
/// <c>struct iret_context</c> for x86-64 (xen/include/public/arch-x86/xen-x86_64.h): the frame
/// HYPERVISOR_iret pops from the guest stack, lowest address first, 72 bytes.
/// </summary>
public sealed record IretContext : IAbiStruct<IretContext>
{
    public static class Layout
    {
        public const int Size = 72;
        public const int Rax = 0, R11 = 8, Rcx = 16, Flags = 24, Rip = 32, Cs = 40, Rflags = 48, Rsp = 56, Ss = 64;
    }

    /// <summary>VGCF_in_syscall (bit 8): rcx and r11 are not restored.</summary>
    public const ulong InSyscall = 0x100;

    public ulong Rax { get; init; }
    public ulong R11 { get; init; }
    public ulong Rcx { get; init; }
    public ulong Flags { get; init; }
    public ulong Rip { get; init; }
    public ulong Cs { get; init; }
    public ulong Rflags { get; init; }
    public ulong Rsp { get; init; }
    public ulong Ss { get; init; }

    static int IAbiStruct<IretContext>.Size => Layout.Size;

    public static IretContext Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(IretContext));
        return new()
        {
            Rax = Wire.U64(s, Layout.Rax), R11 = Wire.U64(s, Layout.R11), Rcx = Wire.U64(s, Layout.Rcx),
            Flags = Wire.U64(s, Layout.Flags), Rip = Wire.U64(s, Layout.Rip), Cs = Wire.U64(s, Layout.Cs),
            Rflags = Wire.U64(s, Layout.Rflags), Rsp = Wire.U64(s, Layout.Rsp), Ss = Wire.U64(s, Layout.Ss),
        };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(IretContext));
        Wire.Put(d, Layout.Rax, Rax);
        Wire.Put(d, Layout.R11, R11);
        Wire.Put(d, Layout.Rcx, Rcx);
        Wire.Put(d, Layout.Flags, Flags);
        Wire.Put(d, Layout.Rip, Rip);
        Wire.Put(d, Layout.Cs, Cs);
        Wire.Put(d, Layout.Rflags, Rflags);
        Wire.Put(d, Layout.Rsp, Rsp);
        Wire.Put(d, Layout.Ss, Ss);
    }
}
