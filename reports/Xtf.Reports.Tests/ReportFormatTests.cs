using System.Text.Json.Nodes;
using System.Xml;
using System.Xml.Linq;
using System.Xml.Schema;

namespace Xtf.Reports.Tests;

[Parallelizable(ParallelScope.All)]
public sealed class ReportFormatTests
{
    private static JsonObject Result(string dir, string name) =>
        Directory.GetFiles(dir, "*-result.json").Select(f => JsonNode.Parse(File.ReadAllText(f))!.AsObject())
            .Single(o => (string?)o["name"] == name);

    [TestCase("SUCCESS", "passed")]
    [TestCase("FAILURE", "failed")]
    [TestCase("ERROR", "broken")]
    [TestCase("SKIP", "skipped")]
    [TestCase("CRASH", "broken")]
    [TestCase("DIVERGED", "failed")]
    public void AllureStatusMapping(string word, string allure) => Assert.That(AllureResults.StatusFor(word), Is.EqualTo(allure));

    [TestCase("test-pv64-sched-yield", "pv64")]
    [TestCase("test-hvm64-example", "hvm64")]
    [TestCase("test-hvm32pae-xsa-123", "hvm32pae")]
    [TestCase("probe.elf", "—")]
    [TestCase("test-", "—")]
    public void TheMatrixNamesEachTestsEnvironment(string test, string env) => Assert.That(Matrix.Environment(test), Is.EqualTo(env));

    [Test]
    public void RecordsRoundTripAndOtherFilesAreIgnored()
    {
        string dir = Records.Folder();
        File.WriteAllText(Path.Combine(dir, "xen", "junk.json"), "{ \"schema\": \"other\" }");
        File.WriteAllText(Path.Combine(dir, "xen", "half.json"), "{ \"schema\": \"xtf-res");
        var set = ResultSet.Load([dir]);
        Assert.That(set.Results, Has.Count.EqualTo(7));
        Assert.That(set.Ignored, Has.Count.EqualTo(2));
        Assert.That(Directory.GetFiles(dir, "*.tmp", SearchOption.AllDirectories), Is.Empty, "atomic writes leave no temporary files");
        var d = set.Find("test-pv64-synth-diverged", "sim")!.Record;
        Assert.That(d.ReportStatus, Is.EqualTo("DIVERGED"));
        Assert.That(set.Find("test-pv64-synth-diverged", "xen")!.Record.ReportStatus, Is.EqualTo("SUCCESS"), "real Xen is the reference");
    }

    [Test]
    public void MergingShardsKeepsTheLatestRunOfATest()
    {
        string a = Directory.CreateTempSubdirectory().FullName, b = Directory.CreateTempSubdirectory().FullName;
        Records.Make("t1", "xen", "FAILURE").WriteTo(a);
        (Records.Make("t1", "xen", "SUCCESS") with { Start = DateTimeOffset.UnixEpoch.AddYears(60) }).WriteTo(b);
        Records.Make("t2", "xen", "SUCCESS").WriteTo(b);
        var set = ResultSet.Load([a, b]);
        Assert.That(set.Results.Select(r => r.Record.Key), Is.EqualTo(new[] { "t1|xen", "t2|xen" }));
        Assert.That(set.Find("t1", "xen")!.Record.Status, Is.EqualTo("SUCCESS"));
    }

