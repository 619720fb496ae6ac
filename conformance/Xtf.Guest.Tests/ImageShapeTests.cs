using Xtf.Guest;

namespace Xtf.Guest.Tests;

/// <summary>
/// Generated kernels have the shape measured as accepted (docs/dom0.md §2.2) by Xen 4.17's dom0
/// builder (<see cref="ImageShapeChecks"/>), checked on a corpus of hand-written kernels; the suites'
/// tests check every suite kernel the same way.
/// </summary>
[TestFixture]
public sealed class ImageShapeTests
{
    [TestCaseSource(typeof(Kernels), nameof(Kernels.CorpusNames))]
    public void Builds(string name) =>
        ImageShapeChecks.Builds(Kernels.Corpus(name), $"test-pv64-corpus-{name}", Kernels.CorpusTitle(name));

    [TestCaseSource(typeof(Kernels), nameof(Kernels.CorpusNames))]
    public void ElfHeaderAndSegments(string name) =>
        ImageShapeChecks.ElfHeaderAndSegments(Kernels.Corpus(name));

    [TestCaseSource(typeof(Kernels), nameof(Kernels.CorpusNames))]
    public void XenNotesAreExactly(string name) =>
        ImageShapeChecks.XenNotesAreExactly(Kernels.Corpus(name));

    [TestCaseSource(typeof(Kernels), nameof(Kernels.CorpusNames))]
    public void EntryIsAJmpRel32ToTheCodeBase(string name) =>
        ImageShapeChecks.EntryIsAJmpRel32ToTheCodeBase(Kernels.Corpus(name));

    [TestCaseSource(typeof(Kernels), nameof(Kernels.CorpusNames))]
    public void HypercallPageIsPoisoned(string name) =>
        ImageShapeChecks.HypercallPageIsPoisoned(Kernels.Corpus(name));

    [TestCaseSource(typeof(Kernels), nameof(Kernels.CorpusNames))]
    public void BuildIsDeterministic(string name) =>
        ImageShapeChecks.BuildIsDeterministic(() => Kernels.BuildCorpus(name));

    [Test]
    public void DifferentTitlesGiveDifferentImages()
    {
        var a = Kernels.Build(g => g.Success(), "one");
        var b = Kernels.Build(g => g.Success(), "two");
        Assert.That(b.Bytes, Is.Not.EqualTo(a.Bytes));
    }

    [Test]
    public void BuildRejectsAnEnvironmentTheTestDoesNotRunIn()
    {
        Assert.Catch<ArgumentException>(() => KernelBuilder.Build(new Pv64Only(), Environments.None));
    }

    private sealed class Pv64Only : XtfTest
    {
        public override string Name => "pv64-only";
        public override string Title => "Runs in PV64 only";
        public override void Body(GuestProgram g) => g.Success();
    }
}
