namespace Xtf.Abi;

/// <summary><c>struct sched_shutdown</c> (docs/pv-abi.md §5.0), used by SCHEDOP_shutdown and SCHEDOP_shutdown_code, 4 bytes.</summary>
public sealed record SchedShutdown : IAbiStruct<SchedShutdown>
{
    public static class Layout
    {
        public const int Size = 4;
        public const int Reason = 0;
    }

    /// <summary>A <see cref="ShutdownReason"/>; Xen keeps only the low 8 bits.</summary>
    public uint Reason { get; init; }

    static int IAbiStruct<SchedShutdown>.Size => Layout.Size;

    public static SchedShutdown Read(ReadOnlySpan<byte> src) =>
        new() { Reason = Wire.U32(Wire.In(src, Layout.Size, nameof(SchedShutdown)), Layout.Reason) };

    public void Write(Span<byte> dst) =>
        Wire.Put(Wire.Out(dst, Layout.Size, nameof(SchedShutdown)), Layout.Reason, Reason);
}

/// <summary><c>struct sched_poll</c> (docs/pv-abi.md §5.0, §5.4), 24 bytes.</summary>
public sealed record SchedPoll : IAbiStruct<SchedPoll>
{
    public static class Layout
    {
        public const int Size = 24;
        public const int Ports = 0, NrPorts = 8, Timeout = 16;
    }

    /// <summary>Xen refuses polls on more ports than this.</summary>
    public const int MaxPorts = 128;

    /// <summary>Guest virtual address of an array of 32-bit port numbers.</summary>
    public ulong Ports { get; init; }
    public uint NrPorts { get; init; }
    /// <summary>Absolute system time in ns; 0 means no timeout.</summary>
    public ulong Timeout { get; init; }

    static int IAbiStruct<SchedPoll>.Size => Layout.Size;

    public static SchedPoll Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(SchedPoll));
        return new() { Ports = Wire.U64(s, Layout.Ports), NrPorts = Wire.U32(s, Layout.NrPorts), Timeout = Wire.U64(s, Layout.Timeout) };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(SchedPoll));
        Wire.Put(d, Layout.Ports, Ports);
        Wire.Put(d, Layout.NrPorts, NrPorts);
        Wire.Put(d, Layout.Timeout, Timeout);
    }
}

/// <summary><c>struct sched_remote_shutdown</c> (docs/pv-abi.md §5.0, §5.5), 8 bytes.</summary>
public sealed record SchedRemoteShutdown : IAbiStruct<SchedRemoteShutdown>
{
    public static class Layout
    {
        public const int Size = 8;
        public const int DomainId = 0, Reason = 4;
    }

    public ushort DomainId { get; init; }
    public uint Reason { get; init; }

    static int IAbiStruct<SchedRemoteShutdown>.Size => Layout.Size;

    public static SchedRemoteShutdown Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(SchedRemoteShutdown));
        return new() { DomainId = Wire.U16(s, Layout.DomainId), Reason = Wire.U32(s, Layout.Reason) };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(SchedRemoteShutdown));
        Wire.Put(d, Layout.DomainId, DomainId);
        Wire.Put(d, Layout.Reason, Reason);
    }
}

/// <summary><c>struct sched_watchdog</c> (docs/pv-abi.md §5.0, §5.7), 8 bytes.</summary>
public sealed record SchedWatchdog : IAbiStruct<SchedWatchdog>
{
    public static class Layout
    {
        public const int Size = 8;
        public const int Id = 0, Timeout = 4;
    }

    /// <summary>0 allocates a new watchdog; 1 or 2 name an existing one.</summary>
    public uint Id { get; init; }
    /// <summary>Seconds; 0 with an existing id releases it.</summary>
    public uint Timeout { get; init; }

    static int IAbiStruct<SchedWatchdog>.Size => Layout.Size;

    public static SchedWatchdog Read(ReadOnlySpan<byte> src)
    {
        var s = Wire.In(src, Layout.Size, nameof(SchedWatchdog));
        return new() { Id = Wire.U32(s, Layout.Id), Timeout = Wire.U32(s, Layout.Timeout) };
    }

    public void Write(Span<byte> dst)
    {
        var d = Wire.Out(dst, Layout.Size, nameof(SchedWatchdog));
        Wire.Put(d, Layout.Id, Id);
        Wire.Put(d, Layout.Timeout, Timeout);
    }
}

/// <summary><c>struct sched_pin_override</c> (docs/pv-abi.md §5.0, §5.8), 4 bytes.</summary>
public sealed record SchedPinOverride : IAbiStruct<SchedPinOverride>
{
    public static class Layout
    {
        public const int Size = 4;
        public const int Pcpu = 0;
    }

    /// <summary>Physical CPU to pin to; negative undoes the override.</summary>
    public int Pcpu { get; init; }

    static int IAbiStruct<SchedPinOverride>.Size => Layout.Size;

    public static SchedPinOverride Read(ReadOnlySpan<byte> src) =>
        new() { Pcpu = Wire.I32(Wire.In(src, Layout.Size, nameof(SchedPinOverride)), Layout.Pcpu) };

    public void Write(Span<byte> dst) =>
        Wire.Put(Wire.Out(dst, Layout.Size, nameof(SchedPinOverride)), Layout.Pcpu, Pcpu);
}
