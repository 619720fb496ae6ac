using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using System.Xml.Schema;

using Xtf.Hosting;
using Xtf.Runner;

namespace Xtf.Reports.Tests;

/// <summary>A results folder whose run.json says the run was interrupted: every report says so, and report and compare exit 9.</summary>
[Parallelizable(ParallelScope.All)]
public sealed class InterruptedRunTests
{
    private static readonly DateTimeOffset RunStart = new(2026, 11, 22, 5, 59, 0, TimeSpan.Zero);
    private static readonly string[] Unfinished = ["test-pv64-synth-unfinished-a", "test-pv64-synth-unfinished-b"];

    /// <summary>Records.Folder's six tests finished, two more planned and cut off by SIGTERM; one of those has a record from an older run.</summary>
    private static string InterruptedFolder()
    {
        string dir = Records.Folder();
        var finished = ResultSet.Load([dir]).Tests;
        new RunCompletion
        {
            State = RunCompletion.Interrupted,
            Cause = "SIGTERM",
            Signal = 15,
            Hosts = ["sim", "xen"],
            Planned = [.. finished, .. Unfinished],
            Finished = finished,
            Start = RunStart,
            Stop = RunStart.AddMinutes(2),
        }.WriteTo(dir);
        var stale = Records.Make(Unfinished[0], "xen", "FAILURE", message: "emulator exited without a result (exit code 137)") with
        {
            Start = RunStart.AddDays(-1),
        };
        stale.WriteTo(dir);
        return dir;
    }

    private static string CompleteFolder()
    {
        string dir = Records.Folder();
        var tests = ResultSet.Load([dir]).Tests;
        new RunCompletion { State = RunCompletion.Complete, Hosts = ["sim", "xen"], Planned = tests, Finished = tests, Start = RunStart, Stop = RunStart.AddMinutes(2) }.WriteTo(dir);
        return dir;
    }

