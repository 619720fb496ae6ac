using Xtf.Guest;
using Xtf.Hosting;
using Xtf.Hosting.Xen;
using Xtf.Sim.Builder;
using Xtf.Testing;

namespace Xtf.Sim.Tests.Builder;

/// <summary>
/// The builder against real Xen 4.17 under QEMU (-m 512 -smp N, dom0_max_vcpus=N): Xen's own lines
/// from "*** Building a PV Dom0 ***" must equal the builder's, for successful builds and failures.
/// Inconclusive where QEMU or Xen is missing.
/// </summary>
[Parallelizable(ParallelScope.All)]
public sealed class Dom0RealXenTests
{
    private const string ManualReset = "Manual reset required ('noreboot' specified)";

    /// <summary>Generated kernels of three sizes: the data section grows by whole pages.</summary>
    private static readonly Dictionary<string, int> SizedKernels = new() { ["small"] = 0, ["medium"] = 3, ["large"] = 20 };

    private static KernelImage Sized(string name) => StatusKernels.Build($"builder-{name}", g =>
    {
        if (SizedKernels[name] > 0) g.Page("filler", SizedKernels[name]);
        g.Print("sized kernel\n");
        g.Success();
    });

    private static IReadOnlyList<string> Sim(byte[] kernel, int vcpus) =>
        BuilderKit.Build(kernel, 512, pcpus: vcpus, vcpus: vcpus).Dom0.BuildLog;

    private static void AssertSameBuildLog(string name, byte[] kernel, int vcpus)
    {
        var expected = Sim(kernel, vcpus);
        var o = RealXen.Boot(name, kernel, vcpus);
        var real = BuilderKit.XenBuildLines(o.Transcript.Lines, "Dom0 has maximum");
        Assert.That(expected, Is.EqualTo(real), $"{name}: builder vs real Xen");
    }

    public static IEnumerable<TestCaseData> GeneratedKernels() =>
        SizedKernels.Keys.Select(n => new TestCaseData(n).SetName($"{n} generated kernel build log equals real Xen's"));

    [TestCaseSource(nameof(GeneratedKernels))]
    public void GeneratedKernelBuildLogEqualsRealXen(string name)
    {
        var k = Sized(name);
        AssertSameBuildLog(k.Name, k.Bytes, 1);
    }

    [Test]
    public void GeneratedKernelsDifferInSize()
    {
        var ends = SizedKernels.Keys.Select(n => Sim(Sized(n).Bytes, 1)[2]).Distinct().ToList();
        Assert.That(ends, Has.Count.EqualTo(3), "the three kernels give three different 'Dom0 kernel' lines");
    }

    [Test]
    public void TwoVcpusBuildLogEqualsRealXen()
    {
        var k = Sized("medium");
        AssertSameBuildLog(k.Name + "-smp2", k.Bytes, 2);
    }

    [Test]
    public void LargeBssKernelBuildLogEqualsRealXen() =>
        AssertSameBuildLog("bss-4MiB", BuilderKit.Kernel(0x11000, memSize: 0x400000), 1);

    public static IEnumerable<TestCaseData> FailureCases() =>
        Dom0FailureTests.Cases().Select(c => new TestCaseData(c.Name).SetName($"{c.Name} fails on real Xen as in the builder"));

    [TestCaseSource(nameof(FailureCases))]
    public void MalformedImagePanicsRealXenWithTheSameLines(string name)
    {
        var c = Dom0FailureTests.Cases().Single(x => x.Name == name);
        var image = c.Image();
        var e = BuilderKit.BuildFails(image);
        var o = RealXen.Boot(name, image);
        // A 32-bit image is a SKIP by Xen's own words (this Xen has no 32-bit PV); every other refusal is a crash.
        Assert.That(o.Status, Is.EqualTo(e.Message == ConsoleProtocol.NoPv32Line ? TestStatus.Skip : TestStatus.Crash));
        Assert.That(o.Transcript.End, Is.EqualTo(BootEnd.XenPanic));
        var xen = o.Transcript.Lines.Select(ConsoleProtocol.XenText).Where(x => x is not null).Select(x => x!).ToList();
        int reset = xen.IndexOf(ManualReset);
        Assert.That(reset, Is.GreaterThanOrEqualTo(e.XenLines.Count), "Xen panicked");
        Assert.That(xen.GetRange(reset - e.XenLines.Count, e.XenLines.Count + 1), Is.EqualTo(e.XenLines.Append(ManualReset)));
        if (e.XenLines[0] == "*** Building a PV Dom0 ***")
            Assert.That(xen.Count(x => x == "*** Building a PV Dom0 ***"), Is.EqualTo(1));
        Assert.That(xen, Does.Contain(e.Message));
    }

    public static IEnumerable<TestCaseData> EdgeCases() =>
        Dom0ImageEdgeTests.Cases().Select(c => c.Name).Append("bsd-symtab-with-symbols")
            .Select(n => new TestCaseData(n).SetName($"{n}: real Xen prints the builder's lines"));

    /// <summary>
    /// The images that once ended in internal errors, on real Xen: its lines from "*** Building a PV Dom0 ***"
    /// to the end of the build (the broken-ELF line included) or to the panic, register dumps left out
    /// (the model prints a stand-in for them), equal the builder's.
    /// </summary>
    [TestCaseSource(nameof(EdgeCases))]
    public void ImageEdgeCaseEqualsRealXen(string name)
    {
        var image = name == "bsd-symtab-with-symbols" ? Dom0ImageEdgeTests.WithBsdSymtab(sections: true) : Dom0ImageEdgeTests.Cases().Single(c => c.Name == name).Image();
        IReadOnlyList<string> expected;
        try { expected = BuilderKit.Build(image).Dom0.BuildLog; }
        catch (DomainBuildException e) { expected = e.XenLines; }
        var o = RealXen.Boot(name, image);
        var xen = WithoutDumps(o.Transcript.Lines.Select(ConsoleProtocol.XenText).Where(x => x is not null).Select(x => x!));
        int from = xen.IndexOf("*** Building a PV Dom0 ***");
        Assert.That(from, Is.GreaterThanOrEqualTo(0), "Xen built dom0");
        int to = xen.FindIndex(from, x => x == ManualReset || x.StartsWith("Initial low memory virq threshold", StringComparison.Ordinal));
        Assert.That(to, Is.GreaterThan(from), "the build ended");
        Assert.That(WithoutDumps(expected), Is.EqualTo(xen.GetRange(from, to - from)));
    }

    /// <summary>Xen's register dumps ("----[ Xen-…" to the next blank line): Xen's own state, not modelled.</summary>
    private static List<string> WithoutDumps(IEnumerable<string> lines)
    {
        var result = new List<string>();
        bool inDump = false;
        foreach (var l in lines)
        {
            if (l.StartsWith("----[ Xen-", StringComparison.Ordinal)) inDump = true;
            if (!inDump) result.Add(l);
            else if (l.Length == 0) inDump = false;
        }
        return result;
    }
}
