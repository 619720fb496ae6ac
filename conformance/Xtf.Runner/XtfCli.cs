using System.CommandLine;
using System.CommandLine.Invocation;
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
    /// <summary>The overview: `xtf`, `xtf --help`, `xtf help`. Each command's own options: `xtf COMMAND --help`.</summary>
    public const string Usage = """
        usage: xtf <command> [options]          (xtf <command> --help: that command's options)

        commands:
          list [TEST...]                 list tests (XTF names, e.g. test-pv64-example; globs select)
          run [TEST...] [options]        build and run tests on the simulator, real Xen (--host xen) or both;
                                         or run --kernel FILE (a foreign kernel, results in RESULTS/foreign/),
                                         or run --kernel-dir DIR [GLOB...] (every kernel of a folder, e.g. an XTF build)
          build NAME -o FILE             write one test's kernel image (ELF)
          report [RESULTS_DIR...]        merge results folders (shards) into Allure, JUnit, matrix.md, summary.html
          compare BASELINE CANDIDATE     what changed between two results folders; exit 1 if anything regressed
          compare --xen A --xen B [TEST...]  run the tests on two hypervisors (or --xen-cmdline twice), then compare
          doctor                         report what is installed for real Xen, with fixes
          bench [--seconds N] [--breakdown] [--kernel-dir DIR]  simulator speed: guest instructions/s, example runs/s, corpus passes
          fuzz [options]                 property-based hypercall fuzzing against a model, the simulator and real Xen
          completion bash                print the tab-completion script: eval "$(xtf completion bash)"

        exit codes of run (worst result wins): 0 SUCCESS, 3 SKIP, 4 ERROR, 5 FAILURE, 6 CRASH, 7 DIVERGED;
          2 bad usage or input (unknown command or option, an option the command does not have, a bad value,
            an unreadable or malformed kernel, missing QEMU or Xen), always one line on stderr; 1 internal error;
          128 + signal when interrupted: 130 SIGINT, 143 SIGTERM, 129 SIGHUP or a parent that died.
          report: 0 written, 8 written without the Allure HTML (allure or node missing, or allure failed),
            9 a run it read did not complete (interrupted or killed; wins over 8).
          compare: 0 nothing regressed, 1 a new failure or a changed transcript, 9 a run did not complete.
          fuzz: 0 clean, 5 model disagreement, 7 sim and real Xen diverged, 6 a boot lost records.
        """;

    /// <summary>Every suite beside the runner (Xtf.Suite.*.dll with [XtfSuite]), found at start-up.</summary>
    public static TestCatalog Catalog { get; } = TestCatalog.Discover();

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        string who = "xtf";
        try
        {
            if (args.Length == 0)
            {
                stdout.WriteLine(Usage);
                return ExitCodes.Usage;
            }
            if (args is ["--version"])
            {
                stdout.WriteLine($"xtf {typeof(XtfCli).Assembly.GetName().Version}");
                return ExitCodes.Success;
            }
            if (args[0] == "help") args = [.. args[1..], "--help"];   // xtf help run = xtf run --help
            var root = XtfCommandLine.Build(stdout, stderr);
            var parsed = root.Parse(args, XtfCommandLine.Parser);
            who = XtfCommandLine.Name(parsed.CommandResult.Command);
            if (parsed.Action is ParseErrorAction) throw new UsageException(XtfCommandLine.FirstError(parsed, root));
            if (parsed.Action == parsed.CommandResult.Command.Action && XtfCommandLine.FlagGivenAValue(args, parsed) is { } flagError)
                throw new UsageException(flagError);
            return parsed.Invoke(new InvocationConfiguration
            {
                Output = stdout,
                Error = stderr,
                EnableDefaultExceptionHandler = false,   // every failure is one line below, never a stack trace
                ProcessTerminationTimeout = null,         // the run command handles interruption itself
            });
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"{who}: {e.Message} (see {who} --help)");
            return ExitCodes.Usage;
        }
        catch (InputException e)
        {
            stderr.WriteLine($"{who}: {e.Message}");
            return ExitCodes.Usage;
        }
        catch (HostException e)
        {
            stderr.WriteLine($"{who}: {e.Message}");
            return ExitCodes.Usage;
        }
        catch (OperationCanceledException)
        {
            stderr.WriteLine($"{who}: interrupted");
            return 130;
        }
        catch (Exception e)
        {
            stderr.WriteLine($"{who}: internal error: {e.GetType().Name}: {e.Message}");
            if (Environment.GetEnvironmentVariable("XTF_DEBUG") == "1") stderr.WriteLine(e);
            return ExitCodes.InternalError;
        }
    }

    internal static Command ListCommand(TextWriter stdout)
    {
        var tests = RunOptions.TestNames("tests to list: XTF names or globs; default: every test");
        var command = new Command("list", "List the suite's tests: XTF name, environment, area, title") { tests };
        command.SetAction(r => List(r.GetValue(tests) ?? [], stdout));
        return command;
    }

    internal static Command RunCommand(TextWriter stdout, TextWriter stderr) =>
        new RunOptions().Command(settings => RunTests(settings, stdout, stderr));

    internal static Command BuildCommand(TextWriter stdout)
    {
        var name = RunOptions.TestNames("the test: its XTF name, or a short name that matches exactly one test", "NAME");
        var output = CommandOptions.Text("--output", "the ELF file to write", "FILE", "-o");
        var command = new Command("build", "Write one test's kernel image (ELF with Xen's notes) to a file") { name, output };
        command.SetAction(r => BuildOne(r.GetValue(name) ?? [], r.GetValue(output), stdout));
        return command;
    }

    private static int List(IReadOnlyList<string> globs, TextWriter stdout)
    {
        var cases = Select(globs);
        foreach (var c in cases)
            stdout.WriteLine($"{c.FullName,-44} {EnvironmentNames.Slug(c.Environment),-9} {c.Test.Category,-12} {c.Test.Title}");
        return ExitCodes.Success;
    }

    private static IReadOnlyList<TestCase> Select(IReadOnlyList<string> globs)
    {
        var cases = Catalog.Select(globs);
        if (cases.Count == 0) throw new UsageException($"no test matches {string.Join(" ", globs)}");
        return cases;
    }

    private static int BuildOne(IReadOnlyList<string> names, string? output, TextWriter stdout)
    {
        if (output is null) throw new UsageException("-o FILE is required (where the kernel image goes)");
        if (names.Count != 1) throw new UsageException($"give exactly one test name, not {names.Count}");
        var cases = Select(names);
        if (cases.Count != 1) throw new UsageException($"'{names[0]}' matches {cases.Count} tests");
        var image = cases[0].Build();
        try
        {
            File.WriteAllBytes(output, image.Bytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new InputException($"cannot write {output}: {e.Message}");
        }
        stdout.WriteLine($"{image.Name}: {image.Bytes.Length} bytes, entry 0x{image.Entry:x}, code 0x{image.CodeBase:x}+0x{image.CodeSize:x} -> {output}");
        return ExitCodes.Success;
    }

    /// <summary>One kernel to run: a suite test or a foreign kernel.</summary>
    private sealed record Planned(string Name, Func<BootRequest> Request, string? SkipReason = null, int? ExpectedShutdown = null,
        string? ExpectedRefusal = null, string Title = "", string Category = "", int Vcpus = 1);

    /// <summary>
    /// The foreign kernels of a run, the foreign folder they go to, and whether a refused kernel is bad
    /// input (one --kernel) or a SKIP record (a corpus: --kernel-dir, or --kernel more than once).
    /// </summary>
    private static (string Folder, IReadOnlyList<CorpusKernel> Kernels, bool Strict) ForeignKernels(RunSettings o, TextWriter stdout, TextWriter stderr)
    {
        if (o.KernelDir is { } dir)
        {
            var scan = ForeignCorpus.Find(dir);
            foreach (string file in scan.Unreadable) stderr.WriteLine($"xtf run: warning: cannot read {file}: not part of the corpus");
            var chosen = ForeignCorpus.Select(scan, o.Tests);
            stdout.WriteLine($"corpus {Path.GetFullPath(dir)}: {scan.Describe()}; {chosen.Count} selected");
            return (ForeignCorpus.FolderName(dir), chosen, false);
        }
        if (o.Kernels.Count == 1) return (Path.GetFileName(o.Kernels[0]), [new CorpusKernel(Path.GetFileName(o.Kernels[0]), o.Kernels[0])], true);
        var named = new List<CorpusKernel>();
        foreach (string path in o.Kernels)
        {
            // Named one by one: a file that is no kernel at all is bad input, as with one --kernel.
            if (Directory.Exists(path)) throw new InputException($"cannot read kernel {path}: it is a directory (--kernel-dir runs a folder)");
            if (ForeignCorpus.Classify(path, out string reason) != ForeignCorpus.Kind.Kernel) throw new InputException(reason);
            named.Add(new CorpusKernel(Path.GetFileName(path), path));
        }
        if (named.GroupBy(k => k.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new UsageException($"two --kernel files are named {twice.Key} ({string.Join(" and ", twice.Select(k => k.Path))}); a kernel's name is its file name");
        return (ForeignCorpus.KernelsFolderName, named.OrderBy(k => k.Name, StringComparer.Ordinal).ToList(), false);
    }

    /// <summary>
    /// One foreign kernel to run. Its bytes are read again when it boots (a corpus is not held in
    /// memory). Not strict (a corpus): what ForeignKernel refuses (an image over
    /// the limit) becomes a SKIP record with the reason instead of ending the run.
    /// </summary>
    private static (Planned Plan, bool Is32Bit) PlanForeign(CorpusKernel k, bool strict, int vcpus, TimeSpan timeout, TextWriter stderr)
    {
        var title = $"foreign kernel {k.Path}";
        ForeignKernel foreign;
        try
        {
            foreign = strict ? ForeignKernel.Load(k.Path) : ForeignKernel.Inspect(k.Name, ForeignKernel.ReadKernelFile(k.Path), k.Name);
        }
        catch (InputException e) when (!strict)
        {
            string reason = e.Message.StartsWith(k.Name + ": ", StringComparison.Ordinal) ? e.Message[(k.Name.Length + 2)..]
                : e.Message.StartsWith(k.Path + ": ", StringComparison.Ordinal) ? e.Message[(k.Path.Length + 2)..] : e.Message;
            return (new Planned(k.Name, () => throw new InvalidOperationException("a refused kernel is not booted"), $"not run: {reason}",
                Title: title, Category: "foreign", Vcpus: vcpus), false);
        }
        // One --kernel: the warning names the path; in a corpus it names the kernel.
        foreach (string warning in foreign.Warnings) stderr.WriteLine($"xtf run: warning: {warning}");
        byte[]? bytes = strict ? foreign.Bytes : null;
        bool pvh = foreign.Pvh;
        return (new Planned(k.Name, () => new BootRequest(k.Name, bytes ?? ForeignKernel.ReadKernelFile(k.Path), vcpus, timeout, Pvh: pvh),
            Title: title, Category: "foreign", Vcpus: vcpus), foreign.Is32Bit);
    }

    private static int RunTests(RunSettings o, TextWriter stdout, TextWriter stderr)
    {
        string hostName = o.Host;
        int jobs = o.Jobs;
        int? vcpus = o.Vcpus;
        var timeout = o.Timeout;
        string resultsDir = o.ResultsDir;
        ulong seed = o.Seed;
        long budget = o.Budget;

        var xenOptions = new XenHostOptions
        {
            Xen = o.Xen,
            Qemu = o.Qemu,
            Accel = o.Accel,
            MemoryMiB = o.MemoryMiB,
            Timeout = timeout,
            XenCommandLine = o.XenCommandLine,
        };
        var simOptions = new SimOptions { Seed = seed, MemoryMiB = xenOptions.MemoryMiB, InstructionLimit = budget, XenCommandLine = o.XenCommandLine };

        var hosts = new List<ITestHost>();
        if (hostName is "sim" or "both") hosts.Add(new SimHost(simOptions));
        XenHost? xen = null;
        if (hostName is "xen" or "both")
        {
            xen = new XenHost(xenOptions);
            hosts.Add(xen);
        }

        List<Planned> plan;
        if (o.KernelDir is not null || o.Kernels.Count > 0)
        {
            if (o.KernelDir is not null && o.Kernels.Count > 0) throw new UsageException("--kernel-dir and --kernel do not mix");
            if (o.KernelDir is null && o.Tests.Count > 0) throw new UsageException("--kernel and test names do not mix");
            var (folder, kernels, strict) = ForeignKernels(o, stdout, stderr);
            if (o.Shard is { } shard)
            {
                kernels = shard.Select(kernels, k => k.Name);
                stdout.WriteLine($"shard {shard}: {kernels.Count} kernel(s)");
                if (kernels.Count == 0) return ExitCodes.Success;
            }
            resultsDir = RunRecords.ForeignFolder(resultsDir, folder);   // never among the suite's records
            var planned = kernels.Select(k => PlanForeign(k, strict, vcpus ?? 1, timeout, stderr)).ToList();
            xen?.Validate();
            // A 32-bit PV kernel is booted like any other: a Xen without CONFIG_PV32 says so in its boot log, and that
            // line makes the result a SKIP (ConsoleProtocol.NoPv32Line), on real Xen and on the simulator alike.
            plan = planned.Select(x => x.Plan).ToList();
        }
        else
        {
            var cases = Select(o.Tests);
            if (o.Shard is { } shard)
            {
                cases = shard.Select(cases, c => c.FullName);
                stdout.WriteLine($"shard {shard}: {cases.Count} test(s)");
                if (cases.Count == 0) return ExitCodes.Success;
            }
            xen?.Validate();
            plan = cases.Select(c => new Planned(c.FullName, () =>
            {
                var image = c.Build();
                return new BootRequest(c.FullName, image.Bytes, vcpus ?? c.Test.Vcpus, timeout, c.Test.CommandLine, c.Pvh);
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

        // The folder holds this run only: the previous run's records, transcripts and summaries go first.
        int replaced = RunRecords.ReplacePreviousRun(resultsDir);
        if (replaced > 0) stdout.WriteLine($"results: {Path.GetFullPath(resultsDir)}: the previous run's {replaced} record(s) replaced");

        // SIGINT, SIGTERM, SIGHUP or a dead parent: the boots in flight are cancelled and get no
        // verdict, the finished tests keep theirs, and run.json says the run was interrupted.
        using var interruption = RunInterruption.Listen();
        bool terminal = ProgressLine.IsTerminal(stdout);
        var output = new HangupTolerantWriter(stdout);
        var errors = new HangupTolerantWriter(stderr);
        var context = new RunContext(resultsDir, $"0x{seed:x}", xen?.Build.Version, xen is null ? null : Doctor.QemuVersionLine(xenOptions.Qemu),
            xenOptions.XenCommandLine, o.Shard?.ToString()) { Mask = o.Mask };
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
            finished = Execute(plan, hosts, jobs, context, o.Verbose, output, terminal, interruption.Token);
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

    private sealed record Finished(string Name, TestStatus Status);

    /// <summary>What every result record of one run shares.</summary>
    internal sealed record RunContext(string ResultsDir, string Seed, string? XenVersion, string? QemuVersion, string? XenCommandLine, string? Shard)
    {
        /// <summary>--mask: values that vary per boot, hidden on both hosts before the transcripts are compared.</summary>
        public LineMask Mask { get; init; } = LineMask.None;

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
                // Not booted: a SKIP record per host with the reason, and no transcript.
                var now = DateTimeOffset.Now;   // report data only
                foreach (var h in hosts)
                {
                    var outcome = new TestOutcome(p.Name, h.Name, TestStatus.Skip, false, p.SkipReason, null, [],
                        new Transcript(h.Name, p.Name, "", BootEnd.Shutdown, p.SkipReason, TimeSpan.Zero));
                    (RunRecords.For(outcome, now, p.Title, p.Category, p.Vcpus, context, null, hosts.Count > 1) with { Transcript = "" }).WriteTo(resultsDir);
                }
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
                diff = Divergence.Compare(xen, sim, context.Mask);
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
