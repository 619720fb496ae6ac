using Xtf.Testing;

namespace Xtf.Suite.Pv.Tests.Images;

/// <summary>
/// Every suite kernel has the shape Xen 4.17's dom0 builder accepts (<see cref="ImageShapeChecks"/>).
/// </summary>
[TestFixture]
public sealed class SuiteImageShapeTests
{
    [Test]
    public void CatalogIsNotEmptyAndHasTheExample()
    {
        var names = SuiteKernels.CaseNames().ToList();
        Assert.That(names, Does.Contain("test-pv64-example"));
        Assert.That(names, Does.Contain("test-pv64-selftest"));
        Assert.That(names, Is.Unique);
        Assert.That(names, Is.Ordered.Using((IComparer<string>)StringComparer.Ordinal));
    }

    [TestCaseSource(typeof(SuiteKernels), nameof(SuiteKernels.CaseNames))]
    public void Builds(string name) =>
        ImageShapeChecks.Builds(SuiteKernels.Get(name), name, SuiteKernels.Case(name).Test.Title);

    [TestCaseSource(typeof(SuiteKernels), nameof(SuiteKernels.CaseNames))]
    public void ElfHeaderAndSegments(string name) =>
        ImageShapeChecks.ElfHeaderAndSegments(SuiteKernels.Get(name));

    [TestCaseSource(typeof(SuiteKernels), nameof(SuiteKernels.CaseNames))]
    public void XenNotesAreExactly(string name) =>
        ImageShapeChecks.XenNotesAreExactly(SuiteKernels.Get(name));

    [TestCaseSource(typeof(SuiteKernels), nameof(SuiteKernels.CaseNames))]
    public void EntryIsAJmpRel32ToTheCodeBase(string name) =>
        ImageShapeChecks.EntryIsAJmpRel32ToTheCodeBase(SuiteKernels.Get(name));

    [TestCaseSource(typeof(SuiteKernels), nameof(SuiteKernels.CaseNames))]
    public void HypercallPageIsPoisoned(string name) =>
        ImageShapeChecks.HypercallPageIsPoisoned(SuiteKernels.Get(name));

    [TestCaseSource(typeof(SuiteKernels), nameof(SuiteKernels.CaseNames))]
    public void BuildIsDeterministic(string name) =>
        ImageShapeChecks.BuildIsDeterministic(() => SuiteKernels.Case(name).Build());
}
