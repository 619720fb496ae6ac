using Xtf.Abi;
using Xtf.Guest;
using Xtf.Hosting;

namespace Xtf.Guest.Tests;

/// <summary>
/// Runs generated kernels in the simulator (<see cref="SimRun"/>) and checks what they print: the printk runtime,
/// the result protocol, panics and trap handling.
/// </summary>
[TestFixture]
public sealed class ExecutionTests
{
    private static readonly string[] Header =
    [
        "--- Xen Test Framework ---",
        "Environment: PV 64bit (Long mode 4 levels)",
    ];

    internal static SimRun Run(Action<GuestProgram> body, string title = "unit")
    {
        var run = SimRun.Boot(Kernels.Build(body, title));
        Assert.That(run.Fault, Is.Null, $"interpreter stopped: {run.Fault}\n{run.Output}");
        Assert.That(run.End, Is.EqualTo(BootEnd.Shutdown), run.Output);
        return run;
    }

    /// <summary>The lines a body prints between the title and the result line.</summary>
    internal static IReadOnlyList<string> Body(SimRun run)
    {
        var lines = run.Lines;
        Assert.That(lines.Take(2), Is.EqualTo(Header));
        return lines.Skip(3).TakeWhile(l => !l.StartsWith("Test result: ", StringComparison.Ordinal)).ToList();
    }

    /// <summary>What one Print prints, followed by a newline the helper adds.</summary>
    internal static string Printed(string format, params Val[] args) =>
        Body(Run(g => { g.Print(format + "\n", args); g.Success(); })).Single();

    // ------------------------------------------------------------------ result protocol

    [Test]
    public void NoReportIsAnError()
    {
        var run = Run(_ => { });
        Assert.That(run.Lines.Skip(3), Is.EqualTo(new[] { "Test did not report a status", "Test result: ERROR" }));
        Assert.That(run.Reason, Is.EqualTo(ShutdownReason.Poweroff));
    }

    [Test]
    public void TitleIsTheThirdLine() =>
        Assert.That(Run(g => g.Success(), "My title, 100% sure").Lines[2], Is.EqualTo("My title, 100% sure"));

    [TestCase(new[] { GuestStatus.Success }, "SUCCESS")]
    [TestCase(new[] { GuestStatus.Skip }, "SKIP")]
    [TestCase(new[] { GuestStatus.Error }, "ERROR")]
    [TestCase(new[] { GuestStatus.Failure }, "FAILURE")]
    [TestCase(new[] { GuestStatus.Failure, GuestStatus.Success }, "FAILURE")]
    [TestCase(new[] { GuestStatus.Success, GuestStatus.Skip }, "SKIP")]
    [TestCase(new[] { GuestStatus.Error, GuestStatus.Skip, GuestStatus.Success }, "ERROR")]
    [TestCase(new[] { GuestStatus.Skip, GuestStatus.Failure, GuestStatus.Error }, "FAILURE")]
    public void WorstStatusWins(GuestStatus[] reports, string expected)
    {
        var run = Run(g =>
        {
            foreach (var s in reports)
            {
                switch (s)
                {
                    case GuestStatus.Success: g.Success(); break;
                    case GuestStatus.Skip: g.Skip("skip"); break;
                    case GuestStatus.Error: g.Error("error %d", 1); break;
                    default: g.Failure("failure"); break;
                }
            }
        });
        Assert.That(run.Result, Is.EqualTo("Test result: " + expected));
    }

    [Test]
    public void WarningsShowOnlyOnSuccess()
    {
        var ok = Run(g => { g.Warning("careful %d", 3); g.Success(); });
        Assert.That(Body(ok), Is.EqualTo(new[] { "careful 3" }));
        Assert.That(ok.Result, Is.EqualTo("Test result: SUCCESS with warnings"));

        var bad = Run(g => { g.Warning("careful"); g.Failure("broken"); });
        Assert.That(bad.Result, Is.EqualTo("Test result: FAILURE"));
    }

    [Test]
    public void ExitEndsTheTestEarly()
    {
        var run = Run(g => { g.Success(); g.Exit(); g.Print("not reached\n"); g.Failure("not reached"); });
        Assert.That(run.Output, Does.Not.Contain("not reached"));
        Assert.That(run.Result, Is.EqualTo("Test result: SUCCESS"));
    }

