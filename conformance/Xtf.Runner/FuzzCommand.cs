using System.Globalization;
using Xtf.Fuzz;
using Xtf.Hosting;
using Xtf.Hosting.Xen;
using Xtf.Sim.Xen;

namespace Xtf.Runner;

/// <summary>
/// xtf fuzz: property-based hypercall fuzzing. Cases come from FsCheck generators by seed, run in
/// batches through the script-executor kernel, and are checked against the model (and, with
/// --host both, the simulator against real Xen). Failures are shrunk and saved as case files.
/// </summary>
public static class FuzzCommand
{
    public const string UsageText = """
        fuzz options:
          --area evtchn|vcpu|sched|console|version|all   what to fuzz (default all)
          --cases N                      sequences to run (default 1000)
          --seed S                       run seed (default 0x5eed); case i has its own seed, printed on failure
          --host sim|xen|both            sim: simulator vs model; xen: real Xen vs model; both: also sim vs real Xen
          --batch N                      sequences per boot (default 250)
          --replay FILE|SEED             run one saved case file or case seed and print every record
          --results DIR                  fuzz-summary.json and shrunk cases (results/fuzz/*.case); default ./results
          exit codes: 0 clean, 5 model disagreement, 7 sim and real Xen diverged, 6 a boot lost records
        """;

