using Microsoft.VisualStudio.TestPlatform.ObjectModel;
using Microsoft.VisualStudio.TestPlatform.ObjectModel.Client;
using Microsoft.VisualStudio.TestPlatform.ObjectModel.Logging;
using Xtf.TestLogger;

namespace Xtf.Runner.Tests;

/// <summary>
/// The "xtf" test logger (conformance/Xtf.TestLogger) that prints a `dotnet test` run next to the
/// quiet built-in console logger. The whole chain (runsettings, quiet console, a real filtered run) is
/// checked through run-tests.ps1 in <see cref="ScriptTests"/>.
/// </summary>
public sealed class TestRunConsoleTests
{
    private static TestResult Result(TestOutcome outcome, string? message = null, string? stack = null, string? stdout = null)
    {
        var r = new TestResult(new TestCase("Xtf.Some.Fixture.Case", new Uri("executor://nunit"), "Some.Tests.dll") { DisplayName = "Case" })
        {
            Outcome = outcome,
            ErrorMessage = message,
            ErrorStackTrace = stack,
            Duration = TimeSpan.FromMilliseconds(12),
        };
        if (stdout is not null) r.Messages.Add(new TestResultMessage(TestResultMessage.StandardOutCategory, stdout));
        return r;
    }

    [Test]
    public void APassIsNotPrinted() =>
        Assert.That(TestRunConsole.Describe(Result(TestOutcome.Passed)), Is.Null);

    [Test]
    public void AFailureShowsItsMessageStackAndOutput()
    {
        string text = TestRunConsole.Describe(Result(TestOutcome.Failed, "Expected: 2\nBut was: 1", "at Fixture.Case() line 4", "sim: FAILURE"))!;
        Assert.That(text.Split(Environment.NewLine), Is.EqualTo(new[]
        {
            "  Failed Case [12 ms]",
            "  Error Message:",
            "   Expected: 2",
            "   But was: 1",
            "  Stack Trace:",
            "   at Fixture.Case() line 4",
            "  Standard Output Messages:",
            " sim: FAILURE",
            "",
            "",
        }));
    }

    [TestCase(TestOutcome.Skipped)]
    [TestCase(TestOutcome.None)]   // NUnit's Inconclusive: the real-Xen tests without Xen
    public void ASkipShowsItsReasonOnOneLine(TestOutcome outcome) =>
        Assert.That(TestRunConsole.Describe(Result(outcome, "\nQEMU is not installed (fix: sudo scripts/setup-xen.sh)\nmore")),
            Is.EqualTo("  Skipped Case [12 ms]: QEMU is not installed (fix: sudo scripts/setup-xen.sh)" + Environment.NewLine));

    [Test]
    public void TheNoMatchWarningOfAFilteredRunIsLeftOut()
    {
        Assert.That(TestRunConsole.Describe(TestMessageLevel.Warning,
            "No test matches the given testcase filter `TestCategory=sched` in /x/Xtf.Abi.Tests.dll"), Is.Null);
        Assert.That(TestRunConsole.Describe(TestMessageLevel.Warning, "No test is available in /x/Xtf.Abi.Tests.dll."),
            Is.EqualTo("No test is available in /x/Xtf.Abi.Tests.dll." + Environment.NewLine), "other warnings stay");
        Assert.That(TestRunConsole.Describe(TestMessageLevel.Error, "testhost crashed"), Is.Null, "the quiet console logger prints errors itself");
        Assert.That(TestRunConsole.Describe(TestMessageLevel.Informational, "info"), Is.Null);
    }

    [Test]
    public void EventsOfARunReachTheOutput()
    {
        var output = new StringWriter();
        var events = new RecordingEvents();
        new TestRunConsole(output).Initialize(events, new Dictionary<string, string?>());
        events.Raise(Result(TestOutcome.Passed));
        events.Raise(Result(TestOutcome.Failed, "planted"));
        events.Raise(TestMessageLevel.Warning, "No test matches the given testcase filter `x` in y.dll");
        events.Raise(TestMessageLevel.Warning, "a warning");
        Assert.That(output.ToString(), Does.StartWith("  Failed Case [12 ms]").And.Contains("   planted").And.EndsWith("a warning" + Environment.NewLine));
        Assert.That(output.ToString(), Does.Not.Contain("No test matches"));
    }

    /// <summary>The events vstest raises, raised by hand.</summary>
    private sealed class RecordingEvents : TestLoggerEvents
    {
        public void Raise(TestResult r) => TestResult?.Invoke(this, new TestResultEventArgs(r));
        public void Raise(TestMessageLevel level, string message) => TestRunMessage?.Invoke(this, new TestRunMessageEventArgs(level, message));

        public override event EventHandler<TestRunMessageEventArgs>? TestRunMessage;
        public override event EventHandler<TestRunStartEventArgs>? TestRunStart { add { } remove { } }
        public override event EventHandler<TestResultEventArgs>? TestResult;
        public override event EventHandler<TestRunCompleteEventArgs>? TestRunComplete { add { } remove { } }
        public override event EventHandler<DiscoveryStartEventArgs>? DiscoveryStart { add { } remove { } }
        public override event EventHandler<TestRunMessageEventArgs>? DiscoveryMessage { add { } remove { } }
        public override event EventHandler<DiscoveredTestsEventArgs>? DiscoveredTests { add { } remove { } }
        public override event EventHandler<DiscoveryCompleteEventArgs>? DiscoveryComplete { add { } remove { } }
    }
}
