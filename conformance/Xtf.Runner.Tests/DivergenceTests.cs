using Xtf.Hosting;

namespace Xtf.Runner.Tests;

/// <summary>
/// <c>--host both</c> compares everything from Xen's dom0 builder on: the builder's lines, the guest's,
/// Xen's messages and panics, with timestamps and Xen's register dumps left out.
/// </summary>
public sealed class DivergenceTests
{
    private const string Head = "SeaBIOS (version 1.16)\r\n(XEN) [0000000000a1b2c3] Xen version 4.17.7 (Debian) debug=n\r\n";

    private static readonly string[] Build =
    [
        "*** Building a PV Dom0 ***", " Xen  kernel: 64-bit, lsb", " Dom0 kernel: 64-bit, PAE, lsb, paddr 0x100000 -> 0x1078fb",
        " Phys-Mach map: 0000000000108000->00000000001f33d0", "Dom0 has maximum 1 VCPUs", "Freed 656kB init memory",
    ];

    private static string Xen(string stamp, params string[] lines) => string.Concat(lines.Select(l => $"(XEN) [{stamp}] {l}\r\n"));
    private static string Guest(params string[] lines) => string.Concat(lines.Select(l => l + "\r\r\n"));

    private static TestOutcome Outcome(string host, string log, BootEnd end = BootEnd.Shutdown, string? detail = null) =>
        ConsoleProtocol.Evaluate(new Transcript(host, "t", Head + log, end, detail, TimeSpan.FromSeconds(1)));

    private static readonly string[] Result = ["--- Xen Test Framework ---", "Environment: PV 64bit (Long mode 4 levels)", "Test result: SUCCESS"];

    [Test]
    public void TheSameRunWithOtherTimestampsAgrees()
    {
        var xen = Outcome("xen", Xen("    0.895820", Build) + Guest(Result) + Xen("    0.976976", "Hardware Dom0 halted: halting machine"));
        var sim = Outcome("sim", Xen("    1.900000", Build) + Guest(Result) + Xen("    1.900002", "Hardware Dom0 halted: halting machine"));
        Assert.That(Divergence.Compare(xen, sim), Is.Null);
    }

    [Test]
    public void ABuilderLineThatDiffersDiverges()
    {
        string[] other = [.. Build];
        other[3] = " Phys-Mach map: 0000000000108000->00000000001f33d8";
        var xen = Outcome("xen", Xen("0.9", Build) + Guest(Result) + Xen("1.0", "Hardware Dom0 halted: halting machine"));
        var sim = Outcome("sim", Xen("1.9", other) + Guest(Result) + Xen("1.9", "Hardware Dom0 halted: halting machine"));
        var diff = Divergence.Compare(xen, sim);
        Assert.That(diff, Does.Contain("- (XEN)  Phys-Mach map: 0000000000108000->00000000001f33d0"));
        Assert.That(diff, Does.Contain("+ (XEN)  Phys-Mach map: 0000000000108000->00000000001f33d8"));
    }

    [Test]
    public void ASimulatorThatFailsBeforeTheBannerDivergesFromAXenThatBootsTheGuest()
    {
        // Both runs are CRASHes with no guest line from the banner on: the old comparison said "agree".
        var xen = Outcome("xen", Xen("0.9", Build) + Guest("******************************", "PANIC: hypercall page not filled by Xen", "******************************")
                                 + Xen("1.0", "Hardware Dom0 crashed: 'noreboot' set - not rebooting."));
        var sim = Outcome("sim", Xen("1.9", "simulator internal error: InvalidOperationException: frame 0x1ed10 is already materialised"),
            BootEnd.EmulatorExited, "simulator internal error");
        Assert.That((xen.Status, sim.Status), Is.EqualTo((TestStatus.Crash, TestStatus.Crash)));
        Assert.That(xen.GuestLines, Is.Empty);
        Assert.That(sim.GuestLines, Is.Empty);
        var diff = Divergence.Compare(xen, sim);
        Assert.That(diff, Is.Not.Null);
        Assert.That(diff, Does.Contain("compared lines: xen 10, sim 0"));
        Assert.That(diff, Does.Contain("- (XEN) *** Building a PV Dom0 ***"));
    }

    [Test]
    public void XensRegisterDumpIsLeftOutButThePanicIsCompared()
    {
        string[] dump = ["----[ Xen-4.17.7  x86_64  debug=n  Not tainted ]----", "CPU:    0", "RIP:    e008:[<ffff82d0402fa834>] init_hypercall_page+0x14/0x70", ""];
        string[] modelled = ["----[ Xen-4.17.7  x86_64  debug=n  Not tainted ]----", "(not modelled)", ""];
        string[] tail = ["Pagetable walk from 00000000001f5000:", " L4[0x000] = 000000001edf8067 ffffffffffffffff", "", "****************************************",
            "Panic on CPU 0:", "FATAL PAGE FAULT", "[error_code=0003]", "Faulting linear address: 00000000001f5000", "****************************************", "",
            "Manual reset required ('noreboot' specified)"];
        var xen = Outcome("xen", Xen("0.9", [.. Build[..^1], .. dump, .. tail]), BootEnd.XenPanic);
        var sim = Outcome("sim", Xen("1.9", [.. Build[..^1], .. modelled, .. tail]), BootEnd.XenPanic);
        Assert.That(Divergence.Compare(xen, sim), Is.Null);
        var lines = ConsoleProtocol.ComparedLines(xen.Transcript.Lines);
        Assert.That(lines, Does.Contain("(XEN) FATAL PAGE FAULT"));
        Assert.That(lines, Does.Not.Contain("(XEN) CPU:    0"));
        Assert.That(lines[^1], Is.EqualTo("(XEN) Manual reset required ('noreboot' specified)"));

        var otherAddress = Outcome("sim", Xen("1.9", [.. Build[..^1], .. modelled, .. tail.Select(t => t.Replace("1f5000", "1f6000"))]), BootEnd.XenPanic);
        Assert.That(Divergence.Compare(xen, otherAddress), Does.Contain("+ (XEN) Faulting linear address: 00000000001f6000"));
    }

