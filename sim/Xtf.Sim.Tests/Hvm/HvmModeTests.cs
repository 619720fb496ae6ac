using Xtf.Hosting;

namespace Xtf.Sim.Tests.Hvm;

/// <summary>The HVM vCPU through its modes (PvhKit's kernel), and determinism of an HVM run.</summary>
[Parallelizable(ParallelScope.All)]
public sealed class HvmModeTests
{
    private static SimResult Run(ulong seed = SimOptions.DefaultSeed) =>
        SimMachine.Run(PvhKit.Kernel(), new SimOptions { Pvh = true, Seed = seed, InstructionLimit = 5_000_000 });

    [Test]
    public void ProtectedModeThenLongModeThenIdtDelivery()
    {
        var r = Run();
        // A from 32-bit code with paging off, B from 64-bit code after PAE + LME + PG and a far jump,
        // C from the #UD handler reached through a 64-bit IDT gate; then SCHEDOP_shutdown(poweroff).
        Assert.That(r.Serial, Does.Contain("A\r\nB\r\nC\r\n"), r.Serial);
        Assert.That(r.Serial, Does.Contain("Hardware Dom0 halted: halting machine"));
        Assert.That(r.End, Is.EqualTo(BootEnd.Shutdown));
        Assert.That(r.Trace, Does.Contain("paging Long"));
        Assert.That(r.Trace, Does.Contain("(64-bit)"));
        Assert.That(r.Trace, Does.Contain("hypercall page at 101000"));
        Assert.That(r.Trace, Does.Contain("exception 6 at"));
    }

    [Test]
    public void SameSeedSameTraceHash()
    {
        var a = Run();
        var b = Run();
        Assert.That(b.TraceHash, Is.EqualTo(a.TraceHash));
        Assert.That(b.Instructions, Is.EqualTo(a.Instructions));
    }

    [Test]
    public void XtfHvmKernelsAreDeterministic()
    {
        // XTF's own kernels when built on this machine (not part of the repository).
        foreach (var env in new[] { "hvm64", "hvm32", "hvm32pse" })
        {
            string path = $"/work/xtf-src/tests/example/test-{env}-example";
            if (!File.Exists(path)) Assert.Ignore("XTF's HVM kernels are not built here");
            var k = File.ReadAllBytes(path);
            var o = new SimOptions { Pvh = true, InstructionLimit = 50_000_000 };
            var a = SimMachine.Run(k, o);
            var b = SimMachine.Run(k, o);
            Assert.That(a.Serial, Does.Contain("Test result: SUCCESS"), env);
            Assert.That(b.TraceHash, Is.EqualTo(a.TraceHash), env);
        }
    }
}
