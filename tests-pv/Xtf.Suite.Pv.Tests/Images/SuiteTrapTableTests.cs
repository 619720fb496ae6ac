using Xtf.Testing;

namespace Xtf.Suite.Pv.Tests.Images;

/// <summary>Every suite kernel's trap table covers vectors 0..31 with the generator's stubs (<see cref="TrapTableChecks"/>).</summary>
[TestFixture]
public sealed class SuiteTrapTableTests
{
    [TestCaseSource(typeof(SuiteKernels), nameof(SuiteKernels.CaseNames))]
    public void EveryVectorHasAnEntry(string name) =>
        TrapTableChecks.EveryVectorHasAnEntry(SuiteKernels.Get(name));

    [TestCaseSource(typeof(SuiteKernels), nameof(SuiteKernels.CaseNames))]
    public void StubsAreDistinctAndResolved(string name) =>
        TrapTableChecks.StubsAreDistinctAndResolved(SuiteKernels.Get(name));

    [TestCaseSource(typeof(SuiteKernels), nameof(SuiteKernels.CaseNames))]
    public void EachStubNamesItsVectorAndFindsTheFrame(string name) =>
        TrapTableChecks.EachStubNamesItsVectorAndFindsTheFrame(SuiteKernels.Get(name));
}