    private static (int Code, string Out, string Err) Xtf(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = XtfCli.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    [Test]
    public void RunJsonRoundTripsAndNamesTheUnfinishedTests()
    {
        string dir = InterruptedFolder();
        var text = File.ReadAllText(Path.Combine(dir, RunCompletion.FileName));
        var json = JsonNode.Parse(text)!;
        Assert.That((string?)json["state"], Is.EqualTo("interrupted"));
        Assert.That((string?)json["cause"], Is.EqualTo("SIGTERM"));
        Assert.That(json["unfinished"]!.AsArray().Select(x => (string?)x), Is.EqualTo(Unfinished));
        var back = RunCompletion.Load(dir)!;
        Assert.That(back.Unfinished, Is.EqualTo(Unfinished));
        Assert.That(back.Describe(), Is.EqualTo("interrupted by SIGTERM: 6 of 8 planned tests finished, 2 without a verdict"));
        Assert.That(RunCompletion.Parse("{\"schema\":\"other/1\",\"state\":\"complete\"}"), Is.Null);
    }

    [Test]
    public void AnOlderRecordOfATestTheRunDidNotFinishIsNotItsVerdict()
    {
        var set = ResultSet.Load([InterruptedFolder()]);
        Assert.That(set.Tests, Has.No.Member(Unfinished[0]));
        Assert.That(set.Ignored, Has.One.Contains(Unfinished[0]).And.Contains("older than the interrupted run"));
        Assert.That(set.Incomplete, Has.Count.EqualTo(1));
        Assert.That(ResultSet.Load([CompleteFolder()]).Incomplete, Is.Empty);
    }

    [Test]
    public void MatrixAndSummarySayTheRunWasInterrupted()
    {
        var set = ResultSet.Load([InterruptedFolder()]);
        string md = Matrix.Markdown(set);
        Assert.That(md, Does.Contain("**INTERRUPTED RUN**").And.Contain("interrupted by SIGTERM: 6 of 8 planned tests finished"));
        Assert.That(md, Does.Contain(string.Join(", ", Unfinished)));
        Assert.That(md, Does.Not.Contain($"| {Unfinished[0]} |"), "no row, so no verdict, for a test the run did not finish");
        string html = SummaryPage.Html(set);
        Assert.That(html, Does.Contain("<div id=\"interrupted\">").And.Contain("INTERRUPTED RUN").And.Contain(Unfinished[1]));

        var complete = ResultSet.Load([CompleteFolder()]);
        Assert.That(Matrix.Markdown(complete), Does.Not.Contain("RUN**"));
        Assert.That(SummaryPage.Html(complete), Does.Not.Contain("id=\"interrupted\""));
    }

    [Test]
    public void JUnitCarriesTheInterruptionAsOneErrorOfTheRunAndStaysValid()
    {
        string dir = InterruptedFolder();
        string path = Path.Combine(dir, "junit.xml");
        JUnitReport.Write(ResultSet.Load([dir]), path);
        var schemas = new XmlSchemaSet();
        schemas.Add(null, Path.Combine(TestContext.CurrentContext.TestDirectory, "Schemas", "junit.xsd"));
        var doc = XDocument.Load(path);
        var errors = new List<string>();
        doc.Validate(schemas, (_, e) => errors.Add(e.Message));
        Assert.That(errors, Is.Empty);

        var run = doc.Descendants("testsuite").Single(s => (string?)s.Attribute("name") == "xtf run");
        var error = run.Element("testcase")!.Element("error")!;
        Assert.That((string?)error.Attribute("type"), Is.EqualTo("INTERRUPTED"));
        Assert.That((string?)error.Attribute("message"), Does.Contain("interrupted by SIGTERM"));
        Assert.That(error.Value, Does.Contain(Unfinished[0]).And.Contain(Unfinished[1]));
        Assert.That(doc.Descendants("testcase").Select(c => (string?)c.Attribute("name")), Has.None.EqualTo(Unfinished[0]));
        Assert.That(doc.Descendants("property").Where(p => (string?)p.Attribute("name") == "xtf.run.state").Select(p => (string?)p.Attribute("value")),
            Is.Not.Empty.And.All.Contains("interrupted by SIGTERM"));
        var root = doc.Root!;
        Assert.That((string?)root.Attribute("tests"), Is.EqualTo("8"), "7 records and the run");
        Assert.That((string?)root.Attribute("errors"), Is.EqualTo("3"), "ERROR, CRASH and the interrupted run");

        string completeDir = CompleteFolder();
        JUnitReport.Write(ResultSet.Load([completeDir]), Path.Combine(completeDir, "junit.xml"));
        var plain = XDocument.Load(Path.Combine(completeDir, "junit.xml"));
        Assert.That(plain.Descendants("testsuite").Select(s => (string?)s.Attribute("name")), Has.None.EqualTo("xtf run"));
        Assert.That(plain.Descendants("property"), Is.Empty);
    }

    [Test]
    public void AllureShowsTheRunAsBrokenInItsOwnCategory()
    {
        string dir = InterruptedFolder(), outDir = Path.Combine(dir, "allure");
        int written = AllureResults.Write(ResultSet.Load([dir]), outDir);
        Assert.That(written, Is.EqualTo(8));
        var results = Directory.GetFiles(outDir, "*-result.json").Select(f => JsonNode.Parse(File.ReadAllText(f))!).ToList();
        var run = results.Single(r => (string?)r["fullName"] == "xtf.run");
        Assert.That((string?)run["name"], Is.EqualTo("xtf run [interrupted]"));
        Assert.That((string?)run["status"], Is.EqualTo("broken"));
        string message = (string)run["statusDetails"]!["message"]!;
        Assert.That(message, Does.StartWith("INTERRUPTED: run interrupted by SIGTERM"));
        Assert.That((string?)run["statusDetails"]!["trace"], Does.Contain(Unfinished[0]));
        Assert.That(results.Select(r => (string?)r["name"]), Has.None.StartsWith(Unfinished[0]));

        var categories = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "categories.json")))!.AsArray();
        var matching = categories.Where(c => Regex.IsMatch(message, "^(?:" + (string)c!["messageRegex"]! + ")$")).Select(c => (string?)c!["name"]).ToList();
        Assert.That(matching.First(), Does.StartWith("Run interrupted"), "the first matching category is Allure's pick");
        Assert.That(File.ReadAllText(Path.Combine(outDir, "environment.properties")), Does.Contain("run.state=").And.Contain("interrupted by SIGTERM"));
    }

    [Test]
    public void CompareFlagsEitherSide()
    {
        string complete = CompleteFolder(), interrupted = InterruptedFolder();
        var c = RunComparison.Compare(ResultSet.Load([complete]), ResultSet.Load([interrupted]));
        Assert.That(c.Regressed, Is.False, "the six finished tests are the same");
        Assert.That(c.IncompleteRuns, Has.Count.EqualTo(1));
        Assert.That(c.Render("a", "b"), Does.Contain($"INTERRUPTED: candidate {interrupted}: run interrupted by SIGTERM"));
        var reverse = RunComparison.Compare(ResultSet.Load([interrupted]), ResultSet.Load([complete]));
        Assert.That(reverse.IncompleteRuns.Single(), Does.StartWith("INTERRUPTED: baseline"));
    }

    [Test]
    public void ReportAndCompareExit9ForAnInterruptedRun()
    {
        string interrupted = InterruptedFolder(), complete = CompleteFolder();
        var report = Xtf("report", interrupted, "--output", Path.Combine(interrupted, "report"), "--no-html");
        Assert.That(report.Code, Is.EqualTo(ReportCommands.IncompleteRun).And.EqualTo(9), report.Err);
        Assert.That(report.Err, Does.Contain("interrupted by SIGTERM: 6 of 8 planned tests finished"));
        Assert.That(File.ReadAllText(Path.Combine(interrupted, "report", "junit.xml")), Does.Contain("type=\"INTERRUPTED\""));
        Assert.That(File.ReadAllText(Path.Combine(interrupted, "report", "summary.html")), Does.Contain("id=\"interrupted\""));
        Assert.That(Xtf("report", complete, "--output", Path.Combine(complete, "report"), "--no-html").Code, Is.EqualTo(0));

        var compare = Xtf("compare", complete, interrupted);
        Assert.That(compare.Code, Is.EqualTo(ReportCommands.IncompleteRun), compare.Out + compare.Err);
        Assert.That(compare.Out, Does.Contain("INTERRUPTED: candidate"));
        Assert.That(Xtf("compare", complete, CompleteFolder()).Code, Is.EqualTo(0));
    }

    [Test]
    public void AnInterruptedRunWithNoFinishedTestStillReports()
    {
        string dir = Directory.CreateTempSubdirectory("xtf-interrupted-").FullName;
        new RunCompletion { State = RunCompletion.Interrupted, Cause = "SIGINT", Signal = 2, Hosts = ["xen"], Planned = Unfinished, Start = RunStart, Stop = RunStart.AddSeconds(3) }.WriteTo(dir);
        var report = Xtf("report", dir, "--output", Path.Combine(dir, "report"), "--no-html");
        Assert.That(report.Code, Is.EqualTo(ReportCommands.IncompleteRun), report.Err);
        Assert.That(File.ReadAllText(Path.Combine(dir, "report", "matrix.md")), Does.Contain("interrupted by SIGINT: 0 of 2 planned tests finished"));
    }
}
