using Xtf.Guest;
using Xtf.Hosting;

namespace Xtf.Runner.Tests;

/// <summary>Issue 2's acceptance checks, each one boot of real Xen.</summary>
[Parallelizable(ParallelScope.All)]
public sealed class RealXenResultTests
{
    private static TestOutcome Boot(KernelImage k, TimeSpan? timeout = null) => RealXen.Boot(k.Name, k.Bytes, timeout: timeout);

    private static TestOutcome BootSuite(string name)
    {
        var c = XtfCli.Catalog.Select([name]).Single();
        var k = c.Build();
        return RealXen.Boot(c.FullName, k.Bytes, c.Test.Vcpus);
    }

    [Test]
    public void ExampleSucceedsWithBannerAndOwnLines()
    {
        var o = BootSuite("test-pv64-example");
        Assert.That(o.Status, Is.EqualTo(TestStatus.Success));
        Assert.That(o.GuestLines, Is.EqualTo(new[]
        {
            "--- Xen Test Framework ---", "Environment: PV 64bit (Long mode 4 levels)", "Hello World", "Hello World",
            "Test result: SUCCESS",
        }));
        Assert.That(o.Transcript.Log, Does.Contain("Xen version 4.17.7"));
        Assert.That(o.ShutdownReason, Is.EqualTo(0), "SHUTDOWN_poweroff shows as 'Hardware Dom0 halted'");
    }

    [Test]
    public void FailureIsReportedWithItsMessage()
    {
        var o = Boot(StatusKernels.Failure());
        Assert.That(o.Status, Is.EqualTo(TestStatus.Failure), "worst wins: a later success does not hide it");
        Assert.That(o.GuestLines, Does.Contain("Deliberate failure: 7"));
        Assert.That(o.Message, Does.Contain("Deliberate failure: 7"));
    }

    [Test]
    public void SkipIsReported() => Assert.That(Boot(StatusKernels.Skip()).Status, Is.EqualTo(TestStatus.Skip));

    [Test]
    public void ErrorBeatsALaterSkip() => Assert.That(Boot(StatusKernels.Error()).Status, Is.EqualTo(TestStatus.Error));

    [Test]
    public void ReportingNothingIsAnError()
    {
        var o = Boot(StatusKernels.Nothing());
        Assert.That(o.Status, Is.EqualTo(TestStatus.Error));
        Assert.That(o.GuestLines.TakeLast(2), Is.EqualTo(new[] { "Test did not report a status", "Test result: ERROR" }));
    }

    [Test]
    public void WarningsShowInTheResultLine()
    {
        var o = Boot(StatusKernels.Warning());
        Assert.That(o.Status, Is.EqualTo(TestStatus.Success));
        Assert.That(o.Warnings, Is.True);
        Assert.That(o.GuestLines[^1], Is.EqualTo("Test result: SUCCESS with warnings"));
    }

    // Evidence (real Xen 4.17.7, 2026-11-22): the bounce frame carries cs = e030, not the e033 the
    // guest runs with; Xen clears the selector's RPL in a frame for a kernel-mode fault.
    [Test]
    public void GeneralProtectionFaultIsACrashWithThePanicLine()
    {
        var k = StatusKernels.GeneralProtection();
        var o = Boot(k);
        Assert.That(o.Status, Is.EqualTo(TestStatus.Crash));
        Assert.That(o.Message, Is.EqualTo($"PANIC: Unhandled exception: vec 13 #GP[0000] at e030:{k.Symbols["fault"]:x16}"));
        Assert.That(o.ShutdownReason, Is.EqualTo(3), "the panic path shuts down with SHUTDOWN_crash");
    }

    [Test]
    public void InvalidOpcodeIsACrashWithThePanicLine()
    {
        var k = StatusKernels.InvalidOpcode();
        var o = Boot(k);
        Assert.That(o.Status, Is.EqualTo(TestStatus.Crash));
        Assert.That(o.Message, Is.EqualTo($"PANIC: Unhandled exception: vec 6 #UD at e030:{k.Symbols["fault"]:x16}"));
    }

    [Test]
    public void ASpinningKernelIsACrashTimeout()
    {
        var o = Boot(StatusKernels.Spin(), TimeSpan.FromSeconds(12));
        Assert.That(o.Status, Is.EqualTo(TestStatus.Crash));
        Assert.That(o.Message, Is.EqualTo("timeout"));
        Assert.That(o.Transcript.End, Is.EqualTo(BootEnd.Timeout));
        Assert.That(o.GuestLines, Does.Contain("spinning"));
    }

    [Test]
    public void XenVersionIs4_17()
    {
        var o = BootSuite("test-pv64-xen-version");
        Assert.That(o.Status, Is.EqualTo(TestStatus.Success), o.Message);
        Assert.That(o.GuestLines, Does.Contain("Xen version 4.17"));
    }

    [Test]
    public void CapabilitiesAreReadAndPrinted()
    {
        var o = BootSuite("test-pv64-xen-capabilities");
        Assert.That(o.Status, Is.EqualTo(TestStatus.Success), o.Message);
        Assert.That(o.GuestLines.Single(l => l.StartsWith("Capabilities: ")), Does.StartWith("Capabilities: xen-3.0-x86_64 "));
    }

    [Test]
    public void SelftestPrintsExactlyWhatTheGeneratorPromises()
    {
        var o = BootSuite("test-pv64-selftest");
        Assert.That(o.Status, Is.EqualTo(TestStatus.Success), o.Message);
        Assert.That(o.GuestLines.Skip(3).Take(Xtf.Suite.Pv.Selftest.ExpectedLines.Length), Is.EqualTo(Xtf.Suite.Pv.Selftest.ExpectedLines));
    }
}
