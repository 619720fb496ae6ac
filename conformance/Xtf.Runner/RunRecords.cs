using Xtf.Hosting;
using Xtf.Reports;

namespace Xtf.Runner;

/// <summary>Turns a finished run into its result record, and keeps matrix.md and summary.html of a results folder current.</summary>
internal static class RunRecords
{
    public const string SimModel = "4.17.7 (simulator model)";

    public static ResultRecord For(TestOutcome o, DateTimeOffset started, string title, string category, int vcpus,
        XtfCli.RunContext run, string? diff, bool paired)
    {
        bool sim = o.Host == "sim";
        return new ResultRecord
        {
            Test = o.Test,
            Title = title,
            Category = category,
            Host = o.Host,
            Status = o.Status.Word(),
            Warnings = o.Warnings,
            Message = o.Message,
            Seconds = Math.Round(o.Elapsed.TotalSeconds, 3),
            Start = started,
            Stop = started + o.Elapsed,
            Seed = sim ? (o.Transcript.Seed is { } s ? $"0x{s:x}" : run.Seed) : null,
            Vcpus = vcpus,
            XenVersion = sim ? SimModel : run.XenVersion,
            QemuVersion = sim ? null : run.QemuVersion?.Replace("QEMU ", ""),
            XenCommandLine = run.XenCommandLine,
            Transcript = $"{o.Host}/{o.Test}.log",
            Trace = o.Transcript.Trace is null ? null : $"{o.Host}/{o.Test}.trace",
            TraceHash = o.Transcript.TraceHash,
            ShutdownReason = o.ShutdownReason,
            GuestLines = o.GuestLines,
            Agree = paired ? diff is null : null,
            Diff = paired ? diff : null,
            FuzzCase = FuzzCaseFor(run.ResultsDir, o.Host, o.Test),
            Shard = run.Shard,
        };
    }

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
