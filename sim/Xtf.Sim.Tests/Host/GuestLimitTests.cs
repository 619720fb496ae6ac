using System.Text;
using Xtf.Abi;
using Xtf.Guest;
using Xtf.Hosting;
using Xtf.Sim.Xen;
using Xtf.Testing;

namespace Xtf.Sim.Tests.Host;

/// <summary>
/// The limits a guest cannot break on the simulator (docs/limits.md): each stops the run as
/// <see cref="BootEnd.LimitReached"/> naming the limit, keeps exactly what the limit allows, and is
/// deterministic. Timings are in docs/limits.md, never asserted here.
/// </summary>
[Parallelizable(ParallelScope.All)]
public sealed class GuestLimitTests
{
    /// <summary>The example's shape: two lines and SUCCESS.</summary>
    private static KernelImage Example() => StatusKernels.Build("test-pv64-sim-limits", g =>
    {
        g.Print("Hello World\n");
        g.Print("Hello World\n");
        g.Success();
    });

    /// <summary>What the guest got onto the console: the bytes of the trace's console lines.</summary>
    private static byte[] ConsoleOutput(SimResult r) =>
        r.Trace.Split('\n').Where(l => l.StartsWith("console ", StringComparison.Ordinal)).SelectMany(l => Convert.FromHexString(l[8..])).ToArray();

    private static readonly GuestLimits Unlimited = GuestLimits.Default with { ConsoleBytes = 1L << 30, TranscriptBytes = 1L << 30, TraceBytes = 1L << 30 };

    [Test]
    public void TheFloodingMutantStopsAtTheConsoleLimit()
    {
        var limits = GuestLimits.Default;
        var flood = FloodingKernel.From(Example());
        var r = SimMachine.Run(flood, new SimOptions());
        Assert.That(r.End, Is.EqualTo(BootEnd.LimitReached), r.Detail);
        Assert.That(r.Detail, Is.EqualTo("console output limit: more than 1048576 bytes"));
        var output = ConsoleOutput(r);
        Assert.That(output.LongLength, Is.EqualTo(limits.ConsoleBytes), "exactly what the limit allows");
        Assert.That(Encoding.Latin1.GetString(output), Does.StartWith(ConsoleProtocol.Banner + "\n"));
        Assert.That(r.Serial.Length, Is.LessThanOrEqualTo(limits.TranscriptBytes));
        Assert.That(r.Serial, Does.Not.Contain("Hardware Dom0"), "the run stopped in the flood, not at the guest's shutdown");
        Assert.That(r.Trace, Does.EndWith("= -\nlimit: console output limit: more than 1048576 bytes\n"), "the write was stopped in its middle");
        Assert.That(r.Charged, Is.GreaterThanOrEqualTo(limits.ConsoleBytes * SerialConsole.InstructionsPerByte));
        Assert.That(SimMachine.Run(flood, new SimOptions()).TraceHash, Is.EqualTo(r.TraceHash), "deterministic");
    }

    [Test]
    public void AStoppedFloodIsACrashNamingTheLimitWithARecordWithinItsLimit()
    {
        var flood = FloodingKernel.From(Example());
        var outcome = ConsoleProtocol.Evaluate(new SimHost(new SimOptions()).Boot(new BootRequest("test-pv64-example-flood", flood)));
        Assert.That(outcome.Status, Is.EqualTo(TestStatus.Crash));
        Assert.That(outcome.Message, Is.EqualTo("console output limit: more than 1048576 bytes"));

        var record = ResultRecord.From(outcome, DateTimeOffset.UnixEpoch, new RunInfo("0x5eed", null, null, null, null), "flood", "misc", 1);
        Assert.That(Encoding.UTF8.GetByteCount(record.ToJson()), Is.LessThanOrEqualTo(GuestLimits.Default.RecordBytes));
        Assert.That(record.Truncated, Does.Contain("guest lines").And.Contain("GuestLimits.RecordBytes"));
        Assert.That(record.GuestLines[0], Is.EqualTo(ConsoleProtocol.Banner));
        Assert.That(record.Message, Is.EqualTo(outcome.Message));
    }

    [Test]
    public void ConsoleLinesAreLimited()
    {
        var k = StatusKernels.Build("test-pv64-sim-lines", g =>
        {
            var i = g.Var("i");
            g.For(i, 0, 100, () => g.Print("line %d\n", i));
            g.Success();
        });
        var r = SimMachine.Run(k.Bytes, new SimOptions { Limits = GuestLimits.Default with { ConsoleLines = 20 } });
        Assert.That(r.End, Is.EqualTo(BootEnd.LimitReached));
        Assert.That(r.Detail, Is.EqualTo("console output limit: more than 20 lines"));
        var output = ConsoleOutput(r);
        Assert.That(output.Count(b => b == '\n'), Is.EqualTo(20));
        Assert.That(output[^1], Is.EqualTo((byte)'\n'), "nothing after the last line allowed");
    }

