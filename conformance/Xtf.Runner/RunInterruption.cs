using System.Runtime.InteropServices;

using Xtf.Hosting.Xen;

namespace Xtf.Runner;

/// <summary>
/// How a long command (xtf run, xtf fuzz) learns that it must stop: SIGINT, SIGTERM or SIGHUP, or
/// the death of its parent process (a killed `dotnet run` or shell: this process is then re-parented,
/// so its parent PID changes). Each cancels <see cref="Token"/> the same way; the command then
/// stops its boots, keeps what finished, records the interruption and exits with
/// <see cref="ExitCode"/> (128 + the signal: 130, 143, 129; a dead parent counts as a hang-up, 129).
/// The first signal is handled (the process does not die of it); a second one takes the signal's
/// default action, for a user who does not want to wait for the cleanup.
/// <para>
/// PR_SET_PDEATHSIG would not do for the parent: it fires when the parent *thread* that forked
/// this process exits, and `dotnet run` may start it from a thread that ends long before the parent.
/// So the parent PID is polled instead.
/// </para>
/// </summary>
public sealed class RunInterruption : IDisposable
{
    /// <summary>What <see cref="Cause"/> says when the parent process died.</summary>
    public const string ParentExited = "parent process exit";
    public static readonly TimeSpan DefaultParentPoll = TimeSpan.FromMilliseconds(250);

    private readonly CancellationTokenSource cancel = new();
    private readonly List<PosixSignalRegistration> registrations = [];
    private readonly IDisposable signalClaim;
    private readonly Thread? parentWatch;
    private readonly Lock gate = new();
    private readonly ManualResetEventSlim stopWatching = new();
    private int signalsSeen;
    private int disposed;

    private RunInterruption(TimeSpan parentPoll)
    {
        signalClaim = EmulatorProcesses.CallerHandlesSignals();
        if (!OperatingSystem.IsWindows())
        {
            foreach (var (signal, number) in Handled)
                registrations.Add(PosixSignalRegistration.Create(signal, context => OnSignal(context, number)));
        }
        if (ParentId() is { } parent)
        {
            // Started by init (or a parent already gone): there is no parent to outlive.
            if (parent > 1)
            {
                parentWatch = new Thread(() => WatchParent(parent, parentPoll)) { IsBackground = true, Name = "xtf-parent-watch" };
                parentWatch.Start();
            }
        }
    }

    /// <summary>The signals handled, with their numbers on Linux (the exit code is 128 + the number).</summary>
    public static readonly (PosixSignal Signal, int Number)[] Handled =
        [(PosixSignal.SIGINT, 2), (PosixSignal.SIGTERM, 15), (PosixSignal.SIGHUP, 1)];

    /// <summary>Starts listening for signals and for the death of the parent; dispose to stop.</summary>
    public static RunInterruption Listen(TimeSpan? parentPoll = null) => new(parentPoll ?? DefaultParentPoll);

    /// <summary>Cancelled by the first signal or by the death of the parent.</summary>
    public CancellationToken Token => cancel.Token;

    public bool IsInterrupted => Cause is not null;

    /// <summary>SIGINT, SIGTERM, SIGHUP or <see cref="ParentExited"/>; null while nothing happened.</summary>
    public string? Cause { get; private set; }

    /// <summary>The signal number (2, 15, 1); null when the parent exited or nothing happened.</summary>
    public int? Signal { get; private set; }

    /// <summary>128 + the signal; 129 (a hang-up) when the parent exited; 0 while nothing happened.</summary>
    public int ExitCode => Cause is null ? 0 : 128 + (Signal ?? 1);

    /// <summary>Stops the run as if the signal had arrived; the first cause wins. Returns whether this call was the first.</summary>
    public bool Interrupt(string cause, int? signal)
    {
        lock (gate)
        {
            if (Cause is not null) return false;
            Cause = cause;
            Signal = signal;
        }
        try { cancel.Cancel(); } catch (ObjectDisposedException) { }
        return true;
    }

    private void OnSignal(PosixSignalContext context, int number)
    {
        // The first signal is ours to handle; a second one kills the process the usual way.
        if (Interlocked.Increment(ref signalsSeen) > 1) return;
        context.Cancel = true;
        Interrupt(context.Signal.ToString(), number);
    }

    private void WatchParent(int parent, TimeSpan poll)
    {
        while (!stopWatching.Wait(poll))
        {
            if (IsInterrupted) return;
            if (ParentId() is { } now && now != parent)
            {
                Interrupt(ParentExited, null);
                return;
            }
        }
    }

    /// <summary>This process's parent PID (Linux: /proc/self/stat), or null where that cannot be read.</summary>
    public static int? ParentId()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so start after the last ')'.
            string stat = File.ReadAllText("/proc/self/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return int.TryParse(fields[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int ppid) ? ppid : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 1) return;
        foreach (var r in registrations) r.Dispose();
        signalClaim.Dispose();
        stopWatching.Set();
        parentWatch?.Join(TimeSpan.FromSeconds(2));
    }
}
