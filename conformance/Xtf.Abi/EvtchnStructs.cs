namespace Xtf.Abi;

/// <summary><c>struct evtchn_alloc_unbound</c> (docs/pv-abi.md §7.1, §7.3), 8 bytes.</summary>
public sealed record EvtchnAllocUnbound : IAbiStruct<EvtchnAllocUnbound>
{
    public static class Layout
    {
        public const int Size = 8;
        public const int Dom = 0, RemoteDom = 2, Port = 4;
    }

    public ushort Dom { get; init; }
    public ushort RemoteDom { get; init; }
    /// <summary>Output: the allocated port.</summary>
    public uint Port { get; init; }

    static int IAbiStruct<EvtchnAllocUnbound>.Size => Layout.Size;

    public static EvtchnAllocUnbound Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(EvtchnAllocUnbound));
        return new() { Dom = Wire.U16(s, Layout.Dom), RemoteDom = Wire.U16(s, Layout.RemoteDom), Port = Wire.U32(s, Layout.Port) };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(EvtchnAllocUnbound));
        Wire.Put(d, Layout.Dom, Dom);
        Wire.Put(d, Layout.RemoteDom, RemoteDom);
        Wire.Put(d, Layout.Port, Port);
    }
}

/// <summary><c>struct evtchn_bind_interdomain</c> (docs/pv-abi.md §7.1, §7.4), 12 bytes.</summary>
public sealed record EvtchnBindInterdomain : IAbiStruct<EvtchnBindInterdomain>
{
    public static class Layout
    {
        public const int Size = 12;
        public const int RemoteDom = 0, RemotePort = 4, LocalPort = 8;
    }

    public ushort RemoteDom { get; init; }
    public uint RemotePort { get; init; }
    /// <summary>Output.</summary>
    public uint LocalPort { get; init; }

    static int IAbiStruct<EvtchnBindInterdomain>.Size => Layout.Size;

    public static EvtchnBindInterdomain Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(EvtchnBindInterdomain));
        return new()
        {
            RemoteDom = Wire.U16(s, Layout.RemoteDom), RemotePort = Wire.U32(s, Layout.RemotePort),
            LocalPort = Wire.U32(s, Layout.LocalPort),
        };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(EvtchnBindInterdomain));
        Wire.Put(d, Layout.RemoteDom, RemoteDom);
        Wire.Put(d, Layout.RemotePort, RemotePort);
        Wire.Put(d, Layout.LocalPort, LocalPort);
    }
}

/// <summary><c>struct evtchn_bind_virq</c> (docs/pv-abi.md §7.1, §7.5), 12 bytes.</summary>
public sealed record EvtchnBindVirq : IAbiStruct<EvtchnBindVirq>
{
    public static class Layout
    {
        public const int Size = 12;
        public const int Virq = 0, Vcpu = 4, Port = 8;
    }

    public uint Virq { get; init; }
    public uint Vcpu { get; init; }
    /// <summary>Output.</summary>
    public uint Port { get; init; }

    static int IAbiStruct<EvtchnBindVirq>.Size => Layout.Size;

    public static EvtchnBindVirq Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(EvtchnBindVirq));
        return new() { Virq = Wire.U32(s, Layout.Virq), Vcpu = Wire.U32(s, Layout.Vcpu), Port = Wire.U32(s, Layout.Port) };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(EvtchnBindVirq));
        Wire.Put(d, Layout.Virq, Virq);
        Wire.Put(d, Layout.Vcpu, Vcpu);
        Wire.Put(d, Layout.Port, Port);
    }
}

/// <summary><c>struct evtchn_bind_pirq</c> (docs/pv-abi.md §7.1, §7.7), 12 bytes.</summary>
public sealed record EvtchnBindPirq : IAbiStruct<EvtchnBindPirq>
{
    public static class Layout
    {
        public const int Size = 12;
        public const int Pirq = 0, Flags = 4, Port = 8;
    }

