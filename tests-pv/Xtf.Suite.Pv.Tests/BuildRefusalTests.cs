using Xtf.Hosting;

namespace Xtf.Suite.Pv.Tests;

/// <summary>The "Xen refuses the image with message M" verdict on synthetic transcripts.</summary>
public sealed class BuildRefusalTests
{
    private const string Message = "Invalid HYPERCALL_PAGE field in ELF notes.";

    private static TestOutcome Outcome(BootEnd end, params string[] lines) =>
        ConsoleProtocol.Evaluate(new Transcript("sim", "test-pv64-x", string.Join("\n", lines) + "\n", end, null, TimeSpan.Zero));

    private static readonly string[] Refused =
    [
        "(XEN) [    1.000000] *** Building a PV Dom0 ***",
        "(XEN) [    1.000001]  Xen  kernel: 64-bit, lsb",
        "(XEN) [    1.000002] " + Message,
        "(XEN) [    1.000003] ",
        "(XEN) [    1.000004] ****************************************",
        "(XEN) [    1.000005] Panic on CPU 0:",
        "(XEN) [    1.000006] Could not construct domain 0",
        "(XEN) [    1.000007] ****************************************",
        "(XEN) [    1.000008] ",
        "(XEN) [    1.000009] Manual reset required ('noreboot' specified)",
    ];

    [Test]
    public void APanicWithTheMessageIsASuccessComparedOnXensBuildLines()
    {
        var o = Outcome(BootEnd.XenPanic, Refused).ExpectRefusal(Message);
        Assert.That(o.Status, Is.EqualTo(TestStatus.Success), o.Message);
        Assert.That(o.GuestLines, Is.EqualTo(new[]
        {
            "*** Building a PV Dom0 ***", " Xen  kernel: 64-bit, lsb", Message, "",
            "****************************************", "Panic on CPU 0:", "Could not construct domain 0",
        }));
    }

    [Test]
    public void APanicWithAnotherMessageIsAFailure()
    {
        var o = Outcome(BootEnd.XenPanic, Refused).ExpectRefusal("Mismatch between Xen and DOM0 kernel");
        Assert.That(o.Status, Is.EqualTo(TestStatus.Failure));
        Assert.That(o.Message, Does.StartWith("expected Xen to refuse the image with 'Mismatch between Xen and DOM0 kernel'"));
    }

    [Test]
    public void AGuestThatRanIsAFailureEvenIfItPassed()
    {
        var o = Outcome(BootEnd.Shutdown, "--- Xen Test Framework ---", "Environment: PV 64bit (Long mode 4 levels)", "t",
            "Test result: SUCCESS", "(XEN) [    2.0] Hardware Dom0 halted: halting machine").Expecting(0, Message);
        Assert.That(o.Status, Is.EqualTo(TestStatus.Failure));
        Assert.That(o.Message, Does.Contain("the guest ran and reported SUCCESS"));
    }

    [Test]
    public void WithoutARefusalTheShutdownReasonDecides()
    {
        var o = Outcome(BootEnd.Shutdown, "--- Xen Test Framework ---", "Test result: SUCCESS", "(XEN) Hardware Dom0 shutdown: rebooting machine");
        Assert.That(o.Expecting(0, null).Status, Is.EqualTo(TestStatus.Failure));
        Assert.That(o.Expecting(1, null).Status, Is.EqualTo(TestStatus.Success));
    }
}
