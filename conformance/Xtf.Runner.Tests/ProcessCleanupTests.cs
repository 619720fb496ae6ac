using System.Diagnostics;

namespace Xtf.Runner.Tests;

/// <summary>No QEMU outlives the runner: not on Ctrl-C, not when the runner is SIGKILLed.</summary>
[Parallelizable(ParallelScope.All)]
public sealed class ProcessCleanupTests
{
    [TestCase("INT")]
    [TestCase("KILL")]
    public void QemuDiesWithTheRunner(string signal)
    {
        RealXen.Require();
        string dir = Directory.CreateTempSubdirectory("xtf-cleanup-").FullName;
        string kernel = Path.Combine(dir, "spin");
        File.WriteAllBytes(kernel, StatusKernels.Spin().Bytes);

        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { typeof(XtfCli).Assembly.Location, "run", "--kernel", kernel, "--host", "xen", "--timeout", "120", "--results", dir })
            info.ArgumentList.Add(a);
        using var runner = Process.Start(info)!;
        string marker = $"xtf-{runner.Id}-";

        // Wait until this runner's QEMU is up.
        var clock = Stopwatch.StartNew();
        while (QemuPidsWith(marker).Count == 0)
        {
            Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(60)), "QEMU never started");
            if (runner.HasExited) Assert.Fail("runner exited early: " + runner.StandardError.ReadToEnd());
            Thread.Sleep(100);
        }
        Thread.Sleep(500);
        Process.Start("kill", $"-{signal} {runner.Id}")!.WaitForExit();
        // Generous: the bound only tells a runner that never exits from one that exits. Under CI's load (several test
        // projects booting QEMUs on two cores) a SIGINT exit, which kills QEMU and writes the records and reports of
        // an interrupted run, was once seen to take more than 30 s.
        Assert.That(runner.WaitForExit(180_000), Is.True, "runner did not exit");

        clock.Restart();
        while (QemuPidsWith(marker).Count > 0 && clock.Elapsed < TimeSpan.FromSeconds(10)) Thread.Sleep(100);
        Assert.That(QemuPidsWith(marker), Is.Empty, $"QEMU left behind after SIG{signal}");
        Directory.Delete(dir, true);
    }

    private static List<int> QemuPidsWith(string marker) => QemuProcesses.Matching(marker);
}
