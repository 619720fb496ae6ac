using System.Diagnostics;
using Xtf.Sim.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Sim.Tests.Cpu;

/// <summary>
/// Guest instructions per second on a simple compute loop (load, add, sub, store, add, sub, cmp, jne).
/// Run in Release: dotnet test sim/Xtf.Sim.Tests -c Release --filter "FullyQualifiedName~InterpreterBenchmark".
/// Prints the figure; never asserts on time.
/// </summary>
[Explicit("benchmark: prints instructions per second")]
[NonParallelizable]
public sealed class InterpreterBenchmark
{
    [Test]
    public void ComputeLoop()
    {
        const int Iterations = 25_000_000;
        const int PerIteration = 8;
        var m = new TestMachine();
        m.Load(a =>
        {
            var loop = a.CreateLabel();
            a.mov(rsi, (long)TestMachine.DataVa);
            a.mov(ecx, Iterations);
            a.xor(eax, eax);
            a.Label(ref loop);
            a.mov(rdx, __qword_ptr[rsi]);
            a.add(rdx, rcx);
            a.sub(rdx, 3);
            a.mov(__qword_ptr[rsi], rdx);
            a.add(rax, rdx);
            a.sub(rcx, 1);
            a.cmp(rcx, 0);
            a.jne(loop);
            a.int3();
        });
        // Warm up (tiered JIT), then measure fresh runs.
        for (int i = 0; i < 3; i++)
        {
            m.Cpu.Rip = TestMachine.CodeVa;
            m.Run(5_000_000);
        }
        double best = 0, bestCpu = 0;
        var process = Process.GetCurrentProcess();
        for (int run = 0; run < 5; run++)
        {
            m.Cpu.Rip = TestMachine.CodeVa;
            process.Refresh();
            var cpu0 = process.TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            long executed = 0;
            VmExit e;
            do
            {
                e = m.Run(10_000_000);
                executed += e.Executed;
            }
            while (e.Kind == ExitKind.Budget);
            sw.Stop();
            process.Refresh();
            double cpuSeconds = (process.TotalProcessorTime - cpu0).TotalSeconds;
            Assert.That(e.Vector, Is.EqualTo(3));
            Assert.That(executed, Is.EqualTo(3L + (long)Iterations * PerIteration + 1));
            double ips = executed / sw.Elapsed.TotalSeconds, ipcs = executed / cpuSeconds;
            best = Math.Max(best, ips);
            bestCpu = Math.Max(bestCpu, ipcs);
            TestContext.Out.WriteLine($"run {run}: {executed:N0} instructions in {sw.Elapsed.TotalMilliseconds:F0} ms wall = {ips / 1e6:F1} M/s; " +
                $"{cpuSeconds * 1000:F0} ms process CPU = {ipcs / 1e6:F1} M/CPU-s");
        }
        TestContext.Out.WriteLine($"best: {best / 1e6:F1} M guest instructions/s wall, {bestCpu / 1e6:F1} M per CPU-second");
    }
}
