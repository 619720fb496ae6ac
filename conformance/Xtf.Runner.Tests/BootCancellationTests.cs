using System.Diagnostics;

using Xtf.Hosting;
using Xtf.Hosting.Xen;

namespace Xtf.Runner.Tests;

/// <summary>
/// A cancelled real-Xen boot throws and leaves nothing: no transcript (which would become a verdict),
/// no QEMU, no boot folder. Not parallel: it identifies its QEMU by this process's boot-folder prefix.
/// </summary>
[NonParallelizable]
public sealed class BootCancellationTests
{
    private static readonly string Marker = $"xtf-{Environment.ProcessId}-";

    /// <param name="killQemuToo">QEMU dies at the moment of the cancellation, as it did when a terminal's Ctrl-C reached it first.</param>
    [TestCase(false)]
    [TestCase(true)]
    public void ACancelledBootThrowsAndLeavesNothing(bool killQemuToo)
    {
        var host = RealXen.Require();
        using var cancel = new CancellationTokenSource();
        var boot = host.BootAsync(new BootRequest("spin", StatusKernels.Spin().Bytes, 1, TimeSpan.FromSeconds(120)), cancel.Token);
        var clock = Stopwatch.StartNew();
        List<int> qemu;
        while ((qemu = QemuPids()).Count == 0)
        {
            Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(60)), "QEMU never started");
            Assert.That(boot.IsCompleted, Is.False, () => "the boot ended early: " + boot.Exception);
            Thread.Sleep(50);
        }
        Thread.Sleep(500);
        cancel.Cancel();
        if (killQemuToo) Process.GetProcessById(qemu.Single()).Kill();

        Assert.That(() => boot.GetAwaiter().GetResult(), Throws.InstanceOf<OperationCanceledException>(), "a cancelled boot is no transcript");
        Assert.That(QemuPids(), Is.Empty, "QEMU left behind");
        Assert.That(Directory.GetDirectories(Path.GetTempPath(), Marker + "*"), Is.Empty, "boot folder left behind");
    }

    [Test]
    public void ABootCancelledBeforeItStartsStartsNothing()
    {
        var host = RealXen.Require();
        var boot = host.BootAsync(new BootRequest("spin", StatusKernels.Spin().Bytes), new CancellationToken(true));
        Assert.That(() => boot.GetAwaiter().GetResult(), Throws.InstanceOf<OperationCanceledException>());
        Assert.That(Directory.GetDirectories(Path.GetTempPath(), Marker + "*"), Is.Empty);
    }

    private static List<int> QemuPids() => QemuProcesses.Matching(Marker);
}

/// <summary>Stale boot folders (TMP/xtf-PID-HEX of a dead runner) are swept; nothing else is touched.</summary>
[Parallelizable(ParallelScope.All)]
public sealed class BootFolderSweepTests
{
    private static string Folder(string root, int pid) => Directory.CreateDirectory(Path.Combine(root, $"xtf-{pid}-{Guid.NewGuid():N}")).FullName;

    private static int DeadPid()
    {
        using var p = Process.Start("true")!;
        p.WaitForExit();
        return p.Id;
    }

