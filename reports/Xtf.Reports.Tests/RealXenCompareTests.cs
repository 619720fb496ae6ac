using Xtf.Runner;

namespace Xtf.Reports.Tests;

/// <summary>
/// xtf compare on real Xen: the same hypervisor booted with and without an extra command-line option
/// that guests can see. dom0_max_vcpus=2 gives the one-vCPU test a vCPU 1, so get_runstate_info(1)
/// answers 0 instead of -ENOENT: a planted regression. Two runs of one build compare clean.
/// </summary>
[NonParallelizable]
public sealed class RealXenCompareTests
{
    private static readonly string[] Tests = ["test-pv64-vcpu-runstate-self", "test-pv64-example"];

    private static (int Code, string Out) Run(string results, string? cmdline = null)
    {
        var args = new List<string> { "run", "--host", "xen", "--results", results, "--jobs", "2", "--timeout", "30" };
        if (cmdline is not null) args.AddRange(["--xen-cmdline", cmdline]);
        args.AddRange(Tests);
        var o = new StringWriter();
        int code = XtfCli.Run([.. args], o, o);
        return (code, o.ToString());
    }

    private static (int Code, string Out) Compare(string a, string b)
    {
        var o = new StringWriter();
        int code = XtfCli.Run(["compare", a, b], o, o);
        return (code, o.ToString());
    }

    [Test]
    public void ACommandLineOptionIsFoundAsARegressionAndTheSameBuildIsNot()
    {
        RealXen.Require();
        string root = Directory.CreateTempSubdirectory("xtf-compare-").FullName;
        string baseline = Path.Combine(root, "baseline"), same = Path.Combine(root, "same"), changed = Path.Combine(root, "changed");
        Assert.That(Run(baseline).Code, Is.EqualTo(0));
        Run(same);
        Run(changed, "dom0_max_vcpus=2");

        var clean = Compare(baseline, same);
        TestContext.Out.WriteLine(clean.Out);
        Assert.That(clean.Code, Is.EqualTo(0), clean.Out);
        Assert.That(clean.Out, Does.Contain("new failures: 0").And.Contain("changed transcripts: 0"));

        var regressed = Compare(baseline, changed);
        TestContext.Out.WriteLine(regressed.Out);
        Assert.That(regressed.Code, Is.EqualTo(ReportCommands.Regressed), regressed.Out);
        Assert.That(regressed.Out, Does.Contain("test-pv64-vcpu-runstate-self [xen]: SUCCESS -> SKIP"), "written for exactly one vCPU, it skips on two");
        Assert.That(regressed.Out, Does.Contain("written for a dom0 with exactly 1 vCPU"));
        Assert.That(regressed.Out, Does.Not.Contain("test-pv64-example [xen]: SUCCESS ->"));
    }
}
