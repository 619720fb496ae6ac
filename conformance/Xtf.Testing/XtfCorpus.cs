using NUnit.Framework;
using Xtf.Hosting;
using Xtf.Sim;

namespace Xtf.Testing;

/// <summary>
/// An XTF build as the simulator's measure (issues 10 and 11): the folder the environment variable
/// <see cref="Variable"/> names, its kernels per environment, the per-boot values masked before
/// comparing, and one kernel's comparison of the simulator with real Xen as <c>xtf run --host both</c> does it.
/// CI cannot download XTF, so without a build the corpus tests are Inconclusive and say how to get one.
/// </summary>
public static class XtfCorpus
{
    public const string Variable = "XTF_DIR";

    /// <summary>
    /// Values XTF kernels print that change from boot to boot on real Xen, masked on both hosts before
    /// comparing (the same as <c>xtf run --host both --mask</c>); the rest of those lines must agree.
    /// </summary>
    public static readonly IReadOnlyList<(string Pattern, string Why)> PerBootValues =
    [
        (@"40000003:00000002 -> ([0-9a-f]{8}):", "test-*-cpuid: leaf 0x40000003[2] eax, the TSC frequency Xen calibrates at each boot (2096027–2096029 kHz measured)"),
        (@"^\s*00000010 -> ([0-9a-f]{16})$", "test-*-msr: MSR 0x10, the TSC itself, a reading of time"),
    ];

    public static readonly LineMask Mask = LineMask.TryCreate(PerBootValues.Select(v => v.Pattern), out var m, out string? e) ? m : throw new InvalidOperationException(e);

    /// <summary>The kernels of the named build whose file names match <paramref name="pattern"/> (e.g. <c>test-pv64-*</c>), as NUnit cases; one "no build" case without it.</summary>
    public static IEnumerable<TestCaseData> Kernels(string pattern)
    {
        string? root = Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } d ? d : null;
        string? tests = root is null ? null : Directory.Exists(Path.Combine(root, "tests")) ? Path.Combine(root, "tests") : root;
        if (tests is null || !Directory.Exists(tests))
        {
            yield return new TestCaseData("").SetName($"XTF corpus {pattern} (no build named)");
            yield break;
        }
        foreach (var path in Directory.EnumerateFiles(tests, pattern, SearchOption.AllDirectories)
                     .Where(p => Path.GetExtension(p).Length == 0).Order(StringComparer.Ordinal))
            yield return new TestCaseData(path).SetName($"XTF corpus: {Path.GetFileName(path)}");
    }

    /// <summary>
    /// Runs one kernel on the simulator and on real Xen; the transcripts must agree after masking, unless
    /// <paramref name="knownDifferences"/> documents a difference, which must then still show.
    /// </summary>
    public static void SimAgreesWithXen(string path, IReadOnlyDictionary<string, string> knownDifferences, bool pvh, string docs)
    {
        if (path.Length == 0)
            Assert.Inconclusive($"no XTF build: set {Variable} to one (git clone https://github.com/andyhhp/xtf; make -C xtf; " +
                                $"{Variable}=$PWD/xtf dotnet test --filter TestCategory=corpus)");
        string name = Path.GetFileName(path);
        byte[] kernel = File.ReadAllBytes(path);

        var t = new SimHost(new SimOptions()).Boot(new BootRequest(name, kernel, 1, null, null, pvh));
        var sim = ConsoleProtocol.Evaluate(t);
        TestContext.Out.WriteLine($"sim: {sim.StatusText}; {sim.Message}");
        Assert.That(t.Lines, Has.None.Contains("internal error"), "the simulator must answer every kernel without an internal error");

        var xen = RealXen.Boot(name, kernel, pvh: pvh);
        string? diff = Divergence.Compare(xen, sim, Mask);
        if (knownDifferences.TryGetValue(name, out string? cause))
        {
            Assert.That(diff, Is.Not.Null, $"the documented difference ({cause}) is gone: remove it from the known differences and {docs}");
            return;
        }
        Assert.That(diff, Is.Null, "DIVERGED:\n" + diff);
    }
}
