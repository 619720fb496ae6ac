using System.Text;
using System.Text.RegularExpressions;

namespace Xtf.Hosting;

/// <summary>The result of one test on one host.</summary>
public sealed record TestOutcome(
    string Test,
    string Host,
    TestStatus Status,
    bool Warnings,
    string Message,
    int? ShutdownReason,
    IReadOnlyList<string> GuestLines,
    Transcript Transcript)
{
    public string StatusText => Status.Word() + (Warnings ? " with warnings" : "");
    public TimeSpan Elapsed => Transcript.Elapsed;

    /// <summary>
    /// The verdict for a test that must end with <paramref name="expectedReason"/>: a run that
    /// reported SUCCESS or SKIP but shut down another way is a FAILURE.
    /// </summary>
    public TestOutcome ExpectShutdown(int expectedReason)
    {
        if (Status is not (TestStatus.Success or TestStatus.Skip) || ShutdownReason == expectedReason) return this;
        string actual = ShutdownReason is { } r ? $"reason {r}" : "no shutdown line";
        return this with { Status = TestStatus.Failure, Warnings = false, Message = $"shut down with {actual}, expected reason {expectedReason}" };
    }
}

/// <summary>
/// XTF's console protocol: the guest prints a banner, its messages and "Test result: STATUS";
/// Xen's own lines start "(XEN)". This class reads a transcript into an outcome.
/// </summary>
public static partial class ConsoleProtocol
{
    public const string Banner = "--- Xen Test Framework ---";
    public const string ResultPrefix = "Test result: ";
    public const string NoStatusLine = "Test did not report a status";

    [GeneratedRegex(@"\x1B(\[[0-?]*[ -/]*[@-~]|[@-Z\\-_]|\][^\x07\x1B]*(\x07|\x1B\\)?)")]
    private static partial Regex EscapeSequence();

    [GeneratedRegex(@"^\(XEN\)( \[[^\]]*\])? ?")]
    private static partial Regex XenPrefix();

    [GeneratedRegex(@"^Test result: (SUCCESS|SKIP|ERROR|FAILURE)( with warnings)?\s*$")]
    private static partial Regex ResultLine();

    [GeneratedRegex(@"^Hardware (Dom0|domain 0) (.*)$")]
    private static partial Regex HardwareDomLine();

    [GeneratedRegex(@"unknown reason (\d+)")]
    private static partial Regex UnknownReason();

