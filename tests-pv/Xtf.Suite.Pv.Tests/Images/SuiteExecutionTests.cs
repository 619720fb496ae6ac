using Xtf.Abi;
using Xtf.Guest;
using Xtf.Hosting;
using Xtf.Testing;

namespace Xtf.Suite.Pv.Tests.Images;

/// <summary>
/// Suite kernels run on the simulator with the debug-Xen argument poison (<see cref="SimRun"/>):
/// what they print and how they end.
/// </summary>
[TestFixture]
public sealed class SuiteExecutionTests
{
    [Test]
    public void ExampleRunsToSuccess()
    {
        var run = SimRun.Boot(SuiteKernels.Get("test-pv64-example"));
        Assert.That(run.End, Is.EqualTo(BootEnd.Shutdown), run.Fault);
        Assert.That(run.Reason, Is.EqualTo(ShutdownReason.Poweroff));
        Assert.That(run.Lines, Is.EqualTo(new[]
        {
            GuestProgram.Banner, GuestProgram.EnvironmentLine, "Hello World", "Hello World", "Test result: SUCCESS",
        }));
        Assert.That(run.Hypercalls[0].Number, Is.EqualTo((int)Hypercall.SetTrapTable));
        Assert.That(run.Hypercalls[^1].Number, Is.EqualTo((int)Hypercall.SchedOp));
    }

    [Test]
    public void SelftestPrintsItsExpectedLinesAndSucceeds()
    {
        var run = SimRun.Boot(SuiteKernels.Get("test-pv64-selftest"));
        Assert.That(run.Fault, Is.Null, run.Output);
        Assert.That(run.Lines, Is.SupersetOf(Selftest.ExpectedLines), run.Output);
        Assert.That(run.Lines.Where(l => l.StartsWith("Fail", StringComparison.Ordinal)), Is.Empty, run.Output);
        Assert.That(run.Result, Is.EqualTo("Test result: SUCCESS"), run.Output);
        Assert.That(run.Reason, Is.EqualTo(ShutdownReason.Poweroff));
    }

    /// <summary>Catalog kernels on the simulator with the debug-Xen argument poison: each reaches a result.</summary>
    [TestCase("test-pv64-example")]
    [TestCase("test-pv64-selftest")]
    [TestCase("test-pv64-xen-version")]
    [TestCase("test-pv64-xen-capabilities")]
    public void SimpleCatalogKernelsReachAResult(string name)
    {
        var run = SimRun.Boot(SuiteKernels.Get(name));
        Assert.That(run.Fault, Is.Null, run.Output);
        Assert.That(run.End, Is.EqualTo(BootEnd.Shutdown), run.Output);
        Assert.That(run.Lines[2], Is.EqualTo(SuiteKernels.Case(name).Test.Title));
        Assert.That(run.Result, Does.StartWith("Test result: "), run.Output);
        Assert.That(run.Output, Does.Not.Contain("PANIC"), run.Output);
    }

    [Test]
    public void XenVersionSucceedsAgainstTheSimulator()
    {
        var run = SimRun.Boot(SuiteKernels.Get("test-pv64-xen-version"));
        Assert.That(run.Lines, Does.Contain("Xen version 4.17"), run.Output);
        Assert.That(run.Lines, Does.Contain("Extraversion: .7"), run.Output);
        Assert.That(run.Lines, Has.Some.StartsWith("Features submap 0: 0x"), run.Output);
        Assert.That(run.Result, Is.EqualTo("Test result: SUCCESS"), run.Output);
    }
}
