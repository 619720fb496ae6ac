using System.Text.Json;
using System.Text.Json.Serialization;

namespace Xtf.Hosting;

/// <summary>
/// The result of one test on one host, as `xtf run` writes it to RESULTS/&lt;host&gt;/&lt;test&gt;.json the
/// moment the test finishes. Every report (Allure, JUnit, matrix, summary, compare) is made from these.
/// Wall-clock times are report data only; nothing here reaches the simulator.
/// </summary>
public sealed record ResultRecord
{
    public const string SchemaId = "xtf-result/1";

    public string Schema { get; init; } = SchemaId;
    public required string Test { get; init; }
    public string Title { get; init; } = "";
    /// <summary>The test's area (its Category): vcpu, sched, evtchn, time, builder, ...</summary>
    public string Category { get; init; } = "";
    /// <summary>sim or xen.</summary>
    public required string Host { get; init; }
    /// <summary>The host's own verdict: SUCCESS, SKIP, ERROR, FAILURE or CRASH.</summary>
    public required string Status { get; init; }
    public bool Warnings { get; init; }
    public string Message { get; init; } = "";
    public double Seconds { get; init; }
    public DateTimeOffset Start { get; init; }
    public DateTimeOffset Stop { get; init; }
    /// <summary>Simulator scheduling seed ("0x5eed"); null on real Xen.</summary>
    public string? Seed { get; init; }
    public int Vcpus { get; init; } = 1;
    public string? XenVersion { get; init; }
    public string? QemuVersion { get; init; }
    public string? XenCommandLine { get; init; }
    /// <summary>The whole console log, relative to the results folder (xen/&lt;test&gt;.log).</summary>
    public string Transcript { get; init; } = "";
    /// <summary>Simulator trace file, relative to the results folder; null on real Xen.</summary>
    public string? Trace { get; init; }
    public string? TraceHash { get; init; }
    public int? ShutdownReason { get; init; }
    /// <summary>The guest's normalized lines, banner to result line: what two hosts must agree on.</summary>
    public IReadOnlyList<string> GuestLines { get; init; } = [];
    /// <summary>With --host both: whether this host's transcript agrees with the other host's; else null.</summary>
    public bool? Agree { get; init; }
    /// <summary>With --host both and a divergence: the diff ("-" real Xen, "+" simulator).</summary>
    public string? Diff { get; init; }
    /// <summary>A shrunk fuzz case file, relative to the results folder, when the fuzzer left one.</summary>
    public string? FuzzCase { get; init; }
    /// <summary>"K/N" when the run was one shard of N.</summary>
    public string? Shard { get; init; }
    /// <summary>
    /// What was cut to keep this record within <see cref="GuestLimits.RecordBytes"/> (guest lines,
    /// message, diff); null when nothing was. The transcript file keeps everything the host kept.
    /// </summary>
    public string? Truncated { get; init; }

    /// <summary>Longest message kept when a record must be cut.</summary>
    public const int MessageChars = 4096;
    /// <summary>Longest diff kept when a record must be cut.</summary>
    public const int DiffChars = 16384;
    /// <summary>Longest guest line kept when a record must be cut.</summary>
    public const int LineChars = 4096;

    /// <summary>
    /// The verdict a report shows. The simulator's record of a pair whose transcripts differ is
    /// DIVERGED: real Xen is the reference, so its own record keeps its own status.
    /// </summary>
    [JsonIgnore]
    public string ReportStatus => Agree == false && Host == "sim" ? "DIVERGED" : Status;

    /// <summary>The guest's check lines: everything after banner, environment and title, without the result line.</summary>
    [JsonIgnore]
    public IReadOnlyList<string> Checks =>
        GuestLines.Skip(3).Where(l => !l.StartsWith(ConsoleProtocol.ResultPrefix, StringComparison.Ordinal)).ToList();

