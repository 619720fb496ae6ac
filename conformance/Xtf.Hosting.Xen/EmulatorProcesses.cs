using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;

using Xtf.Hosting;

namespace Xtf.Hosting.Xen;

/// <summary>
/// Every emulator process the runner starts, so none outlives it. Four layers:
/// each QEMU runs in a session of its own (util-linux's setsid), so a terminal's Ctrl-C reaches
/// the runner only and the runner decides what a boot in flight becomes; a host kills its own
/// QEMU by PID when the boot ends or is cancelled; normal exit, and SIGINT, SIGTERM and SIGHUP
/// unless a caller handles those itself (<see cref="CallerHandlesSignals"/>), kill whatever is
/// still registered; and where util-linux's setpriv exists, each QEMU gets PR_SET_PDEATHSIG=SIGKILL,
/// so even a SIGKILLed runner takes its QEMUs with it. The death signal is tied to the forking
/// thread, so all processes are started from one thread that never exits.
/// </summary>
public static class EmulatorProcesses
{
    private static readonly ConcurrentDictionary<int, Process> Live = new();
    private static readonly BlockingCollection<(ProcessStartInfo Info, TaskCompletionSource<Process> Done)> Requests = new();
    private static readonly List<PosixSignalRegistration> Signals = new();
    private static readonly Lazy<string?> Setpriv = new(() => FindOnPath("setpriv"));
    private static readonly Lazy<string?> Setsid = new(() => FindOnPath("setsid"));
    private static int started;
    private static int callersHandlingSignals;

    /// <summary>How many callers handle the signals themselves right now (see <see cref="CallerHandlesSignals"/>).</summary>
    public static int SignalsClaimed => Volatile.Read(ref callersHandlingSignals);

    /// <summary>
    /// While a caller handles SIGINT, SIGTERM and SIGHUP itself (it cancels its boots, and each
    /// cancelled boot kills its own QEMU), the fallback handlers here leave the emulators alone: a
    /// QEMU killed before the caller's cancellation is seen would end its boot as "emulator exited",
    /// a false verdict. Disposing the returned object hands the signals back.
    /// </summary>
    public static IDisposable CallerHandlesSignals()
    {
        Interlocked.Increment(ref callersHandlingSignals);
        return new SignalClaim();
    }

    private sealed class SignalClaim : IDisposable
    {
        private int disposed;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) == 0) Interlocked.Decrement(ref callersHandlingSignals);
        }
    }

    public static int LiveCount => Live.Count;

    /// <summary>Starts a process from the launcher thread and registers it for cleanup.</summary>
    public static Task<Process> StartAsync(string fileName, IEnumerable<string> arguments, bool dieWithRunner = true)
    {
        EnsureStarted();
        var info = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        // setsid and setpriv each exec the next program in place (the child is no process-group
        // leader, so setsid does not fork): the PID the runner holds is QEMU's own.
        var chain = new List<string>();
        if (dieWithRunner && OperatingSystem.IsLinux())
        {
            if (Setsid.Value is { } setsid) chain.Add(setsid);
            if (Setpriv.Value is { } setpriv) chain.AddRange([setpriv, "--pdeathsig", "KILL", "--"]);
        }
        chain.Add(fileName);
        info.FileName = chain[0];
        foreach (var arg in chain.Skip(1)) info.ArgumentList.Add(arg);
        foreach (var arg in arguments) info.ArgumentList.Add(arg);

        var done = new TaskCompletionSource<Process>(TaskCreationOptions.RunContinuationsAsynchronously);
        Requests.Add((info, done));
        return done.Task;
    }

    /// <summary>Kills a process (and its children) and forgets it. Safe to call twice.</summary>
    public static void Kill(Process p)
    {
        try
        {
            if (!p.HasExited) p.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException) { }
        catch (System.ComponentModel.Win32Exception) { }
        try { p.WaitForExit(5000); } catch (InvalidOperationException) { }
        Live.TryRemove(p.Id, out _);
    }

    public static void KillAll()
    {
        foreach (var p in Live.Values.ToList()) Kill(p);
    }

    private static void EnsureStarted()
    {
        if (Interlocked.Exchange(ref started, 1) == 1) return;
        var launcher = new Thread(LaunchLoop) { IsBackground = true, Name = "xtf-emulator-launcher" };
        launcher.Start();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();
        if (!OperatingSystem.IsWindows())
        {
            foreach (var sig in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGHUP, PosixSignal.SIGQUIT })
                Signals.Add(PosixSignalRegistration.Create(sig, context =>
                {
                    if (context.Signal == PosixSignal.SIGQUIT || Volatile.Read(ref callersHandlingSignals) == 0) KillAll();
                }));
        }
    }

    private static void LaunchLoop()
    {
        foreach (var (info, done) in Requests.GetConsumingEnumerable())
        {
            try
            {
                var p = Process.Start(info) ?? throw new HostException($"could not start {info.FileName}");
                Live[p.Id] = p;
                done.SetResult(p);
            }
            catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or HostException)
            {
                done.SetException(new HostException($"cannot run {info.FileName}: {e.Message}", e));
            }
        }
    }

    public static string? FindOnPath(string name)
    {
        if (name.Contains('/')) return File.Exists(name) ? Path.GetFullPath(name) : null;
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            if (dir.Length == 0) continue;
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }
}
