using Xtf.Hosting;
using Xtf.Reports;

namespace Xtf.Runner;

/// <summary>
/// The records of one run in its results folder: the folder holds one run (a new run replaces the
/// records of the last one), a foreign kernel's run has a folder of its own, and matrix.md and
/// summary.html describe what the folder holds.
/// </summary>
internal static class RunRecords
{
    /// <summary>Where a foreign kernel's (--kernel) run goes: RESULTS/foreign/&lt;file name&gt;, never among the suite's records.</summary>
    public const string ForeignFolderName = ResultSet.ForeignFolderName;

    /// <summary>The host folders a run writes (ITestHost.Name).</summary>
    private static readonly string[] HostNames = ["sim", "xen"];

    public static string ForeignFolder(string resultsDir, string kernelName) => Path.Combine(resultsDir, ForeignFolderName, kernelName);

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

    /// <summary>
    /// Removes the previous run from a results folder before a new run writes there, so no old record
    /// or timing stays in matrix.md and summary.html: every result record RESULTS/&lt;host&gt;/*.json
    /// (what <see cref="ResultSet.Load"/> reads), the transcripts and traces in those host folders,
    /// matrix.md and summary.html. Nothing else is touched: not the foreign/ and fuzz/ folders, not the
    /// fuzz summary, not files that are not ours. Returns the number of records removed.
    /// </summary>
    public static int ReplacePreviousRun(string resultsDir)
    {
        if (!Directory.Exists(resultsDir)) return 0;
        int removed = 0;
        foreach (string hostDir in Directory.GetDirectories(resultsDir))
        {
            int here = 0;
            foreach (string file in Directory.GetFiles(hostDir, "*.json"))
            {
                if (ReadRecord(file) is null) continue;
                File.Delete(file);
                here++;
            }
            if (here == 0 && !HostNames.Contains(Path.GetFileName(hostDir))) continue;   // a host folder of ours, even with no record left (a killed run)
            removed += here;
            foreach (string file in Directory.GetFiles(hostDir))
                if (Path.GetExtension(file) is ".log" or ".trace" || IsTemporary(file)) File.Delete(file);
            if (!Directory.EnumerateFileSystemEntries(hostDir).Any()) Directory.Delete(hostDir);
        }
        foreach (string name in new[] { "matrix.md", "summary.html" })
        {
            string path = Path.Combine(resultsDir, name);
            if (File.Exists(path)) File.Delete(path);
        }
        return removed;
    }

    private static ResultRecord? ReadRecord(string path)
    {
        try { return ResultRecord.Parse(File.ReadAllText(path)); }
        catch (IOException) { return null; }
    }

    /// <summary>A temporary file AtomicFile left when a run was killed between write and rename.</summary>
    private static bool IsTemporary(string file) => file.EndsWith(".tmp", StringComparison.Ordinal);

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
