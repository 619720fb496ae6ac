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
    [TestCase("--timeout", "0", "--timeout must be a number of seconds greater than 0")]
    [TestCase("--replay", "no-such-file-or-seed", "--replay: there is no case file 'no-such-file-or-seed', and it is not a case seed")]
    public void BadOptionIsOneLineAndExitCode2(string option, string value, string phrase)
    {
        var r = Xtf("fuzz", option, value);
        Assert.That(r.Code, Is.EqualTo(ExitCodes.Usage), r.Err);
        Assert.That(r.Err.TrimEnd('\n').Split('\n'), Has.Length.EqualTo(1));
        Assert.That(r.Err, Does.StartWith("xtf fuzz: "));
        Assert.That(r.Err, Does.Contain(phrase));
        if (option == "--replay") Assert.That(r.Err, Does.Not.Contain("must be a number"), "a missing file is not called a bad number");
    }

    [Test]
    public void ReplayOfAFolderSaysItIsAFolder()
    {
        string dir = Directory.CreateTempSubdirectory("xtf-fuzz-").FullName;
        var r = Xtf("fuzz", "--replay", dir);
        Assert.That(r.Code, Is.EqualTo(ExitCodes.Usage));
        Assert.That(r.Err, Does.Contain("is a folder, not a case file"));
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

    /// <summary>A clean run still prints its run seed and the command that runs the same cases again; that command does.</summary>
    [Test]
    public void CleanRunPrintsTheSeedAndACommandThatRunsTheSameCasesAgain()
    {
        string dir = Directory.CreateTempSubdirectory("xtf-fuzz-").FullName;
        var first = Xtf("fuzz", "--cases", "40", "--batch", "20", "--area", "vcpu", "--seed", "0x77", "--results", dir);
        Assert.That(first.Code, Is.EqualTo(ExitCodes.Success), first.Out + first.Err);
        var line = first.Out.TrimEnd('\n').Split('\n')[^1];
        Assert.That(line, Does.StartWith("fuzz: clean; run seed 0x77; run it again: xtf fuzz "));
        string command = line[(line.IndexOf("xtf fuzz ", StringComparison.Ordinal) + "xtf ".Length)..];
        Assert.That(command, Is.EqualTo("fuzz --area vcpu --cases 40 --seed 0x77 --batch 20"));

        var again = Xtf([.. command.Split(' '), "--results", dir]);
        Assert.That(again.Code, Is.EqualTo(ExitCodes.Success), again.Out + again.Err);
        Assert.That(TraceHash(again.Out), Is.EqualTo(TraceHash(first.Out)), "the printed command runs the same cases");
        var other = Xtf("fuzz", "--cases", "40", "--batch", "20", "--area", "vcpu", "--seed", "0x78", "--results", dir);
        Assert.That(TraceHash(other.Out), Is.Not.EqualTo(TraceHash(first.Out)), "another seed runs other cases (the hash can tell)");
    }

    private static string TraceHash(string output) =>
        System.Text.RegularExpressions.Regex.Match(output, @"trace ([0-9a-f]{16})").Groups[1].Value is { Length: 16 } h ? h : throw new AssertionException("no trace hash in: " + output);

    [Test]
    public void ReplayOfACaseFilePrintsEveryRecordAndEndsWithTheVerdict()
    {
        string file = Path.Combine(Directory.CreateTempSubdirectory("xtf-fuzz-").FullName, "ipi.case");
        File.WriteAllText(file, "# bind_ipi then send\nhc 32 0x7 &0 buf=00000000eeeeeeee report=8\nhc 32 0x4 &0 buf=01000000\n");
        var r = Xtf("fuzz", "--replay", file);
        Assert.That(r.Code, Is.EqualTo(ExitCodes.Success), r.Out + r.Err);
        Assert.That(r.Out, Does.Contain("sim   @1:0 p0=2 s0=1 u0"));
        Assert.That(r.Out.TrimEnd('\n').Split('\n')[^1], Is.EqualTo("replay: agrees with the model: sim, all 2 steps (exit 0)"));
    }

    [Test]
    public void ReplayOfACaseSeedNamesTheSeedAndEndsWithTheVerdict()
    {
        var r = Xtf("fuzz", "--area", "evtchn", "--replay", "0x1234");
        Assert.That(r.Code, Is.EqualTo(ExitCodes.Success), r.Out + r.Err);
        var lines = r.Out.TrimEnd('\n').Split('\n');
        Assert.That(lines[0], Does.StartWith("replay: case seed 0x1234 of area evtchn"));
        Assert.That(lines[^1], Does.StartWith("replay: agrees with the model: sim"));
    }

    /// <summary>The verdict line and the exit code come from the same comparison, step by step.</summary>
    [Test]
    public void ReplayVerdictAgreesWithItsExitCode()
    {
        string[] model = ["@0:0", "@1:0", "@2:-22"];
        var clean = FuzzCommand.ReplayVerdict(model, ["@0:0", "@1:0", "@2:-22"], null);
        Assert.That(clean, Is.EqualTo(("replay: agrees with the model: sim, all 3 steps (exit 0)", ExitCodes.Success)));

        var simWrong = FuzzCommand.ReplayVerdict(model, ["@0:0", "@1:0", "@2:0"], null);
        Assert.That(simWrong, Is.EqualTo(("replay: FAILURE: sim differs from the model at step 2 (exit 5)", ExitCodes.Failure)));

        var lost = FuzzCommand.ReplayVerdict(model, null, ["@0:0", null, null]);
        Assert.That(lost, Is.EqualTo(("replay: FAILURE: real Xen differs from the model at step 1 (exit 5)", ExitCodes.Failure)));

        var bothWrong = FuzzCommand.ReplayVerdict(model, ["@0:1", "@1:0", "@2:-22"], ["@0:1", "@1:0", "@2:-22"]);
        Assert.That(bothWrong, Is.EqualTo(("replay: FAILURE: sim and real Xen differ from the model at step 0 (exit 5)", ExitCodes.Failure)));

        var diverged = FuzzCommand.ReplayVerdict(model, ["@0:0", "@1:0", "@2:-22"], ["@0:0", "@1:-1", "@2:-22"]);
        Assert.That(diverged, Is.EqualTo(("replay: DIVERGED: the simulator and real Xen differ at step 1 (exit 7)", ExitCodes.Diverged)));

        var agreeBoth = FuzzCommand.ReplayVerdict(model, model, model);
        Assert.That(agreeBoth.Code, Is.EqualTo(ExitCodes.Success));
        Assert.That(agreeBoth.Line, Does.Contain("sim and real Xen"));
    }
}