    public static int Run(Options o, TextWriter stdout, TextWriter stderr)
    {
        var area = o.Get("area") switch
        {
            null or "all" => FuzzArea.All,
            "evtchn" => FuzzArea.Evtchn,
            "vcpu" => FuzzArea.Vcpu,
            "sched" => FuzzArea.Sched,
            "console" => FuzzArea.Console,
            "version" => FuzzArea.Version,
            var bad => throw new UsageException($"--area must be evtchn, vcpu, sched, console, version or all, not '{bad}'"),
        };
        var hosts = o.Get("host") switch
        {
            null or "sim" => FuzzHosts.Sim,
            "xen" => FuzzHosts.Xen,
            "both" => FuzzHosts.Both,
            var bad => throw new UsageException($"--host must be sim, xen or both, not '{bad}'"),
        };
        XenHost? xen = null;
        if (hosts != FuzzHosts.Sim)
        {
            xen = new XenHost(new XenHostOptions
            {
                Xen = o.Get("xen") ?? XenBuild.DebianDefault,
                Qemu = o.Get("qemu") ?? "qemu-system-x86_64",
                Timeout = TimeSpan.FromSeconds(o.GetSeconds("timeout", 300)),
            });
            xen.Validate();
        }
        string results = o.Get("results") ?? "results";

        if (o.Get("replay") is { } replay) return Replay(replay, area, hosts, xen, stdout);

        var settings = new FuzzSettings
        {
            Area = area,
            Cases = o.GetInt("cases", 1000, 1, 10_000_000),
            Seed = ParseNumber(o.Get("seed"), 0x5EED, "--seed"),
            Hosts = hosts,
            Batch = o.GetInt("batch", 250, 1, 2000),
            Xen = xen,
            ResultsDir = results,
        };
        stdout.WriteLine($"fuzz: area {area.ToString().ToLowerInvariant()}, {settings.Cases} cases, seed 0x{settings.Seed:x}, host {hosts.ToString().ToLowerInvariant()}, batch {settings.Batch}");
        bool live = !Console.IsOutputRedirected && ReferenceEquals(stdout, Console.Out);
        var campaign = new FuzzCampaign(settings);
        campaign.Progress += p =>
        {
            string line = $"fuzz: {p.Cases}/{p.Total} cases, {p.Failures} failing, {p.Boots} boots, {p.CasesPerMinute:0} cases/min";
            if (live) stdout.Write("\r" + line.PadRight(78));
            else stdout.WriteLine(line);
        };

        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
        Console.CancelKeyPress += onCancel;
        FuzzSummary summary;
        try
        {
            summary = campaign.RunAsync(cancel.Token).GetAwaiter().GetResult();
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
        if (live) stdout.WriteLine();
        foreach (var f in summary.Failures)
        {
            stdout.WriteLine($"FAIL {f.Kind}, case seed 0x{f.CaseSeed:x}, step {f.Step}: expected '{f.Expected}', got '{f.Actual}'");
            stdout.WriteLine($"  shrunk {f.OriginalSteps} -> {f.Shrunk.Steps.Count} steps:");
            foreach (var step in f.Shrunk.Steps) stdout.WriteLine("    " + step);
            if (f.File is not null) stdout.WriteLine($"  replay: xtf fuzz --replay {f.File}");
        }
        foreach (var p in summary.RunProblems) stdout.WriteLine("PROBLEM " + p);
        stdout.WriteLine($"fuzz: {summary.Cases} cases, {summary.Steps} steps, {summary.Boots} boots in {summary.ElapsedSeconds:0.0} s " +
                         $"({summary.CasesPerMinute:0} cases/min); {summary.Failures.Count} failing; trace {summary.TraceHash[..16]}; " +
                         $"summary in {Path.GetFullPath(Path.Combine(results, FuzzCampaign.SummaryFile))}");
        if (summary.Failures.Any(f => f.Kind.StartsWith("sim-vs", StringComparison.Ordinal))) return ExitCodes.Diverged;
        if (summary.Failures.Count > 0) return ExitCodes.Failure;
        return summary.RunProblems.Count > 0 ? ExitCodes.Crash : ExitCodes.Success;
    }

    private static int Replay(string what, FuzzArea area, FuzzHosts hosts, XenHost? xen, TextWriter stdout)
    {
        FuzzCase c;
        if (File.Exists(what))
        {
            try { c = FuzzCase.Parse(File.ReadAllText(what)); }
            catch (FormatException e) { throw new InputException($"{what}: {e.Message}"); }
            if (c.Steps.Count == 0) throw new InputException($"{what}: no steps");
        }
        else c = FuzzGenerators.Generate(area, ParseNumber(what, 0, "--replay (a case file or a seed)"));

        var expected = XenModel.Run([c]);
        BatchRun? sim = hosts != FuzzHosts.Xen ? FuzzEngine.RunSim([c]) : null;
        BatchRun? real = xen is null ? null : FuzzEngine.RunHostAsync(xen, [c]).GetAwaiter().GetResult();
        bool modelDiffers = false, diverged = false;
        for (int i = 0; i < c.Steps.Count; i++)
        {
            stdout.WriteLine($"step {i}: {c.Steps[i]}");
            stdout.WriteLine($"  model {expected[i]}");
            if (sim is not null)
            {
                stdout.WriteLine($"  sim   {sim.Records[i] ?? "(no record)"}{(sim.Records[i] == expected[i] ? "" : "   <-- differs from the model")}");
                modelDiffers |= sim.Records[i] != expected[i];
            }
            if (real is not null)
            {
                stdout.WriteLine($"  xen   {real.Records[i] ?? "(no record)"}{(real.Records[i] == expected[i] ? "" : "   <-- differs from the model")}");
                modelDiffers |= real.Records[i] != expected[i];
                diverged |= sim is not null && sim.Records[i] != real.Records[i];
            }
        }
        foreach (var r in new[] { sim, real })
            if (r?.Problem is { } p) stdout.WriteLine($"{r.Host}: {p}");
        return diverged ? ExitCodes.Diverged : modelDiffers ? ExitCodes.Failure : ExitCodes.Success;
    }

    private static ulong ParseNumber(string? text, ulong fallback, string what)
    {
        if (text is null) return fallback;
        bool hex = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase);
        if (ulong.TryParse(hex ? text[2..] : text, hex ? NumberStyles.HexNumber : NumberStyles.None, CultureInfo.InvariantCulture, out ulong v)) return v;
        throw new UsageException($"{what} must be a number (decimal or 0x hex), not '{text}'");
    }
}