    [Test]
    public void ConsoleOutputIsChargedToTheBudgetAndAWriteStopsAtAChunkOnceItIsSpent()
    {
        // 64 writes of 64 KiB of the mapped image: 4 MiB of console output for a few thousand instructions.
        var k = StatusKernels.Build("test-pv64-sim-console-budget", g =>
        {
            var i = g.Var("i");
            g.For(i, 0, 64, () => g.ConsoleIo(ConsoleIo.Write, 65536, 0x100000));
            g.Success();
        });
        var whole = SimMachine.Run(k.Bytes, new SimOptions { Limits = Unlimited });
        Assert.That(whole.End, Is.EqualTo(BootEnd.Shutdown), whole.Detail);
        long written = ConsoleOutput(whole).LongLength;
        Assert.That(written, Is.GreaterThan(64L * 65536));
        Assert.That(whole.Charged, Is.EqualTo(written * SerialConsole.InstructionsPerByte), "every byte copied is charged");

        const long budget = 10_000_000;
        var r = SimMachine.Run(k.Bytes, new SimOptions { Limits = Unlimited, InstructionLimit = budget });
        Assert.That(r.End, Is.EqualTo(BootEnd.Timeout));
        Assert.That(r.Detail, Does.Contain("charged for console output"));
        Assert.That(r.Instructions, Is.LessThan(budget / 100), "the guest itself ran little");
        Assert.That(r.Instructions + r.Charged, Is.GreaterThanOrEqualTo(budget).And.LessThan(budget + 127 * SerialConsole.InstructionsPerByte),
            "Xen's preemption point: the write stops at the first chunk after the budget is spent");
        Assert.That(r.Trace, Does.Contain("hypercall 18(0, 10000, 100000) = -\n"), "a write stopped in its middle returns nothing");
    }

    [Test]
    public void TheTraceIsLimitedWhetherItsTextIsKeptOrNot()
    {
        var k = StatusKernels.Build("test-pv64-sim-trace-limit", g =>
        {
            var i = g.Var("i");
            g.For(i, 0, 100_000, () => g.XenVersion(0, 0));
            g.Success();
        });
        var limits = GuestLimits.Default with { TraceBytes = 64 << 10 };
        var kept = SimMachine.Run(k.Bytes, new SimOptions { Limits = limits });
        Assert.That(kept.End, Is.EqualTo(BootEnd.LimitReached));
        Assert.That(kept.Detail, Is.EqualTo("trace limit: more than 65536 bytes"));
        Assert.That(kept.Trace.Length, Is.LessThanOrEqualTo(64 << 10));
        Assert.That(kept.Trace.Split('\n').Count(l => l.Contains(" hypercall 17(", StringComparison.Ordinal)), Is.LessThan(2000),
            "stopped long before the 100,000 hypercalls");

        var hashOnly = SimMachine.Run(k.Bytes, new SimOptions { Limits = limits, KeepTraceText = false });
        Assert.That(hashOnly.Detail, Is.EqualTo(kept.Detail));
        Assert.That(hashOnly.TraceHash, Is.EqualTo(kept.TraceHash));
        Assert.That(hashOnly.Trace, Is.Empty);
    }

    [Test]
    public void TheTranscriptIsLimited()
    {
        var r = SimMachine.Run(Example().Bytes, new SimOptions { Limits = GuestLimits.Default with { TranscriptBytes = 1000 } });
        Assert.That(r.End, Is.EqualTo(BootEnd.LimitReached));
        Assert.That(r.Detail, Is.EqualTo("transcript limit: more than 1000 bytes"));
        Assert.That(r.Serial.Length, Is.EqualTo(1000));
    }

    [Test]
    public void GuestMemoryTheSimulatorHoldsIsLimited()
    {
        // Reading one byte of every page of the initial mapping (0x100000 up to 4 MiB) touches 3 MiB of frames.
        var k = StatusKernels.Build("test-pv64-sim-memory-limit", g =>
        {
            var at = g.Var("at");
            var sum = g.Var("sum");
            g.For(at, 0x100, 0x400, () => g.Set(sum, sum + Val.At(at << 12, 0, 1)));
            g.Print("read every page\n");
            g.Success();
        });
        var within = SimMachine.Run(k.Bytes, new SimOptions());
        Assert.That(within.End, Is.EqualTo(BootEnd.Shutdown), within.Detail);

        var r = SimMachine.Run(k.Bytes, new SimOptions { Limits = GuestLimits.Default with { SimulatorMemoryMiB = 2 } });
        Assert.That(r.End, Is.EqualTo(BootEnd.LimitReached));
        Assert.That(r.Detail, Is.EqualTo("simulator memory limit: more than 2 MiB of guest memory"));
        Assert.That(r.Serial, Does.Not.Contain("read every page"));
        Assert.That(ConsoleProtocol.Evaluate(new Transcript("sim", "t", r.Serial, r.End, r.Detail, TimeSpan.Zero)).Message, Is.EqualTo(r.Detail));
    }

    [Test]
    public void WithinTheLimitsNothingChanges()
    {
        var r = SimMachine.Run(Example().Bytes, new SimOptions());
        Assert.That(r.End, Is.EqualTo(BootEnd.Shutdown), r.Detail);
        Assert.That(r.Charged, Is.EqualTo(ConsoleOutput(r).LongLength * SerialConsole.InstructionsPerByte));
        Assert.That(r.Trace, Does.Not.Contain("limit:"));
    }

    [Test]
    public void MemorySizesOutsideTheModelAreRefused()
    {
        var e = Assert.Throws<HostException>(() => new SimHost(new SimOptions { MemoryMiB = 64 }))!;
        Assert.That(e.Message, Does.StartWith("--memory 64: the simulator models 128 to"));
        Assert.DoesNotThrow(() => new SimHost(new SimOptions { MemoryMiB = 4096 }));
    }
}
