using Xtf.Hosting;
using Xtf.Runner;

namespace Xtf.Reports.Tests;

/// <summary>xtf run → result records → xtf report / compare, through the command line; rendering in headless Chromium.</summary>
[NonParallelizable]
public sealed class EndToEndTests
{
    private static (int Code, string Out, string Err) Xtf(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = XtfCli.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    private static string Temp() => Directory.CreateTempSubdirectory("xtf-e2e-").FullName;

    /// <summary>
    /// Names and statuses as Allure's rendered tree shows them: "name [host]" → passed/failed/broken/skipped.
    /// Both pages are opened in a browser without network (issue 14 item 10): they must attempt no
    /// request beyond the local files, and render all the same.
    /// </summary>
    private static void AssertRendered(string reportDir, ResultSet set)
    {
        var summary = HeadlessChromium.Load(new Uri(Path.Combine(reportDir, "summary.html")).AbsoluteUri,
            HeadlessChromium.RenderedTextScript, TimeSpan.FromSeconds(60));
        Assert.That(summary.RemoteRequests, Is.Empty, "summary.html loads nothing from the network");
        Assert.That(summary.Value.Trim(), Is.Not.Empty, "summary.html renders");
        foreach (var r in set.Results)
        {
            Assert.That(summary.Value, Does.Contain(r.Record.Test));
            Assert.That(summary.Value, Does.Contain(r.Record.ReportStatus));
        }

        string index = Path.Combine(reportDir, "allure-report", "index.html");
        string html = File.ReadAllText(index);
        Assert.That(OfflineHtml.RemoteLoads(html), Is.Empty, "no remote src/href left in the Allure page");
        Assert.That(html, Does.Not.Contain("googletagmanager").And.Not.Contain("gtag("), "Allure's analytics loader is gone");
        var allure = HeadlessChromium.Load(new Uri(index).AbsoluteUri, HeadlessChromium.AllureLeavesScript, TimeSpan.FromSeconds(90));
        Assert.That(allure.RemoteRequests, Is.Empty, "the Allure report loads nothing from the network");
        var shown = allure.Value.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')).ToDictionary(p => p[0], p => p[^1]);
        Assert.That(shown, Is.Not.Empty, "the Allure report renders its tests");
        foreach (var r in set.Results)
        {
            string name = $"{r.Record.Test} [{r.Record.Host}]";
            Assert.That(shown.ContainsKey(name), $"{name} in the Allure tree: {string.Join(", ", shown.Keys)}");
            Assert.That(shown[name], Is.EqualTo(AllureResults.StatusFor(r.Record.ReportStatus)), name);
        }
    }

    /// <summary>The request log of the offline browser sees what a page tries to fetch, and the page still runs.</summary>
    [Test]
    public void TheOfflineBrowserRecordsEveryRemoteRequestAPageAttempts()
    {
        HeadlessChromium.Require();
        string dir = Temp();
        string page = Path.Combine(dir, "probe.html");
        File.WriteAllText(page, """
            <!DOCTYPE html><html><head><meta charset="utf-8">
            <script async src="https://xtf-offline-probe.invalid/loader.js"></script>
            <link rel="stylesheet" href="http://203.0.113.7/style.css">
            </head><body><p id="p">local text</p><img src="local.png">
            <script>fetch('https://xtf-offline-probe.invalid/beacon').catch(() => {});</script></body></html>
            """);
        var load = HeadlessChromium.Load(new Uri(page).AbsoluteUri, HeadlessChromium.RenderedTextScript, TimeSpan.FromSeconds(60));
        Assert.That(load.Value, Does.Contain("local text"), "the page works without the network");
        Assert.That(load.RemoteRequests.Select(u => new Uri(u).GetLeftPart(UriPartial.Path)).Distinct().Order(), Is.EqualTo(new[]
        {
            "http://203.0.113.7/style.css",
            "https://xtf-offline-probe.invalid/beacon",
            "https://xtf-offline-probe.invalid/loader.js",
        }), "every remote request is seen (and the local image is not one)");
    }

    private static void RequireAllure()
    {
        var tool = AllureTool.Find();
        if (tool.Missing is null) return;
        string reason = $"{tool.Missing} (fix: {ReportCommands.SetupCommand})";
        if (RealXen.InCi) Assert.Fail(reason);
        Assert.Inconclusive(reason);
    }

    [Test]
    public void SimRunPlusAShardWithEveryStatusRendersInBothReports()
    {
        HeadlessChromium.Require();
        RequireAllure();
        string results = Temp(), shard = Records.Folder(), output = Temp();
        var run = Xtf("run", "test-pv64-example", "test-pv64-sched-yield", "--results", results);
        Assert.That(run.Code, Is.EqualTo(0), run.Out + run.Err);
        Assert.That(File.ReadAllText(Path.Combine(results, "matrix.md")), Does.Contain("| test-pv64-sched-yield | pv64 | sched | SUCCESS"));
        var report = Xtf("report", results, shard, "--output", output);
        Assert.That(report.Code, Is.EqualTo(0), report.Out + report.Err);
        var set = ResultSet.Load([results, shard]);
        Assert.That(set.Results, Has.Count.EqualTo(9));
        AssertRendered(output, set);
    }

    [Test]
    public void RealXenAndSimulatorRunRendersInBothReports()
    {
        RealXen.Require();
        HeadlessChromium.Require();
        RequireAllure();
        string results = Temp(), output = Temp();
        var run = Xtf("run", "test-pv64-example", "test-pv64-sched-yield", "--host", "both", "--results", results, "--jobs", "2");
        Assert.That(run.Code, Is.EqualTo(0), run.Out + run.Err);
        var set = ResultSet.Load([results]);
        Assert.That(set.Results.Select(r => r.Record.Agree), Is.All.EqualTo(true));
        Assert.That(set.Find("test-pv64-example", "xen")!.Record.XenVersion, Does.StartWith("4.17"));
        var report = Xtf("report", results, "--output", output);
        Assert.That(report.Code, Is.EqualTo(0), report.Out + report.Err);
        AssertRendered(output, set);
    }

    [Test]
    public void ShardsOfARunCoverTheSelectionOnce()
    {
        var seen = new List<string>();
        for (int k = 1; k <= 3; k++)
        {
            string results = Temp();
            var run = Xtf("run", "test-pv64-sched-shutdown-*", "--shard", $"{k}/3", "--results", results);
            Assert.That(run.Code, Is.EqualTo(0), run.Out + run.Err);
            seen.AddRange(ResultSet.Load([results]).Tests);
        }
        var all = XtfCli.Catalog.Select(["test-pv64-sched-shutdown-*"]).Select(c => c.FullName).Order(StringComparer.Ordinal);
        Assert.That(seen.Order(StringComparer.Ordinal), Is.EqualTo(all));
    }

    [TestCase("run", "--shard", "4/3")]
    [TestCase("report", "/nonexistent/results")]
    [TestCase("compare", "/nonexistent/a", "/nonexistent/b")]
    [TestCase("compare", "only-one")]
    public void BadReportInputIsExitCode2(params string[] args)
    {
        var r = Xtf(args);
        Assert.That(r.Code, Is.EqualTo(ExitCodes.Usage), r.Err);
        Assert.That(r.Err.TrimEnd('\n').Split('\n'), Has.Length.EqualTo(1));
    }

    [Test]
    public void CompareExitCodeGatesOnRegressions()
    {
        string a = Records.Folder(), b = Records.Folder();
        Assert.That(Xtf("compare", a, b).Code, Is.EqualTo(0));
        Records.Make("test-pv64-synth-success", "xen", "FAILURE", message: "Fail: planted") .WriteTo(b);
        var r = Xtf("compare", a, b);
        Assert.That(r.Code, Is.EqualTo(ReportCommands.Regressed));
        Assert.That(r.Out, Does.Contain("test-pv64-synth-success [xen]: SUCCESS -> FAILURE"));
    }

    [Test]
    public void AKilledRunLeavesValidRecordsForTheTestsThatFinished()
    {
        string results = Temp();
        string xtf = Path.Combine(AppContext.BaseDirectory, "xtf.dll");
        var info = new System.Diagnostics.ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true };
        foreach (var a in new[] { xtf, "run", "test-pv64-*", "--results", results, "--jobs", "1" }) info.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(info)!;
        p.OutputDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline && (!Directory.Exists(Path.Combine(results, "sim")) || Directory.GetFiles(Path.Combine(results, "sim"), "*.json").Length < 3))
            Thread.Sleep(50);
        p.Kill(entireProcessTree: true);
        p.WaitForExit();
        var files = Directory.GetFiles(Path.Combine(results, "sim"), "*.json");
        int all = global::Xtf.Runner.XtfCli.Catalog.Select(["test-pv64-*"]).Count;
        Assert.That(files.Length, Is.InRange(3, all - 1), "killed part-way");
        foreach (var f in files) Assert.That(ResultRecord.Parse(File.ReadAllText(f)), Is.Not.Null, f);
        var set = ResultSet.Load([results]);
        Assert.That(set.Ignored, Is.Empty);
        // SIGKILL leaves no chance to record the end: run.json still says "running", and reports flag it.
        Assert.That(set.Incomplete.Single().State.State, Is.EqualTo(RunCompletion.Running));
        Assert.That(Matrix.Markdown(set), Does.Contain("**UNFINISHED RUN**"));
        foreach (var r in set.Results)
        {
            string transcript = r.ReadTranscript() ?? "";
            Assert.That(transcript, Does.Contain("Xen version 4.17"), r.Record.Test);
            // A suite kernel ends with its result line; an image Xen must refuse ends with Xen's panic.
            Assert.That(transcript.Contains("Test result:") || transcript.Contains("Panic on CPU 0:"), Is.True, r.Record.Test);
        }
    }
}
