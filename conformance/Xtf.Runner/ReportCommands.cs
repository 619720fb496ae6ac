using System.CommandLine;
using System.Diagnostics;
using Xtf.Hosting;
using Xtf.Hosting.Xen;
using Xtf.Reports;

namespace Xtf.Runner;

/// <summary>xtf report and xtf compare.</summary>
public static class ReportCommands
{
    /// <summary>report wrote summary.html, junit.xml and allure-results, but no Allure HTML.</summary>
    public const int AllureMissing = 8;
    /// <summary>compare: something regressed.</summary>
    public const int Regressed = 1;
    /// <summary>report and compare: a run in the folders did not complete (interrupted; run.json); wins over 1 and 8.</summary>
    public const int IncompleteRun = 9;

    public const string SetupCommand = "bash scripts/setup-report-tools.sh";

    public static Command ReportCommand(TextWriter stdout, TextWriter stderr)
    {
        var folders = CommandOptions.Words("RESULTS_DIR", "results folders to merge (shards of one run, or reruns: the later start wins); default: results");
        var output = CommandOptions.TextWithDefault("--output", "where the report goes", "DIR", "report", "-o");
        var noHtml = CommandOptions.Flag("--no-html", "skip the Allure HTML (write Allure results, JUnit, matrix.md and summary.html only)");
        var command = new Command("report", "Merge results folders into Allure results and HTML, junit.xml, matrix.md and summary.html") { folders, output, noHtml };
        command.SetAction(r => Report(r.GetValue(folders) ?? [], r.GetValue(output)!, r.GetValue(noHtml), stdout, stderr));
        return command;
    }

    /// <summary>xtf report [RESULTS_DIR...] [--output DIR] [--no-html]</summary>
    public static int Report(IReadOnlyList<string> given, string output, bool noHtml, TextWriter stdout, TextWriter stderr)
    {
        var folders = given.Count > 0 ? given.ToList() : ["results"];
        foreach (var f in folders)
            if (!Directory.Exists(f)) throw new UsageException($"results folder '{f}' does not exist");
        var set = ResultSet.Load(folders);
        if (set.Results.Count == 0 && set.Runs.Count == 0) throw new UsageException($"no result records (<host>/<test>.json) in {string.Join(", ", folders)}");
        foreach (var i in set.Ignored) stderr.WriteLine($"xtf report: ignored {i}");
        var incomplete = set.IncompleteRuns();
        foreach (var line in incomplete) stderr.WriteLine($"xtf report: {line}; the report says so (exit {IncompleteRun})");

        Directory.CreateDirectory(output);
        string allureResults = Path.Combine(output, "allure-results");
        AllureResults.Write(set, allureResults);
        JUnitReport.Write(set, Path.Combine(output, "junit.xml"));
        AtomicFile.WriteAllText(Path.Combine(output, "matrix.md"), Matrix.Markdown(set));
        AtomicFile.WriteAllText(Path.Combine(output, "summary.html"), SummaryPage.Html(set));
        stdout.WriteLine($"report: {set.Results.Count} runs of {set.Tests.Count} tests from {folders.Count} folder(s): " +
                         string.Join(", ", set.Counts().Select(c => $"{c.Count} {c.Status}")));
        stdout.WriteLine($"report: {Path.GetFullPath(Path.Combine(output, "summary.html"))}");
        stdout.WriteLine($"report: {Path.GetFullPath(Path.Combine(output, "junit.xml"))}");
        stdout.WriteLine($"report: {Path.GetFullPath(allureResults)}");
        if (noHtml) return incomplete.Count > 0 ? IncompleteRun : ExitCodes.Success;

        string htmlDir = Path.Combine(output, "allure-report");
        var tool = AllureTool.Find();
        if (tool.Missing is { } missing)
        {
            stderr.WriteLine($"xtf report: no Allure HTML: {missing}; fix: {SetupCommand}");
            return incomplete.Count > 0 ? IncompleteRun : AllureMissing;
        }
        var (ok, detail) = tool.Generate(allureResults, htmlDir);
        if (!ok)
        {
            stderr.WriteLine($"xtf report: allure generate failed: {detail}");
            return incomplete.Count > 0 ? IncompleteRun : AllureMissing;
        }
        stdout.WriteLine($"report: {Path.GetFullPath(Path.Combine(htmlDir, "index.html"))} (Allure {tool.Version})");
        return incomplete.Count > 0 ? IncompleteRun : ExitCodes.Success;
    }