    /// <summary>BIND_PIRQ__WILL_SHARE: the interrupt may be shared with other domains.</summary>
    public const uint FlagWillShare = 1;

    public uint Pirq { get; init; }
    public uint Flags { get; init; }
    /// <summary>Output.</summary>
    public uint Port { get; init; }

    static int IAbiStruct<EvtchnBindPirq>.Size => Layout.Size;

    public static EvtchnBindPirq Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(EvtchnBindPirq));
        return new() { Pirq = Wire.U32(s, Layout.Pirq), Flags = Wire.U32(s, Layout.Flags), Port = Wire.U32(s, Layout.Port) };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(EvtchnBindPirq));
        Wire.Put(d, Layout.Pirq, Pirq);
        Wire.Put(d, Layout.Flags, Flags);
        Wire.Put(d, Layout.Port, Port);
    }
}

/// <summary><c>struct evtchn_bind_ipi</c> (docs/pv-abi.md §7.1, §7.6), 8 bytes.</summary>
public sealed record EvtchnBindIpi : IAbiStruct<EvtchnBindIpi>
{
    public static class Layout
    {
        public const int Size = 8;
        public const int Vcpu = 0, Port = 4;
    }

    public uint Vcpu { get; init; }
    /// <summary>Output.</summary>
    public uint Port { get; init; }

    static int IAbiStruct<EvtchnBindIpi>.Size => Layout.Size;

    public static EvtchnBindIpi Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(EvtchnBindIpi));
        return new() { Vcpu = Wire.U32(s, Layout.Vcpu), Port = Wire.U32(s, Layout.Port) };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(EvtchnBindIpi));
        Wire.Put(d, Layout.Vcpu, Vcpu);
        Wire.Put(d, Layout.Port, Port);
    }
}

/// <summary><c>struct evtchn_close</c> (docs/pv-abi.md §7.1, §7.8), 4 bytes.</summary>
public sealed record EvtchnClose : IAbiStruct<EvtchnClose>
{
    public static class Layout
    {
        public const int Size = 4;
        public const int Port = 0;
    }

    public uint Port { get; init; }

    static int IAbiStruct<EvtchnClose>.Size => Layout.Size;

    public static EvtchnClose Read(ReadOnlySpan<byte> src) =>
        new() { Port = Wire.U32(Wire.In(src, Layout.Size, nameof(EvtchnClose)), Layout.Port) };

    public void Write(Span<byte> dst) => Wire.Put(Wire.Out(dst, Layout.Size, nameof(EvtchnClose)), Layout.Port, Port);
}

/// <summary><c>struct evtchn_send</c> (docs/pv-abi.md §7.1, §7.9), 4 bytes.</summary>
public sealed record EvtchnSend : IAbiStruct<EvtchnSend>
{
    public static class Layout
    {
        public const int Size = 4;
        public const int Port = 0;
    }

    public uint Port { get; init; }

    static int IAbiStruct<EvtchnSend>.Size => Layout.Size;

    public static EvtchnSend Read(ReadOnlySpan<byte> src) =>
        new() { Port = Wire.U32(Wire.In(src, Layout.Size, nameof(EvtchnSend)), Layout.Port) };

    public void Write(Span<byte> dst) => Wire.Put(Wire.Out(dst, Layout.Size, nameof(EvtchnSend)), Layout.Port, Port);
}

/// <summary>
/// <c>struct evtchn_status</c> (docs/pv-abi.md §7.1, §7.12), 24 bytes. Bytes 16..23 are a union whose meaning depends on
/// <see cref="Status"/>; <see cref="Union"/> holds all eight bytes (Xen echoes untouched ones back) and the
/// remaining properties are views of it.
/// </summary>
public sealed record EvtchnStatusArgs : IAbiStruct<EvtchnStatusArgs>
{
    public static class Layout
    {
        public const int Size = 24;
        public const int Dom = 0, Port = 4, Status = 8, Vcpu = 12, Union = 16;
        public const int UnboundDom = 16, InterdomainDom = 16, InterdomainPort = 20, Pirq = 16, Virq = 16;
    }

