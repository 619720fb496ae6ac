namespace Xtf.Hosting;

/// <summary>What one boot is asked to do.</summary>
public sealed record BootRequest(
    string Name,
    ReadOnlyMemory<byte> Kernel,
    int Vcpus = 1,
    TimeSpan? Timeout = null,
    string? Dom0CommandLine = null,
    bool Pvh = false);

/// <summary>How a boot ended, as the host saw it.</summary>
public enum BootEnd
{
    /// <summary>Xen printed its dom0 shutdown line (halted, crashed, rebooting, ...).</summary>
    Shutdown,
    /// <summary>Xen panicked (for example, it could not build dom0).</summary>
    XenPanic,
    /// <summary>The emulator exited by itself (a reboot-type shutdown with -no-reboot, or an error).</summary>
    EmulatorExited,
    /// <summary>Nothing ended the boot within the time limit.</summary>
    Timeout,
    /// <summary>
    /// The guest passed one of the <see cref="GuestLimits"/> and the host stopped it; the end detail is
    /// the limit's message and the log is cut where the limit was passed.
    /// </summary>
    LimitReached,
}

/// <summary>The console log of one boot: the whole serial log, kept verbatim.</summary>
public sealed record Transcript(string Host, string Test, string Log, BootEnd End, string? EndDetail, TimeSpan Elapsed)
{
    /// <summary>Simulator only: SHA-256 of the run's trace (console, hypercalls, events, scheduling).</summary>
    public string? TraceHash { get; init; }
    /// <summary>Simulator only: the trace text.</summary>
    public string? Trace { get; init; }
    /// <summary>Simulator only: the scheduler seed.</summary>
    public ulong? Seed { get; init; }
    /// <summary>Simulator only: guest instructions executed.</summary>
    public long? Instructions { get; init; }

    private IReadOnlyList<string>? lines;

    /// <summary>The log as lines: carriage returns and terminal escape sequences removed.</summary>
    public IReadOnlyList<string> Lines => lines ??= ConsoleProtocol.SplitLines(Log);
}

/// <summary>A host boots kernels and returns their console transcripts: real Xen, or the simulator.</summary>
public interface ITestHost
{
    string Name { get; }
    Task<Transcript> BootAsync(BootRequest request, CancellationToken cancellation = default);
}

/// <summary>A boot the host could not even start (missing QEMU, unreadable Xen image, ...).</summary>
public sealed class HostException(string message, Exception? inner = null) : Exception(message, inner);
