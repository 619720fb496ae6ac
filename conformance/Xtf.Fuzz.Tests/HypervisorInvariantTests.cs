using Xtf.Fuzz;

namespace Xtf.Fuzz.Tests;

/// <summary>The simulator's own invariants, checked around every hypercall of a batch (<see cref="HypervisorInvariants"/>).</summary>
public class HypervisorInvariantTests
{
    /// <summary>An IPI port (1) on vCPU 0, made pending by a send, then closed.</summary>
    private static readonly FuzzCase PairThenClose = FuzzCase.Parse("""
        hc 32 0x7 &0 buf=00000000eeeeeeee zero=8 report=8
        hc 32 0x4 &0 buf=01000000 zero=4
        hc 32 0x3 &0 buf=01000000 zero=4
        """);

    [Test]
    public void ClosingAPendingPortBreaksNoInvariant()
    {
        var run = FuzzEngine.RunSim([PairThenClose]);
        Assert.That(run.Problem, Is.Null);
        Assert.That(run.Records, Is.EqualTo(XenModel.Run([PairThenClose])));
        Assert.That(run.Internal.Select(v => $"{v.Rule} at {v.StepIndex}: {v.Detail}"), Is.Empty);
    }

    [Test]
    public void AFreePortLeftPendingIsFoundAtTheCloseStep()
    {
        var run = FuzzEngine.RunSim([PairThenClose], PlantedBug.CloseLeavesPending);
        var findings = FuzzEngine.InternalFindings([PairThenClose], run);
        Assert.That(findings, Has.Count.EqualTo(1));
        Assert.That(findings[0].Kind, Is.EqualTo("invariant: free port left pending"));
        Assert.That((findings[0].Case, findings[0].Step), Is.EqualTo((0, 2)));
        Assert.That(findings[0].Actual, Does.Contain("port 1 is free"));
    }

    /// <summary>Each case of a batch is attributed its own violations (the checker reads the kernel's step counter).</summary>
    [Test]
    public void ViolationsAreAttributedToTheirCaseInABatch()
    {
        var clean = FuzzCase.Parse("hc 32 0x3 &0 buf=05000000 zero=4");
        var run = FuzzEngine.RunSim([clean, clean, PairThenClose, clean], PlantedBug.CloseLeavesPending);
        var findings = FuzzEngine.InternalFindings([clean, clean, PairThenClose, clean], run);
        Assert.That(findings.Select(f => (f.Case, f.Step)), Is.EqualTo(new[] { (2, 2) }));
    }
}
