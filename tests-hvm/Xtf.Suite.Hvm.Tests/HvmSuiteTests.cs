using Xtf.Guest;
using Xtf.Hosting;
using Xtf.Sim;
using Xtf.Testing;

[assembly: Parallelizable(ParallelScope.Children)]
[assembly: LevelOfParallelism(2)]

namespace Xtf.Suite.Hvm.Tests;

/// <summary>
/// Every HVM suite test on every host is one NUnit case, "&lt;test&gt; on &lt;host&gt;", with its area and host as
/// categories, as for the PV suite. Real Xen boots each kernel as a PVH dom0 (<c>dom0=pvh dom0-iommu=none</c>).
/// </summary>
public sealed class HvmSuiteTests
{
    private static readonly Lazy<TestCatalog> LazyCatalog = new(() => TestCatalog.FromAssemblies(typeof(Example).Assembly));
    private static TestCatalog Catalog => LazyCatalog.Value;

    public static IEnumerable<TestCaseData> OnSim() => SuiteRuns.For(Catalog, "sim");
    public static IEnumerable<TestCaseData> OnXen() => SuiteRuns.For(Catalog, "xen");
    public static IEnumerable<TestCaseData> OnBoth() => SuiteRuns.For(Catalog, "both");

    [TestCaseSource(nameof(OnSim))]
    public void RunOnSim(string name)
    {
        var c = Catalog.Cases.Single(x => x.FullName == name);
        var outcome = SuiteRuns.Sim(c, c.Build());
        Assert.That(outcome.StatusText, Is.EqualTo(ExpectedResults.StatusFor(c, "sim")), outcome.Message);
    }

    [TestCaseSource(nameof(OnXen))]
    public void RunOnXen(string name)
    {
        var c = Catalog.Cases.Single(x => x.FullName == name);
        var outcome = SuiteRuns.Xen(c);
        Assert.That(outcome.StatusText, Is.EqualTo(ExpectedResults.StatusFor(c, "xen")), outcome.Message);
        Assert.That(outcome.GuestLines.Take(3), Is.EqualTo(new[] { ConsoleProtocol.Banner, EnvironmentNames.Line(c.Environment), c.Test.Title }));
    }

    /// <summary>The same kernel on real Xen and on the simulator: the normalized transcripts must be identical.</summary>
    [TestCaseSource(nameof(OnBoth))]
    public void SimAgreesWithXen(string name)
    {
        var c = Catalog.Cases.Single(x => x.FullName == name);
        var xen = SuiteRuns.Xen(c);
        var sim = SuiteRuns.Sim(c, c.Build());
        string? diff = Divergence.Compare(xen, sim);
        if (ExpectedResults.KnownSimGap(c))
        {
            // A documented model gap must still show; once fixed, remove its expected-results entry.
            Assert.That(diff, Is.Not.Null, "the documented simulator gap is gone: remove its ExpectedResults entry");
            return;
        }
        Assert.That(diff, Is.Null, "DIVERGED:\n" + diff);
    }

    [Test]
    public void EveryExpectationNamesARealTestAndGivesItsEvidence()
    {
        foreach (var e in ExpectedResults.Entries)
        {
            Assert.That(Catalog.Cases.Any(c => c.FullName == e.Test), Is.True, $"{e.Test} is not a test");
            Assert.That(e.Reason, Is.Not.Empty, e.Test);
            Assert.That(e.Evidence, Is.Not.Empty, e.Test);
        }
    }

    [Test]
    public void EveryCaseIsAnHvmKernel()
    {
        Assert.That(Catalog.Cases, Is.Not.Empty);
        foreach (var c in Catalog.Cases)
        {
            Assert.That(c.Pvh, Is.True, c.FullName);
            Assert.That(c.FullName, Does.StartWith("test-hvm64-"));
        }
    }
}
