using System.CommandLine;
using System.Diagnostics;
using Xtf.Guest;
using Xtf.Hosting;
using Xtf.Sim;

namespace Xtf.Runner;

/// <summary>xtf bench: simulator speed figures (benchmarks, never assertions).</summary>
public static class Bench
{
    /// <summary>A kernel that spends nearly all its time in a loop of loads, adds, stores and a branch.</summary>
    public static KernelImage ComputeLoop(long iterations) => KernelBuilder.Build("bench-compute", "Compute loop", g =>
    {
        var i = g.Var("i");
        var acc = g.Var("acc");
        var buf = g.Alloc(64);
        g.For(i, 0, iterations, () =>
        {
            g.Set(acc, acc + i);
            g.Set(buf.U64(8), acc ^ i);
        });
        g.Print("acc %u\n", acc);
        g.Success();
    });

    /// <summary>Warm-up: windows of example runs until the JIT compiled (almost) nothing during <see cref="WarmUpQuietWindows"/> windows in a row.</summary>
    private static readonly TimeSpan WarmUpWindow = TimeSpan.FromSeconds(0.5), WarmUpLimit = TimeSpan.FromSeconds(60);
    private const int WarmUpQuietWindows = 2, WarmUpQuietMethods = 2;

    public static Command Command(TextWriter stdout)
    {
        var seconds = CommandOptions.Seconds("--seconds", "how long each figure counts runs", 3);
        var breakdown = CommandOptions.Flag("--breakdown", "also time each phase of one example run (kernel image, dom0 build, run)");
        var kernelDir = new Option<string>("--kernel-dir")
        {
            Description = "instead: time whole passes over a folder of kernels (e.g. XTF's tests/) on the simulator, one process, every core",
        };
        var command = new Command("bench", "Simulator speed: guest instructions per second and complete example runs per second (figures, never assertions)")
        {
            seconds, breakdown, kernelDir,
        };
        command.SetAction(r => r.GetValue(kernelDir) is { } dir
            ? Corpus(dir, r.GetValue(seconds), stdout)
            : Run(r.GetValue(seconds), r.GetValue(breakdown), stdout));
        return command;
    }

    /// <summary>
    /// Wall time of one pass over a kernel folder on the simulator: every 64-bit PV kernel of it
    /// (as <c>xtf run --kernel-dir</c> finds them) read, built as dom0 and run to its end, the
    /// kernels spread over every core of one process. The first pass includes the JIT; then
    /// passes repeat for <paramref name="seconds"/>.
    /// </summary>
    public static int Corpus(string dir, double seconds, TextWriter w)
    {
        var scan = ForeignCorpus.Find(dir);
        var options = new SimOptions { KeepTraceText = false };
        int cores = Environment.ProcessorCount;
        int result = CorpusFigures(scan, "pv64", k => k.Name.StartsWith("test-pv64-", StringComparison.Ordinal) || !k.Name.StartsWith("test-", StringComparison.Ordinal), options, cores, seconds, w);
        if (scan.Kernels.Any(k => k.Name.StartsWith("test-hvm64-", StringComparison.Ordinal)))
            CorpusFigures(scan, "hvm64", k => k.Name.StartsWith("test-hvm64-", StringComparison.Ordinal), options, cores, seconds, w);
        return result;
    }

    private static int CorpusFigures(ForeignCorpus.Scan scan, string env, Func<CorpusKernel, bool> select, SimOptions options, int cores, double seconds, TextWriter w)
    {
        var kernels = scan.Kernels.Where(select).ToList();
        void Pass()
        {
            Parallel.ForEach(kernels, new ParallelOptions { MaxDegreeOfParallelism = cores }, k =>
            {
                var image = ForeignKernel.Load(k.Path);
                if (!image.Is32Bit) SimMachine.Run(image.Bytes, options with { Pvh = image.Pvh });
            });
        }
        var clock = Stopwatch.StartNew();
        Pass();
        var first = clock.Elapsed;
        w.WriteLine($"corpus {scan.Folder}: {kernels.Count} {env} kernels; first pass (cold JIT, files read) {first.TotalSeconds:0.000} s on {cores} cores");
        var (passes, elapsed, cpu) = RunFor(TimeSpan.FromSeconds(seconds), Pass);
        w.WriteLine($"corpus {scan.Folder} ({env}): {passes} further passes in {elapsed.TotalSeconds:0.00} s = {elapsed.TotalSeconds / passes:0.000} s per pass " +
                    $"({cpu.TotalSeconds / passes:0.000} CPU-seconds per pass)");
        return 0;
    }

