using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;

using Xtf.Hosting;

namespace Xtf.Hosting.Xen;

/// <summary>
/// Every emulator process the runner starts, so none outlives it. Three layers:
/// a host kills its own QEMU by PID when the boot ends; Ctrl-C, SIGTERM, SIGHUP and normal exit
/// kill whatever is still registered; and where util-linux's setpriv exists, each QEMU gets
/// PR_SET_PDEATHSIG=SIGKILL, so even a SIGKILLed runner takes its QEMUs with it. The death signal
/// is tied to the forking thread, so all processes are started from one thread that never exits.
/// </summary>
public static class EmulatorProcesses
{
    private static readonly ConcurrentDictionary<int, Process> Live = new();
    private static readonly BlockingCollection<(ProcessStartInfo Info, TaskCompletionSource<Process> Done)> Requests = new();
    private static readonly List<PosixSignalRegistration> Signals = new();
    private static readonly Lazy<string?> Setpriv = new(() => FindOnPath("setpriv"));
    private static int started;

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
        if (dieWithRunner && Setpriv.Value is { } setpriv && OperatingSystem.IsLinux())
        {
            info.FileName = setpriv;
            info.ArgumentList.Add("--pdeathsig");
            info.ArgumentList.Add("KILL");
            info.ArgumentList.Add("--");
            info.ArgumentList.Add(fileName);
        }
        else info.FileName = fileName;
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
                Signals.Add(PosixSignalRegistration.Create(sig, _ => KillAll()));
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
