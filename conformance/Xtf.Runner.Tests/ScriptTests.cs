using System.Diagnostics;
using System.Runtime.Versioning;
using Xtf.Hosting;
using Xtf.TestLogger;

namespace Xtf.Runner.Tests;

/// <summary>
/// The repository's scripts as a user runs them: scripts/xtf (the `xtf` command the setup links into
/// /usr/local/bin) and run-tests.ps1 under the PowerShell of the local tool manifest (`dotnet pwsh`).
/// </summary>
[NonParallelizable]
[SupportedOSPlatform("linux")]
public sealed class ScriptTests
{
    private static readonly string Root = FindRoot();

    private static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Xtf.sln"))) return d.FullName;
        throw new DirectoryNotFoundException("no Xtf.sln above " + AppContext.BaseDirectory);
    }

    /// <summary>bin/&lt;Configuration&gt;/net10.0: the configuration this test project was built in.</summary>
    private static string Configuration => new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/')).Parent!.Name;

    private sealed record Run(int Code, string Out, string Err)
    {
        public override string ToString() => $"exit {Code}\n--- stdout\n{Out}\n--- stderr\n{Err}";
    }

    private static Run Start(string file, IEnumerable<string> args, string cwd, IDictionary<string, string>? env = null, int seconds = 300)
    {
        var info = new ProcessStartInfo(file)
        {
            WorkingDirectory = cwd, UseShellExecute = false,
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true,
        };
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        info.Environment["NO_COLOR"] = "1";
        if (env is not null) foreach (var (k, v) in env) info.Environment[k] = v;
        using var p = Process.Start(info)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(seconds * 1000))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"{file} {string.Join(' ', args)} did not finish in {seconds} s");
        }
        p.WaitForExit();
        return new Run(p.ExitCode, stdout.Result, stderr.Result);
    }

    // ---------------------------------------------------------------- scripts/xtf

    [Test]
    public void XtfThroughTheInstalledLinkListsTheSuite()
    {
        // As setup-xen.sh installs it: a symbolic link elsewhere on PATH to scripts/xtf.
        string bin = Directory.CreateTempSubdirectory("xtf-path-").FullName;
        File.CreateSymbolicLink(Path.Combine(bin, "xtf"), Path.Combine(Root, "scripts", "xtf"));
        var run = Start(Path.Combine(bin, "xtf"), ["list", "test-pv64-sched-*"], Path.GetTempPath());
        Directory.Delete(bin, true);

        Assert.That(run.Code, Is.Zero, run.ToString());
        var expected = new StringWriter();
        Assert.That(XtfCli.Run(["list", "test-pv64-sched-*"], expected, new StringWriter()), Is.Zero);
        Assert.That(run.Out, Is.EqualTo(expected.ToString()), "the same list as the runner in-process");
        Assert.That(run.Out, Does.Contain("test-pv64-sched-yield"));
    }

    [Test]
    public void XtfPassesTheRunnersExitCodeAndStderrThrough()
    {
        var run = Start(Path.Combine(Root, "scripts", "xtf"), ["list", "--no-such-option"], Root);
        Assert.That(run.Code, Is.EqualTo(ExitCodes.Usage), run.ToString());
        Assert.That(run.Err.Trim().Split('\n'), Has.Length.EqualTo(1), run.ToString());
        Assert.That(run.Out, Is.Empty);
    }

    /// <summary>
    /// The wrapper's build logic on a copy of it in a scratch tree, with `dotnet` a stub that records
    /// its arguments: build when the runner is missing, not again when it is fresh, again when a
    /// source is newer (not a test's), a failed build is exit 1, XTF_NO_BUILD without a runner is exit 2.
    /// </summary>
    [Test]
    public void XtfBuildsOnlyWhenTheRunnerIsMissingOrOutOfDate()
    {
        string tree = Directory.CreateTempSubdirectory("xtf-wrapper-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(tree, "scripts"));
            File.Copy(Path.Combine(Root, "scripts", "xtf"), Path.Combine(tree, "scripts", "xtf"));
            File.SetUnixFileMode(Path.Combine(tree, "scripts", "xtf"), (UnixFileMode)0b111_101_101);
            string runnerDir = Path.Combine(tree, "conformance", "Xtf.Runner");
            Directory.CreateDirectory(runnerDir);
            string source = Path.Combine(runnerDir, "Program.cs");
            File.WriteAllText(source, "// source\n");
            File.SetLastWriteTimeUtc(source, DateTime.UtcNow.AddMinutes(-10));
            string fakeBin = Path.Combine(tree, "fakebin");
            Directory.CreateDirectory(fakeBin);
            string calls = Path.Combine(tree, "calls.log");
            // The stub: `dotnet build PROJECT ...` writes xtf.dll (or fails when FAIL_BUILD is set); `dotnet DLL ARGS` says what it ran.
            File.WriteAllText(Path.Combine(fakeBin, "dotnet"), $$"""
                #!/usr/bin/env bash
                echo "$*" >> '{{calls}}'
                if [ "$1" = build ]; then
                    [ -n "${FAIL_BUILD:-}" ] && { echo "Program.cs(1,1): error CS0000: planted"; exit 1; }
                    mkdir -p '{{runnerDir}}/bin/Debug/net10.0' && echo dll > '{{runnerDir}}/bin/Debug/net10.0/xtf.dll'; exit 0
                fi
                echo "ran $*"; exit 3
                """);
            File.SetUnixFileMode(Path.Combine(fakeBin, "dotnet"), (UnixFileMode)0b111_101_101);
            var env = new Dictionary<string, string> { ["PATH"] = fakeBin + ":/usr/bin:/bin", ["TMPDIR"] = tree };
            string xtf = Path.Combine(tree, "scripts", "xtf");
            string dll = Path.Combine(runnerDir, "bin", "Debug", "net10.0", "xtf.dll");
            int Builds() => File.Exists(calls) ? File.ReadAllLines(calls).Count(l => l.StartsWith("build ", StringComparison.Ordinal)) : 0;

            var noBuild = Start(xtf, ["list"], tree, new Dictionary<string, string>(env) { ["XTF_NO_BUILD"] = "1" });
            Assert.That((noBuild.Code, Builds()), Is.EqualTo((2, 0)), noBuild.ToString());
            Assert.That(noBuild.Err, Does.Contain("is not built"));

            var failed = Start(xtf, ["list"], tree, new Dictionary<string, string>(env) { ["FAIL_BUILD"] = "1" });
            Assert.That(failed.Code, Is.EqualTo(1), failed.ToString());
            Assert.That(failed.Err, Does.Contain("error CS0000: planted").And.Contain("building the runner failed"));

            var first = Start(xtf, ["list", "a b"], tree, env);
            Assert.That(first.Code, Is.EqualTo(3), "the runner's exit code: " + first);
            Assert.That(first.Out, Is.EqualTo($"ran {dll} list a b\n"), "arguments go through unchanged");
            Assert.That(first.Err, Does.Contain("building the runner (first run"));
            Assert.That(Builds(), Is.EqualTo(2));

            var second = Start(xtf, ["list"], tree, env);
            Assert.That((second.Code, second.Err, Builds()), Is.EqualTo((3, "", 2)), "fresh: no build, nothing on stderr");

            string testSource = Path.Combine(tree, "conformance", "Xtf.Runner.Tests", "CliTests.cs");
            Directory.CreateDirectory(Path.GetDirectoryName(testSource)!);
            File.WriteAllText(testSource, "// a test\n");
            File.SetLastWriteTimeUtc(testSource, DateTime.UtcNow.AddMinutes(1));
            var testChanged = Start(xtf, ["list"], tree, env);
            Assert.That((testChanged.Err, Builds()), Is.EqualTo(("", 2)), "a test project is not the runner's input");

            File.SetLastWriteTimeUtc(source, DateTime.UtcNow.AddMinutes(1));
            var changed = Start(xtf, ["list"], tree, env);
            Assert.That(changed.Err, Does.Contain("sources changed, rebuilding"), changed.ToString());
            Assert.That(Builds(), Is.EqualTo(3));
        }
        finally
        {
            Directory.Delete(tree, true);
        }
    }

    // ---------------------------------------------------------------- run-tests.ps1

    /// <summary>`dotnet tool restore` (PowerShell from .config/dotnet-tools.json), or Inconclusive (Fail under CI).</summary>
    private static void RequirePwsh()
    {
        var restore = Restore.Value;
        if (restore.Code == 0) return;
        string reason = "dotnet tool restore failed, so `dotnet pwsh` is not available: " + restore.Err.Trim();
        if (RealXen.InCi) Assert.Fail(reason);
        Assert.Inconclusive(reason);
    }

    private static readonly Lazy<Run> Restore = new(() => Start("dotnet", ["tool", "restore"], Root, seconds: 300));

    private static Run Pwsh(params string[] args) =>
        Start("dotnet", ["pwsh", "-NoProfile", "-NonInteractive", "-File", "./run-tests.ps1", .. args], Root, seconds: 600);

    [Test]
    public void RunTestsPs1IsAnExecutableScriptWithAShebang()
    {
        string script = Path.Combine(Root, "run-tests.ps1");
        Assert.That(File.ReadLines(script).First(), Is.EqualTo("#!/usr/bin/env pwsh"));
        // The run bit as git records it (the file mode in this checkout follows it).
        var ls = Start("git", ["ls-files", "--stage", "run-tests.ps1", "scripts/xtf"], Root);
        if (ls.Code != 0 || ls.Out.Length == 0) Assert.Inconclusive("not a git checkout: " + ls);
        Assert.That(ls.Out.Trim().Split('\n').Select(l => l[..6]), Is.All.EqualTo("100755"), ls.Out);
    }

    [Test]
    public void RunTestsPs1ListsTheSuiteThroughXtf()
    {
        RequirePwsh();
        var run = Pwsh("-List", "-Tests", "test-pv64-sched-y*");
        Assert.That(run.Code, Is.Zero, run.ToString());
        Assert.That(run.Out, Does.Contain($"run-tests: {Path.Combine(Root, "scripts", "xtf")} list test-pv64-sched-y*"));
        Assert.That(run.Out, Does.Contain("test-pv64-sched-yield"));
    }

    [Test]
    public void RunTestsPs1ForwardsAFilterToDotnetTest()
    {
        RequirePwsh();
        string project = Path.Combine("conformance", "Xtf.Runner.Tests", "Xtf.Runner.Tests.csproj");
        string filter = $"FullyQualifiedName={typeof(TestRunConsoleTests).FullName}.{nameof(TestRunConsoleTests.APassIsNotPrinted)}";
        var run = Pwsh("-Project", project, "-Configuration", Configuration, "-NoBuild", "-Filter", filter);
        Assert.That(run.Code, Is.Zero, run.ToString());
        Assert.That(run.Out, Does.Contain($"run-tests: dotnet test {project} --configuration {Configuration} --no-build --filter {filter}"));
        Assert.That(run.Out, Does.Match(@"Passed!\s+- Failed:\s+0, Passed:\s+1, Skipped:\s+0, Total:\s+1,"), run.ToString());
    }

    /// <summary>Issue 14 item 9: a filter that selects nothing from a project leaves no "No test matches" line.</summary>
    [Test]
    public void AFilterThatSelectsNothingFromAProjectIsQuiet()
    {
        RequirePwsh();
        string project = Path.Combine("conformance", "Xtf.Runner.Tests", "Xtf.Runner.Tests.csproj");
        var run = Pwsh("-Project", project, "-Configuration", Configuration, "-NoBuild", "-Filter", "TestCategory=no-such-area");
        Assert.That(run.Code, Is.Zero, run.ToString());
        Assert.That(run.Out + run.Err, Does.Not.Contain(TestRunConsole.NoMatchWarning), run.ToString());
        Assert.That(run.Out, Does.Not.Contain("Passed!"), "no summary for a project that ran nothing");
    }

    [Test]
    public void RunTestsPs1RefusesAnUnknownHost()
    {
        RequirePwsh();
        var run = Pwsh("-Suite", "-Host", "mars");
        Assert.That(run.Code, Is.Not.Zero, run.ToString());
        Assert.That(run.Out + run.Err, Does.Contain("mars").And.Contain("sim,xen,both"));
        Assert.That(run.Out, Does.Not.Contain("run-tests: "), "nothing ran");
    }
}