    [Test]
    public void AllureResultsFollowTheSchema()
    {
        string dir = Records.Folder();
        string outDir = Path.Combine(dir, "allure");
        AllureResults.Write(ResultSet.Load([dir]), outDir);
        Assert.That(Directory.GetFiles(outDir, "*-result.json"), Has.Length.EqualTo(7));

        var f = Result(outDir, "test-pv64-synth-failure [xen]");
        Assert.That((string?)f["fullName"], Is.EqualTo("xtf.pv64.vcpu.test-pv64-synth-failure"));
        Assert.That((string?)f["status"], Is.EqualTo("failed"));
        Assert.That((string?)f["stage"], Is.EqualTo("finished"));
        Assert.That((string?)f["statusDetails"]!["message"], Does.StartWith("FAILURE: Fail: x"));
        Assert.That(Guid.TryParse((string?)f["uuid"], out _));
        var labels = f["labels"]!.AsArray().ToDictionary(l => (string)l!["name"]!, l => (string)l!["value"]!);
        Assert.That(labels["suite"], Is.EqualTo("vcpu"));
        Assert.That(labels["host"], Is.EqualTo("xen"));
        Assert.That(labels["environment"], Is.EqualTo("pv64"));
        Assert.That(labels["xen_version"], Is.EqualTo("4.17.7"));
        Assert.That(labels["qemu_version"], Is.EqualTo("10.0.2"));
        var parameters = f["parameters"]!.AsArray().ToDictionary(l => (string)l!["name"]!, l => (string)l!["value"]!);
        Assert.That(parameters["vCPUs"], Is.EqualTo("2"));
        var steps = f["steps"]!.AsArray();
        Assert.That(steps.Select(s => (string?)s!["name"]), Is.EqualTo(new[] { "ok line", "Fail: x: expected 0, got -22" }));
        Assert.That(steps.Select(s => (string?)s!["status"]), Is.EqualTo(new[] { "passed", "failed" }));
        Assert.That((long)f["start"]!, Is.EqualTo(new DateTimeOffset(2026, 11, 22, 6, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds()));
        Assert.That((long)f["stop"]! - (long)f["start"]!, Is.EqualTo(1000));
        foreach (var a in f["attachments"]!.AsArray())
            Assert.That(File.Exists(Path.Combine(outDir, (string)a!["source"]!)), (string?)a["source"]);
        Assert.That(f["attachments"]!.AsArray().Select(a => (string?)a!["name"]), Does.Contain("transcript"));

        var sim = Result(outDir, "test-pv64-synth-diverged [sim]");
        var xen = Result(outDir, "test-pv64-synth-diverged [xen]");
        Assert.That((string?)sim["statusDetails"]!["message"], Does.StartWith("DIVERGED:"));
        Assert.That((string?)sim["historyId"], Is.Not.EqualTo((string?)xen["historyId"]), "one history per test × host");
        Assert.That(((string?)Result(outDir, "test-pv64-synth-crash [xen]")["statusDetails"]!["message"]), Does.StartWith("CRASH:"));
        Assert.That(sim["parameters"]!.AsArray().Any(p => (string?)p!["name"] == "seed" && (string?)p["value"] == "0x5eed"));

        var categories = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "categories.json")))!.AsArray();
        Assert.That(categories.Select(c => (string?)c!["name"]), Does.Contain("Simulator diverged from real Xen"));
        Assert.That(File.ReadAllText(Path.Combine(outDir, "environment.properties")), Does.Contain("xen.version=4.17.7"));
        Assert.That((string?)JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "executor.json")))!["name"], Is.Not.Empty);
        var containers = Directory.GetFiles(outDir, "*-container.json").Select(c => JsonNode.Parse(File.ReadAllText(c))!).ToList();
        Assert.That(containers.Sum(c => c["children"]!.AsArray().Count), Is.EqualTo(7));
    }

    [Test]
    public void HistoryIdIsStableAcrossRuns()
    {
        var a = Records.Make("t", "xen", "SUCCESS");
        var b = a with { Start = DateTimeOffset.UnixEpoch, Status = "FAILURE" };
        Assert.That(AllureResults.HistoryId(a), Is.EqualTo(AllureResults.HistoryId(b)));
    }

    [Test]
    public void JUnitValidatesAgainstTheSchema()
    {
        string dir = Records.Folder();
        string path = Path.Combine(dir, "junit.xml");
        JUnitReport.Write(ResultSet.Load([dir]), path);
        var schemas = new XmlSchemaSet();
        schemas.Add(null, Path.Combine(TestContext.CurrentContext.TestDirectory, "Schemas", "junit.xsd"));
        var errors = new List<string>();
        var doc = XDocument.Load(path);
        doc.Validate(schemas, (_, e) => errors.Add(e.Message));
        Assert.That(errors, Is.Empty);
        var cases = doc.Descendants("testcase").ToList();
        Assert.That(cases, Has.Count.EqualTo(7));
        Assert.That(cases.Single(c => (string?)c.Attribute("name") == "test-pv64-synth-failure").Element("failure")!.Value, Does.Contain("expected 0, got -22"));
        Assert.That(cases.Single(c => (string?)c.Attribute("name") == "test-pv64-synth-crash").Element("error"), Is.Not.Null);
        Assert.That(cases.Single(c => (string?)c.Attribute("name") == "test-pv64-synth-skip").Element("skipped"), Is.Not.Null);
        Assert.That(cases.Where(c => (string?)c.Attribute("name") == "test-pv64-synth-diverged").Count(c => c.Element("failure") is not null), Is.EqualTo(1));
        Assert.That(cases[0].Element("system-out")!.Value, Does.Contain("(XEN) boot").And.Contain("\\x1b"), "the transcript, control characters escaped");
        var root = doc.Root!;
        Assert.That((string?)root.Attribute("tests"), Is.EqualTo("7"));
        Assert.That((string?)root.Attribute("failures"), Is.EqualTo("2"));
        Assert.That((string?)root.Attribute("errors"), Is.EqualTo("2"));
    }

    [Test]
    public void TheSchemaRejectsAWrongDocument()
    {
        var schemas = new XmlSchemaSet();
        schemas.Add(null, Path.Combine(TestContext.CurrentContext.TestDirectory, "Schemas", "junit.xsd"));
        var errors = new List<string>();
        XDocument.Parse("<testsuites><testsuite name=\"a\" tests=\"1\"><testcase classname=\"c\"><failure/><bogus/></testcase></testsuite></testsuites>")
            .Validate(schemas, (_, e) => errors.Add(e.Message));
        Assert.That(errors, Is.Not.Empty, "a testcase without a name and with an unknown element is invalid");
    }

    [Test]
    public void MatrixAndSummaryShowEveryTestAndTheDivergence()
    {
        string dir = Records.Folder();
        File.WriteAllText(Path.Combine(dir, "fuzz-summary.md"), "fuzz: 1000 cases, 0 divergences");
        var set = ResultSet.Load([dir]);
        string md = Matrix.Markdown(set);
        Assert.That(md, Does.Contain("| test-pv64-synth-diverged | pv64 | sched | DIVERGED 1.00s | SUCCESS 1.00s | no |"));
        Assert.That(md, Does.Contain("| test-pv64-synth-failure | pv64 | vcpu | — | FAILURE 1.00s | — |"));
        string html = SummaryPage.Html(set);
        foreach (var r in set.Results) Assert.That(html, Does.Contain(r.Record.Test));
        Assert.That(html, Does.Contain("- a\n+ b"));
        Assert.That(html, Does.Contain("fuzz: 1000 cases"));
        Assert.That(html, Does.Not.Contain("src=").And.Not.Contain("<link"), "self-contained");
    }

    [Test]
    public void CompareFindsEachKindOfChange()
    {
        var baseline = ResultSet.FromRecords(
        [
            Records.Make("a", "xen", "SUCCESS"), Records.Make("b", "xen", "FAILURE"), Records.Make("c", "xen", "SUCCESS", checks: ["x=1"]),
            Records.Make("d", "xen", "SUCCESS", seconds: 1.2), Records.Make("e", "xen", "SUCCESS"), Records.Make("g", "sim", "SUCCESS", traceHash: "aaaaaaaaaaaaaaaa"),
            Records.Make("h", "xen", "SUCCESS", seconds: 1.2),
        ]);
        var candidate = ResultSet.FromRecords(
        [
            Records.Make("a", "xen", "FAILURE"), Records.Make("b", "xen", "SUCCESS"), Records.Make("c", "xen", "SUCCESS", checks: ["x=2"]),
            Records.Make("d", "xen", "SUCCESS", seconds: 3.0), Records.Make("f", "xen", "SUCCESS"), Records.Make("g", "sim", "SUCCESS", traceHash: "bbbbbbbbbbbbbbbb"),
            Records.Make("h", "xen", "SUCCESS", seconds: 2.1),
        ]);
        var c = RunComparison.Compare(baseline, candidate);
        Assert.That(c.NewFailures.Select(x => x.Test), Is.EqualTo(new[] { "a" }));
        Assert.That(c.Fixed.Select(x => x.Test), Is.EqualTo(new[] { "b" }));
        Assert.That(c.ChangedTranscripts.Select(x => x.Test), Is.EqualTo(new[] { "c", "g" }));
        Assert.That(c.ChangedTimings.Select(x => x.Test), Is.EqualTo(new[] { "d" }), "1.2 s -> 2.1 s is noise; 1.2 s -> 3.0 s is not");
        Assert.That(c.OnlyInBaseline.Select(x => x.Test), Is.EqualTo(new[] { "e" }));
        Assert.That(c.OnlyInCandidate.Select(x => x.Test), Is.EqualTo(new[] { "f" }));
        Assert.That(c.Regressed);
        Assert.That(RunComparison.Compare(baseline, baseline).Regressed, Is.False);
    }

    [TestCase(0.5, 0.9, false)]
    [TestCase(1.2, 2.1, false)]
    [TestCase(1.2, 2.5, true)]
    [TestCase(60, 3, true)]
    [TestCase(0.02, 0.9, false)]
    public void TimingNoiseRule(double a, double b, bool changed) =>
        Assert.That(new RunComparison.TimingRule().Changed(a, b), Is.EqualTo(changed));

    [Test]
    public void ShardsPartitionTheTests()
    {
        var names = Enumerable.Range(0, 83).Select(i => $"test-{i * 7919 % 83:000}").ToList();
        var shards = Enumerable.Range(1, 4).Select(k => new ShardSpec(k, 4).Select(names, n => n)).ToList();
        Assert.That(shards.SelectMany(s => s).Order(), Is.EqualTo(names.Order()), "disjoint and complete");
        Assert.That(shards.Max(s => s.Count) - shards.Min(s => s.Count), Is.LessThanOrEqualTo(1));
        var shuffled = names.AsEnumerable().Reverse().ToList();
        Assert.That(new ShardSpec(2, 4).Select(shuffled, n => n), Is.EqualTo(shards[1]), "the order of the input does not matter");
    }

    [TestCase("1/1", true)]
    [TestCase("3/4", true)]
    [TestCase("0/4", false)]
    [TestCase("5/4", false)]
    [TestCase("a/b", false)]
    [TestCase("2", false)]
    public void ShardParse(string text, bool ok) => Assert.That(ShardSpec.TryParse(text, out _), Is.EqualTo(ok));
}
