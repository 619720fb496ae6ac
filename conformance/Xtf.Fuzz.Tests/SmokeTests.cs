using Xtf.Fuzz;

namespace Xtf.Fuzz.Tests;

public class SmokeTests
{
    [Test, Explicit]
    public void Dump()
    {
        var cases = Enumerable.Range(0, 400).Select(i => FuzzGenerators.Generate(FuzzArea.All, FuzzGenerators.CaseSeed(1, i))).ToList();
        var run = FuzzEngine.RunSim(cases);
        TestContext.Out.WriteLine($"{run.Elapsed} {run.Problem}");
        var expected = XenModel.Run(cases);
        int idx = 0;
        for (int c = 0; c < cases.Count; c++)
            for (int s = 0; s < cases[c].Steps.Count; s++, idx++)
                TestContext.Out.WriteLine($"{(run.Records[idx] == expected[idx] ? "  " : "XX")} {cases[c].Steps[s]}\n     sim   {run.Records[idx]}\n     model {expected[idx]}");
        foreach (var l in run.Transcript!.Lines.Take(40)) TestContext.Out.WriteLine("| " + l);
    }
}

public class NullProbe
{
    [Test, Explicit]
    public void Null()
    {
        var c = new FuzzCase([FuzzStep.Parse("hc 32 0x5 0x0"), FuzzStep.Parse("hc 17 0x1 0x0"), FuzzStep.Parse("hc 18 0x0 0x3 0x0")]);
        var run = FuzzEngine.RunSim([c]);
        foreach (var r in run.Records) TestContext.Out.WriteLine(r);
    }
}
