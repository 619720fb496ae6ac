using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Xtf.Hosting;

namespace Xtf.Fuzz;

public enum FuzzHosts { Sim, Xen, Both }

public sealed record FuzzSettings
{
    public FuzzArea Area { get; init; } = FuzzArea.All;
    public int Cases { get; init; } = 1000;
    public ulong Seed { get; init; } = 0x5EED;
    public FuzzHosts Hosts { get; init; } = FuzzHosts.Sim;
    /// <summary>Cases per boot of the script kernel.</summary>
    public int Batch { get; init; } = 250;
    /// <summary>Real Xen, for <see cref="FuzzHosts.Xen"/> and <see cref="FuzzHosts.Both"/>.</summary>
    public ITestHost? Xen { get; init; }
    public TimeSpan XenTimeout { get; init; } = TimeSpan.FromSeconds(300);
    /// <summary>Fault injection (the fuzzer's own test only).</summary>
    public PlantedBug PlantedBug { get; init; }
    /// <summary>Where shrunk cases and fuzz-summary.json go; null writes nothing.</summary>
    public string? ResultsDir { get; init; }
    /// <summary>Failures shrunk per run (each shrink costs a few boots); later ones are kept as found.</summary>
    public int MaxShrinks { get; init; } = 5;
    /// <summary>Stop after this many failing cases.</summary>
    public int MaxFailures { get; init; } = 20;
}

public sealed record FuzzFailure(string Kind, ulong CaseSeed, int Step, string Expected, string Actual, int OriginalSteps, FuzzCase Shrunk, string? File);

public sealed record FuzzProgress(int Cases, int Total, int Failures, int Boots, TimeSpan Elapsed)
{
    public double CasesPerMinute => Elapsed.TotalSeconds > 0 ? Cases * 60 / Elapsed.TotalSeconds : 0;
}

public sealed record FuzzSummary(
    string Area, string Host, ulong Seed, int Cases, int Steps, int Boots, double ElapsedSeconds, double CasesPerMinute,
    string TraceHash, IReadOnlyList<FuzzFailure> Failures, IReadOnlyList<string> RunProblems)
{
    public bool Clean => Failures.Count == 0 && RunProblems.Count == 0;
}

/// <summary>A fuzzing run: generate cases by seed, run them in batches, check, shrink and save what fails.</summary>
public sealed class FuzzCampaign(FuzzSettings settings)
{
    public const string SummaryFile = "fuzz-summary.json";

    public FuzzSettings Settings { get; } = settings;
    public event Action<FuzzProgress>? Progress;

    public async Task<FuzzSummary> RunAsync(CancellationToken cancellation = default)
    {
        var s = Settings;
        if (s.Hosts != FuzzHosts.Sim && s.Xen is null) throw new ArgumentException("real Xen is needed for --host xen|both");
        var clock = Stopwatch.StartNew();
        var failures = new List<FuzzFailure>();
        var problems = new List<string>();
        var traceHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        int boots = 0, done = 0, steps = 0, shrinks = 0;

        for (int start = 0; start < s.Cases && failures.Count < s.MaxFailures; start += s.Batch)
        {
            cancellation.ThrowIfCancellationRequested();
            int count = Math.Min(s.Batch, s.Cases - start);
            var seeds = Enumerable.Range(start, count).Select(i => FuzzGenerators.CaseSeed(s.Seed, i)).ToArray();
            var cases = seeds.Select(seed => FuzzGenerators.Generate(s.Area, seed)).ToList();
            steps += cases.Sum(c => c.Steps.Count);

            BatchRun? sim = null, xen = null;
            var findings = new List<Finding>();
            if (s.Hosts is FuzzHosts.Sim or FuzzHosts.Both)
            {
                sim = FuzzEngine.RunSim(cases, s.PlantedBug);
                boots++;
                traceHash.AppendData(Encoding.UTF8.GetBytes(sim.RecordHash));
                findings.AddRange(FuzzEngine.Check(cases, sim));
            }
            if (s.Hosts is FuzzHosts.Xen or FuzzHosts.Both)
            {
                xen = await FuzzEngine.RunHostAsync(s.Xen!, cases, s.XenTimeout, cancellation);
                boots++;
                findings.AddRange(FuzzEngine.Check(cases, xen, "model-vs-xen"));
                if (sim is null) traceHash.AppendData(Encoding.UTF8.GetBytes(xen.RecordHash));
                if (sim is not null) findings.AddRange(FuzzEngine.Compare(cases, sim, xen));
            }
            foreach (var f in findings.Where(f => f.Case < 0)) problems.Add($"batch at case {start}: {f.Actual}");

            foreach (var group in findings.Where(f => f.Case >= 0).GroupBy(f => f.Case).OrderBy(g => g.Key))
            {
                if (failures.Count >= s.MaxFailures) break;
                // Divergence from real Xen first; then the earliest symptom (an internal invariant often breaks steps before a record shows it).
                var f = group.OrderBy(x => x.Kind.StartsWith("sim-vs", StringComparison.Ordinal) ? 0 : 1).ThenBy(x => x.Step)
                    .ThenBy(x => x.Kind.StartsWith("invariant", StringComparison.Ordinal) ? 0 : 1).First();
                var original = cases[f.Case];
                var shrunk = original;
                if (shrinks < s.MaxShrinks)
                {
                    shrinks++;
                    var predicate = FailurePredicate(f.Kind, () => boots++, cancellation);
                    if (predicate([original])[0]) shrunk = FuzzEngine.Shrink(original, predicate);
                }
                string? file = s.ResultsDir is null ? null : Save(s, f, seeds[f.Case], original, shrunk);
                failures.Add(new FuzzFailure(f.Kind, seeds[f.Case], f.Step, f.Expected, f.Actual, original.Steps.Count, shrunk, file));
            }
            done += count;
            Progress?.Invoke(new FuzzProgress(done, s.Cases, failures.Count, boots, clock.Elapsed));
        }

        var summary = new FuzzSummary(s.Area.ToString().ToLowerInvariant(), s.Hosts.ToString().ToLowerInvariant(), s.Seed, done, steps, boots,
            Math.Round(clock.Elapsed.TotalSeconds, 3), Math.Round(done * 60 / Math.Max(clock.Elapsed.TotalSeconds, 1e-9)),
            Convert.ToHexString(traceHash.GetHashAndReset()).ToLowerInvariant(), failures, problems);
        if (s.ResultsDir is not null)
        {
            Directory.CreateDirectory(s.ResultsDir);
            File.WriteAllText(Path.Combine(s.ResultsDir, SummaryFile), ToJson(summary));
        }
        return summary;
    }

