namespace Xtf.Hosting;

/// <summary>
/// What one boot's guest may cost the host, on either host: the only definition of these limits
/// (defaults and measurements in docs/limits.md). A guest that passes one is stopped, its host ends
/// the boot as <see cref="BootEnd.LimitReached"/> with the message of the limit it passed, and the
/// verdict is CRASH with that message. The simulator's instruction budget (SimOptions.InstructionLimit)
/// and real Xen's timeout bound run time; these bound what a run leaves behind.
/// </summary>
public sealed record GuestLimits
{
    public static GuestLimits Default { get; } = new();

    /// <summary>
    /// Bytes the guest writes to Xen's console (console_io): the simulator counts what it copies; real
    /// Xen's serial log counts without Xen's own lines, without what came before Xen's first line
    /// (firmware), and without the '\r' Xen's serial driver puts before each '\n'. The transcript keeps
    /// exactly this many; one byte more is the limit passed.
    /// </summary>
    public long ConsoleBytes { get; init; } = 1 << 20;

    /// <summary>Newlines the guest writes to the console; any output after the last one allowed is the limit passed.</summary>
    public long ConsoleLines { get; init; } = 50_000;

    /// <summary>The whole serial log kept as the transcript: Xen's lines, the guest's, and firmware's on real Xen.</summary>
    public long TranscriptBytes { get; init; } = 2 << 20;

    /// <summary>The simulator's trace, counted as text whether or not its text is kept (the hash covers all of it).</summary>
    public long TraceBytes { get; init; } = 8 << 20;

    /// <summary>
    /// A result record as JSON. The record's guest lines, message and diff are cut to fit, and the
    /// record says what was cut (<see cref="ResultRecord.Truncated"/>); the transcript file keeps everything the host kept.
    /// </summary>
    public int RecordBytes { get; init; } = 256 << 10;

    /// <summary>Guest memory the simulator may hold for one run (frames materialised by the builder and the guest).</summary>
    public int SimulatorMemoryMiB { get; init; } = 1024;

    public string ConsoleBytesPassed => $"console output limit: more than {ConsoleBytes} bytes";
    public string ConsoleLinesPassed => $"console output limit: more than {ConsoleLines} lines";
    public string TranscriptPassed => $"transcript limit: more than {TranscriptBytes} bytes";
    public string TracePassed => $"trace limit: more than {TraceBytes} bytes";
    public string SimulatorMemoryPassed => $"simulator memory limit: more than {SimulatorMemoryMiB} MiB of guest memory";
}

/// <summary>
/// The guest's console output counted against <see cref="GuestLimits.ConsoleBytes"/> and
/// <see cref="GuestLimits.ConsoleLines"/>, byte by byte, the same way on both hosts: a byte is refused
/// (the limit passed) when the guest has already written every byte or every newline it may.
/// </summary>
public struct ConsoleCount
{
    public long Bytes { get; private set; }
    public long Lines { get; private set; }

    /// <summary>Counts one byte; or, leaving the count as it was, returns the message of the limit that byte passes.</summary>
    public string? Add(byte b, GuestLimits limits)
    {
        if (Lines >= limits.ConsoleLines) return limits.ConsoleLinesPassed;
        if (Bytes >= limits.ConsoleBytes) return limits.ConsoleBytesPassed;
        Bytes++;
        if (b == (byte)'\n') Lines++;
        return null;
    }

    /// <summary>Counts <paramref name="bytes"/> up to the first one refused; returns how many were counted, and the refusal's message in <paramref name="passed"/>.</summary>
    public int Add(ReadOnlySpan<byte> bytes, GuestLimits limits, out string? passed)
    {
        passed = null;
        for (int i = 0; i < bytes.Length; i++)
        {
            passed = Add(bytes[i], limits);
            if (passed is not null) return i;
        }
        return bytes.Length;
    }
}
