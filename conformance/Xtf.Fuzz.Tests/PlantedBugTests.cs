using Xtf.Fuzz;

namespace Xtf.Fuzz.Tests;

/// <summary>
/// The fuzzer works: with a defect planted in the simulator it must find a failing case and
/// shrink it to at most three steps; with no defect the same run is clean.
/// </summary>
public class PlantedBugTests
{
    private static FuzzSummary Fuzz(FuzzArea area, PlantedBug bug, int cases = 500) =>
        new FuzzCampaign(new FuzzSettings { Area = area, Cases = cases, Seed = 0xB06, Batch = 250, PlantedBug = bug, MaxFailures = 1, MaxShrinks = 1 })
            .RunAsync().GetAwaiter().GetResult();

    /// <summary>
    /// Each planted bug is found and shrunk to 3 steps or fewer. The first two change what the guest
    /// sees (the model disagrees); the third is a defect in the simulator's own state (the return
    /// codes stay right), which only the internal invariant checker can name.
    /// </summary>
    [TestCase(FuzzArea.Evtchn, PlantedBug.UnmaskReraisesUnmasked, "model-vs-sim")]
    [TestCase(FuzzArea.Vcpu, PlantedBug.InitialiseExistsBeforeCopy, "model-vs-sim")]
    [TestCase(FuzzArea.Evtchn, PlantedBug.CloseLeavesPending, "invariant: free port left pending")]
    public void FuzzerFindsThePlantedBugAndShrinksItToThreeStepsOrFewer(FuzzArea area, PlantedBug bug, string kind)
    {
        var summary = Fuzz(area, bug);
        Assert.That(summary.Failures, Is.Not.Empty, $"{bug} was not found in {summary.Cases} cases");
        var f = summary.Failures[0];
        TestContext.Out.WriteLine($"{f.Kind} in case 0x{f.CaseSeed:x}: {f.OriginalSteps} -> {f.Shrunk.Steps.Count} steps\n{f.Shrunk}\nexpected {f.Expected}\nactual   {f.Actual}");
        Assert.That(f.Kind, Is.EqualTo(kind));
        Assert.That(f.Shrunk.Steps.Count, Is.LessThanOrEqualTo(3));
        // The shrunk case still fails with the bug and passes without it.
        Assert.That(FuzzEngine.FailsOnSim([f.Shrunk], bug)[0], Is.True);
        Assert.That(FuzzEngine.FailsOnSim([f.Shrunk], PlantedBug.None)[0], Is.False);
    }

    [Test]
    public void WithoutAPlantedBugTheSameRunIsClean()
    {
        var summary = Fuzz(FuzzArea.All, PlantedBug.None);
        Assert.That(summary.Failures.Select(f => $"{f.Kind}: {f.Expected} / {f.Actual}"), Is.Empty);
        Assert.That(summary.RunProblems, Is.Empty);
    }
}