    [Test]
    public void FoldersOfDeadRunnersAreSweptAndNothingElse()
    {
        string root = Directory.CreateTempSubdirectory("xtf-sweep-").FullName;
        using var live = Process.Start("sleep", "60")!;
        try
        {
            string dead = Folder(root, DeadPid());
            File.WriteAllText(Path.Combine(dead, "serial.log"), "(XEN) a boot the runner never cleaned up\n");
            string alive = Folder(root, live.Id);
            string mine = Folder(root, Environment.ProcessId);
            // The PID is alive, but its process started after the folder was last written: the PID was reused.
            string reused = Folder(root, live.Id);
            Directory.SetLastWriteTimeUtc(reused, new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc));
            string[] foreign =
            [
                Directory.CreateDirectory(Path.Combine(root, "xtf-cleanup-abc")).FullName,
                Directory.CreateDirectory(Path.Combine(root, $"xtf-{DeadPid()}-not-hex")).FullName,
                Directory.CreateDirectory(Path.Combine(root, $"xtf-{DeadPid()}-{Guid.NewGuid():N}x")).FullName,
            ];
            string file = Path.Combine(root, $"xtf-{DeadPid()}-{Guid.NewGuid():N}");
            File.WriteAllText(file, "a file, not a boot folder");

            var swept = BootFolders.SweepStale(root);

            Assert.That(swept, Is.EquivalentTo(new[] { dead, reused }));
            Assert.That(Directory.Exists(dead), Is.False);
            Assert.That(Directory.Exists(reused), Is.False);
            Assert.That(Directory.Exists(alive), Is.True, "a live runner's folder stays");
            Assert.That(Directory.Exists(mine), Is.True, "this process's own folder stays");
            Assert.That(foreign.Where(Directory.Exists), Is.EqualTo(foreign), "other names stay");
            Assert.That(File.Exists(file), Is.True);
        }
        finally
        {
            live.Kill();
            Directory.Delete(root, recursive: true);
        }
    }

    [Test]
    public void TheFirstBootFolderOfAProcessSweepsItsRoot()
    {
        string root = Directory.CreateTempSubdirectory("xtf-sweep-").FullName;
        string dead = Folder(root, DeadPid());
        string created = BootFolders.Create(root);
        Assert.That(Directory.Exists(dead), Is.False, "swept at the first boot");
        Assert.That(Path.GetFileName(created), Does.Match($"^xtf-{Environment.ProcessId}-[0-9a-f]{{32}}$"));
        Assert.That(BootFolders.OwnerOf(Path.GetFileName(created)), Is.EqualTo(Environment.ProcessId));
        Directory.Delete(root, recursive: true);
    }

    [TestCase("xtf-123-0123456789abcdef0123456789abcdef", 123)]
    [TestCase("xtf-123-0123456789ABCDEF0123456789ABCDEF", null)]
    [TestCase("xtf-cleanup-0123456789abcdef0123456789abcdef", null)]
    [TestCase("xtf--0123456789abcdef0123456789abcdef", null)]
    [TestCase("xtf-records-abc", null)]
    public void OwnerOfAFolderName(string name, int? pid) => Assert.That(BootFolders.OwnerOf(name), Is.EqualTo(pid));
}

/// <summary>The reusable interruption: a token, the cause that fired, and the exit code 128 + signal.</summary>
[Parallelizable(ParallelScope.All)]
public sealed class RunInterruptionTests
{
    [Test]
    public void TheFirstCauseWinsAndSetsTheExitCode()
    {
        using var i = RunInterruption.Listen();
        Assert.That(i.IsInterrupted, Is.False);
        Assert.That(i.Token.IsCancellationRequested, Is.False);
        Assert.That(i.ExitCode, Is.EqualTo(0));
        Assert.That(i.Interrupt("SIGTERM", 15), Is.True);
        Assert.That(i.Interrupt("SIGINT", 2), Is.False);
        Assert.That(i.Token.IsCancellationRequested, Is.True);
        Assert.That((i.Cause, i.Signal, i.ExitCode), Is.EqualTo(("SIGTERM", (int?)15, 143)));
    }

    [Test]
    public void ADeadParentIsAHangUp()
    {
        using var i = RunInterruption.Listen();
        i.Interrupt(RunInterruption.ParentExited, null);
        Assert.That(i.ExitCode, Is.EqualTo(129));
    }

    [Test]
    public void ParentIdIsTheParentOfThisProcess()
    {
        if (!OperatingSystem.IsLinux()) Assert.Ignore("reads /proc");
        // The parent as `ps` sees it.
        var info = new ProcessStartInfo("ps", ["-o", "ppid=", "-p", Environment.ProcessId.ToString()]) { RedirectStandardOutput = true };
        using var ps = Process.Start(info)!;
        int expected = int.Parse(ps.StandardOutput.ReadToEnd().Trim());
        ps.WaitForExit();
        Assert.That(RunInterruption.ParentId(), Is.EqualTo(expected));
    }

    [Test]
    public void ListeningClaimsTheSignalsFromTheEmulatorFallback()
    {
        // While a run handles the signals, EmulatorProcesses' own handlers must not kill QEMUs ahead of the cancellation.
        using var i = RunInterruption.Listen();
        Assert.That(EmulatorProcesses.SignalsClaimed, Is.GreaterThanOrEqualTo(1));
    }
}