    /// <summary>
    /// xtf compare BASELINE_DIR CANDIDATE_DIR, or xtf compare --xen A --xen B [GLOB...] (also
    /// --xen-cmdline X --xen-cmdline Y for one hypervisor with two command lines): runs both into
    /// --output (default ./compare)/{baseline,candidate}, then compares.
    /// </summary>
    public static Command CompareCommand(TextWriter stdout, TextWriter stderr)
    {
        var words = CommandOptions.Words("ARG", "BASELINE_DIR CANDIDATE_DIR; or, with --xen A --xen B, the tests to run (names or globs; default: every test)");
        var xen = new Option<string[]>("--xen")
        {
            Description = "a hypervisor image; twice: run the tests on both (A the baseline), then compare",
            HelpName = "PATH",
            Arity = new ArgumentArity(1, 2),
            AllowMultipleArgumentsPerToken = false,
        };
        var cmdline = new Option<string[]>("--xen-cmdline")
        {
            Description = "a Xen command line (\"\" for none); twice: run one hypervisor with each, then compare",
            HelpName = "TEXT",
            Arity = new ArgumentArity(1, 2),
            AllowMultipleArgumentsPerToken = false,
        };
        var output = CommandOptions.TextWithDefault("--output", "with --xen/--xen-cmdline twice: where the two runs go (OUTPUT/baseline, OUTPUT/candidate)", "DIR", "compare", "-o");
        var ratio = CommandOptions.Positive("--timing-ratio", "a timing counts as changed only when the slower run took this many times the faster", 2.0);
        var seconds = CommandOptions.Positive("--timing-seconds", "... and at least this many seconds longer", 1.0);
        var run = new RunOptions();
        var command = new Command("compare", "What changed between two results folders (new failures, fixed tests, changed transcripts and timings); " +
                                             "or run the tests on two hypervisors or two Xen command lines first")
        {
            words, xen, cmdline, output, ratio, seconds,
        };
        foreach (var passed in run.PassedOnByCompare) command.Options.Add(passed);
        command.SetAction(r =>
        {
            // The run options are handed on as typed, to the two `xtf run` commands compare prints and runs.
            var passOn = run.PassedOnByCompare
                .Select(o => (o.Name, Value: r.GetResult(o) is { Implicit: false, Tokens.Count: > 0 } given ? given.Tokens[^1].Value : null))
                .Where(x => x.Value is not null).Select(x => (x.Name, x.Value!)).ToList();
            return Compare(r.GetValue(words) ?? [], r.GetValue(xen) ?? [], r.GetValue(cmdline) ?? [], r.GetValue(output)!,
                new RunComparison.TimingRule(r.GetValue(ratio), r.GetValue(seconds)), passOn, stdout, stderr);
        });
        return command;
    }

    public static int Compare(IReadOnlyList<string> words, IReadOnlyList<string> xens, IReadOnlyList<string> cmdlines, string root,
        RunComparison.TimingRule rule, IReadOnlyList<(string Name, string Value)> passOn, TextWriter stdout, TextWriter stderr)
    {
        string baseline, candidate, baseName, candName;
        if (xens.Count > 1 || cmdlines.Count > 1)
        {
            baseline = Path.Combine(root, "baseline");
            candidate = Path.Combine(root, "candidate");
            string Xen(int i) => xens.Count == 0 ? XenBuild.DebianDefault : xens[Math.Min(i, xens.Count - 1)];
            string? Cmd(int i) => cmdlines.Count == 0 ? null : cmdlines[Math.Min(i, cmdlines.Count - 1)];
            baseName = $"{Xen(0)}{(Cmd(0) is { Length: > 0 } c0 ? $" '{c0}'" : "")}";
            candName = $"{Xen(1)}{(Cmd(1) is { Length: > 0 } c1 ? $" '{c1}'" : "")}";
            foreach (var (dir, i) in new[] { (baseline, 0), (candidate, 1) })
            {
                if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
                var args = new List<string> { "run", "--host", "xen", "--xen", Xen(i), "--results", dir };
                if (Cmd(i) is { Length: > 0 } cmd) args.AddRange(["--xen-cmdline", cmd]);
                foreach (var (name, value) in passOn) args.AddRange([name, value]);
                args.AddRange(words);
                stdout.WriteLine($"compare: {(i == 0 ? "baseline" : "candidate")}: xtf {string.Join(" ", args)}");
                int code = XtfCli.Run([.. args], stdout, stderr);
                if (code is ExitCodes.Usage or ExitCodes.InternalError or > 128) return code;   // > 128: interrupted
            }
        }
        else
        {
            if (xens.Count == 1 || cmdlines.Count == 1) throw new UsageException("--xen and --xen-cmdline compare when given twice (A, then B)");
            if (words.Count != 2) throw new UsageException("give two results folders (BASELINE_DIR CANDIDATE_DIR), or --xen A --xen B");
            (baseline, candidate) = (words[0], words[1]);
            foreach (var f in new[] { baseline, candidate })
                if (!Directory.Exists(f)) throw new UsageException($"results folder '{f}' does not exist");
            (baseName, candName) = (baseline, candidate);
        }
        var a = ResultSet.Load([baseline]);
        var b = ResultSet.Load([candidate]);
        if (a.Results.Count == 0 && a.Runs.Count == 0) throw new UsageException($"no result records in {baseline}");
        if (b.Results.Count == 0 && b.Runs.Count == 0) throw new UsageException($"no result records in {candidate}");
        var comparison = RunComparison.Compare(a, b, rule);
        stdout.Write(comparison.Render(baseName, candName));
        return comparison.IncompleteRuns.Count > 0 ? IncompleteRun : comparison.Regressed ? Regressed : ExitCodes.Success;
    }

}

