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

    public static int Run(Options o, TextWriter w)
    {
        double seconds = o.GetSeconds("seconds", 3);
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

        // 2. Complete example runs per second: build the kernel, build dom0, run to shutdown.
        int runs = 0;
        clock.Restart();
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            var image = example.Build();
            var result = SimMachine.Run(image.Bytes, options);
            if (result.End != BootEnd.Shutdown) throw new InvalidOperationException($"example did not finish: {result.Detail}");
            runs++;
        }
        clock.Stop();
        if (o.Has("breakdown")) Breakdown(example, options, w);
        w.WriteLine($"example kernel: {runs} complete runs in {clock.Elapsed.TotalSeconds:0.00} s = {runs / clock.Elapsed.TotalSeconds:0} runs/s (build, boot, run to shutdown; one thread)");
        return 0;
    }

    private static void Breakdown(TestCase example, SimOptions options, TextWriter w)
    {
        const int n = 50;
        var image = example.Build();
        var profile = Xtf.Sim.Builder.MachineProfile.For(options.MemoryMiB, 1, 1);
        var t = Stopwatch.StartNew();
        for (int i = 0; i < n; i++) example.Build();
        double build = t.Elapsed.TotalMilliseconds / n;
        t.Restart();
        for (int i = 0; i < n; i++) new Xtf.Sim.Memory.MachineMemory(profile.MachineFrames);
        double mem = t.Elapsed.TotalMilliseconds / n;
        t.Restart();
        for (int i = 0; i < n; i++) Xtf.Sim.Builder.Dom0Builder.Build(image.Bytes, "", profile, new Xtf.Sim.Memory.MachineMemory(profile.MachineFrames));
        double dom0 = t.Elapsed.TotalMilliseconds / n;
        t.Restart();
        for (int i = 0; i < n; i++) SimMachine.Run(image.Bytes, options);
        double run = t.Elapsed.TotalMilliseconds / n;
        w.WriteLine($"breakdown per run: kernel image {build:0.000} ms, machine memory {mem:0.000} ms, dom0 build (incl. memory) {dom0:0.000} ms, SimMachine.Run {run:0.000} ms");
    }
}
