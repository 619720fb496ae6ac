using System.Text;
using Xtf.Hosting;

namespace Xtf.Runner.Tests;

/// <summary>
/// The accounting behind the limits, without booting: how real Xen's serial log is counted
/// (<see cref="SerialLogMeter"/>) and how a result record is kept within its size
/// (<see cref="ResultRecord.WithinLimit"/>).
/// </summary>
[Parallelizable(ParallelScope.All)]
public sealed class GuestLimitAccountingTests
{
    private const string Firmware = "\u001bcSeaBIOS (version 1.16.3)\r\nBooting from ROM..\r\n";
    private const string XenLine = "(XEN) [    0.000000] Xen version 4.17.7\r\n";

    /// <summary>Feeds a log as the host reads it: complete lines, then the unfinished rest.</summary>
    private static SerialLogMeter Meter(string log, GuestLimits limits)
    {
        var meter = new SerialLogMeter(limits);
        int at = 0;
        for (int nl; (nl = log.IndexOf('\n', at)) >= 0; at = nl + 1)
            if (meter.Line(log[at..(nl + 1)], at) is not null) return meter;
        meter.Tail(log[at..], at);
        return meter;
    }

    private static GuestLimits Bytes(long n) => GuestLimits.Default with { ConsoleBytes = n };

    [Test]
    public void OnlyTheGuestsBytesCountAndTheSerialDriversCarriageReturnsDoNot()
    {
        // The guest wrote "hello\n" and "a\r\n" (Xen's serial driver turns each \n into \r\n).
        var m = Meter(Firmware + XenLine + "hello\r\n" + XenLine + "a\r\r\n", GuestLimits.Default);
        Assert.That(m.Passed, Is.Null);
        Assert.That(m.Console.Bytes, Is.EqualTo(6 + 3));
        Assert.That(m.Console.Lines, Is.EqualTo(2));
    }

    [Test]
    public void TheLogIsCutJustBeforeTheFirstByteTheLimitRefuses()
    {
        string log = XenLine + "hello\r\nworld\r\n";
        var m = Meter(log, Bytes(8));   // "hello\n" is 6 bytes, "wo" the last 2 allowed
        Assert.That(m.Passed, Is.EqualTo("console output limit: more than 8 bytes"));
        Assert.That(log[..m.KeepLength], Is.EqualTo(XenLine + "hello\r\nwo"));

        m = Meter(log, Bytes(5));      // the refused byte is a newline: its carriage return goes too
        Assert.That(log[..m.KeepLength], Is.EqualTo(XenLine + "hello"));

        m = Meter(log, Bytes(12));     // exactly everything: nothing passed
        Assert.That(m.Passed, Is.Null);
    }

    [Test]
    public void AFloodWithoutNewlinesIsStoppedBeforeItsLineEnds()
    {
        var limits = Bytes(1000);
        var meter = new SerialLogMeter(limits);
        Assert.That(meter.Line(XenLine, 0), Is.Null);
        int at = XenLine.Length;
        var tail = new StringBuilder();
        string? passed = null;
        for (int poll = 0; poll < 100 && passed is null; poll++)
        {
            tail.Append('x', 64);
            passed = meter.Tail(tail.ToString(), at);   // the same unfinished line, longer at each poll
        }
        Assert.That(passed, Is.EqualTo(limits.ConsoleBytesPassed));
        Assert.That(meter.KeepLength - at, Is.EqualTo(1000));
    }

    [Test]
    public void LinesAreLimitedAndAnythingAfterTheLastAllowedPassesTheLimit()
    {
        var limits = GuestLimits.Default with { ConsoleLines = 2 };
        string log = XenLine + "a\r\nb\r\n";
        Assert.That(Meter(log, limits).Passed, Is.Null, "two lines and nothing more are within the limit");
        Assert.That(Meter(log + XenLine, limits).Passed, Is.Null, "Xen's own lines do not count");
        var m = Meter(log + "c", limits);
        Assert.That(m.Passed, Is.EqualTo("console output limit: more than 2 lines"));
        Assert.That((log + "c")[..m.KeepLength], Is.EqualTo(log));
    }

    [Test]
    public void NothingBeforeXensFirstLineCountsButTheTranscriptLimitCoversEverything()
    {
        var m = Meter(Firmware + Firmware, Bytes(1));
        Assert.That(m.Passed, Is.Null, "firmware output is not the guest's");

        var limits = GuestLimits.Default with { TranscriptBytes = 100 };
        string xenOnly = string.Concat(Enumerable.Repeat(XenLine, 5));
        m = Meter(xenOnly, limits);
        Assert.That(m.Passed, Is.EqualTo("transcript limit: more than 100 bytes"));
        Assert.That(m.KeepLength, Is.EqualTo(100));
    }

    private static ResultRecord Record(IReadOnlyList<string> lines, string message = "") => new()
    {
        Test = "test-pv64-flood",
        Host = "xen",
        Status = "CRASH",
        Message = message,
        GuestLines = lines,
    };

    [Test]
    public void AnOrdinaryRecordIsLeftAlone()
    {
        var r = Record([ConsoleProtocol.Banner, "Hello World", "Test result: SUCCESS"]);
        Assert.That(r.WithinLimit(), Is.SameAs(r));
        Assert.That(r.ToJson(), Does.Not.Contain("truncated"));
    }

    [Test]
    public void AHugeRecordIsCutToItsLimitAndSaysWhat()
    {
        // A flood of NUL bytes: each becomes six characters of JSON (\u0000).
        var lines = new List<string> { ConsoleProtocol.Banner };
        lines.AddRange(Enumerable.Repeat(new string('\0', 100_000), 50));
        var r = Record(lines, message: new string('m', 100_000));
        var cut = r.WithinLimit();
        string json = cut.ToJson();
        Assert.That(Encoding.UTF8.GetByteCount(json), Is.LessThanOrEqualTo(GuestLimits.Default.RecordBytes));
        Assert.That(cut.GuestLines[0], Is.EqualTo(ConsoleProtocol.Banner), "the first lines are kept");
        Assert.That(cut.GuestLines.Count, Is.LessThan(lines.Count));
        Assert.That(cut.GuestLines.Skip(1).All(l => l.Length < 4200), Is.True, "long lines are shortened");
        Assert.That(cut.Message, Has.Length.LessThan(4200));
        Assert.That(cut.Truncated, Does.Contain($"guest lines {cut.GuestLines.Count} of 51 kept").And.Contain("message cut"));
        Assert.That(ResultRecord.Parse(json)!.Truncated, Is.EqualTo(cut.Truncated), "the JSON says it was cut");

        var smaller = GuestLimits.Default with { RecordBytes = 64 << 10 };
        Assert.That(Encoding.UTF8.GetByteCount(r.WithinLimit(smaller).ToJson()), Is.LessThanOrEqualTo(GuestLimits.Default.RecordBytes));
        Assert.That(Encoding.UTF8.GetByteCount(System.Text.Json.JsonSerializer.Serialize(r.WithinLimit(smaller), ResultRecord.Json)), Is.LessThanOrEqualTo(64 << 10));
    }
}
