using Xtf.Fuzz;
using Xtf.Testing;

namespace Xtf.Fuzz.Tests;

/// <summary>
/// Differential testing: the same batch on the simulator and on real Xen, every record compared,
/// and real Xen's records against the model. One boot of each host; a bounded case count.
/// </summary>
[Category("realxen")]
public class RealXenDifferentialTests
{
    public const int Cases = 500;
    public const ulong Seed = 0xD1FF;

    [Test]
    public void SimulatorAndRealXenAgreeOnEveryRecord()
    {
        var xen = RealXen.Require();
        // Every corpus case first (their findings stay fixed on real Xen too), then the generated ones.
        var cases = Directory.GetFiles(CorpusTests.CorpusDirectory, "*.case").Order(StringComparer.Ordinal)
            .Select(f => FuzzCase.Parse(File.ReadAllText(f)))
            .Concat(Enumerable.Range(0, Cases).Select(i => FuzzGenerators.Generate(FuzzArea.All, FuzzGenerators.CaseSeed(Seed, i)))).ToList();
        var sim = FuzzEngine.RunSim(cases);
        var real = FuzzEngine.RunHostAsync(xen, cases, TimeSpan.FromSeconds(300)).GetAwaiter().GetResult();
        TestContext.Out.WriteLine($"{cases.Count} cases, {cases.Sum(c => c.Steps.Count)} steps: sim {sim.Elapsed.TotalSeconds:0.00} s, real Xen {real.Elapsed.TotalSeconds:0.00} s, serial log {real.Transcript!.Log.Length} bytes");
        Assert.That(real.Problem, Is.Null, "real Xen printed every record");
        var findings = FuzzEngine.Compare(cases, sim, real);
        findings.AddRange(FuzzEngine.Check(cases, real, "model-vs-xen"));
        foreach (var f in findings.Take(20)) TestContext.Out.WriteLine($"{f}\n  case {f.Case}:\n  " + cases[Math.Max(0, f.Case)].ToString().Replace("\n", "\n  "));
        Assert.That(findings, Is.Empty, "divergences between the simulator, the model and real Xen");
    }
}
