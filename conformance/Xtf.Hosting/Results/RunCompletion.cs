using System.Text.Json;
using System.Text.Json.Serialization;

namespace Xtf.Hosting;

/// <summary>
/// RESULTS/run.json: how the last run into a results folder ended. `xtf run` writes it as "running"
/// before the first boot and again after the last record: "complete" (every planned test has its
/// records), "interrupted" (a signal or the death of the runner's parent stopped the run; the tests
/// that had not finished have no record and no verdict) or "aborted" (an internal error stopped it).
/// A run killed outright (SIGKILL) stays "running". Reports flag a folder whose run is not complete;
/// a folder without run.json (older runs) is taken as it is.
/// </summary>
public sealed record RunCompletion
{
    public const string SchemaId = "xtf-run/1";
    public const string FileName = "run.json";
    public const string Complete = "complete";
    public const string Interrupted = "interrupted";
    public const string Aborted = "aborted";
    public const string Running = "running";

    public string Schema { get; init; } = SchemaId;
    /// <summary>running, complete, interrupted or aborted.</summary>
    public required string State { get; init; }
    /// <summary>What stopped an interrupted run: SIGINT, SIGTERM, SIGHUP, or "parent process exit" (the runner's parent died); null otherwise.</summary>
    public string? Cause { get; init; }
    /// <summary>The signal number behind <see cref="Cause"/> (2, 15, 1); null when the parent exited or the run was not interrupted.</summary>
    public int? Signal { get; init; }
    public IReadOnlyList<string> Hosts { get; init; } = [];
    /// <summary>Every test the run set out to run, in plan order.</summary>
    public IReadOnlyList<string> Planned { get; init; } = [];
    /// <summary>The tests that finished on every host (their records are in the folder), in plan order; empty while running.</summary>
    public IReadOnlyList<string> Finished { get; init; } = [];
    public DateTimeOffset Start { get; init; }
    public DateTimeOffset Stop { get; init; }

    /// <summary>Planned tests without a verdict; while running (or after a SIGKILL) not known, so empty.</summary>
    public IReadOnlyList<string> Unfinished => State == Running ? [] : Planned.Except(Finished, StringComparer.Ordinal).ToList();

    /// <summary>
    /// Whether a record in the folder is older than this run, so not its verdict: a record of a test this
    /// run planned, started before this run did (this run wrote no record for it).
    /// </summary>
    public bool Predates(ResultRecord r) => r.Start < Start && Planned.Contains(r.Test, StringComparer.Ordinal);

    [JsonIgnore]
    public bool IsComplete => State == Complete;

    /// <summary>The word reports show for a run that did not complete: INTERRUPTED, ABORTED, or UNFINISHED (still "running").</summary>
    [JsonIgnore]
    public string Word => State == Running ? "UNFINISHED" : State.ToUpperInvariant();

    /// <summary>"interrupted by SIGTERM: 3 of 12 planned tests finished" — for reports and the runner's last line.</summary>
    public string Describe() => State switch
    {
        Complete => $"complete: {Finished.Count} of {Planned.Count} planned tests finished",
        Running => $"never recorded its end (killed, or still running): {Planned.Count} tests planned",
        Interrupted => $"interrupted by {Cause ?? "a signal"}: {Finished.Count} of {Planned.Count} planned tests finished, {Unfinished.Count} without a verdict",
        _ => $"{State}: {Finished.Count} of {Planned.Count} planned tests finished, {Unfinished.Count} without a verdict",
    };

    /// <summary>The file's text; Unfinished is derived, but written too, so a reader of the file sees it at once.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, ResultRecord.Json);

    public string WriteTo(string resultsDir)
    {
        string path = Path.Combine(resultsDir, FileName);
        AtomicFile.WriteAllText(path, ToJson());
        return path;
    }

    /// <summary>Null when the text is not a run completion of this schema.</summary>
    public static RunCompletion? Parse(string json)
    {
        try
        {
            var s = JsonSerializer.Deserialize<RunCompletion>(json, ResultRecord.Json);
            return s is not null && s.Schema == SchemaId ? s : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The run completion in a results folder; null when there is none (or it is not readable).</summary>
    public static RunCompletion? Load(string resultsDir)
    {
        string path = Path.Combine(resultsDir, FileName);
        if (!File.Exists(path)) return null;
        try { return Parse(File.ReadAllText(path)); }
        catch (IOException) { return null; }
    }
}
