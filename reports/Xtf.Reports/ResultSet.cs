using Xtf.Hosting;

namespace Xtf.Reports;

/// <summary>A result record and the results folder it came from (its file paths are relative to that folder).</summary>
public sealed record LoadedResult(ResultRecord Record, string Root)
{
    public string? ReadTranscript() => ReadRelative(Record.Transcript);
    public string? ReadTrace() => Record.Trace is null ? null : ReadRelative(Record.Trace);
    public string? FullPath(string? relative) => string.IsNullOrEmpty(relative) ? null : Path.GetFullPath(Path.Combine(Root, relative));

    private string? ReadRelative(string relative)
    {
        string? path = FullPath(relative);
        return path is not null && File.Exists(path) ? File.ReadAllText(path, System.Text.Encoding.Latin1) : null;
    }
}

/// <summary>
/// The records of one or more results folders (shards of one run, or reruns), merged: one record per
/// test × host. Where two folders hold the same test × host, the one that started last wins.
/// </summary>
public sealed class ResultSet
{
    /// <summary>A text file the fuzzer may leave in a results folder; reports include it verbatim.</summary>
    public static readonly string[] FuzzSummaryNames = ["fuzz-summary.md", "fuzz-summary.txt", "fuzz-summary.json", "fuzz/summary.md", "fuzz/summary.txt", "fuzz/summary.json"];

    public IReadOnlyList<LoadedResult> Results { get; }
    public IReadOnlyList<string> Folders { get; }
    /// <summary>Files that looked like records but were not (unreadable, another schema): name and reason.</summary>
    public IReadOnlyList<string> Ignored { get; }
    /// <summary>The fuzz summaries found, by folder.</summary>
    public IReadOnlyList<(string Path, string Text)> FuzzSummaries { get; }
    /// <summary>
    /// Results folders of foreign kernel runs (`xtf run --kernel`, `--kernel-dir`) inside these folders (RESULTS/foreign/&lt;name&gt;):
    /// their records are not part of this set; reports name the folders so they can be reported on their own.
    /// </summary>
    public IReadOnlyList<string> ForeignFolders { get; private init; } = [];

    /// <summary>The folder, inside a results folder, that holds one results folder per foreign kernel.</summary>
    public const string ForeignFolderName = "foreign";
    /// <summary>How the last run into each folder ended (run.json), for the folders that have one.</summary>
    public IReadOnlyList<(string Folder, RunCompletion State)> Runs { get; }

    private ResultSet(List<LoadedResult> results, List<string> folders, List<string> ignored, List<(string, string)> fuzz, List<(string, RunCompletion)> runs)
    {
        Results = results;
        Folders = folders;
        Ignored = ignored;
        FuzzSummaries = fuzz;
        Runs = runs;
    }

    public static ResultSet FromRecords(IEnumerable<ResultRecord> records, string root = ".", RunCompletion? run = null) =>
        new(Order(records.Select(r => new LoadedResult(r, root))), [root], [], [], run is null ? [] : [(root, run)]);

    /// <summary>The runs that did not complete (interrupted, or stopped by an internal error): reports flag them.</summary>
    public IReadOnlyList<(string Folder, RunCompletion State)> Incomplete => Runs.Where(r => !r.State.IsComplete).ToList();

    /// <summary>
    /// One line per run that did not complete, naming the folder and what stopped it ("results: interrupted by
    /// SIGTERM: 3 of 12 planned tests finished, 9 without a verdict"); empty when every run completed.
    /// </summary>
    public IReadOnlyList<string> IncompleteRuns() => Incomplete.Select(r => $"{r.Folder}: run {r.State.Describe()}").ToList();

    /// <summary>Reads RESULTS/&lt;host&gt;/*.json in each folder. A folder that does not exist is an error for the caller.</summary>
    public static ResultSet Load(IEnumerable<string> folders)
    {
        var byKey = new Dictionary<string, LoadedResult>(StringComparer.Ordinal);
        var ignored = new List<string>();
        var fuzz = new List<(string, string)>();
        var roots = new List<string>();
        var foreign = new List<string>();
        var runs = new List<(string, RunCompletion)>();
        foreach (string folder in folders)
        {
            string root = Path.GetFullPath(folder);
            roots.Add(root);
            string foreignRoot = Path.Combine(root, ForeignFolderName);
            if (Directory.Exists(foreignRoot)) foreign.AddRange(Directory.GetDirectories(foreignRoot).Order(StringComparer.Ordinal));
            var run = RunCompletion.Load(root);
            if (run is not null) runs.Add((root, run));
            // A test the folder's last run did not finish has no record from that run: one found is older, not its verdict.
            var incomplete = run is { IsComplete: false } ? run : null;
            foreach (string hostDir in Directory.GetDirectories(root).Order(StringComparer.Ordinal))
            {
                foreach (string file in Directory.GetFiles(hostDir, "*.json").Order(StringComparer.Ordinal))
                {
                    string text;
                    try { text = File.ReadAllText(file); }
                    catch (IOException e) { ignored.Add($"{file}: {e.Message}"); continue; }
                    var r = ResultRecord.Parse(text);
                    if (r is null) { ignored.Add($"{file}: not an {ResultRecord.SchemaId} record"); continue; }
                    if (incomplete?.Predates(r) == true) { ignored.Add($"{file}: older than the {incomplete.State} run in this folder, which did not finish {r.Test}"); continue; }
                    var loaded = new LoadedResult(r, root);
                    if (!byKey.TryGetValue(r.Key, out var seen) || seen.Record.Start <= r.Start) byKey[r.Key] = loaded;
                }
            }
            foreach (string name in FuzzSummaryNames)
            {
                string path = Path.Combine(root, name);
                if (File.Exists(path)) fuzz.Add((path, File.ReadAllText(path)));
            }
        }
        return new ResultSet(Order(byKey.Values), roots, ignored, fuzz, runs) { ForeignFolders = foreign };
    }

    private static List<LoadedResult> Order(IEnumerable<LoadedResult> results) =>
        results.OrderBy(r => r.Record.Test, StringComparer.Ordinal).ThenBy(r => r.Record.Host, StringComparer.Ordinal).ToList();

    public IReadOnlyList<string> Hosts => Results.Select(r => r.Record.Host).Distinct().Order(StringComparer.Ordinal).ToList();
    public IReadOnlyList<string> Tests => Results.Select(r => r.Record.Test).Distinct().Order(StringComparer.Ordinal).ToList();

    public LoadedResult? Find(string test, string host) =>
        Results.FirstOrDefault(r => r.Record.Test == test && r.Record.Host == host);

    /// <summary>Counts of the report status words, worst last.</summary>
    public IReadOnlyList<(string Status, int Count)> Counts() =>
        Results.GroupBy(r => r.Record.ReportStatus).Select(g => (g.Key, g.Count()))
            .OrderBy(x => StatusWords.Rank(x.Key)).ToList();
}

/// <summary>Status words in XTF's order, worst last.</summary>
public static class StatusWords
{
    public static readonly string[] Ordered = ["SUCCESS", "SKIP", "ERROR", "FAILURE", "CRASH", "DIVERGED"];
    public static int Rank(string word) => Array.IndexOf(Ordered, word) is var i and >= 0 ? i : Ordered.Length;
    public static bool IsGood(string word) => word is "SUCCESS" or "SKIP";
}
