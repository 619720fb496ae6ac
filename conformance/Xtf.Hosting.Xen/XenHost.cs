using System.Diagnostics;
using System.Text;

using Xtf.Hosting;

namespace Xtf.Hosting.Xen;

public sealed record XenHostOptions
{
    /// <summary>Hypervisor image; a .gz is gunzipped first.</summary>
    public string Xen { get; init; } = XenBuild.DebianDefault;
    public string Qemu { get; init; } = "qemu-system-x86_64";
    /// <summary>tcg (default; works everywhere) or kvm (needs real nested virtualisation).</summary>
    public string Accel { get; init; } = "tcg";
    public int MemoryMiB { get; init; } = 512;
    /// <summary>Per-boot limit unless the request sets its own.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(120);
    /// <summary>Extra Xen command-line options.</summary>
    public string? XenCommandLine { get; init; }
}

/// <summary>
/// Boots a kernel as dom0 of real Xen under qemu-system-x86_64 (multiboot: Xen as -kernel, the
/// test kernel as the first module), watches the serial log for the end of the run, and kills
/// QEMU by its own PID. The QEMU command line is in docs/architecture.md ("Real Xen").
/// </summary>
public sealed class XenHost : ITestHost
{
    public const string BaseXenCommandLine =
        "console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all noreboot console_timestamps=boot";

    /// <summary>What makes Xen build dom0 as a PVH (HVM container) guest: no IOMMU is emulated here (docs/hvm.md).</summary>
    public const string PvhDom0CommandLine = "dom0=pvh dom0-iommu=none";

    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(20);
    private readonly Lazy<XenBuild> build;
    private readonly Lazy<string> qemu;

    public XenHost(XenHostOptions options)
    {
        Options = options;
        if (options.Accel is not ("tcg" or "kvm")) throw new ArgumentException($"--accel must be tcg or kvm, not '{options.Accel}'");
        // QEMU backs guest RAM with host memory and Xen scrubs its free heap at boot, touching all of it:
        // a size beyond this machine's RAM would push the host into swap or the OOM killer.
        if (HostMemoryMiB() is { } host && options.MemoryMiB > host)
            throw new HostException($"--memory {options.MemoryMiB}: more than this machine's {host} MiB of RAM (each QEMU needs the guest's RAM)");
        build = new Lazy<XenBuild>(() => XenBuild.Prepare(options.Xen));
        qemu = new Lazy<string>(() => EmulatorProcesses.FindOnPath(options.Qemu)
            ?? throw new HostException($"QEMU not found: {options.Qemu} (run scripts/setup-xen.sh, or pass --qemu PATH)"));
    }

    public XenHostOptions Options { get; }

    /// <summary>MemTotal of /proc/meminfo in MiB, or null where there is none.</summary>
    public static int? HostMemoryMiB()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/meminfo"))
            {
                if (!line.StartsWith("MemTotal:", StringComparison.Ordinal)) continue;
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return fields.Length >= 2 && long.TryParse(fields[1], out long kib) ? (int)Math.Min(int.MaxValue, kib / 1024) : null;
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }
    public string Name => "xen";
    public XenBuild Build => build.Value;

    /// <summary>Checks that QEMU and the Xen image are usable, without booting.</summary>
    public void Validate()
    {
        _ = qemu.Value;
        _ = build.Value;
    }

    public IReadOnlyList<string> QemuArguments(string xenKernel, string kernelFile, string logFile, BootRequest r)
    {
        int vcpus = Math.Max(1, r.Vcpus);
        string module = kernelFile;
        if (!string.IsNullOrWhiteSpace(r.Dom0CommandLine))
            module += " " + r.Dom0CommandLine.Trim().Replace(",", ",,");   // ',' separates modules
        string xenCmd = $"{BaseXenCommandLine} dom0_max_vcpus={vcpus}";
        if (r.Pvh) xenCmd += " " + PvhDom0CommandLine;
        if (!string.IsNullOrWhiteSpace(Options.XenCommandLine)) xenCmd += " " + Options.XenCommandLine.Trim();
        return
        [
            "-accel", Options.Accel, "-cpu", "max", "-m", Options.MemoryMiB.ToString(), "-smp", vcpus.ToString(),
            "-nographic", "-monitor", "none", "-nic", "none", "-no-reboot",
            "-serial", "file:" + logFile,
            "-kernel", xenKernel, "-initrd", module, "-append", xenCmd,
        ];
    }