    public static int Run(double seconds, bool breakdown, TextWriter w)
    {
        var example = XtfCli.Catalog.Select(["test-pv64-example"]).Single();
        var options = new SimOptions { KeepTraceText = false, InstructionLimit = 4_000_000_000 };

        // 1. Guest instructions per second on a compute loop (warm-up run first).
        var loop = ComputeLoop(20_000_000);
        SimMachine.Run(ComputeLoop(10_000).Bytes, options);
        var clock = Stopwatch.StartNew();
        var r = SimMachine.Run(loop.Bytes, options);
        clock.Stop();
        if (r.End != BootEnd.Shutdown) throw new InvalidOperationException($"compute loop did not finish: {r.Detail}");
        double ips = r.Instructions / clock.Elapsed.TotalSeconds;
        w.WriteLine($"compute loop: {r.Instructions:N0} guest instructions in {clock.Elapsed.TotalSeconds:0.000} s = {ips / 1e6:0.0} million instructions/s");

        // 2. Complete example runs per second: build the kernel, build dom0, run to shutdown, every time.
        var warm = WarmUp(() => RunOnce(example.Build(), options));
        w.WriteLine($"example kernel, first second (cold JIT): {warm.FirstSecondRuns} complete runs; JIT done after {warm.Elapsed.TotalSeconds:0.0} s of warm-up ({warm.Runs} runs)");
        var (runs, elapsed, cpu) = RunFor(TimeSpan.FromSeconds(seconds), () => RunOnce(example.Build(), options));
        w.WriteLine($"example kernel: {runs} complete runs in {elapsed.TotalSeconds:0.00} s = {runs / elapsed.TotalSeconds:0} runs/s " +
                    $"({runs / cpu.TotalSeconds:0} per CPU-second; build the kernel image, build dom0, run to shutdown; one thread)");

        // 3. A second figure, not the headline: the kernel image built once, each run still builds dom0 and runs to shutdown.
        var image = example.Build();
        var (boots, bootElapsed, bootCpu) = RunFor(TimeSpan.FromSeconds(seconds), () => RunOnce(image, options));
        w.WriteLine($"example kernel, image built once: {boots} boots in {bootElapsed.TotalSeconds:0.00} s = {boots / bootElapsed.TotalSeconds:0} boots/s " +
                    $"({boots / bootCpu.TotalSeconds:0} per CPU-second; build dom0, run to shutdown)");

        // 4. The same figure for an hvm64 kernel (a PVH dom0: the PVH builder, 32-bit entry, long mode, IDT, hypercall page by MSR).
        if (XtfCli.Catalog.Select(["test-hvm64-pvh-hello"]).SingleOrDefault() is { } hvm)
        {
            var pvh = options with { Pvh = true };
            WarmUp(() => RunOnce(hvm.Build(), pvh));
            var (hvmRuns, hvmElapsed, hvmCpu) = RunFor(TimeSpan.FromSeconds(seconds), () => RunOnce(hvm.Build(), pvh));
            w.WriteLine($"hvm64 example kernel: {hvmRuns} complete runs in {hvmElapsed.TotalSeconds:0.00} s = {hvmRuns / hvmElapsed.TotalSeconds:0} runs/s " +
                        $"({hvmRuns / hvmCpu.TotalSeconds:0} per CPU-second; build the kernel image, build the PVH dom0, run to shutdown; one thread)");
        }

        if (breakdown) Breakdown(example, options, w);
        return 0;
    }

    private static void RunOnce(KernelImage image, SimOptions options)
    {
        var result = SimMachine.Run(image.Bytes, options);
        if (result.End != BootEnd.Shutdown) throw new InvalidOperationException($"example did not finish: {result.Detail}");
    }

