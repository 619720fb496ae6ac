using Xtf.Guest;
using Xtf.Hosting;
using Xtf.Testing;

using Xtf.Sim;

namespace Xtf.Suite.Pv.Tests.Simulator;

/// <summary>The simulator as a host: results, determinism, runaways, bad images, unknown instructions.</summary>
[Parallelizable(ParallelScope.All)]
public sealed class SimHostTests
{
    private static TestCatalog Catalog => SuiteKernels.Catalog;

    private static TestOutcome Sim(KernelImage k, ulong seed = SimOptions.DefaultSeed, long budget = 200_000_000, int vcpus = 1) =>
        Sim(k.Name, k.Bytes, seed, budget, vcpus);

    private static TestOutcome Sim(string name, byte[] bytes, ulong seed = SimOptions.DefaultSeed, long budget = 200_000_000, int vcpus = 1)
    {
        var host = new SimHost(new SimOptions { Seed = seed, InstructionLimit = budget });
        var t = host.Boot(new BootRequest(name, bytes, vcpus));
        var o = ConsoleProtocol.Evaluate(t);
        TestContext.Out.WriteLine($"{name}: {o.StatusText} ({t.Instructions} instructions); {o.Message}");
        foreach (var l in o.GuestLines) TestContext.Out.WriteLine("  | " + l);
        return o;
    }

    [Test]
    public void SelftestPrintsExactlyWhatTheGeneratorPromises()
    {
        var o = Sim(Catalog.Select(["selftest"]).Single().Build());
        Assert.That(o.GuestLines.Skip(3).Take(Xtf.Suite.Pv.Selftest.ExpectedLines.Length), Is.EqualTo(Xtf.Suite.Pv.Selftest.ExpectedLines));
    }

    [Test]
    public void StatusKernelsGiveTheirStatuses()
    {
        Assert.That(Sim(StatusKernels.Failure()).Status, Is.EqualTo(TestStatus.Failure));
        Assert.That(Sim(StatusKernels.Skip()).Status, Is.EqualTo(TestStatus.Skip));
        Assert.That(Sim(StatusKernels.Error()).Status, Is.EqualTo(TestStatus.Error));
        var nothing = Sim(StatusKernels.Nothing());
        Assert.That(nothing.Status, Is.EqualTo(TestStatus.Error));
        Assert.That(nothing.GuestLines[^2], Is.EqualTo("Test did not report a status"));
        Assert.That(Sim(StatusKernels.Warning()).StatusText, Is.EqualTo("SUCCESS with warnings"));
    }

    [Test]
    public void FaultsGiveTheSamePanicLinesAsRealXen()
    {
        var gp = StatusKernels.GeneralProtection();
        Assert.That(Sim(gp).Message, Is.EqualTo($"PANIC: Unhandled exception: vec 13 #GP[0000] at e030:{gp.Symbols["fault"]:x16}"));
        var ud = StatusKernels.InvalidOpcode();
        var o = Sim(ud);
        Assert.That(o.Message, Is.EqualTo($"PANIC: Unhandled exception: vec 6 #UD at e030:{ud.Symbols["fault"]:x16}"));
        Assert.That(o.ShutdownReason, Is.EqualTo(3));
    }

    [Test]
    public void AnUnimplementedInstructionIsAUdNamedInTheTrace()
    {
        var k = StatusKernels.Build("avx", g =>
        {
            var at = g.NewLabel("fault");
            g.Mark(at);
            g.Asm.vzeroupper();
            g.Success();
        });
        var host = new SimHost(new SimOptions());
        var t = host.Boot(new BootRequest(k.Name, k.Bytes));
        var o = ConsoleProtocol.Evaluate(t);
        Assert.That(o.Message, Is.EqualTo($"PANIC: Unhandled exception: vec 6 #UD at e030:{k.Symbols["fault"]:x16}"));
        Assert.That(t.Trace, Does.Contain("exception 6").And.Contain("Vzeroupper").IgnoreCase);
    }

    [Test]
    public void ARunawayGuestIsACrashTimeout()
    {
        var o = Sim(StatusKernels.Spin(), budget: 5_000_000);
        Assert.That(o.Status, Is.EqualTo(TestStatus.Crash));
        Assert.That(o.Message, Is.EqualTo("timeout"));
        Assert.That(o.GuestLines, Does.Contain("spinning"));
    }

    [Test]
    public void AMalformedImageIsRefusedAsXenRefusesIt()
    {
        var elf = new Xtf.Elf.ElfBuilder(Xtf.Elf.ElfMachine.X86_64, 0x100000)
            .AddLoad(0x100000, 0x100000, new byte[0x1000], 0x1000, Xtf.Elf.SegmentFlags.R | Xtf.Elf.SegmentFlags.X).Build();
        var o = Sim("no-notes", elf);
        Assert.That(o.Status, Is.EqualTo(TestStatus.Crash));
        Assert.That(o.Transcript.End, Is.EqualTo(BootEnd.XenPanic));
        Assert.That(o.Message, Does.StartWith("Xen panic: "));
    }

