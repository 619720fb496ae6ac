using Xtf.Fuzz;
using Xtf.Sim;
using Xtf.Testing;

namespace Xtf.Fuzz.Tests;

/// <summary>Commands that end the domain run as single-shot cases, one boot each: records and shutdown reason.</summary>
public class TerminalCaseTests
{
    private static List<FuzzCase> Cases(int n, ulong seed) => Enumerable.Range(0, n).Select(i => TerminalCases.Generate(FuzzGenerators.CaseSeed(seed, i))).ToList();

    [Test]
    public void SimulatorEndsTheDomainAsTheModelPredicts()
    {
        var sim = new SimHost(new SimOptions { KeepTraceText = false });
        foreach (var c in Cases(24, 0x7E4))
        {
            var o = TerminalCases.RunAsync(sim, c).GetAwaiter().GetResult();
            Assert.That(o.Records, Is.EqualTo(TerminalCases.ExpectedRecords(c)), c.ToString());
            Assert.That(o.Reason, Is.EqualTo(TerminalCases.ExpectedReason(c)), c.ToString());
        }
    }

    [Test, Category("realxen")]
    public void RealXenEndsTheDomainAsTheSimulatorDoes()
    {
        var xen = RealXen.Require();
        var sim = new SimHost(new SimOptions { KeepTraceText = false });
        foreach (var c in Cases(4, 0x7E5))
        {
            var real = TerminalCases.RunAsync(xen, c).GetAwaiter().GetResult();
            var simulated = TerminalCases.RunAsync(sim, c).GetAwaiter().GetResult();
            TestContext.Out.WriteLine($"{c.Steps[^1]}: xen reason {real.Reason}, sim reason {simulated.Reason}");
            Assert.That(real.Records, Is.EqualTo(simulated.Records), c.ToString());
            Assert.That(real.Reason, Is.EqualTo(simulated.Reason), c.ToString());
            Assert.That(real.Reason, Is.EqualTo(TerminalCases.ExpectedReason(c)), c.ToString());
        }
    }
}
