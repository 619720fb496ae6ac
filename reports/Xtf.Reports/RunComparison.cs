using System.Globalization;
using System.Text;

namespace Xtf.Reports;

/// <summary>One difference between a baseline and a candidate run of the same test × host.</summary>
public sealed record Change(string Test, string Host, string Baseline, string Candidate, string? Detail = null);

/// <summary>
/// What changed between two runs (two hypervisor builds, or two command lines), per test × host:
/// <list type="bullet">
/// <item>new failures: the report status got worse (SUCCESS → FAILURE, SKIP → ERROR, agreeing → DIVERGED ...);</item>
/// <item>fixed: the status got better;</item>
/// <item>changed transcripts: same status, different guest lines (or, on the simulator, a different trace hash);</item>
/// <item>changed timings beyond noise (see <see cref="TimingRule"/>);</item>
/// <item>tests present in only one run.</item>
/// </list>
/// A regression is a new failure or a changed transcript. Timings and tests in only one run are listed
/// but do not count: a timing changes with the machine's load, and a shard or a glob changes the set.
/// A run that did not complete (interrupted) is flagged in <see cref="IncompleteRuns"/>: its missing
/// tests are not a comparison, so `xtf compare` exits non-zero for it.
/// </summary>
public sealed class RunComparison
{
    /// <summary>
    /// Noise rule for timings: a change counts only when the slower run took at least
    /// <see cref="Ratio"/> times the faster one AND the two differ by at least <see cref="MinSeconds"/>.
    /// Measured: a real-Xen boot takes 1.2–2.1 s on a 2-core machine depending on load (ratio 1.75, 0.9 s).
    /// </summary>
    public sealed record TimingRule(double Ratio = 2.0, double MinSeconds = 1.0)
    {
        public bool Changed(double a, double b)
        {
            double slow = Math.Max(a, b), fast = Math.Min(a, b);
            return slow - fast >= MinSeconds && slow >= fast * Ratio;
        }
    }

    public List<Change> NewFailures { get; } = [];
    public List<Change> Fixed { get; } = [];
    public List<Change> ChangedTranscripts { get; } = [];
    public List<Change> ChangedTimings { get; } = [];
    public List<Change> OnlyInBaseline { get; } = [];
    public List<Change> OnlyInCandidate { get; } = [];
    public int Compared { get; private set; }
    /// <summary>"INTERRUPTED: candidate DIR: run interrupted by SIGTERM: ..." for each side whose run did not complete.</summary>
    public List<string> IncompleteRuns { get; } = [];

    public bool Regressed => NewFailures.Count > 0 || ChangedTranscripts.Count > 0;

