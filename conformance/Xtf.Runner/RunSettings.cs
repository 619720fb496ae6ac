using Xtf.Hosting;
using System.CommandLine;
using Xtf.Hosting.Xen;
using Xtf.Reports;
using Xtf.Sim;
using static Xtf.Runner.CommandOptions;

namespace Xtf.Runner;

/// <summary>What `xtf run` was asked to do, checked.</summary>
internal sealed record RunSettings
{
    public IReadOnlyList<string> Tests { get; init; } = [];
    public string Host { get; init; } = "sim";
    /// <summary>--kernel FILE, given once or more: foreign kernels instead of suite tests.</summary>
    public IReadOnlyList<string> Kernels { get; init; } = [];
    /// <summary>--kernel-dir DIR: every kernel of a folder (XTF's tests/&lt;name&gt;/test-&lt;env&gt;-&lt;name&gt; or flat); Tests are globs over them.</summary>
    public string? KernelDir { get; init; }
    public ulong Seed { get; init; } = SimOptions.DefaultSeed;
    public long Budget { get; init; } = RunOptions.DefaultBudget;
    public string Xen { get; init; } = XenBuild.DebianDefault;
    public string Qemu { get; init; } = RunOptions.DefaultQemu;
    public string Accel { get; init; } = "tcg";
    public int? Vcpus { get; init; }
    public int Jobs { get; init; } = Environment.ProcessorCount;
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(120);
    public int MemoryMiB { get; init; } = 512;
    public string? XenCommandLine { get; init; }
    public string ResultsDir { get; init; } = "results";
    public ShardSpec? Shard { get; init; }
    public bool Verbose { get; init; }
    /// <summary>--mask REGEX: per-boot values hidden before --host both compares.</summary>
    public LineMask Mask { get; init; } = LineMask.None;
}

/// <summary>
/// The options of `xtf run`. `xtf compare --xen A --xen B` declares the ones it passes on to its two
/// runs (<see cref="PassedOnByCompare"/>) from the same definitions.
/// </summary>
internal sealed class RunOptions
{
    public const long DefaultBudget = 500_000_000;
    public const string DefaultQemu = "qemu-system-x86_64";

    public readonly Option<string> Host = Choice("--host", "where to run: the simulator, real Xen under QEMU, or both with the transcripts compared (DIVERGED if they differ)",
        "sim", "sim", "xen", "both");
    public readonly Option<ulong?> Seed = CommandOptions.Seed("--seed", "simulator scheduling seed (printed)", SimOptions.DefaultSeed);
    public readonly Option<long> Budget = Count("--budget", "simulator instruction limit per run; a runaway is CRASH \"timeout\"", DefaultBudget, "instructions");
    public readonly Option<string[]> Kernel = new("--kernel")
    {
        Description = "run a foreign kernel (an ELF image) that speaks XTF's console protocol, instead of suite tests; " +
                      "its results go to RESULTS/foreign/<file name>/; given more than once, to RESULTS/foreign/" + ForeignCorpus.KernelsFolderName + "/",
        HelpName = "FILE",
        Arity = ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = false,
    };
    public readonly Option<string?> KernelDir = Text("--kernel-dir", "run every kernel of a folder (XTF's tests/<name>/test-<env>-<name>, or a flat folder: " +
        "every ELF or gzip-compressed ELF file that is not a .o object); TEST globs select among them by file name; results in RESULTS/foreign/<folder name>/", "DIR");
    public readonly Option<string> Xen = TextWithDefault("--xen", "hypervisor image (.gz is unpacked)", "PATH", XenBuild.DebianDefault);
    public readonly Option<string> Qemu = TextWithDefault("--qemu", "qemu-system-x86_64 to use", "PATH", DefaultQemu);
    public readonly Option<string> Accel = Choice("--accel", "QEMU accelerator", "tcg", "tcg", "kvm");
    public readonly Option<int?> Vcpus = OptionalWholeNumber("--vcpus", "dom0 vCPUs (dom0_max_vcpus and -smp); default: the test's own", 1, 64);
    public readonly Option<int?> Jobs = OptionalWholeNumber("--jobs", $"QEMU instances (and simulator runs) in parallel [default: the number of CPUs, {Environment.ProcessorCount} here]", 1, 64);
    public readonly Option<double> Timeout = Seconds("--timeout", "per-boot limit on real Xen; a boot that hits it is CRASH \"timeout\"", 120);
    public readonly Option<int> Memory = WholeNumber("--memory", "guest RAM in MiB", 512, 128, 65536, "MIB");
    public readonly Option<string?> XenCommandLine = Text("--xen-cmdline", "extra Xen command-line options", "TEXT");
    public readonly Option<string> Results = TextWithDefault("--results", "the results folder: each run replaces the records it holds (transcripts, result records, matrix.md, summary.html)",
        "DIR", "results");
    public readonly Option<ShardSpec?> Shard = Optional<ShardSpec>("--shard", "run only shard K of N (tests sorted by name, dealt round-robin); give each shard its own --results",
        "K/N", ShardSpec.TryParse, "K/N with 1 <= K <= N");
    public readonly Option<bool> Verbose = Flag("--verbose", "print each transcript's guest lines");
    public readonly Option<string[]> Mask = new("--mask")
    {
        Description = "with --host both: a value that changes from boot to boot on real Xen (a TSC reading, a calibrated frequency); " +
                      "the regular expression's first group (or whole match) is replaced by " + LineMask.Masked + " in both transcripts before they are compared; may be given more than once",
        HelpName = "REGEX",
        Arity = ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = false,
        Validators = { r => { if (!LineMask.TryCreate(r.Tokens.Select(t => t.Value), out _, out string? e)) r.AddError("--mask: " + e); } },
    };
    public readonly Argument<string[]> Tests = TestNames("tests to run: XTF names or globs (test-pv64-example, 'test-pv64-sched-*', example); default: every test. " +
        "With --kernel-dir: globs over the folder's kernels (file names); default: all of them");

