using Xtf.Guest;

namespace Xtf.Guest.Tests;

/// <summary>
/// Every catalog kernel has the shape real-xen-in-qemu.md measured as accepted by Xen 4.17's dom0
/// builder: one RWX PT_LOAD at VA = PA = 0x100000, a PT_NOTE inside it, Xen's notes, a jmp at the
/// entry and a poisoned hypercall page.
/// </summary>
[TestFixture]
public sealed class ImageShapeTests
{
    [Test]
    public void CatalogIsNotEmptyAndHasTheExample()
    {
        var names = Kernels.CaseNames().ToList();
        Assert.That(names, Does.Contain("test-pv64-example"));
        Assert.That(names, Does.Contain("test-pv64-selftest"));
        Assert.That(names, Is.Unique);
        Assert.That(names, Is.Ordered.Using((IComparer<string>)StringComparer.Ordinal));
    }

    [TestCaseSource(typeof(Kernels), nameof(Kernels.CaseNames))]
    public void Builds(string name) =>
        ImageShapeChecks.Builds(Kernels.Get(name), name, Kernels.Case(name).Test.Title);

    [TestCaseSource(typeof(Kernels), nameof(Kernels.CaseNames))]
    public void ElfHeaderAndSegments(string name) =>
        ImageShapeChecks.ElfHeaderAndSegments(Kernels.Get(name));

    [TestCaseSource(typeof(Kernels), nameof(Kernels.CaseNames))]
    public void XenNotesAreExactly(string name) =>
        ImageShapeChecks.XenNotesAreExactly(Kernels.Get(name));

    [TestCaseSource(typeof(Kernels), nameof(Kernels.CaseNames))]
    public void EntryIsAJmpRel32ToTheCodeBase(string name) =>
        ImageShapeChecks.EntryIsAJmpRel32ToTheCodeBase(Kernels.Get(name));

    [TestCaseSource(typeof(Kernels), nameof(Kernels.CaseNames))]
    public void HypercallPageIsPoisoned(string name) =>
        ImageShapeChecks.HypercallPageIsPoisoned(Kernels.Get(name));

    [TestCaseSource(typeof(Kernels), nameof(Kernels.CaseNames))]
    public void BuildIsDeterministic(string name) =>
        ImageShapeChecks.BuildIsDeterministic(() => Kernels.Case(name).Build());

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
        var test = Kernels.Case("test-pv64-example").Test;
        Assert.Catch<ArgumentException>(() => KernelBuilder.Build(test, Environments.None));
    }
}