    public ushort Dom { get; init; }
    public uint Port { get; init; }
    /// <summary>Output: an <see cref="EvtchnStatus"/> value.</summary>
    public uint Status { get; init; }
    /// <summary>Output: the vCPU notified for this port.</summary>
    public uint Vcpu { get; init; }
    /// <summary>Raw union bytes 16..23, little-endian.</summary>
    public ulong Union { get; init; }

    public ushort UnboundDom { get => (ushort)Union; init => Union = (Union & ~0xFFFFUL) | value; }
    public ushort InterdomainDom { get => (ushort)Union; init => Union = (Union & ~0xFFFFUL) | value; }
    public uint InterdomainPort { get => (uint)(Union >> 32); init => Union = (Union & 0xFFFF_FFFFUL) | ((ulong)value << 32); }
    public uint Pirq { get => (uint)Union; init => Union = (Union & ~0xFFFF_FFFFUL) | value; }
    public uint Virq { get => (uint)Union; init => Union = (Union & ~0xFFFF_FFFFUL) | value; }

    static int IAbiStruct<EvtchnStatusArgs>.Size => Layout.Size;

    public static EvtchnStatusArgs Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(EvtchnStatusArgs));
        return new()
        {
            Dom = Wire.U16(s, Layout.Dom), Port = Wire.U32(s, Layout.Port), Status = Wire.U32(s, Layout.Status),
            Vcpu = Wire.U32(s, Layout.Vcpu), Union = Wire.U64(s, Layout.Union),
        };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(EvtchnStatusArgs));
        Wire.Put(d, Layout.Dom, Dom);
        Wire.Put(d, Layout.Port, Port);
        Wire.Put(d, Layout.Status, Status);
        Wire.Put(d, Layout.Vcpu, Vcpu);
        Wire.Put(d, Layout.Union, Union);
    }
}

/// <summary><c>struct evtchn_bind_vcpu</c> (docs/pv-abi.md §7.1, §7.13), 8 bytes.</summary>
public sealed record EvtchnBindVcpu : IAbiStruct<EvtchnBindVcpu>
{
    public static class Layout
    {
        public const int Size = 8;
        public const int Port = 0, Vcpu = 4;
    }

    public uint Port { get; init; }
    public uint Vcpu { get; init; }

    static int IAbiStruct<EvtchnBindVcpu>.Size => Layout.Size;

    public static EvtchnBindVcpu Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(EvtchnBindVcpu));
        return new() { Port = Wire.U32(s, Layout.Port), Vcpu = Wire.U32(s, Layout.Vcpu) };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(EvtchnBindVcpu));
        Wire.Put(d, Layout.Port, Port);
        Wire.Put(d, Layout.Vcpu, Vcpu);
    }
}

/// <summary><c>struct evtchn_unmask</c> (docs/pv-abi.md §7.1, §7.11), 4 bytes.</summary>
public sealed record EvtchnUnmask : IAbiStruct<EvtchnUnmask>
{
    public static class Layout
    {
        public const int Size = 4;
        public const int Port = 0;
    }

    public uint Port { get; init; }

    static int IAbiStruct<EvtchnUnmask>.Size => Layout.Size;

    public static EvtchnUnmask Read(ReadOnlySpan<byte> src) =>
        new() { Port = Wire.U32(Wire.In(src, Layout.Size, nameof(EvtchnUnmask)), Layout.Port) };

    public void Write(Span<byte> dst) => Wire.Put(Wire.Out(dst, Layout.Size, nameof(EvtchnUnmask)), Layout.Port, Port);
}