    /// <summary>
    /// Runs until the JIT is done: .NET's tiered JIT recompiles the builder's, Iced's and the
    /// interpreter's methods (several thousand) as optimised code in the background after enough
    /// calls, and the example runs get 5-10 times faster over the first seconds (longer on a loaded
    /// machine). Done means <see cref="WarmUpQuietWindows"/> windows in a row in which at most
    /// <see cref="WarmUpQuietMethods"/> methods were compiled (bounded by <see cref="WarmUpLimit"/>).
    /// </summary>
    private static (int Runs, TimeSpan Elapsed, int FirstSecondRuns) WarmUp(Action run)
    {
        var clock = Stopwatch.StartNew();
        var (firstSecond, _, _) = RunFor(TimeSpan.FromSeconds(1), run);
        int runs = firstSecond, quiet = 0;
        long compiled = System.Runtime.JitInfo.GetCompiledMethodCount();
        while (quiet < WarmUpQuietWindows && clock.Elapsed < WarmUpLimit)
        {
            runs += RunFor(WarmUpWindow, run).Runs;
            long now = System.Runtime.JitInfo.GetCompiledMethodCount();
            quiet = now - compiled <= WarmUpQuietMethods ? quiet + 1 : 0;
            compiled = now;
        }
        return (runs, clock.Elapsed, firstSecond);
    }

    /// <summary>
    /// Runs for <paramref name="duration"/> of wall-clock time: the count, the wall time and the CPU
    /// time the process used meanwhile (all threads: GC included; the JIT is idle after the warm-up).
    /// On a machine shared with other work the CPU-time rate is the steadier figure.
    /// </summary>
    private static (int Runs, TimeSpan Elapsed, TimeSpan Cpu) RunFor(TimeSpan duration, Action run)
    {
        int runs = 0;
        var process = System.Diagnostics.Process.GetCurrentProcess();
        var cpu0 = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < duration)
        {
            run();
            runs++;
        }
        var elapsed = clock.Elapsed;
        process.Refresh();
        return (runs, elapsed, process.TotalProcessorTime - cpu0);
    }

    /// <summary>
    /// Where one example run's time goes: each phase repeated in batches, the fastest batch counted
    /// (the machine is shared; the minimum is the least disturbed), with bytes allocated per repetition.
    /// </summary>
    private static void Breakdown(TestCase example, SimOptions options, TextWriter w)
    {
        const int batches = 7, perBatch = 100;
        var image = example.Build();
        var profile = Xtf.Sim.Builder.MachineProfile.For(options.MemoryMiB, 1, 1);
        (double Ms, long Bytes) Measure(Action phase)
        {
            double best = double.MaxValue;
            long bytes = 0;
            for (int b = 0; b < batches; b++)
            {
                long a0 = GC.GetAllocatedBytesForCurrentThread();
                var t = Stopwatch.StartNew();
                for (int i = 0; i < perBatch; i++) phase();
                best = Math.Min(best, t.Elapsed.TotalMilliseconds / perBatch);
                bytes = (GC.GetAllocatedBytesForCurrentThread() - a0) / perBatch;
            }
            return (best, bytes);
        }
        int gcs = GC.CollectionCount(0), gen2 = GC.CollectionCount(2);
        var kernel = Measure(() => example.Build());
        var dom0 = Measure(() => Xtf.Sim.Builder.Dom0Builder.Build(image.Bytes, "", profile, new Xtf.Sim.Memory.MachineMemory(profile.MachineFrames)));
        var boot = Measure(() => RunOnce(image, options));
        var whole = Measure(() => RunOnce(example.Build(), options));
        gcs = GC.CollectionCount(0) - gcs;
        gen2 = GC.CollectionCount(2) - gen2;
        int reps = 4 * batches * perBatch;
        w.WriteLine($"breakdown per example run (fastest of {batches} batches of {perBatch}):");
        w.WriteLine($"  kernel image build (Iced assembler, ELF)   {kernel.Ms,7:0.000} ms  {kernel.Bytes / 1024,6} KiB allocated");
        w.WriteLine($"  dom0 build (machine memory + builder)      {dom0.Ms,7:0.000} ms  {dom0.Bytes / 1024,6} KiB");
        w.WriteLine($"  hypervisor setup, interpretation, transcript {Math.Max(0, boot.Ms - dom0.Ms),5:0.000} ms  {Math.Max(0, boot.Bytes - dom0.Bytes) / 1024,6} KiB");
        w.WriteLine($"  boot (dom0 build + run to shutdown)        {boot.Ms,7:0.000} ms  {boot.Bytes / 1024,6} KiB");
        w.WriteLine($"  complete run (image + boot)                {whole.Ms,7:0.000} ms  = {1000 / whole.Ms:0} runs/s");
        w.WriteLine($"  garbage collections over the {reps} repetitions: {gcs} (gen 2: {gen2})");
    }
}