    /// <summary>
    /// The record of one finished test on one host. <paramref name="diff"/> and <paramref name="paired"/>
    /// come from a --host both comparison; <paramref name="fuzzCase"/> is a shrunk case file beside the transcript.
    /// </summary>
    public static ResultRecord From(TestOutcome o, DateTimeOffset started, RunInfo run, string title, string category, int vcpus,
        string? diff = null, bool paired = false, string? fuzzCase = null)
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
            XenVersion = sim ? RunInfo.SimulatorModel : run.XenVersion,
            QemuVersion = sim ? null : run.QemuVersion?.Replace("QEMU ", ""),
            XenCommandLine = run.XenCommandLine,
            Transcript = $"{o.Host}/{o.Test}.log",
            Trace = o.Transcript.Trace is null ? null : $"{o.Host}/{o.Test}.trace",
            TraceHash = o.Transcript.TraceHash,
            ShutdownReason = o.ShutdownReason,
            GuestLines = o.GuestLines,
            Agree = paired ? diff is null : null,
            Diff = paired ? diff : null,
            FuzzCase = fuzzCase,
            Shard = run.Shard,
        }.WithinLimit();
    }

    /// <summary>
    /// This record if its JSON fits <paramref name="limits"/>' <see cref="GuestLimits.RecordBytes"/>; otherwise a
    /// copy cut to fit: message, diff and each guest line shortened, then guest lines dropped from the end,
    /// with <see cref="Truncated"/> saying what was cut.
    /// </summary>
    public ResultRecord WithinLimit(GuestLimits? limits = null)
    {
        int max = (limits ?? GuestLimits.Default).RecordBytes;
        int size = JsonBytes(this);
        if (size <= max) return this;

        var lines = GuestLines.Select(l => Shorten(l, LineChars)).ToList();
        bool linesCut = lines.Where((l, i) => !ReferenceEquals(l, GuestLines[i])).Any();
        var cut = this with
        {
            Message = Shorten(Message, MessageChars),
            Diff = Diff is null ? null : Shorten(Diff, DiffChars),
            GuestLines = [],
        };
        string Note(int kept) =>
            $"record of {size} bytes cut to the limit of {max} (GuestLimits.RecordBytes): guest lines {kept} of {GuestLines.Count} kept" +
            (linesCut ? $", lines over {LineChars} characters shortened" : "") +
            (cut.Message.Length < Message.Length ? $", message cut to {MessageChars} characters" : "") +
            (cut.Diff is not null && cut.Diff.Length < Diff!.Length ? $", diff cut to {DiffChars} characters" : "") +
            "; the transcript file has the rest";

        // Keep the first lines that fit (each costs its JSON text and its line of indentation), then check the whole.
        int room = max - JsonBytes(cut with { Truncated = Note(GuestLines.Count) });
        int kept = 0;
        for (long used = 0; kept < lines.Count; kept++)
        {
            used += JsonSerializer.Serialize(lines[kept], Json).Length + 8;
            if (used > room) break;
        }
        while (true)
        {
            var candidate = cut with { GuestLines = lines.Take(kept).ToList(), Truncated = Note(kept) };
            if (kept == 0 || JsonBytes(candidate) <= max) return candidate;
            kept = kept * 3 / 4;
        }
    }

    private static int JsonBytes(ResultRecord r) => System.Text.Encoding.UTF8.GetByteCount(JsonSerializer.Serialize(r, Json));

    private static string Shorten(string text, int chars) =>
        text.Length <= chars ? text : text[..chars] + $" [{text.Length - chars} more characters]";

    /// <summary>Unique per test × host inside one merged report.</summary>
    [JsonIgnore]
    public string Key => $"{Test}|{Host}";

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>The record as JSON, never larger than <see cref="GuestLimits.RecordBytes"/> (see <see cref="WithinLimit"/>).</summary>
    public string ToJson() => JsonSerializer.Serialize(WithinLimit(), Json);

    /// <summary>The record at RESULTS/&lt;host&gt;/&lt;test&gt;.json, written atomically.</summary>
    public string WriteTo(string resultsDir)
    {
        string path = PathIn(resultsDir, Host, Test);
        AtomicFile.WriteAllText(path, ToJson());
        return path;
    }

    public static string PathIn(string resultsDir, string host, string test) => Path.Combine(resultsDir, host, test + ".json");

    /// <summary>Null when the text is not a result record of this schema.</summary>
    public static ResultRecord? Parse(string json)
    {
        try
        {
            var r = JsonSerializer.Deserialize<ResultRecord>(json, Json);
            return r is not null && r.Schema == SchemaId ? r : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

/// <summary>Whole-file writes that a kill cannot leave half done: write a temporary file beside it, then rename.</summary>
public static class AtomicFile
{
    public static void WriteAllText(string path, string text, System.Text.Encoding? encoding = null) =>
        WriteAllBytes(path, (encoding ?? new System.Text.UTF8Encoding(false)).GetBytes(text));

    public static void WriteAllBytes(string path, byte[] bytes)
    {
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string tmp = $"{full}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var f = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write))
            {
                f.Write(bytes);
                f.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }
}
