using Xtf.Guest;

namespace Xtf.Guest.Tests;

/// <summary>
/// The trap table handed to HYPERVISOR_set_trap_table: one trap_info per vector 0..31 pointing at
/// that vector's stub, then a zero entry that ends the table.
/// </summary>
[TestFixture]
public sealed class TrapTableTests
{
    [TestCaseSource(typeof(Kernels), nameof(Kernels.CorpusNames))]
    public void EveryVectorHasAnEntry(string name) =>
        TrapTableChecks.EveryVectorHasAnEntry(Kernels.Corpus(name));

    [TestCaseSource(typeof(Kernels), nameof(Kernels.CorpusNames))]
    public void StubsAreDistinctAndResolved(string name) =>
        TrapTableChecks.StubsAreDistinctAndResolved(Kernels.Corpus(name));

    [TestCaseSource(typeof(Kernels), nameof(Kernels.CorpusNames))]
    public void EachStubNamesItsVectorAndFindsTheFrame(string name) =>
        TrapTableChecks.EachStubNamesItsVectorAndFindsTheFrame(Kernels.Corpus(name));
}