/// <summary>The `allure` command line from the npm registry, installed into reports/node_modules by the setup script.</summary>
public sealed record AllureTool(string? Path, string? Version, string? Missing)
{
    /// <summary>XTF_ALLURE, then reports/node_modules/.bin/allure above the working folder or the runner, then PATH.</summary>
    public static AllureTool Find()
    {
        string? node = EmulatorProcesses.FindOnPath("node");
        if (node is null) return new AllureTool(null, null, "node is not installed");
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable("XTF_ALLURE") is { Length: > 0 } env) candidates.Add(env);
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
                candidates.Add(System.IO.Path.Combine(d.FullName, "reports", "node_modules", ".bin", "allure"));
        string? path = candidates.FirstOrDefault(File.Exists) ?? EmulatorProcesses.FindOnPath("allure");
        if (path is null) return new AllureTool(null, null, "the allure package is not installed (reports/node_modules)");
        var (code, output) = RunTool(path, ["--version"], TimeSpan.FromSeconds(60));
        if (code != 0) return new AllureTool(path, null, $"{path} --version failed: {FirstLine(output)}");
        // reports/allurerc.json: one self-contained index.html (opens from file://, easy to keep as a CI artifact).
        var configs = candidates.Select(c => System.IO.Path.GetFullPath(System.IO.Path.Combine(System.IO.Path.GetDirectoryName(c)!, "..", "..", "allurerc.json")));
        return new AllureTool(path, FirstLine(output), null) { Config = configs.FirstOrDefault(File.Exists) };
    }

    /// <summary>The Allure configuration passed with --config, when the project's is found.</summary>
    public string? Config { get; init; }

    public (bool Ok, string Detail) Generate(string resultsDir, string htmlDir)
    {
        if (Directory.Exists(htmlDir)) Directory.Delete(htmlDir, recursive: true);
        var args = new List<string> { "generate", System.IO.Path.GetFullPath(resultsDir), "-o", System.IO.Path.GetFullPath(htmlDir) };
        if (Config is not null) args.AddRange(["--config", Config]);
        var (code, output) = RunTool(Path!, [.. args], TimeSpan.FromMinutes(5));
        bool ok = code == 0 && File.Exists(System.IO.Path.Combine(htmlDir, "index.html"));
        if (ok) OfflineHtml.Apply(htmlDir);   // Allure's pages load nothing from the network (no analytics)
        return (ok, ok ? "" : $"exit {code}: {FirstLine(output)}");
    }

    private static string FirstLine(string s) =>
        s.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0) ?? "(no output)";

    private static (int Code, string Output) RunTool(string path, string[] args, TimeSpan limit)
    {
        var info = new ProcessStartInfo(path) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["NO_COLOR"] = "1";
        try
        {
            using var p = Process.Start(info)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(limit))
            {
                p.Kill(entireProcessTree: true);
                return (-1, $"timed out after {limit.TotalSeconds:0} s");
            }
            return (p.ExitCode, stdout.Result + stderr.Result);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, e.Message);
        }
    }
}
