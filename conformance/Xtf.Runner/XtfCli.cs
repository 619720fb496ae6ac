using System.Diagnostics;
using System.Reflection;
using Xtf.Elf;
using Xtf.Guest;
using Xtf.Hosting;
using Xtf.Hosting.Xen;
using Xtf.Reports;
using Xtf.Sim;

namespace Xtf.Runner;

/// <summary>The xtf command line. Every failure is one line on stderr and a documented exit code.</summary>
public static class XtfCli
{
    public const string Usage = """
        usage: xtf <command> [options]

        commands:
          list [GLOB...]                 list tests (XTF names, e.g. test-pv64-example)
          run [GLOB...] [options]        build and run tests; or run --kernel FILE
          report [RESULTS_DIR...]        merge results folders (shards) into Allure, JUnit, matrix.md, summary.html
          compare BASELINE CANDIDATE     what changed between two results folders; exit 1 if anything regressed
          compare --xen A --xen B [GLOB...]  run the tests on two hypervisors (or --xen-cmdline twice), then compare
          build NAME -o FILE             write one test's kernel image (ELF)
          doctor                         report what is installed for real Xen, with fixes
          bench [--seconds N]            simulator speed: guest instructions/s, example runs/s
                 [--breakdown]           and where one example run's time goes
          fuzz [options]                 property-based hypercall fuzzing (see fuzz options)

        run options:
          --host sim|xen|both            where to run: the simulator (default), real Xen under QEMU,
                                         or both with the transcripts compared (DIVERGED if they differ)
          --seed N                       simulator scheduling seed (default 0x5eed; printed)
          --budget N                     simulator instruction limit per run (default 500000000)
          --kernel FILE                  run a foreign kernel that speaks XTF's console protocol
          --xen PATH                     hypervisor image (default /boot/xen-4.17-amd64.gz; .gz is unpacked)
          --qemu PATH                    qemu-system-x86_64 to use
          --accel tcg|kvm                QEMU accelerator (default tcg)
          --vcpus N                      dom0 vCPUs (dom0_max_vcpus and -smp); default: the test's own
          --jobs N                       QEMU instances in parallel (default: number of CPUs)
          --timeout SECONDS              per-boot limit (default 60); a run that hits it is CRASH "timeout"
          --memory MIB                   guest RAM for QEMU (default 512)
          --xen-cmdline TEXT             extra Xen command-line options
          --results DIR                  where transcripts and result records go (default ./results)
          --shard K/N                    run only shard K of N (tests sorted by name, dealt round-robin)
          --verbose                      print each transcript's guest lines

        exit codes (worst result wins): 0 SUCCESS, 3 SKIP, 4 ERROR, 5 FAILURE, 6 CRASH, 7 DIVERGED;
          2 bad usage or input (unknown option, unreadable or malformed kernel, missing QEMU or Xen);
          1 internal error.
          report: 0 written, 8 written without the Allure HTML (allure or node missing, or allure failed).
          compare: 0 nothing regressed, 1 a new failure or a changed transcript.
        """;

    private static readonly HashSet<string> RunValued =
        ["host", "kernel", "xen", "qemu", "accel", "vcpus", "jobs", "timeout", "memory", "xen-cmdline", "results", "o", "output", "seed", "budget", "seconds",
         "area", "cases", "batch", "replay"];
    private static readonly HashSet<string> RunFlags = ["verbose", "help", "breakdown"];