/// <summary><c>struct evtchn_reset</c> (docs/pv-abi.md §7.1, §7.14), 2 bytes; also the argument of the reset continuation.</summary>
public sealed record EvtchnReset : IAbiStruct<EvtchnReset>
{
    public static class Layout
    {
        public const int Size = 2;
        public const int Dom = 0;
    }

    public ushort Dom { get; init; }

    static int IAbiStruct<EvtchnReset>.Size => Layout.Size;

    public static EvtchnReset Read(ReadOnlySpan<byte> src) =>
        new() { Dom = Wire.U16(Wire.In(src, Layout.Size, nameof(EvtchnReset)), Layout.Dom) };

    public void Write(Span<byte> dst) => Wire.Put(Wire.Out(dst, Layout.Size, nameof(EvtchnReset)), Layout.Dom, Dom);
}

/// <summary><c>struct evtchn_init_control</c> (docs/pv-abi.md §7.1, §7.15), 24 bytes; the 7 bytes after LinkBits are padding.</summary>
public sealed record EvtchnInitControl : IAbiStruct<EvtchnInitControl>
{
    public static class Layout
    {
        public const int Size = 24;
        public const int ControlGfn = 0, Offset = 8, Vcpu = 12, LinkBits = 16, Pad = 17;
    }

    public ulong ControlGfn { get; init; }
    public uint Offset { get; init; }
    public uint Vcpu { get; init; }
    /// <summary>Output (17 in Xen 4.17).</summary>
    public byte LinkBits { get; init; }

    static int IAbiStruct<EvtchnInitControl>.Size => Layout.Size;

    public static EvtchnInitControl Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(EvtchnInitControl));
        return new()
        {
            ControlGfn = Wire.U64(s, Layout.ControlGfn), Offset = Wire.U32(s, Layout.Offset),
            Vcpu = Wire.U32(s, Layout.Vcpu), LinkBits = Wire.U8(s, Layout.LinkBits),
        };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(EvtchnInitControl));
        Wire.Put(d, Layout.ControlGfn, ControlGfn);
        Wire.Put(d, Layout.Offset, Offset);
        Wire.Put(d, Layout.Vcpu, Vcpu);
        Wire.Put(d, Layout.LinkBits, LinkBits);
    }
}

/// <summary><c>struct evtchn_expand_array</c> (docs/pv-abi.md §7.1, §7.15), 8 bytes.</summary>
public sealed record EvtchnExpandArray : IAbiStruct<EvtchnExpandArray>
{
    public static class Layout
    {
        public const int Size = 8;
        public const int ArrayGfn = 0;
    }

    public ulong ArrayGfn { get; init; }

    static int IAbiStruct<EvtchnExpandArray>.Size => Layout.Size;

    public static EvtchnExpandArray Read(ReadOnlySpan<byte> src) =>
        new() { ArrayGfn = Wire.U64(Wire.In(src, Layout.Size, nameof(EvtchnExpandArray)), Layout.ArrayGfn) };

    public void Write(Span<byte> dst) =>
        Wire.Put(Wire.Out(dst, Layout.Size, nameof(EvtchnExpandArray)), Layout.ArrayGfn, ArrayGfn);
}

/// <summary><c>struct evtchn_set_priority</c> (docs/pv-abi.md §7.1, §7.15), 8 bytes.</summary>
public sealed record EvtchnSetPriority : IAbiStruct<EvtchnSetPriority>
{
    public static class Layout
    {
        public const int Size = 8;
        public const int Port = 0, Priority = 4;
    }

    public uint Port { get; init; }
    public uint Priority { get; init; }

    static int IAbiStruct<EvtchnSetPriority>.Size => Layout.Size;

    public static EvtchnSetPriority Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(EvtchnSetPriority));
        return new() { Port = Wire.U32(s, Layout.Port), Priority = Wire.U32(s, Layout.Priority) };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(EvtchnSetPriority));
        Wire.Put(d, Layout.Port, Port);
        Wire.Put(d, Layout.Priority, Priority);
    }
}
