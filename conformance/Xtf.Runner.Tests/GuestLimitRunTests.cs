using System.Text;
using Xtf.Hosting;

namespace Xtf.Runner.Tests;

/// <summary>
/// Issue 14's flooding guest through the whole pipe, on both hosts: the example with one byte changed
/// so that every console flush asks console_io for a huge count (Xtf.Testing.FloodingKernel). Each host
/// stops it at the console limit and the result is a CRASH naming the limit, with a transcript and a
/// record within their limits. How long it takes is measured in docs/limits.md, never asserted.
/// </summary>
[Parallelizable(ParallelScope.All)]
public sealed class GuestLimitRunTests
{
    private static readonly GuestLimits Limits = GuestLimits.Default;

    private static byte[] FloodingExample() => FloodingKernel.From(XtfCli.Catalog.Select(["test-pv64-example"]).Single().Build());

    private static (int Code, string Out, string Err) Xtf(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = XtfCli.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    /// <summary>How many bytes of console output the guest got into a serial log, counted as real Xen's host counts them.</summary>
    private static long GuestOutputBytes(string log)
    {
        var meter = new SerialLogMeter(GuestLimits.Default with { ConsoleBytes = long.MaxValue, ConsoleLines = long.MaxValue, TranscriptBytes = long.MaxValue });
        int at = 0;
        for (int nl; (nl = log.IndexOf('\n', at)) >= 0; at = nl + 1) meter.Line(log[at..(nl + 1)], at);
        return meter.Console.Bytes + (log.Length - at);   // and the unfinished last line, all the guest's
    }

    [Test]
    public void TheFloodingExampleIsACrashNamingTheConsoleLimitOnTheSimulator()
    {
        string dir = Directory.CreateTempSubdirectory("xtf-limits-").FullName;
        string kernel = Path.Combine(dir, "example-flood");
        File.WriteAllBytes(kernel, FloodingExample());
        string suiteResults = Path.Combine(dir, "results");
        string results = Path.Combine(suiteResults, "foreign", "example-flood");   // a foreign kernel's own folder

        var r = Xtf("run", "--kernel", kernel, "--results", suiteResults);
        Assert.That(r.Code, Is.EqualTo(ExitCodes.Crash), r.Out + r.Err);
        Assert.That(r.Out, Does.Match(@"example-flood\s+CRASH\s+\S+s\s+console output limit: more than 1048576 bytes"));

        var record = ResultRecord.Parse(File.ReadAllText(ResultRecord.PathIn(results, "sim", "example-flood")))!;
        Assert.That(record.Status, Is.EqualTo("CRASH"));
        Assert.That(record.Message, Is.EqualTo(Limits.ConsoleBytesPassed));
        Assert.That(new FileInfo(ResultRecord.PathIn(results, "sim", "example-flood")).Length, Is.LessThanOrEqualTo(Limits.RecordBytes));
        Assert.That(record.Truncated, Does.Contain("guest lines"));

        string log = File.ReadAllText(Path.Combine(results, "sim", "example-flood.log"), Encoding.Latin1);
        Assert.That(log.Length, Is.LessThanOrEqualTo(Limits.TranscriptBytes));
        Assert.That(GuestOutputBytes(log), Is.EqualTo(Limits.ConsoleBytes), "the transcript keeps exactly what the limit allows");
        Assert.That(new FileInfo(Path.Combine(results, "sim", "example-flood.trace")).Length, Is.LessThanOrEqualTo(Limits.TraceBytes));
    }

    [Test, Category("realxen")]
    public void TheFloodingExampleIsACrashNamingTheConsoleLimitOnRealXen()
    {
        var o = RealXen.Boot("test-pv64-example-flood", FloodingExample());
        Assert.That(o.Transcript.End, Is.EqualTo(BootEnd.LimitReached), o.Transcript.EndDetail);
        Assert.That(o.Status, Is.EqualTo(TestStatus.Crash));
        Assert.That(o.Message, Is.EqualTo(Limits.ConsoleBytesPassed));

        string log = o.Transcript.Log;
        Assert.That(log.Length, Is.LessThanOrEqualTo(Limits.TranscriptBytes));
        Assert.That(GuestOutputBytes(log), Is.EqualTo(Limits.ConsoleBytes), "QEMU's log is cut exactly where the limit was passed");
        Assert.That(o.GuestLines[0], Is.EqualTo(ConsoleProtocol.Banner));
        Assert.That(log, Does.Not.Contain("Hardware Dom0"), "stopped in the flood, long before the guest's own end");

        var record = ResultRecord.From(o, DateTimeOffset.UnixEpoch, new RunInfo("0x5eed", null, null, null, null), "flood", "misc", 1);
        Assert.That(Encoding.UTF8.GetByteCount(record.ToJson()), Is.LessThanOrEqualTo(Limits.RecordBytes));
        Assert.That(record.Truncated, Does.Contain("guest lines"));
    }

    [Test]
    public void AMemorySizeTheSimulatorDoesNotModelIsAUsageError()
    {
        var r = Xtf("run", "test-pv64-example", "--memory", "65536", "--results", Directory.CreateTempSubdirectory("xtf-limits-").FullName);
        Assert.That(r.Code, Is.EqualTo(ExitCodes.Usage), r.Out + r.Err);
        var lines = r.Err.TrimEnd('\n').Split('\n');
        Assert.That(lines, Has.Length.EqualTo(1), r.Err);
        Assert.That(lines[0], Does.StartWith("xtf run: --memory 65536: the simulator models 128 to 64512 MiB"));
    }
}
