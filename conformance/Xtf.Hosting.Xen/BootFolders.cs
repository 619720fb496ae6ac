using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Xtf.Hosting.Xen;

/// <summary>
/// The temporary folder of one real-Xen boot (the kernel file and QEMU's serial log):
/// TMP/xtf-&lt;pid&gt;-&lt;32 hex digits&gt;, where pid is the runner's. A boot deletes its own folder;
/// a runner killed outright (SIGKILL) cannot, so the first boot of every process sweeps the
/// folders whose runner is dead.
/// </summary>
public static partial class BootFolders
{
    private static readonly Lock Gate = new();
    private static readonly HashSet<string> Swept = new(StringComparer.Ordinal);

    [GeneratedRegex("^xtf-([0-9]{1,10})-[0-9a-f]{32}$", RegexOptions.CultureInvariant)]
    private static partial Regex NamePattern();

    /// <summary>Creates this process's next boot folder under <paramref name="root"/> (default: the temp folder), sweeping stale ones first (once per root).</summary>
    public static string Create(string? root = null)
    {
        root = Path.GetFullPath(root ?? Path.GetTempPath());
        bool sweep;
        lock (Gate) sweep = Swept.Add(root);
        if (sweep) SweepStale(root);
        string dir = Path.Combine(root, $"xtf-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>The runner PID a boot folder's name carries; null for any other name.</summary>
    public static int? OwnerOf(string folderName)
    {
        var m = NamePattern().Match(folderName);
        return m.Success && int.TryParse(m.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out int pid) ? pid : null;
    }

    /// <summary>
    /// Deletes the boot folders under <paramref name="root"/> whose runner is dead: no process has
    /// that PID, or the process that has it started after the folder was last written (the PID was
    /// reused). Returns the folders deleted. Anything not named like a boot folder is left alone.
    /// </summary>
    public static IReadOnlyList<string> SweepStale(string root)
    {
        var deleted = new List<string>();
        IEnumerable<string> dirs;
        try { dirs = Directory.EnumerateDirectories(root).ToList(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return deleted; }
        foreach (string dir in dirs)
        {
            if (OwnerOf(Path.GetFileName(dir)) is not { } pid || pid == Environment.ProcessId) continue;
            DateTime written;
            try { written = Directory.GetLastWriteTimeUtc(dir); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
            if (IsAlive(pid, written)) continue;
            try
            {
                Directory.Delete(dir, recursive: true);
                deleted.Add(dir);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        return deleted;
    }

    /// <summary>Whether a process with this PID exists and started no later than <paramref name="folderWrittenUtc"/> (so it may own the folder).</summary>
    public static bool IsAlive(int pid, DateTime folderWrittenUtc)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            if (p.HasExited) return false;
            // A second of slack: the start time comes from clock ticks since boot.
            return p.StartTime.ToUniversalTime() <= folderWrittenUtc.AddSeconds(1);
        }
        catch (ArgumentException) { return false; }            // no such process
        catch (InvalidOperationException) { return false; }     // exited meanwhile
        catch (System.ComponentModel.Win32Exception) { return true; }   // cannot tell: keep the folder
        catch (NotSupportedException) { return true; }
    }
}