    /// <summary>Whether each candidate still fails the same way: simulator-only kinds cost one simulator boot per round, real-Xen kinds one real boot.</summary>
    private Func<IReadOnlyList<FuzzCase>, bool[]> FailurePredicate(string kind, Action countBoot, CancellationToken cancellation) => candidates =>
    {
        countBoot();
        if (kind == "model-vs-sim" || kind.StartsWith("invariant", StringComparison.Ordinal))
            return FuzzEngine.FailsOnSim(candidates, Settings.PlantedBug);
        var xen = FuzzEngine.RunHostAsync(Settings.Xen!, candidates, Settings.XenTimeout, cancellation).GetAwaiter().GetResult();
        var found = kind == "model-vs-xen"
            ? FuzzEngine.Check(candidates, xen, kind)
            : FuzzEngine.Compare(candidates, FuzzEngine.RunSim(candidates, Settings.PlantedBug), xen);
        var result = new bool[candidates.Count];
        foreach (var f in found) if (f.Case >= 0) result[f.Case] = true;
        return result;
    };

    private static string Save(FuzzSettings s, Finding f, ulong caseSeed, FuzzCase original, FuzzCase shrunk)
    {
        string dir = Path.Combine(s.ResultsDir!, "fuzz");
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, $"{f.Kind}-{caseSeed:x16}.case");
        string host = f.Kind == "model-vs-sim" || f.Kind.StartsWith("invariant", StringComparison.Ordinal) ? "sim" : "both";
        var text = new StringBuilder()
            .AppendLine($"# xtf fuzz finding: {f.Kind} at step {f.Step}")
            .AppendLine($"#   expected: {f.Expected}")
            .AppendLine($"#   actual:   {f.Actual}")
            .AppendLine($"# area {s.Area.ToString().ToLowerInvariant()}, run seed 0x{s.Seed:x}, case seed 0x{caseSeed:x}; shrunk from {original.Steps.Count} to {shrunk.Steps.Count} steps")
            .AppendLine($"# replay: xtf fuzz --replay {path} --host {host}   (or: xtf fuzz --area {s.Area.ToString().ToLowerInvariant()} --replay 0x{caseSeed:x})")
            .AppendLine(shrunk.ToString());
        File.WriteAllText(path, text.ToString());
        return path;
    }

    public static string ToJson(FuzzSummary summary) => JsonSerializer.Serialize(new
    {
        summary.Area, summary.Host, Seed = $"0x{summary.Seed:x}", summary.Cases, summary.Steps, summary.Boots,
        summary.ElapsedSeconds, summary.CasesPerMinute, summary.TraceHash, summary.Clean,
        Failures = summary.Failures.Select(f => new
        {
            f.Kind, CaseSeed = $"0x{f.CaseSeed:x}", f.Step, f.Expected, f.Actual, f.OriginalSteps,
            ShrunkSteps = f.Shrunk.Steps.Count, Case = f.Shrunk.ToString().Split('\n'), f.File,
        }),
        summary.RunProblems,
    }, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase });
}
