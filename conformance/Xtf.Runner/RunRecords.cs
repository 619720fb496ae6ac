using Xtf.Hosting;
using Xtf.Reports;

namespace Xtf.Runner;

/// <summary>Writes a finished run's result record (with the fuzz case left beside it), and keeps matrix.md and summary.html of a results folder current.</summary>
internal static class RunRecords
{
    public static ResultRecord For(TestOutcome o, DateTimeOffset started, string title, string category, int vcpus,
        XtfCli.RunContext run, string? diff, bool paired) =>
        ResultRecord.From(o, started, run.Info, title, category, vcpus, diff, paired, FuzzCaseFor(run.ResultsDir, o.Host, o.Test));

    /// <summary>A shrunk fuzz case the fuzzer left beside the transcript (&lt;host&gt;/&lt;test&gt;.fuzzcase*), if any.</summary>
    private static string? FuzzCaseFor(string resultsDir, string host, string test)
    {
        string dir = Path.Combine(resultsDir, host);
        if (!Directory.Exists(dir)) return null;
        var file = Directory.GetFiles(dir, test + ".fuzzcase*").Order(StringComparer.Ordinal).FirstOrDefault();
        return file is null ? null : $"{host}/{Path.GetFileName(file)}";
    }

    /// <summary>matrix.md and summary.html for everything the results folder holds.</summary>
    public static void WriteRunSummaries(string resultsDir, TextWriter stdout)
    {
        if (!Directory.Exists(resultsDir)) return;
        var set = ResultSet.Load([resultsDir]);
        if (set.Results.Count == 0) return;
        AtomicFile.WriteAllText(Path.Combine(resultsDir, "matrix.md"), Matrix.Markdown(set));
        AtomicFile.WriteAllText(Path.Combine(resultsDir, "summary.html"), SummaryPage.Html(set));
    }
}
