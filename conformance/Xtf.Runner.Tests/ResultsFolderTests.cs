using System.Globalization;
using Xtf.Hosting;
using Xtf.Reports;

namespace Xtf.Runner.Tests;

/// <summary>
/// A results folder holds one run: a second `xtf run` replaces the first run's records (no old record
/// or timing stays in matrix.md and summary.html); a foreign kernel (`--kernel`) gets a folder of its
/// own and never joins the suite's matrix; shard folders still merge in `xtf report`.
/// </summary>
[Parallelizable(ParallelScope.All)]
public sealed class ResultsFolderTests
{
    private static (int Code, string Out, string Err) Xtf(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = XtfCli.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    private static string Temp() => Directory.CreateTempSubdirectory("xtf-results-").FullName;

    /// <summary>The test rows of a matrix.md: "| test | env | area | cells... |".</summary>
    private static List<string[]> MatrixRows(string folder) =>
        File.ReadAllLines(Path.Combine(folder, "matrix.md"))
            .Where(l => l.StartsWith("| ", StringComparison.Ordinal) && !l.StartsWith("| test |", StringComparison.Ordinal))
            .Select(l => l.Trim('|').Split('|').Select(c => c.Trim()).ToArray()).ToList();

    [Test]
    public void ASecondRunReplacesTheFirstRunsRecords()
    {
        string dir = Temp();
        var first = Xtf("run", "test-pv64-example", "test-pv64-sched-yield", "--results", dir);
        Assert.That(first.Code, Is.EqualTo(0), first.Out + first.Err);
        Assert.That(ResultSet.Load([dir]).Tests, Is.EqualTo(new[] { "test-pv64-example", "test-pv64-sched-yield" }));
        var firstExample = ResultSet.Load([dir]).Find("test-pv64-example", "sim")!.Record;
        // Not ours: left alone by the next run.
        File.WriteAllText(Path.Combine(dir, "notes.txt"), "kept");
        File.WriteAllText(Path.Combine(dir, "fuzz-summary.json"), "{}");

        var second = Xtf("run", "test-pv64-example", "--results", dir, "--seed", "7");
        Assert.That(second.Code, Is.EqualTo(0), second.Out + second.Err);
        Assert.That(second.Out, Does.Contain("the previous run's 2 record(s) replaced"));

        var set = ResultSet.Load([dir]);
        Assert.That(set.Tests, Is.EqualTo(new[] { "test-pv64-example" }), "only the second run's test");
        var record = set.Results.Single().Record;
        Assert.That(record.Seed, Is.EqualTo("0x7"), "the second run's record");
        Assert.That(record.Start, Is.GreaterThan(firstExample.Start));
        Assert.That(Directory.GetFiles(Path.Combine(dir, "sim")).Select(Path.GetFileName).Order(StringComparer.Ordinal),
            Is.EqualTo(new[] { "test-pv64-example.json", "test-pv64-example.log", "test-pv64-example.trace" }), "no transcript or trace of the first run");

        var rows = MatrixRows(dir);
        Assert.That(rows.Select(r => r[0]), Is.EqualTo(new[] { "test-pv64-example" }), "matrix.md: the second run only");
        Assert.That(rows[0][3], Is.EqualTo($"SUCCESS {record.Seconds.ToString("0.00", CultureInfo.InvariantCulture)}s"), "the second run's timing");
        Assert.That(File.ReadAllText(Path.Combine(dir, "summary.html")), Does.Not.Contain("test-pv64-sched-yield"));
        Assert.That(File.ReadAllText(Path.Combine(dir, "notes.txt")), Is.EqualTo("kept"));
        Assert.That(File.Exists(Path.Combine(dir, "fuzz-summary.json")), Is.True, "the fuzzer's summary is the fuzzer's");
        Directory.Delete(dir, true);
    }

    [Test]
    public void AKilledRunsLeftoversGoToo()
    {
        string dir = Temp();
        Directory.CreateDirectory(Path.Combine(dir, "sim"));
        // What a run killed between transcript and record leaves: a transcript, a temporary file, no record.
        File.WriteAllText(Path.Combine(dir, "sim", "test-pv64-sched-yield.log"), "half a run");
        File.WriteAllText(Path.Combine(dir, "sim", "test-pv64-sched-yield.json.123.abc.tmp"), "{");
        var r = Xtf("run", "test-pv64-example", "--results", dir);
        Assert.That(r.Code, Is.EqualTo(0), r.Out + r.Err);
        Assert.That(Directory.GetFiles(Path.Combine(dir, "sim")).Select(Path.GetFileName).Order(StringComparer.Ordinal),
            Is.EqualTo(new[] { "test-pv64-example.json", "test-pv64-example.log", "test-pv64-example.trace" }));
        Directory.Delete(dir, true);
    }

    [Test]
    public void ForeignKernelResultsAreNotInTheSuiteMatrix()
    {
        string dir = Temp();
        string kernel = Path.Combine(Temp(), "probe.elf");
        File.WriteAllBytes(kernel, XtfCli.Catalog.Select(["test-pv64-example"]).Single().Build().Bytes);

        var suite = Xtf("run", "test-pv64-example", "test-pv64-sched-yield", "--results", dir);
        Assert.That(suite.Code, Is.EqualTo(0), suite.Out + suite.Err);
        var foreign = Xtf("run", "--kernel", kernel, "--results", dir);
        Assert.That(foreign.Code, Is.EqualTo(0), foreign.Out + foreign.Err);
        string foreignDir = Path.Combine(dir, "foreign", "probe.elf");
        Assert.That(foreign.Out, Does.Contain($"transcripts in {foreignDir}"));

        // The suite's folder: its two tests, untouched by the foreign run; the foreign folder named apart from the table.
        var set = ResultSet.Load([dir]);
        Assert.That(set.Tests, Is.EqualTo(new[] { "test-pv64-example", "test-pv64-sched-yield" }), "102 + 1 tests is what the issue saw");
        Assert.That(set.ForeignFolders, Is.EqualTo(new[] { foreignDir }));
        Assert.That(MatrixRows(dir).Select(r => r[0]), Is.EqualTo(new[] { "test-pv64-example", "test-pv64-sched-yield" }));

        // The foreign kernel's own folder: its record, its matrix.
        var own = ResultSet.Load([foreignDir]);
        Assert.That(own.Results.Select(r => (r.Record.Test, r.Record.Host, r.Record.Category)), Is.EqualTo(new[] { ("probe.elf", "sim", "foreign") }));
        Assert.That(MatrixRows(foreignDir).Select(r => r[0]), Is.EqualTo(new[] { "probe.elf" }));
        Assert.That(own.ReadTranscriptOf("probe.elf"), Does.Contain("Test result: SUCCESS"));

        // A later suite run replaces the suite's records and leaves the foreign folder; the report of the folder has the suite only.
        var again = Xtf("run", "test-pv64-example", "--results", dir);
        Assert.That(again.Code, Is.EqualTo(0), again.Out + again.Err);
        Assert.That(ResultSet.Load([dir]).Tests, Is.EqualTo(new[] { "test-pv64-example" }));
        Assert.That(File.Exists(Path.Combine(foreignDir, "sim", "probe.elf.json")), Is.True);
        string report = Temp();
        var r = Xtf("report", dir, "--output", report, "--no-html");
        Assert.That(r.Code, Is.EqualTo(0), r.Out + r.Err);
        Assert.That(r.Out, Does.Contain("report: 1 runs of 1 tests"));
        Assert.That(File.ReadAllText(Path.Combine(report, "junit.xml")), Does.Not.Contain("probe.elf\""));
        Assert.That(File.ReadAllText(Path.Combine(report, "matrix.md")), Does.Contain("not in this matrix").And.Contain(foreignDir));
        Directory.Delete(dir, true);
        Directory.Delete(report, true);
    }

    /// <summary>Shards are separate folders, each one run; `xtf report` merges them.</summary>
    [Test]
    public void ReportMergesShardFolders()
    {
        string root = Temp();
        var expected = XtfCli.Catalog.Select(["test-pv64-sched-shutdown-*"]).Select(c => c.FullName).Order(StringComparer.Ordinal).ToList();
        var folders = new List<string>();
        for (int k = 1; k <= 2; k++)
        {
            string folder = Path.Combine(root, $"results-{k}");
            var run = Xtf("run", "test-pv64-sched-shutdown-*", "--shard", $"{k}/2", "--results", folder);
            Assert.That(run.Code, Is.EqualTo(0), run.Out + run.Err);
            folders.Add(folder);
        }
        string report = Path.Combine(root, "report");
        var r = Xtf(["report", .. folders, "--output", report, "--no-html"]);
        Assert.That(r.Code, Is.EqualTo(0), r.Out + r.Err);
        Assert.That(MatrixRows(report).Select(row => row[0]), Is.EqualTo(expected), "both shards in one matrix");
        Directory.Delete(root, true);
    }
}

internal static class ResultSetReading
{
    public static string ReadTranscriptOf(this ResultSet set, string test) => set.Results.Single(r => r.Record.Test == test).ReadTranscript() ?? "";
}