    [Test]
    public void TheSameSeedGivesTheSameTraceHash()
    {
        var k = Catalog.Select(["selftest"]).Single().Build();
        var host = new SimHost(new SimOptions { Seed = 42 });
        var a = host.Boot(new BootRequest(k.Name, k.Bytes));
        var b = host.Boot(new BootRequest(k.Name, k.Bytes));
        Assert.That(a.TraceHash, Is.Not.Null.And.Length.EqualTo(64));
        Assert.That(b.TraceHash, Is.EqualTo(a.TraceHash));
        Assert.That(b.Log, Is.EqualTo(a.Log));
        Assert.That(b.Trace, Is.EqualTo(a.Trace));
    }

    [Test]
    public void TwoSeedsGiveDifferentInterleavingsOnATwoVcpuKernel()
    {
        var c = Catalog.Select(["vcpu-bring-up"]).Single();
        var k = c.Build();
        Transcript Boot(ulong seed) => new SimHost(new SimOptions { Seed = seed }).Boot(new BootRequest(k.Name, k.Bytes, c.Test.Vcpus));
        var a1 = Boot(1);
        var a2 = Boot(1);
        var b = Boot(2);
        Assert.That(ConsoleProtocol.Evaluate(a1).Status, Is.EqualTo(TestStatus.Success));
        Assert.That(ConsoleProtocol.Evaluate(b).Status, Is.EqualTo(TestStatus.Success));
        Assert.That(a2.TraceHash, Is.EqualTo(a1.TraceHash), "same seed, same trace");
        Assert.That(b.TraceHash, Is.Not.EqualTo(a1.TraceHash), "another seed interleaves the two vCPUs differently");
        Assert.That(ScheduleLines(b.Trace!), Is.Not.EqualTo(ScheduleLines(a1.Trace!)));
        Assert.That(ConsoleProtocol.Evaluate(b).GuestLines, Is.EqualTo(ConsoleProtocol.Evaluate(a1).GuestLines), "the guest's transcript does not depend on the seed");
    }

    /// <summary>The 2-vCPU kernels of the suite: their guest output does not depend on the interleaving.</summary>
    private static IEnumerable<TestCaseData> TwoVcpuKernelsAndSeeds()
    {
        foreach (var c in Catalog.Cases.Where(c => c.Test.Vcpus == 2))
            yield return new TestCaseData(c.Test.Name).SetName($"SeedIndependent({c.Test.Name})");
    }

    private static readonly ulong[] Seeds = [SimOptions.DefaultSeed, 1, 2, 3, 12345];

    [TestCaseSource(nameof(TwoVcpuKernelsAndSeeds))]
    public void ATwoVcpuKernelSucceedsWithTheSameGuestOutputForEverySeed(string name)
    {
        var c = Catalog.Select([name]).Single();
        var k = c.Build();
        string[]? first = null;
        foreach (ulong seed in Seeds)
        {
            var t = new SimHost(new SimOptions { Seed = seed, InstructionLimit = 50_000_000, KeepTraceText = false })
                .Boot(new BootRequest(k.Name, k.Bytes, c.Test.Vcpus));
            var o = ConsoleProtocol.Evaluate(t);
            Assert.That(o.Status, Is.EqualTo(TestStatus.Success), $"seed {seed:x}: {o.Message}");
            var lines = o.GuestLines.ToArray();
            if (first is null) first = lines;
            else Assert.That(lines, Is.EqualTo(first), $"seed {seed:x}: the guest's output");
        }
    }

    [Test]
    public void TimeCalibrationRewritesOnlyARunningVcpusTimeOnWholeSeconds()
    {
        // dom0 starts at 1.9 s: blocked across 2 s and 3 s (its pCPU idles), then running at 4 s.
        var k = StatusKernels.Build("calibration", g =>
        {
            Xtf.Suite.Pv.Vcpu.TimerEvents.BlockFor(g, 2_050_000_000);
            Xtf.Suite.Pv.Vcpu.PvClock.SpinFor(g, 100_000_000);
            g.Success();
        });
        var t = new SimHost(new SimOptions()).Boot(new BootRequest(k.Name, k.Bytes));
        Assert.That(ConsoleProtocol.Evaluate(t).Status, Is.EqualTo(TestStatus.Success));
        var calibrations = t.Trace!.Split('\n').Where(l => l.Contains("timer calibration", StringComparison.Ordinal)).ToArray();
        Assert.That(calibrations, Is.EqualTo(new[] { "v0 timer calibration at 4000000000" }));
    }

    private static string[] ScheduleLines(string trace) => trace.Split('\n').Where(l => l.StartsWith("schedule ", StringComparison.Ordinal)).ToArray();
}
