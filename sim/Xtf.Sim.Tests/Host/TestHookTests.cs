using Xtf.Abi;
using Xtf.Guest;
using Xtf.Hosting;
using Xtf.Testing;
using Xtf.Sim.Xen;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Sim.Tests.Host;

/// <summary>
/// The SimOptions hooks the generator's own tests use (Xtf.Guest.Tests): each changes nothing by
/// default and does what it says when set.
/// </summary>
[Parallelizable(ParallelScope.All)]
public sealed class TestHookTests
{
    /// <summary>A kernel that prints, makes a hypercall and succeeds.</summary>
    private static KernelImage Plain() => Xtf.Testing.StatusKernels.Build("hooks", g =>
    {
        g.Print("xen_version %d\n", g.XenVersion(0, 0));
        g.Success();
    });

    private static SimResult Run(KernelImage k, SimOptions o) => SimMachine.Run(k.Bytes, o with { InstructionLimit = 50_000_000 });

    private static IReadOnlyList<string> GuestLines(SimResult r) => ConsoleProtocol.GuestLines(ConsoleProtocol.SplitLines(r.Serial));

    /// <summary>Hypercall 50 then 51 through the stubs; 51's first argument is whatever rdi held after 50 returned.</summary>
    private static KernelImage TwoForeignCalls() => StatusKernels.Build("test-pv64-sim-foreign", g =>
    {
        g.Asm.mov(edi, 7);
        g.Asm.call(GuestLayout.StubAddress(50));
        g.Asm.call(GuestLayout.StubAddress(51));
        var r = g.Hypercall(Hypercall.PlatformOp);     // assigned by Xen: answered by the model, never foreign
        g.Print("platform_op %d\n", r);
        g.Success();
    });

    [Test]
    public void AnUnfilledHypercallPageIsLeftAsTheImageHasIt()
    {
        var k = Plain();
        var filled = Run(k, new SimOptions());
        Assert.That(GuestLines(filled)[^1], Is.EqualTo("Test result: SUCCESS"), filled.Serial);

        var unfilled = Run(k, new SimOptions { FillHypercallPage = false });
        var lines = ConsoleProtocol.SplitLines(unfilled.Serial).Where(l => !ConsoleProtocol.IsXenLine(l)).ToList();
        Assert.That(lines, Does.Contain("PANIC: hypercall page not filled by Xen"), unfilled.Serial);
        Assert.That(ConsoleProtocol.ShutdownReason(ConsoleProtocol.SplitLines(unfilled.Serial)), Is.EqualTo((int)ShutdownReason.Crash));
    }

    [Test]
    public void ForeignHypercallsAnswerOnlyUnassignedNumbers()
    {
        var asked = new List<ulong>();
        var r = Run(TwoForeignCalls(), new SimOptions
        {
            LogHypercalls = true,
            ForeignHypercall = (nr, args) =>
            {
                asked.Add(nr);
                return nr == 50 ? 500 + (long)args[0] : null;      // null: Xen's -ENOSYS
            },
        });
        Assert.That(asked, Is.EqualTo(new ulong[] { 50, 51 }), "consulted for 50 and 51, never for platform_op (7)");
        var calls = r.Hypercalls.Where(h => h.Number is 50 or 51 or (ulong)Hypercall.PlatformOp).ToList();
        Assert.That(calls.Select(h => h.Result), Is.EqualTo(new long?[] { 507, -Errno.ENOSYS, -Errno.EACCES }), "platform_op with interface version 0: -EACCES, as Xen 4.17.7 answers dom0");
        Assert.That(GuestLines(r), Does.Contain("platform_op -13"));

        var plain = Run(TwoForeignCalls(), new SimOptions { LogHypercalls = true });
        Assert.That(plain.Hypercalls.Single(h => h.Number == 50).Result, Is.EqualTo(-Errno.ENOSYS));
    }

    [Test]
    public void PoisonOverwritesTheArgumentRegistersOnReturn()
    {
        var poisoned = Run(TwoForeignCalls(), new SimOptions { LogHypercalls = true, PoisonHypercallArguments = true });
        var first = poisoned.Hypercalls.Single(h => h.Number == 50);
        var second = poisoned.Hypercalls.Single(h => h.Number == 51);
        Assert.That(first.Args[0], Is.EqualTo(7UL));
        Assert.That(second.Args, Is.All.EqualTo(Hypervisor.ArgumentPoison), "all five registers after hypercall 50");

        var plain = Run(TwoForeignCalls(), new SimOptions { LogHypercalls = true });
        Assert.That(plain.Hypercalls.Single(h => h.Number == 51).Args[0], Is.EqualTo(7UL), "release Xen keeps rdi");
    }

    [Test]
    public void TheLogHasEveryHypercallWithFiveArgumentsAndLeavesTheTraceAlone()
    {
        var k = Plain();
        var plain = Run(k, new SimOptions());
        var logged = Run(k, new SimOptions { LogHypercalls = true });
        Assert.That(plain.Hypercalls, Is.Empty);
        Assert.That(logged.TraceHash, Is.EqualTo(plain.TraceHash));
        Assert.That(logged.Serial, Is.EqualTo(plain.Serial));
        int traced = plain.Trace.Split('\n').Count(l => l.Contains(" hypercall ", StringComparison.Ordinal));
        Assert.That(logged.Hypercalls, Has.Count.EqualTo(traced));
        Assert.That(logged.Hypercalls.Select(h => h.Args.Length), Is.All.EqualTo(5));
        Assert.That(logged.Hypercalls[^1].Number, Is.EqualTo((ulong)Hypercall.SchedOp));
    }
}
