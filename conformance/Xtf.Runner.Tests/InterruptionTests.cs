using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;

using Xtf.Hosting;

namespace Xtf.Runner.Tests;

/// <summary>
/// Issue 14: SIGINT, SIGTERM, SIGHUP and the death of the runner's parent stop `xtf run` the same
/// way. Each case interrupts a real `xtf run` process while a boot is in flight and checks the exit
/// code, that no QEMU and no boot folder is left, that the tests that finished keep their records
/// and the others have none, that run.json says the run was interrupted, and that `xtf report`
/// flags it (exit 9, JUnit and summary.html say so).
/// </summary>
[Parallelizable(ParallelScope.All)]
public sealed class InterruptionTests
{
    /// <summary>26 tests of about 1.3 s each on real Xen: a run takes long enough to be cut in the middle.</summary>
    private const string Glob = "test-pv64-sched-*";

    /// <summary>SIGINT goes to the runner's whole process group, as a terminal's Ctrl-C does: QEMU must not be in it.</summary>
    [TestCase("INT", 2, "xen")]
    [TestCase("TERM", 15, "xen")]
    [TestCase("HUP", 1, "both")]
    public void ASignalStopsARealXenRunWithoutAFalseVerdict(string signal, int number, string host)
    {
        RealXen.Require();
        string results = Directory.CreateTempSubdirectory("xtf-interrupt-").FullName;
        // A session of its own (so the group signal reaches the runner only), and the default action
        // for the three signals whatever the test host inherited (nohup ignores SIGHUP, say).
        using var run = RunnerProcess.Start(results, ["setsid", "env", "--default-signal=HUP,INT,TERM"], "--host", host);
        var qemu = run.WaitForABootInFlight();
        Assert.That(SessionOf(qemu), Is.Not.EqualTo(SessionOf(run.RunnerPid)), "QEMU runs in a session of its own, out of reach of the terminal's Ctrl-C");

        Signal(signal, signal == "INT" ? -run.RunnerPid : run.RunnerPid);
        Assert.That(run.Process.WaitForExit(60_000), Is.True, "the runner stops");
        run.Process.WaitForExit();

        Assert.That(run.Process.ExitCode, Is.EqualTo(128 + number), run.Output);
        var interrupted = run.Stderr.Split('\n').Where(l => l.Contains("interrupted", StringComparison.Ordinal)).ToList();
        Assert.That(interrupted, Has.Count.EqualTo(1), run.Stderr);
        Assert.That(interrupted[0], Does.StartWith($"xtf: run interrupted by SIG{signal}: "));
        Assert.That(run.Stderr, Does.Not.Contain("internal error").And.Not.Contain("Unhandled"));
        AssertCleanInterruptedRun(run, $"SIG{signal}", number, host == "both" ? ["sim", "xen"] : ["xen"]);
    }

