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

    public const string SetupCommand = "bash scripts/setup-report-tools.sh";

    public static readonly string[] Valued = ["output", "shard", "timing-ratio", "timing-seconds"];
    public static readonly string[] Flags = ["no-html"];

    /// <summary>xtf report [RESULTS_DIR...] [--output DIR] [--no-html]</summary>
    public static int Report(Options o, TextWriter stdout, TextWriter stderr)
    {
        var folders = o.Positional.Count > 0 ? o.Positional.ToList() : ["results"];
        foreach (var f in folders)
            if (!Directory.Exists(f)) throw new UsageException($"results folder '{f}' does not exist");
        string output = o.Get("output") ?? "report";
        var set = ResultSet.Load(folders);
        if (set.Results.Count == 0) throw new UsageException($"no result records (<host>/<test>.json) in {string.Join(", ", folders)}");
        foreach (var i in set.Ignored) stderr.WriteLine($"xtf: ignored {i}");

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
        if (o.Has("no-html")) return ExitCodes.Success;

        string htmlDir = Path.Combine(output, "allure-report");
        var tool = AllureTool.Find();
        if (tool.Missing is { } missing)
        {
            stderr.WriteLine($"xtf: no Allure HTML: {missing}; fix: {SetupCommand}");
            return AllureMissing;
        }
        var (ok, detail) = tool.Generate(allureResults, htmlDir);
        if (!ok)
        {
            stderr.WriteLine($"xtf: allure generate failed: {detail}");
            return AllureMissing;
        }
        stdout.WriteLine($"report: {Path.GetFullPath(Path.Combine(htmlDir, "index.html"))} (Allure {tool.Version})");
        return ExitCodes.Success;
    }

    /// <summary>
    /// xtf compare BASELINE_DIR CANDIDATE_DIR, or xtf compare --xen A --xen B [GLOB...] (also
    /// --xen-cmdline X --xen-cmdline Y for one hypervisor with two command lines): runs both into
    /// --output (default ./compare)/{baseline,candidate}, then compares.
    /// </summary>
    public static int Compare(Options o, TextWriter stdout, TextWriter stderr)
    {
        var rule = new RunComparison.TimingRule(
            o.Get("timing-ratio") is { } r ? ParsePositive(r, "--timing-ratio") : 2.0,
            o.Get("timing-seconds") is { } s ? ParsePositive(s, "--timing-seconds") : 1.0);
        var xens = o.GetAll("xen");
        var cmdlines = o.GetAll("xen-cmdline");
        string baseline, candidate, baseName, candName;
        if (xens.Count > 1 || cmdlines.Count > 1)
        {
            if (xens.Count > 2 || cmdlines.Count > 2) throw new UsageException("compare takes at most two --xen and two --xen-cmdline");
            string root = o.Get("output") ?? "compare";
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
                foreach (var name in new[] { "qemu", "accel", "jobs", "timeout", "memory", "vcpus", "shard" })
                    if (o.Get(name) is { } v) args.AddRange([$"--{name}", v]);
                args.AddRange(o.Positional);
                stdout.WriteLine($"compare: {(i == 0 ? "baseline" : "candidate")}: xtf {string.Join(" ", args)}");
                int code = XtfCli.Run([.. args], stdout, stderr);
                if (code is ExitCodes.Usage or ExitCodes.InternalError or 130) return code;
            }
        }
        else
        {
            if (o.Positional.Count != 2) throw new UsageException("compare takes BASELINE_DIR CANDIDATE_DIR, or --xen A --xen B");
            (baseline, candidate) = (o.Positional[0], o.Positional[1]);
            foreach (var f in new[] { baseline, candidate })
                if (!Directory.Exists(f)) throw new UsageException($"results folder '{f}' does not exist");
            (baseName, candName) = (baseline, candidate);
        }
        var a = ResultSet.Load([baseline]);
        var b = ResultSet.Load([candidate]);
        if (a.Results.Count == 0) throw new UsageException($"no result records in {baseline}");
        if (b.Results.Count == 0) throw new UsageException($"no result records in {candidate}");
        var comparison = RunComparison.Compare(a, b, rule);
        stdout.Write(comparison.Render(baseName, candName));
        return comparison.Regressed ? Regressed : ExitCodes.Success;
    }

    private static double ParsePositive(string text, string name) =>
        double.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out double v) && v > 0 && v < 1e6
            ? v : throw new UsageException($"{name} must be a positive number, not '{text}'");
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
