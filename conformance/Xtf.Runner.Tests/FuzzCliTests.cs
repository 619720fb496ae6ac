using System.Text.Json;
using Xtf.Hosting;

namespace Xtf.Runner.Tests;

/// <summary>xtf fuzz: bad options are one line and exit 2; a clean run exits 0 and writes fuzz-summary.json.</summary>
public sealed class FuzzCliTests
{
    private static (int Code, string Out, string Err) Xtf(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = XtfCli.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    [TestCase("--area", "memory", "--area")]
    [TestCase("--host", "kvm", "--host")]
    [TestCase("--cases", "0", "--cases")]
    [TestCase("--seed", "banana", "--seed")]
    [TestCase("--replay", "no-such-file-or-seed", "--replay")]
    public void BadOptionIsOneLineAndExitCode2(string option, string value, string phrase)
    {
        var r = Xtf("fuzz", option, value);
        Assert.That(r.Code, Is.EqualTo(ExitCodes.Usage), r.Err);
        Assert.That(r.Err.TrimEnd('\n').Split('\n'), Has.Length.EqualTo(1));
        Assert.That(r.Err, Does.Contain(phrase));
    }

    [Test]
    public void CleanSimulatorRunExitsZeroAndWritesTheSummary()
    {
        string dir = Directory.CreateTempSubdirectory("xtf-fuzz-").FullName;
        var r = Xtf("fuzz", "--cases", "60", "--batch", "30", "--area", "evtchn", "--results", dir);
        Assert.That(r.Code, Is.EqualTo(ExitCodes.Success), r.Out + r.Err);
        Assert.That(r.Out, Does.Contain("fuzz: 30/60 cases").And.Contain("fuzz: 60 cases"));
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "fuzz-summary.json")));
        Assert.That(json.RootElement.GetProperty("cases").GetInt32(), Is.EqualTo(60));
        Assert.That(json.RootElement.GetProperty("clean").GetBoolean(), Is.True);
    }

    [Test]
    public void ReplayOfACaseFilePrintsEveryRecord()
    {
        string file = Path.Combine(Directory.CreateTempSubdirectory("xtf-fuzz-").FullName, "ipi.case");
        File.WriteAllText(file, "# bind_ipi then send\nhc 32 0x7 &0 buf=00000000eeeeeeee report=8\nhc 32 0x4 &0 buf=01000000\n");
        var r = Xtf("fuzz", "--replay", file);
        Assert.That(r.Code, Is.EqualTo(ExitCodes.Success), r.Out + r.Err);
        Assert.That(r.Out, Does.Contain("sim   @1:0 p0=2 s0=1 u0"));
    }
}