    [Test]
    public void PanicPrintsABlockAndCrashes()
    {
        var run = Run(g => { g.Print("before\n"); g.Panic("bad %d thing", 42); });
        Assert.That(run.Reason, Is.EqualTo(ShutdownReason.Crash));
        Assert.That(run.Lines.Skip(3), Is.EqualTo(new[]
        {
            "before",
            "******************************",
            "PANIC: bad 42 thing",
            "******************************",
        }));
    }

    [Test]
    public void UnfilledHypercallPagePanicsWithoutUsingIt()
    {
        var run = SimRun.Boot(Kernels.Build(g => { g.Print("Hello World\n"); g.Success(); }), fillHypercallPage: false);
        Assert.That(run.Fault, Is.Null, run.Output);
        Assert.That(run.Reason, Is.EqualTo(ShutdownReason.Crash));
        Assert.That(run.Lines, Is.EqualTo(new[]
        {
            "******************************",
            "PANIC: hypercall page not filled by Xen",
            "******************************",
        }));
        Assert.That(run.Hypercalls.Select(h => h.Number),
            Is.EqualTo(new[] { (int)Hypercall.ConsoleIo, (int)Hypercall.SchedOp }));
    }

    [Test]
    public void FailureMessagesShowExpectedAndActual()
    {
        var run = Run(g =>
        {
            var v = g.Var("v", -22);
            g.ExpectEq(v, 5, "a 100% check");
            g.ExpectNe(v, -22, "not EINVAL");
            g.Expect(v > 0, "positive", "v=%d", v);
            g.Success();
        });
        Assert.That(Body(run), Is.EqualTo(new[]
        {
            "Fail: a 100% check: expected 5, got -22 (-EINVAL)",
            "Fail: not EINVAL: got -22 (-EINVAL)",
            "Fail: positive: v=-22",
        }));
        Assert.That(run.Result, Is.EqualTo("Test result: FAILURE"));
    }

    // ------------------------------------------------------------------ traps

    [Test]
    public void Ud2IsReportedAsAnUnhandledUd()
    {
        ulong at = 0;
        var image = Kernels.Build(g =>
        {
            var l = g.NewLabel("boom");
            g.Mark(l);
            g.Asm.ud2();
        });
        at = image.Symbols["boom"];
        var run = SimRun.Boot(image);
        Assert.That(run.Fault, Is.Null, run.Output);
        Assert.That(run.Reason, Is.EqualTo(ShutdownReason.Crash));
        Assert.That(run.Lines, Does.Contain($"PANIC: Unhandled exception: vec 6 #UD at e030:{at:x16}"), run.Output);
    }

    [Test]
    public void Int3IsReportedWithTheReturnAddress()
    {
        var image = Kernels.Build(g =>
        {
            g.Asm.int3();
            var l = g.NewLabel("after");
            g.Mark(l);
            g.Success();
        });
        var run = SimRun.Boot(image);
        Assert.That(run.Lines, Does.Contain($"PANIC: Unhandled exception: vec 3 #BP at e030:{image.Symbols["after"]:x16}"), run.Output);
    }

    [Test]
    public void APageFaultShowsItsErrorCode()
    {
        var image = Kernels.Build(g =>
        {
            var l = g.NewLabel("store");
            g.Mark(l);
            g.Set(Val.Mem(0x7000_0000), 1);      // unmapped in dom0's initial page tables: #PF, write
        });
        var run = SimRun.Boot(image);
        Assert.That(run.Fault, Is.Null, run.Output);
        Assert.That(run.Lines.Single(l => l.StartsWith("PANIC", StringComparison.Ordinal)),
            Does.Match(@"^PANIC: Unhandled exception: vec 14 #PF\[0002\] at e030:0000000000[0-9a-f]{6}$"));
        Assert.That(run.Reason, Is.EqualTo(ShutdownReason.Crash));
    }

    [Test]
    public void DivideErrorHasNoErrorCode()
    {
        var run = SimRun.Boot(Kernels.Build(g =>
        {
            g.Asm.xor(Iced.Intel.AssemblerRegisters.ecx, Iced.Intel.AssemblerRegisters.ecx);
            g.Asm.div(Iced.Intel.AssemblerRegisters.rcx);
        }));
        Assert.That(run.Lines, Has.Some.Match(@"^PANIC: Unhandled exception: vec 0 #DE at e030:"), run.Output);
    }
}
