using System.Collections.Concurrent;
using NUnit.Framework;
using Xtf.Guest;
using Xtf.Hosting;
using Xtf.Sim;

namespace Xtf.Testing;

/// <summary>
/// What a suite's NUnit project does with each of its cases (tests-pv, tests-hvm): one NUnit case per test and
/// host, named "&lt;test&gt; on &lt;host&gt;" with the test's area and the host as categories; one real-Xen boot per
/// test, shared by its "on xen" and "on both" cases; a simulator run that prints its outcome. An HVM case
/// boots as a PVH dom0 on both hosts.
/// </summary>
public static class SuiteRuns
{
    public static IEnumerable<TestCaseData> For(TestCatalog catalog, string host) =>
        catalog.Cases.Select(c => new TestCaseData(c.FullName)
            .SetName($"{c.FullName} on {host}")
            .SetCategory(c.Test.Category)
            .SetCategory(host));

    private static readonly ConcurrentDictionary<string, Lazy<TestOutcome>> XenRuns = new();

    /// <summary>The case on real Xen (booted once per test run), judged by its expected shutdown or refusal.</summary>
    public static TestOutcome Xen(TestCase c)
    {
        RealXen.Require();
        return XenRuns.GetOrAdd(c.FullName, _ => new Lazy<TestOutcome>(() =>
            RealXen.Boot(c.FullName, c.Build().Bytes, c.Test.Vcpus, cmdline: c.Test.CommandLine, pvh: c.Pvh)
                .Expecting(c.Test.ExpectedShutdownReason, c.Test.ExpectedRefusal))).Value;
    }

    /// <summary>The case's <paramref name="image"/> on the simulator (default options), judged the same way.</summary>
    public static TestOutcome Sim(TestCase c, KernelImage image)
    {
        var t = new SimHost(new SimOptions()).Boot(new BootRequest(c.FullName, image.Bytes, c.Test.Vcpus, null, c.Test.CommandLine, c.Pvh));
        var outcome = ConsoleProtocol.Evaluate(t).Expecting(c.Test.ExpectedShutdownReason, c.Test.ExpectedRefusal);
        TestContext.Out.WriteLine($"sim: {outcome.StatusText}; seed {t.Seed:x}; trace {t.TraceHash}; {outcome.Message}");
        foreach (var line in outcome.GuestLines) TestContext.Out.WriteLine("  | " + line);
        return outcome;
    }
}
