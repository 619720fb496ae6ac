using System.CommandLine;
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
    /// <summary>What --replay names: a shrunk case file, or a case seed (the case is generated again for --area).</summary>
    public readonly record struct ReplayTarget(string? File, ulong CaseSeed)
    {
        public static bool TryParse(string text, out ReplayTarget target)
        {
            target = default;
            if (System.IO.File.Exists(text)) { target = new ReplayTarget(text, 0); return true; }
            if (Directory.Exists(text)) return false;
            if (!CommandOptions.TryParseNumber(text, out ulong seed)) return false;
            target = new ReplayTarget(null, seed);
            return true;
        }
    }

    private const string DefaultArea = "all", DefaultHost = "sim";
    private const int DefaultBatch = 250;

    public static Command Command(TextWriter stdout, TextWriter stderr)
    {
        var area = CommandOptions.Choice("--area", "what to fuzz", DefaultArea, "evtchn", "vcpu", "sched", "console", "version", "all");
        var cases = CommandOptions.WholeNumber("--cases", "sequences to run", 1000, 1, 10_000_000);
        var seed = CommandOptions.Seed("--seed", "run seed: it fixes every case of the run (case i has its own case seed, printed on failure)", 0x5EED);
        var host = CommandOptions.Choice("--host", "sim: simulator vs model; xen: real Xen vs model; both: also sim vs real Xen", DefaultHost, "sim", "xen", "both");
        var batch = CommandOptions.WholeNumber("--batch", "sequences per boot", DefaultBatch, 1, 2000);
        var replay = new Option<ReplayTarget?>("--replay")
        {
            Description = "run one saved case file, or one case seed (generated for --area), and print every record and a verdict",
            HelpName = "FILE|SEED",
            CustomParser = r =>
            {
                if (r.Tokens.Count == 0) return null;
                string text = r.Tokens[^1].Value;
                if (ReplayTarget.TryParse(text, out var target)) return target;
                r.AddError(Directory.Exists(text)
                    ? $"--replay: '{text}' is a folder, not a case file"
                    : $"--replay: there is no case file '{text}', and it is not a case seed (a number, decimal or 0x hex) either");
                return null;
            },
        };
        var results = CommandOptions.TextWithDefault("--results", "where fuzz-summary.json and the shrunk cases (fuzz/*.case) go", "DIR", "results");
        var xen = CommandOptions.TextWithDefault("--xen", "hypervisor image for --host xen|both", "PATH", XenBuild.DebianDefault);
        var qemu = CommandOptions.TextWithDefault("--qemu", "qemu-system-x86_64 to use", "PATH", RunOptions.DefaultQemu);
        var timeout = CommandOptions.Seconds("--timeout", "per-boot limit on real Xen", 300);
        var command = new Command("fuzz", "Property-based hypercall fuzzing: sequences from FsCheck generators, checked against a model " +
                                          "(and the simulator against real Xen); failures are shrunk and saved as case files")
        {
            area, cases, seed, host, batch, replay, results, xen, qemu, timeout,
        };
        command.SetAction(r => Run(new FuzzRequest(r.GetValue(area)!, r.GetValue(cases), r.GetValue(seed) ?? 0x5EED, r.GetValue(host)!, r.GetValue(batch),
            r.GetValue(replay), r.GetValue(results)!, r.GetValue(xen)!, r.GetValue(qemu)!, TimeSpan.FromSeconds(r.GetValue(timeout))), stdout, stderr));
        return command;
    }

    /// <summary>The fuzz command line, checked.</summary>
    public sealed record FuzzRequest(string Area, int Cases, ulong Seed, string Host, int Batch, ReplayTarget? Replay, string Results,
        string Xen, string Qemu, TimeSpan Timeout);

    public static int Run(FuzzRequest o, TextWriter stdout, TextWriter stderr)
    {
        var area = o.Area switch
        {
            "evtchn" => FuzzArea.Evtchn,
            "vcpu" => FuzzArea.Vcpu,
            "sched" => FuzzArea.Sched,
            "console" => FuzzArea.Console,
            "version" => FuzzArea.Version,
            _ => FuzzArea.All,
        };
        var hosts = o.Host switch
        {
            "xen" => FuzzHosts.Xen,
            "both" => FuzzHosts.Both,
            _ => FuzzHosts.Sim,
        };
        XenHost? xen = null;
        if (hosts != FuzzHosts.Sim)
        {
            xen = new XenHost(new XenHostOptions { Xen = o.Xen, Qemu = o.Qemu, Timeout = o.Timeout });
            xen.Validate();
        }
        string results = o.Results;

        if (o.Replay is { } replay) return Replay(replay, o.Area, area, hosts, xen, stdout);

        var settings = new FuzzSettings
        {
            Area = area,
            Cases = o.Cases,
            Seed = o.Seed,
            Hosts = hosts,
            Batch = o.Batch,
            Xen = xen,
            ResultsDir = results,
        };
        string areaName = area.ToString().ToLowerInvariant(), hostName = hosts.ToString().ToLowerInvariant();
        stdout.WriteLine($"fuzz: area {areaName}, {settings.Cases} cases, seed 0x{settings.Seed:x}, host {hostName}, batch {settings.Batch}");
        bool live = !Console.IsOutputRedirected && ReferenceEquals(stdout, Console.Out);
        var campaign = new FuzzCampaign(settings);
        campaign.Progress += p =>
        {
            string line = $"fuzz: {p.Cases}/{p.Total} cases, {p.Failures} failing, {p.Boots} boots, {p.CasesPerMinute:0} cases/min";
            if (live) stdout.Write("\r" + line.PadRight(78));
            else stdout.WriteLine(line);
        };

        // SIGINT, SIGTERM, SIGHUP or a dead parent stop the campaign as they stop xtf run (RunInterruption).
        using var interruption = RunInterruption.Listen();
        FuzzSummary summary;
        try
        {
            summary = campaign.RunAsync(interruption.Token).GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (interruption.IsInterrupted)
        {
            if (live) stdout.WriteLine();
            stderr.WriteLine($"xtf fuzz: interrupted by {interruption.Cause}; no verdict (re-run: xtf fuzz --area {areaName} --cases {settings.Cases} --seed 0x{settings.Seed:x})");
            return interruption.ExitCode;
        }
        if (live) stdout.WriteLine();
        foreach (var f in summary.Failures)
        {
            stdout.WriteLine($"FAIL {f.Kind}, case seed 0x{f.CaseSeed:x}, step {f.Step}: expected '{f.Expected}', got '{f.Actual}'");
            stdout.WriteLine($"  shrunk {f.OriginalSteps} -> {f.Shrunk.Steps.Count} steps:");
            foreach (var step in f.Shrunk.Steps) stdout.WriteLine("    " + step);
            string onHost = ReplayHost(f.Kind, hosts) is { } h ? $" --host {h}" : "";
            stdout.WriteLine(f.File is not null
                ? $"  replay: xtf fuzz --replay {f.File}{onHost}   (or the case seed: xtf fuzz --area {areaName} --replay 0x{f.CaseSeed:x}{onHost})"
                : $"  replay: xtf fuzz --area {areaName} --replay 0x{f.CaseSeed:x}{onHost}");
        }
        foreach (var p in summary.RunProblems) stdout.WriteLine("PROBLEM " + p);
        stdout.WriteLine($"fuzz: {summary.Cases} cases, {summary.Steps} steps, {summary.Boots} boots in {summary.ElapsedSeconds:0.0} s " +
                         $"({summary.CasesPerMinute:0} cases/min); {summary.Failures.Count} failing; trace {summary.TraceHash[..16]}; " +
                         $"summary in {Path.GetFullPath(Path.Combine(results, FuzzCampaign.SummaryFile))}");
        // The run seed fixes every case of the run: this command runs the same cases again, clean or not.
        stdout.WriteLine($"fuzz: {(summary.Clean ? "clean" : summary.Failures.Count > 0 ? $"{summary.Failures.Count} failing" : "records lost")}; run seed 0x{settings.Seed:x}; " +
                         $"run it again: {RerunCommand(areaName, settings.Cases, settings.Seed, hostName, settings.Batch)}");
        if (summary.Failures.Any(f => f.Kind.StartsWith("sim-vs", StringComparison.Ordinal))) return ExitCodes.Diverged;
        if (summary.Failures.Count > 0) return ExitCodes.Failure;
        return summary.RunProblems.Count > 0 ? ExitCodes.Crash : ExitCodes.Success;
    }

    /// <summary>
    /// A replay's verdict line and exit code: DIVERGED (7) at the first step where the simulator and
    /// real Xen differ, else FAILURE (5) at the first step where a host differs from the model, else
    /// agreement (0).
    /// </summary>
    public static (string Line, int Code) ReplayVerdict(IReadOnlyList<string> model, IReadOnlyList<string?>? sim, IReadOnlyList<string?>? xen)
    {
        static int? FirstDifference(IReadOnlyList<string?> a, IReadOnlyList<string?> b)
        {
            for (int i = 0; i < a.Count; i++)
                if (a[i] != b[i]) return i;
            return null;
        }
        if (sim is not null && xen is not null && FirstDifference(sim, xen) is { } d)
            return ($"replay: DIVERGED: the simulator and real Xen differ at step {d} (exit {ExitCodes.Diverged})", ExitCodes.Diverged);
        int? simDiffers = sim is null ? null : FirstDifference(sim, model);
        int? xenDiffers = xen is null ? null : FirstDifference(xen, model);
        string? who = (simDiffers, xenDiffers) switch
        {
            ({ } s, { } x) when s == x => $"sim and real Xen differ from the model at step {s}",
            ({ } s, { } x) => $"sim differs from the model at step {s}, real Xen at step {x}",
            ({ } s, null) => $"sim differs from the model at step {s}",
            (null, { } x) => $"real Xen differs from the model at step {x}",
            _ => null,
        };
        if (who is not null) return ($"replay: FAILURE: {who} (exit {ExitCodes.Failure})", ExitCodes.Failure);
        string on = (sim, xen) switch { (not null, not null) => "sim and real Xen", (not null, null) => "sim", _ => "real Xen" };
        return ($"replay: agrees with the model: {on}, all {model.Count} steps (exit {ExitCodes.Success})", ExitCodes.Success);
    }

    /// <summary>The command that runs a campaign's cases again (the defaults left out).</summary>
    public static string RerunCommand(string area, int cases, ulong seed, string host, int batch) =>
        $"xtf fuzz --area {area} --cases {cases} --seed 0x{seed:x}" + (host != DefaultHost ? $" --host {host}" : "") + (batch != DefaultBatch ? $" --batch {batch}" : "");

    /// <summary>The host a finding replays on: the simulator's own findings on sim (the default), real Xen's on the run's host.</summary>
    private static string? ReplayHost(string kind, FuzzHosts hosts) =>
        kind == "model-vs-sim" || kind.StartsWith("invariant", StringComparison.Ordinal) || hosts == FuzzHosts.Sim ? null : hosts.ToString().ToLowerInvariant();

    private static int Replay(ReplayTarget what, string areaName, FuzzArea area, FuzzHosts hosts, XenHost? xen, TextWriter stdout)
    {
        FuzzCase c;
        if (what.File is { } file)
        {
            try { c = FuzzCase.Parse(File.ReadAllText(file)); }
            catch (FormatException e) { throw new InputException($"{file}: {e.Message}"); }
            catch (IOException e) { throw new InputException($"cannot read case file {file}: {e.Message}"); }
            if (c.Steps.Count == 0) throw new InputException($"{file}: no steps");
            stdout.WriteLine($"replay: case file {file}, {c.Steps.Count} steps");
        }
        else
        {
            c = FuzzGenerators.Generate(area, what.CaseSeed);
            stdout.WriteLine($"replay: case seed 0x{what.CaseSeed:x} of area {areaName}, {c.Steps.Count} steps");
        }

        var expected = XenModel.Run([c]);
        BatchRun? sim = hosts != FuzzHosts.Xen ? FuzzEngine.RunSim([c]) : null;
        BatchRun? real = xen is null ? null : FuzzEngine.RunHostAsync(xen, [c]).GetAwaiter().GetResult();
        for (int i = 0; i < c.Steps.Count; i++)
        {
            stdout.WriteLine($"step {i}: {c.Steps[i]}");
            stdout.WriteLine($"  model {expected[i]}");
            if (sim is not null)
                stdout.WriteLine($"  sim   {sim.Records[i] ?? "(no record)"}{(sim.Records[i] == expected[i] ? "" : "   <-- differs from the model")}");
            if (real is not null)
                stdout.WriteLine($"  xen   {real.Records[i] ?? "(no record)"}{(real.Records[i] == expected[i] ? "" : "   <-- differs from the model")}");
        }
        foreach (var r in new[] { sim, real })
            if (r?.Problem is { } p) stdout.WriteLine($"{r.Host}: {p}");
        var (verdict, code) = ReplayVerdict(expected[..c.Steps.Count], sim?.Records[..c.Steps.Count], real?.Records[..c.Steps.Count]);
        stdout.WriteLine(verdict);   // last, and it agrees with the exit code
        return code;
    }

}
