using System.Diagnostics;
using System.Text;

using Xtf.Fuzz;

namespace Xtf.Runner.Tests;

/// <summary>xtf fuzz stops on a signal as xtf run does: the exit code names the signal, no verdict and no summary are written.</summary>
public sealed class FuzzInterruptionTests
{
    [Test]
    public void SigtermStopsAFuzzCampaignWithoutAVerdict()
    {
        string results = Directory.CreateTempSubdirectory("xtf-fuzz-interrupt-").FullName;
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { typeof(XtfCli).Assembly.Location, "fuzz", "--cases", "1000000", "--batch", "50", "--results", results })
            info.ArgumentList.Add(a);
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        using var p = Process.Start(info)!;
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        try
        {
            var clock = Stopwatch.StartNew();
            while (true)
            {
                lock (stdout) if (stdout.ToString().Contains(" cases, ") && stdout.ToString().Contains(" boots,")) break;   // a progress line: batches are running
                Assert.That(p.HasExited, Is.False, "fuzz ended before the signal: " + stdout + stderr);
                Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(120)), "no progress line: " + stdout + stderr);
                Thread.Sleep(20);
            }
            using (var kill = Process.Start("kill", ["-TERM", p.Id.ToString()])) kill.WaitForExit();
            Assert.That(p.WaitForExit(60_000), Is.True, "fuzz did not stop after SIGTERM");
            p.WaitForExit();
            Assert.That(p.ExitCode, Is.EqualTo(143), stdout + "\n" + stderr);
            Assert.That(stderr.ToString(), Does.Contain("xtf fuzz: interrupted by SIGTERM; no verdict"));
            Assert.That(stderr.ToString(), Does.Contain("--seed 0x5eed"), "the line says how to run the campaign again");
            Assert.That(File.Exists(Path.Combine(results, FuzzCampaign.SummaryFile)), Is.False, "an interrupted campaign writes no summary");
        }
        finally
        {
            if (!p.HasExited) p.Kill(entireProcessTree: true);
            Directory.Delete(results, recursive: true);
        }
    }
}
