using Xtf.Guest;
using Xtf.Hosting;
using Xtf.Testing;

[assembly: Parallelizable(ParallelScope.Children)]
[assembly: LevelOfParallelism(2)]

namespace Xtf.Suite.Pv.Tests;

/// <summary>
/// Every suite test on every host is one NUnit case, named "&lt;test&gt; on &lt;host&gt;" and carrying
/// its area and host as categories: <c>dotnet test --filter TestCategory=xen_version</c>.
/// </summary>
public sealed class PvSuiteTests
{
    private static readonly TestCatalog Catalog = TestCatalog.FromAssemblies(typeof(Example).Assembly);

    public static IEnumerable<TestCaseData> OnXen() =>
        Catalog.Cases.Select(c => new TestCaseData(c.FullName)
            .SetName($"{c.FullName} on xen")
            .SetCategory(c.Test.Category)
            .SetCategory("xen"));

    [TestCaseSource(nameof(OnXen))]
    public void RunOnXen(string name)
    {
        var c = Catalog.Cases.Single(x => x.FullName == name);
        var image = c.Build();
        var outcome = RealXen.Boot(c.FullName, image.Bytes, c.Test.Vcpus, cmdline: c.Test.CommandLine);
        string expected = ExpectedResults.StatusFor(c, "xen");
        Assert.That(outcome.StatusText, Is.EqualTo(expected), outcome.Message);
        Assert.That(outcome.GuestLines.Take(3), Is.EqualTo(new[] { ConsoleProtocol.Banner, GuestProgram.EnvironmentLine, c.Test.Title }));
    }

    [Test]
    public void EveryExpectationNamesARealTestAndGivesItsEvidence()
    {
        foreach (var e in ExpectedResults.Entries)
        {
            Assert.That(Catalog.Cases.Any(c => c.FullName == e.Test), Is.True, $"{e.Test} is not a test");
            Assert.That(e.Reason, Is.Not.Empty, e.Test);
            Assert.That(e.Evidence, Is.Not.Empty, e.Test);
            Assert.That(TestStatusNames.TryParse(e.Status.Split(' ')[0], out _), Is.True, e.Status);
        }
    }
}
