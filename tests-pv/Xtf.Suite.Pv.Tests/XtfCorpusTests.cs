using Xtf.Hosting;
using Xtf.Sim;
using Xtf.Testing;

namespace Xtf.Suite.Pv.Tests;

/// <summary>
/// Other people's kernels as the simulator's measure (issue 10): every 64-bit PV kernel of an XTF
/// build (andyhhp/xtf built with its own make) runs on the simulator and on real Xen, and the two
/// must agree as <c>xtf run --host both</c> compares them. The build is named by the environment
/// variable <see cref="XtfCorpus.Variable"/> (the XTF source tree after make, holding tests/*/test-pv64-*);
/// CI cannot download XTF, so without it the test is Inconclusive and says how to get one.
/// The differences that remain are listed in <see cref="KnownDifferences"/> with their cause
/// (docs/xtf-corpus.md); each must still show, so the list cannot go stale.
/// </summary>
[Category("corpus")]
public sealed class XtfCorpusTests
{
    /// <summary>XTF kernels on which the simulator is known to differ from real Xen, and why (docs/xtf-corpus.md).</summary>
    public static readonly IReadOnlyDictionary<string, string> KnownDifferences = new SortedDictionary<string, string>(StringComparer.Ordinal)
    {
    };

    public static IEnumerable<TestCaseData> Kernels() => XtfCorpus.Kernels("test-pv64-*");

    [TestCaseSource(nameof(Kernels))]
    public void SimAgreesWithXen(string path) => XtfCorpus.SimAgreesWithXen(path, KnownDifferences, pvh: false, "docs/xtf-corpus.md");
}