    /// <summary>Every suite beside the runner (Xtf.Suite.*.dll with [XtfSuite]), found at start-up.</summary>
    public static TestCatalog Catalog { get; } = TestCatalog.Discover();

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        try
        {
            if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
            {
                stdout.WriteLine(Usage + "\n" + FuzzCommand.UsageText);
                return args.Length == 0 ? ExitCodes.Usage : ExitCodes.Success;
            }
            if (args[0] == "--version")
            {
                stdout.WriteLine($"xtf {typeof(XtfCli).Assembly.GetName().Version}");
                return ExitCodes.Success;
            }
            var rest = args.Skip(1).ToList();
            var o = Options.Parse(rest, new HashSet<string>([.. RunValued, .. ReportCommands.Valued]), new HashSet<string>([.. RunFlags, .. ReportCommands.Flags]));
            if (o.Has("help")) { stdout.WriteLine(Usage); return ExitCodes.Success; }
            return args[0] switch
            {
                "report" => ReportCommands.Report(o, stdout, stderr),
                "compare" => ReportCommands.Compare(o, stdout, stderr),
                "list" => List(o, stdout),
                "run" => RunTests(o, stdout, stderr),
                "build" => BuildOne(o, stdout),
                "doctor" => Doctor.Report(o, stdout),
                "bench" => Bench.Run(o, stdout),
                "fuzz" => FuzzCommand.Run(o, stdout, stderr),
                _ => throw new UsageException($"unknown command '{args[0]}'"),
            };
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"xtf: {e.Message} (see xtf --help)");
            return ExitCodes.Usage;
        }
        catch (InputException e)
        {
            stderr.WriteLine($"xtf: {e.Message}");
            return ExitCodes.Usage;
        }
        catch (HostException e)
        {
            stderr.WriteLine($"xtf: {e.Message}");
            return ExitCodes.Usage;
        }
        catch (OperationCanceledException)
        {
            stderr.WriteLine("xtf: interrupted");
            return 130;
        }
        catch (Exception e)
        {
            stderr.WriteLine($"xtf: internal error: {e.GetType().Name}: {e.Message}");
            if (Environment.GetEnvironmentVariable("XTF_DEBUG") == "1") stderr.WriteLine(e);
            return ExitCodes.InternalError;
        }
    }

    private static int List(Options o, TextWriter stdout)
    {
        var cases = Select(o);
        foreach (var c in cases)
            stdout.WriteLine($"{c.FullName,-44} {EnvironmentNames.Slug(c.Environment),-9} {c.Test.Category,-12} {c.Test.Title}");
        return ExitCodes.Success;
    }

    private static IReadOnlyList<TestCase> Select(Options o)
    {
        var cases = Catalog.Select(o.Positional);
        if (cases.Count == 0) throw new UsageException($"no test matches {string.Join(" ", o.Positional)}");
        return cases;
    }

    private static int BuildOne(Options o, TextWriter stdout)
    {
        string output = o.Get("o") ?? o.Get("output") ?? throw new UsageException("build needs -o FILE");
        if (o.Positional.Count != 1) throw new UsageException("build takes exactly one test name");
        var cases = Select(o);
        if (cases.Count != 1) throw new UsageException($"'{o.Positional[0]}' matches {cases.Count} tests");
        var image = cases[0].Build();
        File.WriteAllBytes(output, image.Bytes);
        stdout.WriteLine($"{image.Name}: {image.Bytes.Length} bytes, entry 0x{image.Entry:x}, code 0x{image.CodeBase:x}+0x{image.CodeSize:x} -> {output}");
        return ExitCodes.Success;
    }

    /// <summary>One kernel to run: a suite test or a foreign kernel.</summary>
    private sealed record Planned(string Name, Func<BootRequest> Request, string? SkipReason = null, int? ExpectedShutdown = null,
        string? ExpectedRefusal = null, string Title = "", string Category = "", int Vcpus = 1);

    private static int RunTests(Options o, TextWriter stdout, TextWriter stderr)
    {
        string hostName = o.Get("host") ?? "sim";
        if (hostName is not ("sim" or "xen" or "both")) throw new UsageException($"--host must be sim, xen or both, not '{hostName}'");
        int jobs = o.GetInt("jobs", Environment.ProcessorCount, 1, 64);
        int? vcpus = o.Get("vcpus") is null ? null : o.GetInt("vcpus", 1, 1, 64);
        var timeout = TimeSpan.FromSeconds(o.GetSeconds("timeout", 60));
        string resultsDir = o.Get("results") ?? "results";
        ulong seed = ParseSeed(o.Get("seed"));
        long budget = o.Get("budget") is { } b ? (long.TryParse(b, out long n) && n > 0 ? n : throw new UsageException($"--budget must be a positive number of instructions, not '{b}'")) : 500_000_000;

        var xenOptions = new XenHostOptions
        {
            Xen = o.Get("xen") ?? XenBuild.DebianDefault,
            Qemu = o.Get("qemu") ?? "qemu-system-x86_64",
            Accel = o.Get("accel") is { } accel && accel is "tcg" or "kvm" ? accel
                : o.Get("accel") is { } bad ? throw new UsageException($"--accel must be tcg or kvm, not '{bad}'") : "tcg",
            MemoryMiB = o.GetInt("memory", 512, 128, 65536),
            Timeout = timeout,
            XenCommandLine = o.Get("xen-cmdline"),
        };
        var simOptions = new SimOptions { Seed = seed, MemoryMiB = xenOptions.MemoryMiB, InstructionLimit = budget, XenCommandLine = o.Get("xen-cmdline") };

        var hosts = new List<ITestHost>();
        if (hostName is "sim" or "both") hosts.Add(new SimHost(simOptions));
        XenHost? xen = null;
        if (hostName is "xen" or "both")
        {
            xen = new XenHost(xenOptions);
            hosts.Add(xen);
        }

        List<Planned> plan;
        if (o.Get("kernel") is { } kernelPath)
        {
            if (o.Positional.Count > 0) throw new UsageException("--kernel and test names do not mix");
            var foreign = ForeignKernel.Load(kernelPath);
            xen?.Validate();
            string? skip = foreign.Is32Bit && (xen is null || XenConfig.HasPv32(xen.Build.SourcePath) == false)
                ? "32-bit PV kernel, but this Xen is built without CONFIG_PV32" : null;
            plan = [new Planned(foreign.Name, () => new BootRequest(foreign.Name, foreign.Bytes, vcpus ?? 1, timeout), skip,
                Title: $"foreign kernel {kernelPath}", Category: "foreign", Vcpus: vcpus ?? 1)];
        }
        else
        {
            var cases = Select(o);
            if (o.Get("shard") is { } shardText)
            {
                if (!ShardSpec.TryParse(shardText, out var shard)) throw new UsageException($"--shard must be K/N with 1 <= K <= N, not '{shardText}'");
                cases = shard.Select(cases, c => c.FullName);
                stdout.WriteLine($"shard {shard}: {cases.Count} test(s)");
                if (cases.Count == 0) return ExitCodes.Success;
            }
            xen?.Validate();
            plan = cases.Select(c => new Planned(c.FullName, () =>
            {
                var image = c.Build();
                return new BootRequest(c.FullName, image.Bytes, vcpus ?? c.Test.Vcpus, timeout, c.Test.CommandLine);
            }, ExpectedShutdown: c.Test.ExpectedShutdownReason, ExpectedRefusal: c.Test.ExpectedRefusal,
               Title: c.Test.Title, Category: c.Test.Category, Vcpus: vcpus ?? c.Test.Vcpus)).ToList();
        }

        foreach (var h in hosts)
        {
            if (h is XenHost x)
            {
                var xb = x.Build;
                stdout.WriteLine($"host xen: Xen {xb.Version ?? "(version unknown)"}{(xb.Debug is { } d ? d ? " debug=y" : " debug=n" : "")} " +
                                 $"from {xb.SourcePath}; {Doctor.QemuVersionLine(xenOptions.Qemu)}; accel {xenOptions.Accel}; jobs {jobs}");
            }
            else stdout.WriteLine($"host sim: Xen 4.17.7 model; seed 0x{seed:x}; budget {budget} instructions; jobs {jobs}");
        }

        // SIGINT, SIGTERM, SIGHUP or a dead parent: the boots in flight are cancelled and get no
        // verdict, the finished tests keep theirs, and run.json says the run was interrupted.
        using var interruption = RunInterruption.Listen();
        bool terminal = ProgressLine.IsTerminal(stdout);
        var output = new HangupTolerantWriter(stdout);
        var errors = new HangupTolerantWriter(stderr);
        var context = new RunContext(resultsDir, $"0x{seed:x}", xen?.Build.Version, xen is null ? null : Doctor.QemuVersionLine(xenOptions.Qemu),
            xenOptions.XenCommandLine, o.Get("shard"));
        var running = new RunCompletion
        {
            State = RunCompletion.Running,
            Hosts = hosts.Select(h => h.Name).ToList(),
            Planned = plan.Select(p => p.Name).ToList(),
            Start = DateTimeOffset.Now,   // report data only
        };
        running.WriteTo(resultsDir);   // a run killed outright stays "running": reports flag it
        List<Finished>? finished = null;
        bool interrupted = false;
        RunCompletion state;
        try
        {
            finished = Execute(plan, hosts, jobs, context, o.Has("verbose"), output, terminal, interruption.Token);
            interrupted = interruption.IsInterrupted;
        }
        finally
        {
            // Also after an interruption or an internal error: the finished tests' records are valid.
            var done = (finished ?? []).Select(f => f.Name).ToHashSet(StringComparer.Ordinal);
            state = running with
            {
                State = finished is null ? RunCompletion.Aborted : interrupted ? RunCompletion.Interrupted : RunCompletion.Complete,
                Cause = interrupted ? interruption.Cause : null,
                Signal = interrupted ? interruption.Signal : null,
                Finished = running.Planned.Where(done.Contains).ToList(),
                Stop = DateTimeOffset.Now,
            };
            state.WriteTo(resultsDir);
            RunRecords.WriteRunSummaries(resultsDir, output);
        }
        if (interrupted)
        {
            errors.WriteLine($"xtf: run {state.Describe()}; records in {Path.GetFullPath(resultsDir)} ({RunCompletion.FileName}: {RunCompletion.Interrupted})");
            return interruption.ExitCode;
        }
        var counts = finished.GroupBy(x => x.Status).OrderBy(g => g.Key).Select(g => $"{g.Count()} {g.Key.Word()}");
        output.WriteLine($"{finished.Count} test(s): {string.Join(", ", counts)}; transcripts in {Path.GetFullPath(resultsDir)}");
        return ExitCodes.Worst(finished.Select(x => x.Status));
    }

    private static ulong ParseSeed(string? text)
    {
        if (text is null) return SimOptions.DefaultSeed;
        bool hex = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase);
        if (ulong.TryParse(hex ? text[2..] : text, hex ? System.Globalization.NumberStyles.HexNumber : System.Globalization.NumberStyles.None,
                System.Globalization.CultureInfo.InvariantCulture, out ulong seed)) return seed;
        throw new UsageException($"--seed must be a number (decimal or 0x hex), not '{text}'");
    }

    private sealed record Finished(string Name, TestStatus Status);

    /// <summary>What every result record of one run shares.</summary>
    internal sealed record RunContext(string ResultsDir, string Seed, string? XenVersion, string? QemuVersion, string? XenCommandLine, string? Shard)
    {
        public RunInfo Info => new(Seed, XenVersion, QemuVersion, XenCommandLine, Shard);
    }

    /// <summary>
    /// Runs the plan. A test finishes when every host has its transcript before <paramref name="cancel"/>
    /// fires; only then are its transcripts and records written. On cancellation the boots in flight and
    /// the tests not started end without a record; the finished ones are returned.
    /// </summary>
    private static List<Finished> Execute(List<Planned> plan, List<ITestHost> hosts, int jobs, RunContext context, bool verbose,
        TextWriter stdout, bool terminal, CancellationToken cancel)
    {
        string resultsDir = context.ResultsDir;
        var progress = new ProgressLine(stdout, plan.Count, terminal);
        var gate = new SemaphoreSlim(jobs);
        foreach (var h in hosts) Directory.CreateDirectory(Path.Combine(resultsDir, h.Name));
        int width = Math.Max(40, plan.Max(p => p.Name.Length) + 2);

        async Task<(Transcript, TestOutcome, DateTimeOffset)> RunOn(ITestHost host, BootRequest request, int? expectedShutdown, string? expectedRefusal)
        {
            await gate.WaitAsync(cancel);
            try
            {
                cancel.ThrowIfCancellationRequested();
                progress.Started(request.Name);
                var started = DateTimeOffset.Now;   // report data only: never reaches the simulator
                var transcript = await host.BootAsync(request, cancel);
                var outcome = ConsoleProtocol.Evaluate(transcript);
                if (expectedRefusal is not null) return (transcript, outcome.ExpectRefusal(expectedRefusal), started);
                return (transcript, expectedShutdown is { } reason ? outcome.ExpectShutdown(reason) : outcome, started);
            }
            finally
            {
                gate.Release();
            }
        }

        var tasks = plan.Select(async p =>
        {
            if (p.SkipReason is not null)
            {
                progress.Finished(false, [$"{p.Name.PadRight(width)} {"SKIP",-8} {0,6:0.00}s  {p.SkipReason}"]);
                return new Finished(p.Name, TestStatus.Skip);
            }
            var request = p.Request();
            var runs = await Task.WhenAll(hosts.Select(h => RunOn(h, request, p.ExpectedShutdown, p.ExpectedRefusal)));
            // A host that does not watch the token (the simulator) may finish after the interruption:
            // the test still counts as unfinished, like the boots that were cut off.
            cancel.ThrowIfCancellationRequested();
            foreach (var (transcript, _, _) in runs)
            {
                string stem = Path.Combine(resultsDir, transcript.Host, request.Name);
                AtomicFile.WriteAllText(stem + ".log", transcript.Log, System.Text.Encoding.Latin1);
                if (transcript.Trace is { } trace) AtomicFile.WriteAllText(stem + ".trace", trace);
            }
            var outcomes = runs.Select(x => x.Item2).ToArray();
            string line;
            TestStatus status;
            string? diff = null;
            if (outcomes.Length == 1)
            {
                var x = outcomes[0];
                status = x.Status;
                line = $"{p.Name.PadRight(width)} {x.StatusText,-8} {x.Elapsed.TotalSeconds,6:0.00}s" + (x.Message.Length > 0 ? "  " + x.Message : "");
            }
            else
            {
                var sim = outcomes.Single(x => x.Host == "sim");
                var xen = outcomes.Single(x => x.Host == "xen");
                diff = Divergence.Compare(xen, sim);
                status = diff is null ? xen.Status : TestStatus.Diverged;
                string word = diff is null ? xen.StatusText : "DIVERGED";
                line = $"{p.Name.PadRight(width)} {word,-8} sim {sim.Elapsed.TotalSeconds,5:0.00}s  xen {xen.Elapsed.TotalSeconds,5:0.00}s  " +
                       (diff is null ? "transcripts agree" : "transcripts differ") + (xen.Message.Length > 0 ? "  " + xen.Message : "");
            }
            foreach (var (_, outcome, started) in runs)
                RunRecords.For(outcome, started, p.Title, p.Category, request.Vcpus, context, hosts.Count > 1 ? diff : null, hosts.Count > 1).WriteTo(resultsDir);
            var printed = new List<string> { line };
            if (diff is not null) printed.AddRange(diff.Split('\n').Select(d => "    " + d));
            if (verbose) printed.AddRange(outcomes[0].GuestLines.Select(l => "    | " + l));
            progress.Finished(status > TestStatus.Skip, printed);
            return new Finished(p.Name, status);
        }).ToArray();
        try
        {
            // Every task ends: a cancelled boot kills its QEMU and deletes its folder before it throws.
            Task.WhenAll(tasks).GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
        }
        finally
        {
            progress.Clear();
        }
        return tasks.Where(t => t.IsCompletedSuccessfully).Select(t => t.Result).ToList();
    }
}
