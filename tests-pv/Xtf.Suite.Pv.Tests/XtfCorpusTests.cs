using Xtf.Hosting;
using Xtf.Sim;
using Xtf.Testing;

namespace Xtf.Suite.Pv.Tests;

/// <summary>
/// Other people's kernels as the simulator's measure (issue 10): every 64-bit PV kernel of an XTF
/// build (andyhhp/xtf built with its own make) runs on the simulator and on real Xen, and the two
/// must agree as <c>xtf run --host both</c> compares them. The build is named by the environment
/// variable <see cref="Variable"/> (the XTF source tree after make, holding tests/*/test-pv64-*);
/// CI cannot download XTF, so without it the test is Inconclusive and says how to get one.
/// The differences that remain are listed in <see cref="KnownDifferences"/> with their cause
/// (docs/xtf-corpus.md); each must still show, so the list cannot go stale.
/// </summary>
[Category("corpus")]
public sealed class XtfCorpusTests
{
    public const string Variable = "XTF_DIR";

    /// <summary>XTF kernels on which the simulator is known to differ from real Xen, and why (docs/xtf-corpus.md).</summary>
    public static readonly IReadOnlyDictionary<string, string> KnownDifferences = new SortedDictionary<string, string>(StringComparer.Ordinal)
    {
    };

    /// <summary>
    /// Values XTF kernels print that change from boot to boot on real Xen, masked on both hosts before
    /// comparing (the same as <c>xtf run --host both --mask</c>); the rest of those lines must agree.
    /// </summary>
    public static readonly IReadOnlyList<(string Pattern, string Why)> PerBootValues =
    [
        (@"40000003:00000002 -> ([0-9a-f]{8}):", "test-pv64-cpuid: leaf 0x40000003[2] eax, the TSC frequency Xen calibrates at each boot (2096027–2096029 kHz measured)"),
        (@"^\s*00000010 -> ([0-9a-f]{16})$", "test-pv64-msr: MSR 0x10, the TSC itself, a reading of time"),
    ];

    public static readonly LineMask Mask = LineMask.TryCreate(PerBootValues.Select(v => v.Pattern), out var m, out string? e) ? m : throw new InvalidOperationException(e);

    private static string? Folder => Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } d ? d : null;

    public static IEnumerable<TestCaseData> Kernels()
    {
        string? root = Folder;
        string? tests = root is null ? null : Directory.Exists(Path.Combine(root, "tests")) ? Path.Combine(root, "tests") : root;
        if (tests is null || !Directory.Exists(tests))
        {
            yield return new TestCaseData("").SetName("XTF corpus (no build named)");
            yield break;
        }
        foreach (var path in Directory.EnumerateFiles(tests, "test-pv64-*", SearchOption.AllDirectories)
                     .Where(p => Path.GetExtension(p).Length == 0).Order(StringComparer.Ordinal))
            yield return new TestCaseData(path).SetName($"XTF corpus: {Path.GetFileName(path)}");
    }

    [TestCaseSource(nameof(Kernels))]
    public void SimAgreesWithXen(string path)
    {
        if (path.Length == 0)
            Assert.Inconclusive($"no XTF build: set {Variable} to one (git clone https://github.com/andyhhp/xtf; make -C xtf; " +
                                $"{Variable}=$PWD/xtf dotnet test --filter TestCategory=corpus)");
        string name = Path.GetFileName(path);
        byte[] kernel = File.ReadAllBytes(path);

        var t = new SimHost(new SimOptions()).Boot(new BootRequest(name, kernel, 1, null, null));
        var sim = ConsoleProtocol.Evaluate(t);
        TestContext.Out.WriteLine($"sim: {sim.StatusText}; {sim.Message}");
        Assert.That(t.Lines, Has.None.Contains("internal error"), "the simulator must answer every kernel without an internal error");

        var xen = RealXen.Boot(name, kernel);
        string? diff = Divergence.Compare(xen, sim, Mask);
        if (KnownDifferences.TryGetValue(name, out string? cause))
        {
            Assert.That(diff, Is.Not.Null, $"the documented difference ({cause}) is gone: remove it from KnownDifferences and docs/xtf-corpus.md");
            return;
        }
        Assert.That(diff, Is.Null, "DIVERGED:\n" + diff);
    }
}
