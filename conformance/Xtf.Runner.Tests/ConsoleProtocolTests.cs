using Xtf.Hosting;

namespace Xtf.Runner.Tests;

/// <summary>Reading transcripts into outcomes, on logs shaped like real Xen's serial output.</summary>
public sealed class ConsoleProtocolTests
{
    private const string Boot = "\u001b[2J\u001b[01;01H\u001b[=3hSeaBIOS (version 1.16)\r\n(XEN) [0000000000a1b2c3] Xen version 4.17.7 (Debian) debug=n\r\n";

    private static TestOutcome Evaluate(string log, BootEnd end = BootEnd.Shutdown) =>
        ConsoleProtocol.Evaluate(new Transcript("xen", "t", log, end, null, TimeSpan.FromSeconds(1)));

    private static string Guest(params string[] lines) => string.Concat(lines.Select(l => l + "\r\r\n"));

    private static readonly string[] Head = ["--- Xen Test Framework ---", "Environment: PV 64bit (Long mode 4 levels)", "Title"];

    [TestCase("SUCCESS", TestStatus.Success)]
    [TestCase("SKIP", TestStatus.Skip)]
    [TestCase("ERROR", TestStatus.Error)]
    [TestCase("FAILURE", TestStatus.Failure)]
    public void ResultWords(string word, TestStatus status)
    {
        var o = Evaluate(Boot + Guest([.. Head, "message", $"Test result: {word}"]) + "(XEN) [    1.93] Hardware Dom0 halted: halting machine\r\n");
        Assert.That(o.Status, Is.EqualTo(status));
        Assert.That(o.GuestLines, Is.EqualTo((string[])[.. Head, "message", $"Test result: {word}"]));
        Assert.That(o.ShutdownReason, Is.EqualTo(0));
    }

    /// <summary>Measured on Debian's Xen 4.17.7 with XTF's test-pv32pae-example (2026-12-06).</summary>
    [Test]
    public void AXenWithoutPv32SaysSoAndTheKernelIsASkip()
    {
        string log = Boot + "(XEN) [    0.918385] *** Building a PV Dom0 ***\r\n(XEN) [    0.922670]  Xen  kernel: 64-bit, lsb\r\n" +
                     "(XEN) [    0.922965] Found 32-bit PV kernel, but CONFIG_PV32 missing\r\n(XEN) [    0.924067] \r\n" +
                     "(XEN) [    0.924067] ****************************************\r\n(XEN) [    0.924067] Panic on CPU 0:\r\n" +
                     "(XEN) [    0.924067] Could not construct domain 0\r\n";
        var o = Evaluate(log, BootEnd.XenPanic);
        Assert.That(o.Status, Is.EqualTo(TestStatus.Skip));
        Assert.That(o.Message, Does.Contain("Found 32-bit PV kernel, but CONFIG_PV32 missing"));
        Assert.That(Evaluate(log.Replace("32-bit PV kernel", "odd kernel"), BootEnd.XenPanic).Status, Is.EqualTo(TestStatus.Crash), "any other build panic is a crash");
    }

    [Test]
    public void WarningsAndXenLinesInTheMiddle()
    {
        var o = Evaluate(Boot + Guest(Head) + "(XEN) [    1.90] d0v0 something\r\n" + Guest("Test result: SUCCESS with warnings"));
        Assert.That(o.Status, Is.EqualTo(TestStatus.Success));
        Assert.That(o.Warnings, Is.True);
        Assert.That(o.StatusText, Is.EqualTo("SUCCESS with warnings"));
        Assert.That(o.GuestLines, Has.Count.EqualTo(4), "Xen's line is not part of the guest's transcript");
    }

    [Test]
    public void PanicWithoutResultIsACrashNamingThePanic()
    {
        var o = Evaluate(Boot + Guest([.. Head, "******************************", "PANIC: Unhandled exception: vec 13 #GP[0000] at e030:0000000000107000", "******************************"])
                         + "(XEN) [    1.95] Hardware Dom0 crashed: 'noreboot' set - not rebooting.\r\n");
        Assert.That(o.Status, Is.EqualTo(TestStatus.Crash));
        Assert.That(o.Message, Does.StartWith("PANIC: Unhandled exception: vec 13"));
        Assert.That(o.ShutdownReason, Is.EqualTo(3));
    }

    [Test]
    public void TimeoutIsACrashTimeout() =>
        Assert.That(Evaluate(Boot + Guest(Head), BootEnd.Timeout).Message, Is.EqualTo("timeout"));

    [Test]
    public void XenPanicWhileBuildingDom0()
    {
        var log = Boot + "(XEN) [    1.87] ****************************************\r\n(XEN) [    1.87] Panic on CPU 0:\r\n(XEN) [    1.87] Could not construct domain 0\r\n(XEN) [    1.87] ****************************************\r\n(XEN) [    1.87] Manual reset required ('noreboot' specified)\r\n";
        var o = Evaluate(log, BootEnd.XenPanic);
        Assert.That(o.Status, Is.EqualTo(TestStatus.Crash));
        Assert.That(o.Message, Is.EqualTo("Xen panic: Could not construct domain 0"));
    }

    [Test]
    public void XenCrashOfAGuestWithoutTrapHandlers()
    {
        var log = Boot + Guest(Head) + "(XEN) [    1.9] d0v0 Unhandled: vec 6, #UD[ffffffff]\r\n(XEN) [    1.9] Hardware Dom0 crashed: 'noreboot' set - not rebooting.\r\n";
        var o = Evaluate(log);
        Assert.That(o.Status, Is.EqualTo(TestStatus.Crash));
        Assert.That(o.Message, Is.EqualTo("domain crashed: d0v0 Unhandled: vec 6, #UD[ffffffff]"));
    }

    // The shutdown lines measured on real Xen (docs/dom0.md §3).
    [TestCase("Hardware Dom0 halted: halting machine", 0)]
    [TestCase("Hardware Dom0 shutdown: rebooting machine", 1)]
    [TestCase("Hardware Dom0 shutdown (unknown reason 2): 'noreboot' set - not rebooting.", 2)]
    [TestCase("Hardware Dom0 crashed: 'noreboot' set - not rebooting.", 3)]
    [TestCase("Hardware Dom0 shutdown: watchdog rebooting machine", 4)]
    [TestCase("Hardware domain 0 did unsupported soft reset, rebooting.", 5)]
    [TestCase("Hardware Dom0 shutdown (unknown reason 9): 'noreboot' set - not rebooting.", 9)]
    public void ShutdownReasonFromXensLine(string line, int reason) =>
        Assert.That(ConsoleProtocol.ShutdownReason([$"(XEN) [    2.01] {line}"]), Is.EqualTo(reason));

    [Test]
    public void WorstExitCodeWins()
    {
        Assert.That(ExitCodes.Worst([]), Is.EqualTo(0));
        Assert.That(ExitCodes.Worst([TestStatus.Success, TestStatus.Skip]), Is.EqualTo(3));
        Assert.That(ExitCodes.Worst([TestStatus.Failure, TestStatus.Error, TestStatus.Success]), Is.EqualTo(5));
        Assert.That(ExitCodes.Worst([TestStatus.Failure, TestStatus.Crash]), Is.EqualTo(6));
    }
}