    [Test]
    public void APanicBeforeTheBuilderIsCompared()
    {
        string[] panic = ["", "****************************************", "Panic on CPU 0:", "Not enough memory to relocate the dom0 kernel image",
            "****************************************", "", "Manual reset required ('noreboot' specified)"];
        var xen = Outcome("xen", Xen("0.5", ["New Xen image base address: 0x1f800000", .. panic]), BootEnd.XenPanic);
        var sim = Outcome("sim", Xen("1.9", panic), BootEnd.XenPanic);
        Assert.That(Divergence.Compare(xen, sim), Is.Null);
        Assert.That(ConsoleProtocol.ComparedLines(sim.Transcript.Lines), Has.Count.EqualTo(7));
    }

    /// <summary>
    /// End to end on real Xen: an image whose hypercall page lies in the mfn_list boots on Xen and its guest
    /// panics before the banner; the simulator, stopped after one instruction (before the guest prints
    /// anything), is a CRASH too. Only the lines from the builder on tell them apart: DIVERGED, exit 7.
    /// </summary>
    [Test]
    public void RunOnBothHostsSaysDivergedWhenOnlyTheLinesBeforeTheBannerDiffer()
    {
        RealXen.Require();
        var example = XtfCli.Catalog.Cases.Single(c => c.FullName == "test-pv64-example").Build().Bytes;
        byte[] header = [4, 0, 0, 0, 8, 0, 0, 0, 2, 0, 0, 0, (byte)'X', (byte)'e', (byte)'n', 0];
        int at = example.AsSpan().IndexOf(header);
        Assert.That(at, Is.GreaterThan(0), "the HYPERCALL_PAGE note");
        BitConverter.GetBytes(0x110000UL).CopyTo(example, at + header.Length);   // inside the mfn_list (0x108000…)
        string dir = Path.Combine(Path.GetTempPath(), $"xtf-diverge-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            string kernel = Path.Combine(dir, "hypercall-page-in-mfn-list");
            File.WriteAllBytes(kernel, example);
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            int exit = XtfCli.Run(["run", "--kernel", kernel, "--host", "both", "--budget", "1", "--results", Path.Combine(dir, "results")], stdout, stderr);
            TestContext.Out.WriteLine(stdout);
            Assert.That(stdout.ToString(), Does.Contain("DIVERGED"));
            Assert.That(stdout.ToString(), Does.Contain("- (XEN) *** Building a PV Dom0 ***").Or.Contain("PANIC: hypercall page not filled by Xen"));
            Assert.That(exit, Is.EqualTo(ExitCodes.Diverged));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void AMaskHidesOnlyTheValueThatVariesPerBoot()
    {
        string[] Lines(string tsc, string other) => ["--- Xen Test Framework ---", $"  00000010 -> {tsc}", $"  00000011 -> {other}", "Test result: SUCCESS"];
        var xen = Outcome("xen", Xen("0.9", Build) + Guest(Lines("0000000084576bbe", "0000000000000000")) + Xen("1.0", "Hardware Dom0 halted: halting machine"));
        var sim = Outcome("sim", Xen("1.9", Build) + Guest(Lines("00000000713fc8ef", "0000000000000000")) + Xen("1.9", "Hardware Dom0 halted: halting machine"));
        Assert.That(LineMask.TryCreate([@"^\s*00000010 -> ([0-9a-f]{16})$"], out var mask, out _), Is.True);
        Assert.That(Divergence.Compare(xen, sim), Does.Contain("+   00000010 -> 00000000713fc8ef"), "unmasked, the TSC reading differs");
        Assert.That(Divergence.Compare(xen, sim, mask), Is.Null);

        var other = Outcome("sim", Xen("1.9", Build) + Guest(Lines("00000000713fc8ef", "0000000000000001")) + Xen("1.9", "Hardware Dom0 halted: halting machine"));
        Assert.That(Divergence.Compare(xen, other, mask), Does.Contain("+   00000011 -> 0000000000000001"), "a line the mask does not cover still has to agree");
        Assert.That(mask.Apply("  00000010 -> 0000000084576bbe"), Is.EqualTo("  00000010 -> " + LineMask.Masked));
        Assert.That(mask.Apply("  00000010 -> 84576bbe"), Is.EqualTo("  00000010 -> 84576bbe"), "no match, no change");
    }

    [Test]
    public void AMaskThatIsNotARegularExpressionIsRefusedWithTheReason()
    {
        Assert.That(LineMask.TryCreate(["(unclosed"], out var mask, out string? error), Is.False);
        Assert.That(error, Does.StartWith("'(unclosed' is not a regular expression"));
        Assert.That(mask.IsEmpty, Is.True);
    }
}