    public static RunComparison Compare(ResultSet baseline, ResultSet candidate, TimingRule? timing = null)
    {
        timing ??= new TimingRule();
        var c = new RunComparison();
        foreach (var (side, set) in new[] { ("baseline", baseline), ("candidate", candidate) })
            c.IncompleteRuns.AddRange(set.Incomplete.Select(r => $"{r.State.Word}: {side} {r.Folder}: run {r.State.Describe()}"));
        var cand = candidate.Results.ToDictionary(r => r.Record.Key, StringComparer.Ordinal);
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var b in baseline.Results)
        {
            var x = b.Record;
            keys.Add(x.Key);
            if (!cand.TryGetValue(x.Key, out var y))
            {
                c.OnlyInBaseline.Add(new Change(x.Test, x.Host, x.ReportStatus, "—"));
                continue;
            }
            c.Compared++;
            var r = y.Record;
            int before = StatusWords.Rank(x.ReportStatus), after = StatusWords.Rank(r.ReportStatus);
            if (after > before) c.NewFailures.Add(new Change(x.Test, x.Host, x.ReportStatus, r.ReportStatus, r.Diff ?? (r.Message.Length > 0 ? r.Message : null)));
            else if (after < before) c.Fixed.Add(new Change(x.Test, x.Host, x.ReportStatus, r.ReportStatus));
            else if (!x.GuestLines.SequenceEqual(r.GuestLines))
                c.ChangedTranscripts.Add(new Change(x.Test, x.Host, x.ReportStatus, r.ReportStatus, LineDiff(x.GuestLines, r.GuestLines)));
            else if (x.TraceHash is not null && r.TraceHash is not null && x.TraceHash != r.TraceHash)
                c.ChangedTranscripts.Add(new Change(x.Test, x.Host, x.ReportStatus, r.ReportStatus,
                    $"same console lines, simulator trace hash {x.TraceHash[..12]} -> {r.TraceHash[..12]}"));
            if (timing.Changed(x.Seconds, r.Seconds))
                c.ChangedTimings.Add(new Change(x.Test, x.Host, Secs(x.Seconds), Secs(r.Seconds)));
        }
        foreach (var y in candidate.Results.Where(r => !keys.Contains(r.Record.Key)))
            c.OnlyInCandidate.Add(new Change(y.Record.Test, y.Record.Host, "—", y.Record.ReportStatus));
        return c;
    }

    private static string Secs(double s) => s.ToString("0.00", CultureInfo.InvariantCulture) + "s";

    /// <summary>A short line diff: "-" baseline, "+" candidate, at most 20 differing positions.</summary>
    public static string LineDiff(IReadOnlyList<string> a, IReadOnlyList<string> b)
    {
        var lines = new List<string>();
        int n = Math.Max(a.Count, b.Count);
        for (int i = 0, shown = 0; i < n && shown < 20; i++)
        {
            string? x = i < a.Count ? a[i] : null, y = i < b.Count ? b[i] : null;
            if (x == y) continue;
            if (x is not null) lines.Add("- " + x);
            if (y is not null) lines.Add("+ " + y);
            shown++;
        }
        return string.Join("\n", lines);
    }

    public string Render(string baselineName, string candidateName)
    {
        var sb = new StringBuilder();
        sb.Append($"baseline {baselineName}\ncandidate {candidateName}\n");
        void Section(string title, List<Change> list, Func<Change, string> line)
        {
            sb.Append($"{title}: {list.Count}\n");
            foreach (var ch in list)
            {
                sb.Append("  ").Append(line(ch)).Append('\n');
                if (ch.Detail is not null) foreach (var d in ch.Detail.Split('\n')) sb.Append("      ").Append(d).Append('\n');
            }
        }
        Section("new failures", NewFailures, x => $"{x.Test} [{x.Host}]: {x.Baseline} -> {x.Candidate}");
        Section("fixed", Fixed, x => $"{x.Test} [{x.Host}]: {x.Baseline} -> {x.Candidate}");
        Section("changed transcripts", ChangedTranscripts, x => $"{x.Test} [{x.Host}] ({x.Candidate})");
        Section("changed timings (beyond 2x and 1 s)", ChangedTimings, x => $"{x.Test} [{x.Host}]: {x.Baseline} -> {x.Candidate}");
        Section("only in baseline", OnlyInBaseline, x => $"{x.Test} [{x.Host}] ({x.Baseline})");
        Section("only in candidate", OnlyInCandidate, x => $"{x.Test} [{x.Host}] ({x.Candidate})");
        foreach (var x in IncompleteRuns) sb.Append(x).Append('\n');
        sb.Append(Regressed
            ? $"REGRESSED: {NewFailures.Count} new failure(s), {ChangedTranscripts.Count} changed transcript(s) in {Compared} compared runs\n"
            : $"no regression in {Compared} compared runs\n");
        return sb.ToString();
    }
}

/// <summary>
/// --shard K/N: the selected tests sorted by name (ordinal) and dealt round-robin; shard K (1-based)
/// takes positions K-1, K-1+N, K-1+2N, ... The same selection always gives the same partition, the N
/// shards are disjoint, cover every test, and differ in size by at most one.
/// </summary>
public readonly record struct ShardSpec(int Index, int Count)
{
    public static bool TryParse(string text, out ShardSpec shard)
    {
        shard = default;
        int slash = text.IndexOf('/');
        if (slash <= 0) return false;
        if (!int.TryParse(text.AsSpan(0, slash), NumberStyles.None, CultureInfo.InvariantCulture, out int k)) return false;
        if (!int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int n)) return false;
        if (n < 1 || n > 1000 || k < 1 || k > n) return false;
        shard = new ShardSpec(k, n);
        return true;
    }

    public IReadOnlyList<T> Select<T>(IEnumerable<T> items, Func<T, string> name)
    {
        int n = Count, k = Index;
        return items.OrderBy(name, StringComparer.Ordinal).Where((_, i) => i % n == k - 1).ToList();
    }

    public override string ToString() => $"{Index}/{Count}";
}
