using Xtf.Guest;
using static Xtf.Guest.Tests.ExecutionTests;

namespace Xtf.Guest.Tests;

/// <summary>
/// Problems found while reviewing the generator, kept as regression tests now that they are fixed.
/// (More live next to the features they concern: printk widths in PrintkRuntimeTests, nested
/// routines in CodegenSemanticsTests, GuestBuffer offsets in DataSectionTests.)
/// </summary>
[TestFixture]
public sealed class GeneratorBugTests
{
    [Test]
    public void AJumpToAnUnplacedLabelFailsTheBuild() =>
        Assert.Catch(() => Kernels.Build(g =>
        {
            var nowhere = g.NewLabel("nowhere");
            g.Goto(nowhere);
            g.Success();
        }));

    [Test]
    public void AJumpToAnUnplacedLabelCurrentlyLeavesTheCode()
    {
        // Documents the current behaviour behind the explicit test above, so a fix shows up here too.
        KernelImage image;
        try
        {
            image = Kernels.Build(g =>
            {
                var nowhere = g.NewLabel("nowhere");
                g.Goto(nowhere);
                g.Success();
            });
        }
        catch (InvalidOperationException e)
        {
            Assert.That(e.Message, Does.Contain("'nowhere' is used but never placed"));
            return;
        }
        Assert.Fail($"the build accepted a jump to an unplaced label ({image.Name})");
    }

    [Test]
    public void TheResultLineStartsALineAfterAPartialPrint()
    {
        var run = Run(g => { g.Print("no newline"); g.Success(); });
        Assert.That(run.Lines, Does.Contain("Test result: SUCCESS"), run.Output);
    }

    [Test]
    public void ThePanicBlockStartsALineAfterAPartialPrint()
    {
        var run = Run(g => { g.Print("no newline"); g.Panic("boom"); });
        Assert.That(run.Lines.Count(l => l == "******************************"), Is.EqualTo(2), run.Output);
    }

    [Test]
    public void AConstantPointerAbove2GiBCanBeDereferenced() =>
        Assert.DoesNotThrow(() => Kernels.Build(g =>
        {
            g.Print("%x\n", Val.At(Val.Const(unchecked((long)0xffff_8000_0000_0000UL))));
            g.Success();
        }));

    [Test]
    public void AHighAddressWorksThroughAVariablePointer()
    {
        // The workaround for the limitation above: keep the pointer in a variable (a Deref, [rax+off]).
        var run = SimRun.Boot(Kernels.Build(g =>
        {
            var p = g.Var("p", unchecked((long)0x8000_0000_0000_0000UL));      // non-canonical
            g.Print("%x\n", Val.At(p));
            g.Success();
        }));
        Assert.That(run.Lines, Has.Some.Match(@"^PANIC: Unhandled exception: vec 13 #GP\[0000\] at e030:"), run.Output);
    }

    [Test]
    public void SharedInfoIsMappedWhateverPathRuns()
    {
        var run = SimRun.Boot(Kernels.Build(g =>
        {
            var x = g.Var("x");
            g.If(x == 1, () => g.Print("%d\n", g.UpcallMask()));     // not taken at run time
            g.Print("%d\n", g.UpcallMask());
            g.Success();
        }));
        Assert.That(run.Hypercalls.Select(h => h.Number), Does.Contain((int)Abi.Hypercall.UpdateVaMapping), run.Output);
    }
}