    /// <summary>
    /// Boots the request and returns its transcript. When <paramref name="cancellation"/> fires, the
    /// boot throws <see cref="OperationCanceledException"/> (never a transcript, which would become a
    /// verdict), whatever QEMU did meanwhile; either way QEMU is killed and the boot folder deleted.
    /// </summary>
    public async Task<Transcript> BootAsync(BootRequest request, CancellationToken cancellation = default)
    {
        cancellation.ThrowIfCancellationRequested();
        var xen = build.Value;
        string qemuPath = qemu.Value;
        string dir = BootFolders.Create();
        string kernelFile = Path.Combine(dir, "kernel");
        string logFile = Path.Combine(dir, "serial.log");
        try
        {
            await File.WriteAllBytesAsync(kernelFile, request.Kernel.ToArray(), cancellation);
            var args = QemuArguments(xen.KernelPath, kernelFile, logFile, request);
            var timeout = request.Timeout ?? Options.Timeout;

            var clock = Stopwatch.StartNew();
            var process = await EmulatorProcesses.StartAsync(qemuPath, args);
            var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
            _ = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
            try
            {
                var (log, end, detail) = await Watch(process, logFile, timeout, clock, cancellation);
                clock.Stop();
                if (end == BootEnd.EmulatorExited)
                {
                    string err = (await stderr.WaitAsync(cancellation)).Trim();
                    detail = $"exit code {process.ExitCode}" + (err.Length > 0 ? ": " + err.Split('\n')[0] : "");
                }
                // An interruption that arrived while the boot was ending (QEMU killed by a signal, say)
                // leaves no verdict: the boot did not finish on its own.
                cancellation.ThrowIfCancellationRequested();
                return new Transcript(Name, request.Name, log, end, detail, clock.Elapsed);
            }
            finally
            {
                EmulatorProcesses.Kill(process);
            }
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>
    /// Reads the serial log as QEMU writes it until the run ends: Xen's end-of-run line, QEMU's exit, the
    /// timeout, or a <see cref="GuestLimits"/> limit passed (the log then ends where the limit was
    /// passed, and the caller kills QEMU at once). Never holds much more than the transcript limit.
    /// </summary>
    private static async Task<(string Log, BootEnd End, string? Detail)> Watch(
        Process process, string logFile, TimeSpan timeout, Stopwatch clock, CancellationToken cancellation)
    {
        var limits = GuestLimits.Default;
        var meter = new SerialLogMeter(limits);
        var log = new StringBuilder();
        var buffer = new byte[64 * 1024];
        FileStream? stream = null;
        int scanned = 0;
        try
        {
            while (true)
            {
                cancellation.ThrowIfCancellationRequested();
                bool exited = process.HasExited;
                if (stream is null && File.Exists(logFile))
                    stream = new FileStream(logFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                if (stream is not null)
                {
                    // Read what is there, but never far past the transcript limit: the meter decides on that much.
                    int n;
                    while (log.Length <= limits.TranscriptBytes && (n = await stream.ReadAsync(buffer, cancellation)) > 0)
                        log.Append(Encoding.Latin1.GetString(buffer, 0, n));
                }

                var end = ScanForEnd(log, ref scanned, meter);
                if (end is { End: BootEnd.LimitReached } limit) return (log.ToString(0, Math.Min(meter.KeepLength, log.Length)), limit.End, limit.Detail);
                if (end is { } found) return (log.ToString(), found.End, found.Detail);
                if (exited) return (log.ToString(), BootEnd.EmulatorExited, null);
                if (clock.Elapsed > timeout) return (log.ToString(), BootEnd.Timeout, $"no end of run after {timeout.TotalSeconds:0.#} s");
                await Task.Delay(Poll, cancellation);
            }
        }
        finally
        {
            stream?.Dispose();
        }
    }

    /// <summary>
    /// Looks at the lines not yet scanned, in order: each is first counted against the limits (the
    /// meter), then checked for Xen's end-of-run lines; the unfinished last line is counted too, so a
    /// flood without newlines is stopped. Only the new text is read, never the whole log again.
    /// </summary>
    private static (BootEnd End, string Detail)? ScanForEnd(StringBuilder log, ref int scanned, SerialLogMeter meter)
    {
        string fresh = log.ToString(scanned, log.Length - scanned);
        int pos = 0;
        try
        {
            for (int nl; (nl = fresh.IndexOf('\n', pos)) >= 0; pos = nl + 1)
            {
                string raw = fresh[pos..(nl + 1)];
                if (meter.Line(raw, scanned + pos) is { } passed) return (BootEnd.LimitReached, passed);
                string? x = ConsoleProtocol.XenText(raw[..^1].Replace("\r", ""));
                if (x is null) continue;
                if (x.StartsWith("Hardware Dom0 ", StringComparison.Ordinal) || x.StartsWith("Hardware domain 0 ", StringComparison.Ordinal))
                    return (BootEnd.Shutdown, x);
                if (x.StartsWith("Manual reset required", StringComparison.Ordinal) || x.StartsWith("Reboot in five seconds", StringComparison.Ordinal))
                    return (BootEnd.XenPanic, x);
            }
            if (meter.Tail(fresh[pos..], scanned + pos) is { } tail) return (BootEnd.LimitReached, tail);
            return null;
        }
        finally
        {
            scanned += pos;
        }
    }
}