    /// <summary>The options `xtf compare --xen A --xen B` hands to both of its runs.</summary>
    public IEnumerable<Option> PassedOnByCompare => [Qemu, Accel, Jobs, Timeout, Memory, Vcpus, Shard];

    public Command Command(Func<RunSettings, int> run)
    {
        var command = new Command("run", "Build and run suite tests (or foreign kernels: --kernel, --kernel-dir) on the simulator, real Xen or both; one line per test, " +
                                         "a result record per test and host in the results folder")
        {
            Tests, Host, Seed, Budget, Kernel, KernelDir, Xen, Qemu, Accel, Vcpus, Jobs, Timeout, Memory, XenCommandLine, Results, Shard, Verbose, Mask,
        };
        command.SetAction(r => run(Bind(r)));
        return command;
    }

    public RunSettings Bind(ParseResult r) => new()
    {
        Tests = r.GetValue(Tests) ?? [],
        Host = r.GetValue(Host)!,
        Kernels = r.GetValue(Kernel) ?? [],
        KernelDir = r.GetValue(KernelDir),
        Seed = r.GetValue(Seed) ?? SimOptions.DefaultSeed,
        Budget = r.GetValue(Budget),
        Xen = r.GetValue(Xen)!,
        Qemu = r.GetValue(Qemu)!,
        Accel = r.GetValue(Accel)!,
        Vcpus = r.GetValue(Vcpus),
        Jobs = r.GetValue(Jobs) ?? Environment.ProcessorCount,
        Timeout = TimeSpan.FromSeconds(r.GetValue(Timeout)),
        MemoryMiB = r.GetValue(Memory),
        XenCommandLine = r.GetValue(XenCommandLine),
        ResultsDir = r.GetValue(Results)!,
        Shard = r.GetValue(Shard),
        Verbose = r.GetValue(Verbose),
        Mask = LineMask.TryCreate(r.GetValue(Mask) ?? [], out var mask, out _) ? mask : LineMask.None,
    };

    /// <summary>Test names and globs, completed from the catalogue.</summary>
    public static Argument<string[]> TestNames(string description, string name = "TEST")
    {
        var names = Words(name, description);
        names.HelpName = name;   // not the list of every test the completion offers
        names.CompletionSources.Add(_ => XtfCli.Catalog.Cases.Select(c => c.FullName));
        return names;
    }
}