    /// <summary>A killed `dotnet run` (or shell) leaves the runner re-parented: it notices and stops the same way.</summary>
    [Test]
    public void TheRunnerStopsWhenItsParentDies()
    {
        RealXen.Require();
        string results = Directory.CreateTempSubdirectory("xtf-interrupt-").FullName;
        // "; echo" makes the shell fork the runner and wait, as dotnet run does, instead of exec'ing it.
        using var run = RunnerProcess.Start(results, ["sh", "-c", "\"$@\"; echo wrapper done", "sh"], "--host", "xen");
        Assert.That(run.RunnerPid, Is.Not.EqualTo(run.Process.Id), "the runner is the shell's child");
        run.WaitForABootInFlight();

        Signal("KILL", run.Process.Id);
        var clock = Stopwatch.StartNew();
        while (IsRunning(run.RunnerPid))
        {
            Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(60)), "the orphaned runner keeps going");
            Thread.Sleep(100);
        }
        run.Process.WaitForExit();
        AssertCleanInterruptedRun(run, RunInterruption.ParentExited, null, ["xen"]);
    }

    /// <summary>The same on the simulator alone, which needs no Xen (so it also runs where real Xen is missing).</summary>
    [Test]
    public void SigtermStopsASimulatorRun()
    {
        string results = Directory.CreateTempSubdirectory("xtf-interrupt-").FullName;
        using var run = RunnerProcess.Start(results, ["env", "--default-signal=HUP,INT,TERM"], "--host", "sim", "test-pv64-*");
        var clock = Stopwatch.StartNew();
        while (run.Records("sim") < 3)
        {
            Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(120)), "no records: " + run.Output);
            Assert.That(run.Process.HasExited, Is.False, run.Output);
            Thread.Sleep(20);
        }
        Signal("TERM", run.RunnerPid);
        Assert.That(run.Process.WaitForExit(60_000), Is.True);
        run.Process.WaitForExit();
        Assert.That(run.Process.ExitCode, Is.EqualTo(143), run.Output);
        var state = AssertRecordsMatchRunJson(run.Results, "SIGTERM", 15, ["sim"]);
        Assert.That(state.Planned, Has.Count.EqualTo(XtfCli.Catalog.Select(["test-pv64-*"]).Count));
    }

    private static void AssertCleanInterruptedRun(RunnerProcess run, string cause, int? signal, string[] hosts)
    {
        var clock = Stopwatch.StartNew();
        while (QemuPidsOf(run.RunnerPid).Count > 0 && clock.Elapsed < TimeSpan.FromSeconds(5)) Thread.Sleep(100);
        Assert.That(QemuPidsOf(run.RunnerPid), Is.Empty, "QEMU left behind");
        Assert.That(Directory.GetDirectories(Path.GetTempPath(), $"xtf-{run.RunnerPid}-*"), Is.Empty, "boot folders left behind");
        AssertRecordsMatchRunJson(run.Results, cause, signal, hosts);

        var stdout = new StringWriter();
        var stderr = new StringWriter();
        string report = Path.Combine(run.Results, "report");
        int code = XtfCli.Run(["report", run.Results, "--output", report, "--no-html"], stdout, stderr);
        Assert.That(code, Is.EqualTo(ReportCommands.IncompleteRun), stderr.ToString());
        Assert.That(stderr.ToString(), Does.Contain($"interrupted by {cause}"));
        Assert.That(File.ReadAllText(Path.Combine(report, "junit.xml")), Does.Contain("type=\"INTERRUPTED\"").And.Contain($"interrupted by {cause}"));
        Assert.That(File.ReadAllText(Path.Combine(report, "summary.html")), Does.Contain("id=\"interrupted\""));
        Assert.That(File.ReadAllText(Path.Combine(run.Results, "matrix.md")), Does.Contain("**INTERRUPTED RUN**"), "the run's own matrix says so too");
        Directory.Delete(run.Results, recursive: true);
    }

    /// <summary>run.json says interrupted; each planned test has its records on every host exactly when it finished, and each finished one passed.</summary>
    private static RunCompletion AssertRecordsMatchRunJson(string results, string cause, int? signal, string[] hosts)
    {
        var state = RunCompletion.Load(results);
        Assert.That(state, Is.Not.Null, "run.json");
        Assert.That(state!.State, Is.EqualTo(RunCompletion.Interrupted));
        Assert.That(state.Cause, Is.EqualTo(cause));
        Assert.That(state.Signal, Is.EqualTo(signal));
        Assert.That(state.Hosts, Is.EqualTo(hosts));
        Assert.That(state.Finished, Is.Not.Empty, "some tests finished before the signal");
        Assert.That(state.Unfinished, Is.Not.Empty, "the signal cut the run short");
        foreach (var test in state.Planned)
        {
            bool finished = state.Finished.Contains(test);
            foreach (var host in hosts)
            {
                string json = ResultRecord.PathIn(results, host, test);
                Assert.That(File.Exists(json), Is.EqualTo(finished), $"{host}/{test}.json: the record exists exactly when the test finished");
                Assert.That(File.Exists(Path.ChangeExtension(json, ".log")), Is.EqualTo(finished), $"{host}/{test}.log");
                if (!finished) continue;
                var record = ResultRecord.Parse(File.ReadAllText(json))!;
                Assert.That(record.Status, Is.EqualTo("SUCCESS"), $"{host}/{test}: {record.Message}");
            }
        }
        return state;
    }

    private static void Signal(string signal, int target)
    {
        using var kill = Process.Start("kill", ["-" + signal, "--", target.ToString()])!;
        kill.WaitForExit();
        Assert.That(kill.ExitCode, Is.EqualTo(0), $"kill -{signal} {target}");
    }

    /// <summary>Field 6 of /proc/PID/stat: the session ID.</summary>
    private static int SessionOf(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[3]);
    }

    /// <summary>Alive and not a zombie (an orphan's zombie waits for a reaper that may never come in a container).</summary>
    private static bool IsRunning(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)] != 'Z';
        }
        catch (IOException) { return false; }
    }

    /// <summary>QEMU processes of one runner: their command line names its boot folders (TMP/xtf-PID-...).</summary>
    private static List<int> QemuPidsOf(int runnerPid) => QemuProcesses.Matching($"xtf-{runnerPid}-");

    /// <summary>One `xtf run` started through a wrapper command, with its output collected.</summary>
    private sealed class RunnerProcess : IDisposable
    {
        private readonly StringBuilder stdout = new(), stderr = new();

        private RunnerProcess(Process process, string results)
        {
            Process = process;
            Results = results;
        }

        public Process Process { get; }
        public string Results { get; }
        /// <summary>The xtf process itself (the wrapper's PID where the wrapper execs it, its child where it forks).</summary>
        public int RunnerPid { get; private set; }
        public string Stderr { get { lock (stderr) return stderr.ToString(); } }
        public string Output { get { lock (stdout) lock (stderr) return stdout + "\n" + stderr; } }

        public static RunnerProcess Start(string results, string[] wrapper, params string[] options)
        {
            var info = new ProcessStartInfo(wrapper[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            var args = wrapper.Skip(1).Concat(["dotnet", typeof(XtfCli).Assembly.Location, "run"]);
            if (!options.Any(o => o.StartsWith("test-", StringComparison.Ordinal))) args = args.Append(Glob);
            args = args.Concat(options).Concat(["--jobs", "1", "--timeout", "120", "--results", results]);
            foreach (var a in args) info.ArgumentList.Add(a);
            var p = Process.Start(info)!;
            var run = new RunnerProcess(p, results);
            p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (run.stdout) run.stdout.AppendLine(e.Data); };
            p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (run.stderr) run.stderr.AppendLine(e.Data); };
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
            run.RunnerPid = run.FindRunner();
            return run;
        }

        /// <summary>The process whose command line is dotnet xtf.dll ... --results RESULTS.</summary>
        private int FindRunner()
        {
            var clock = Stopwatch.StartNew();
            while (true)
            {
                foreach (var d in Directory.EnumerateDirectories("/proc"))
                {
                    if (!int.TryParse(Path.GetFileName(d), out int pid)) continue;
                    try
                    {
                        var argv = File.ReadAllText(Path.Combine(d, "cmdline")).Split('\0');
                        if (argv.Length > 2 && Path.GetFileName(argv[0]) == "dotnet" && argv[1].EndsWith("xtf.dll", StringComparison.Ordinal) && argv.Contains(Results))
                            return pid;
                    }
                    catch (IOException) { }
                    catch (UnauthorizedAccessException) { }
                }
                Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(30)), "the runner never started: " + Output);
                Thread.Sleep(20);
            }
        }

        public int Records(string host)
        {
            string dir = Path.Combine(Results, host);
            return Directory.Exists(dir) ? Directory.GetFiles(dir, "*.json").Length : 0;
        }

        /// <summary>Waits until a test has finished and the boot of a later one is running; returns that QEMU's PID.</summary>
        public int WaitForABootInFlight()
        {
            var clock = Stopwatch.StartNew();
            while (Records("xen") == 0)
            {
                Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(180)), "no test finished: " + Output);
                Assert.That(Process.HasExited && RunnerPid == Process.Id, Is.False, "the runner exited early: " + Output);
                Thread.Sleep(50);
            }
            var earlier = QemuPidsOf(RunnerPid);
            while (true)
            {
                var fresh = QemuPidsOf(RunnerPid).Except(earlier).ToList();
                if (fresh.Count > 0)
                {
                    Thread.Sleep(300);   // well inside the boot (about 1.3 s), before its end
                    return fresh[0];
                }
                Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(240)), "no later boot started: " + Output);
                Thread.Sleep(20);
            }
        }

        public void Dispose()
        {
            if (IsRunning(RunnerPid)) try { System.Diagnostics.Process.GetProcessById(RunnerPid).Kill(entireProcessTree: true); } catch (ArgumentException) { } catch (InvalidOperationException) { }
            if (!Process.HasExited) Process.Kill(entireProcessTree: true);
            Process.Dispose();
        }
    }
}