    public static IReadOnlyList<string> SplitLines(string log)
    {
        string clean = EscapeSequence().Replace(log, "").Replace("\r", "");
        var lines = clean.Split('\n').ToList();
        if (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        return lines;
    }

    public static bool IsXenLine(string line) => line.StartsWith("(XEN)", StringComparison.Ordinal);

    /// <summary>The text of a Xen line without "(XEN)" and its timestamp; null for a guest line.</summary>
    public static string? XenText(string line)
    {
        var m = XenPrefix().Match(line);
        return m.Success ? line[m.Length..] : null;
    }

    /// <summary>
    /// The guest's own lines, normalized: from the banner to the result line, without Xen's lines.
    /// This is what two hosts must agree on.
    /// </summary>
    public static IReadOnlyList<string> GuestLines(IReadOnlyList<string> lines)
    {
        var result = new List<string>();
        bool inside = false;
        foreach (var line in lines)
        {
            if (IsXenLine(line)) continue;
            if (!inside)
            {
                int at = line.IndexOf(Banner, StringComparison.Ordinal);
                if (at < 0) continue;
                inside = true;
                result.Add(line[at..]);
                continue;
            }
            result.Add(line);
            if (ResultLine().IsMatch(line)) break;
        }
        return result;
    }

    /// <summary>
    /// What two hosts must agree on: every line from Xen's <c>*** Building a PV Dom0 ***</c> (PVH: <c>a PVH Dom0</c>; or, when Xen
    /// panicked before building, from its panic) through the domain's shutdown line or Xen's
    /// "Manual reset required" line. Xen's lines keep their text and lose the timestamp ("(XEN) text");
    /// the guest's lines are kept as they are (the banner line from the banner on). Xen's register dumps
    /// ("----[ Xen-…" to the next blank line: Xen's own registers, stack and call trace) are left out;
    /// the lines around them (the fault, the page walk, the panic) stay.
    /// </summary>
    public static IReadOnlyList<string> ComparedLines(IReadOnlyList<string> lines)
    {
        int start = -1;
        for (int i = 0; i < lines.Count && start < 0; i++)
            if (BuildRefusal.IsBuildingLine(XenText(lines[i]))) start = i;
        if (start < 0)
        {
            int panic = -1;
            for (int i = 0; i < lines.Count && panic < 0; i++)
                if (XenText(lines[i]) == BuildRefusal.PanicLine) panic = i;
            if (panic < 0) return [];
            start = panic;
            while (start > 0 && XenText(lines[start - 1]) is { } x && (x.Length == 0 || x.StartsWith("****", StringComparison.Ordinal))) start--;
        }
        var result = new List<string>();
        bool inDump = false;
        for (int i = start; i < lines.Count; i++)
        {
            string line = lines[i];
            if (XenText(line) is not { } text)
            {
                int banner = line.IndexOf(Banner, StringComparison.Ordinal);
                result.Add(banner > 0 ? line[banner..] : line);
                continue;
            }
            if (text.StartsWith("----[ Xen-", StringComparison.Ordinal)) inDump = true;
            if (inDump)
            {
                if (text.Length == 0) inDump = false;
                continue;
            }
            result.Add("(XEN) " + text);
            if (HardwareDomLine().IsMatch(text) || text.StartsWith("Manual reset required", StringComparison.Ordinal)) break;
        }
        return result;
    }

    /// <summary>Parses Xen's "Hardware Dom0 ..." line into the shutdown reason code.</summary>
    public static int? ShutdownReason(IReadOnlyList<string> lines)
    {
        int? reason = null;
        foreach (var line in lines)
        {
            var text = XenText(line);
            if (text is null) continue;
            var m = HardwareDomLine().Match(text);
            if (!m.Success) continue;
            string rest = m.Groups[2].Value;
            var unknown = UnknownReason().Match(rest);
            if (unknown.Success) reason = int.Parse(unknown.Groups[1].Value);
            else if (rest.StartsWith("halted", StringComparison.Ordinal)) reason = 0;
            else if (rest.StartsWith("crashed", StringComparison.Ordinal)) reason = 3;
            else if (rest.StartsWith("shutdown: watchdog", StringComparison.Ordinal)) reason = 4;
            else if (rest.StartsWith("shutdown: rebooting", StringComparison.Ordinal)) reason = 1;
            else if (rest.Contains("soft reset", StringComparison.Ordinal)) reason = 5;
        }
        return reason;
    }

    public static TestOutcome Evaluate(Transcript t)
    {
        var lines = t.Lines;
        var guest = GuestLines(lines);
        int? reason = ShutdownReason(lines);

        // A guest stopped at a limit is a CRASH that names the limit, whatever it printed before.
        if (t.End == BootEnd.LimitReached)
            return new TestOutcome(t.Test, t.Host, TestStatus.Crash, false, t.EndDetail ?? "a guest limit was passed", reason, guest, t);

        string? resultLine = guest.LastOrDefault(l => ResultLine().IsMatch(l));
        if (resultLine is not null)
        {
            var m = ResultLine().Match(resultLine);
            TestStatusNames.TryParse(m.Groups[1].Value, out var status);
            return new TestOutcome(t.Test, t.Host, status, m.Groups[2].Success, MessageFor(status, guest), reason, guest, t);
        }
        // A Xen built without 32-bit PV refuses a 32-bit PV kernel in its builder, and says so: not the test's
        // failure but an environment this Xen does not have (XTF's pv32pae kernels on Debian's Xen).
        if (t.End == BootEnd.XenPanic && BuildRefusal.BuildLines(lines) is { } build && build.Contains(NoPv32Line))
            return new TestOutcome(t.Test, t.Host, TestStatus.Skip, false, $"Xen cannot run 32-bit PV guests: its boot log says '{NoPv32Line}'", reason, build, t);
        return new TestOutcome(t.Test, t.Host, TestStatus.Crash, false, CrashReason(t, lines, guest), reason, guest, t);
    }

    /// <summary>What Xen's dom0 builder prints for a 32-bit PV kernel when it is built without CONFIG_PV32.</summary>
    public const string NoPv32Line = "Found 32-bit PV kernel, but CONFIG_PV32 missing";

    /// <summary>
    /// A short message for a report: the test's "Fail"/"Error"/"Skip"/"Warning" lines if it printed
    /// any, else its last lines (after banner, environment and title).
    /// </summary>
    private static string MessageFor(TestStatus status, IReadOnlyList<string> guest)
    {
        if (status == TestStatus.Success) return "";
        var body = guest.Skip(3).Where(l => !ResultLine().IsMatch(l)).ToList();
        var marked = body.Where(l => l.StartsWith("Fail", StringComparison.Ordinal) || l.StartsWith("Error", StringComparison.Ordinal)
                                     || l.StartsWith("Skip", StringComparison.Ordinal) || l.StartsWith("Warning", StringComparison.Ordinal)).ToList();
        var chosen = marked.Count > 0 ? marked.Take(3) : body.TakeLast(3);
        return string.Join(" | ", chosen);
    }

    private static string CrashReason(Transcript t, IReadOnlyList<string> lines, IReadOnlyList<string> guest)
    {
        string? panic = guest.FirstOrDefault(l => l.StartsWith("PANIC:", StringComparison.Ordinal));
        if (panic is not null) return panic;
        if (t.End == BootEnd.Timeout) return "timeout";

        var xen = lines.Select(XenText).Where(x => x is not null).Select(x => x!).ToList();
        if (t.End == BootEnd.XenPanic)
        {
            int at = xen.FindIndex(x => x.StartsWith("Panic on CPU", StringComparison.Ordinal));
            var detail = at < 0 ? null : xen.Skip(at + 1).FirstOrDefault(x => x.Length > 0 && !x.StartsWith("****", StringComparison.Ordinal));
            return "Xen panic: " + (detail ?? "see the transcript");
        }
        string? unhandled = xen.FirstOrDefault(x => x.Contains("Unhandled:", StringComparison.Ordinal));
        if (unhandled is not null) return "domain crashed: " + unhandled.Trim();
        string? hw = xen.LastOrDefault(x => HardwareDomLine().IsMatch(x));
        if (hw is not null) return $"no result line; {hw}";
        if (t.End == BootEnd.EmulatorExited) return "emulator exited without a result" + (t.EndDetail is null ? "" : $" ({t.EndDetail})");
        return "no result line";
    }

    /// <summary>Renders the guest lines the way both hosts should print them, for diffs and reports.</summary>
    public static string Render(IEnumerable<string> lines)
    {
        var sb = new StringBuilder();
        foreach (var l in lines) sb.Append(l).Append('\n');
        return sb.ToString();
    }
}
