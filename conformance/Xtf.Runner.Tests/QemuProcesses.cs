namespace Xtf.Runner.Tests;

/// <summary>The QEMU processes on this machine, read from /proc: what the cleanup tests look for.</summary>
internal static class QemuProcesses
{
    /// <summary>PIDs of qemu-system processes whose command line contains <paramref name="marker"/> (a boot folder name).</summary>
    public static List<int> Matching(string marker)
    {
        var pids = new List<int>();
        foreach (var d in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(d), out int pid)) continue;
            try
            {
                string cmd = File.ReadAllText(Path.Combine(d, "cmdline")).Replace('\0', ' ');
                if (cmd.Contains("qemu-system", StringComparison.Ordinal) && cmd.Contains(marker, StringComparison.Ordinal)) pids.Add(pid);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return pids;
    }
}
