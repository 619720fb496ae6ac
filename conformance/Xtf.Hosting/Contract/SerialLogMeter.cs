namespace Xtf.Hosting;

/// <summary>
/// Counts a growing serial log of real Xen against the <see cref="GuestLimits"/>, one line at a time as
/// it arrives. The guest's console output is the text after Xen's first line that is not one of Xen's
/// own lines (firmware prints before Xen), without the '\r' Xen's serial driver puts before each '\n':
/// the bytes the guest gave console_io, counted as the simulator counts them. When a limit is passed,
/// <see cref="Passed"/> names it and <see cref="KeepLength"/> is where to cut the log, just before the
/// first byte the limit refused, so that both hosts keep the same guest output.
/// </summary>
public sealed class SerialLogMeter(GuestLimits limits)
{
    private const string XenPrefix = "(XEN)";

    private ConsoleCount count;
    private bool xenSeen;
    // Where counting of the unfinished last line stopped (offset of the line, index in it, count so far).
    private int tailAt = -1, tailIndex;
    private ConsoleCount tailCount;

    public GuestLimits Limits => limits;

    /// <summary>Guest bytes and newlines counted in complete lines so far.</summary>
    public ConsoleCount Console => count;

    /// <summary>The message of the limit passed, or null.</summary>
    public string? Passed { get; private set; }

    /// <summary>Once a limit is passed: how many characters of the log to keep.</summary>
    public int KeepLength { get; private set; }

    /// <summary>
    /// A complete line of the log, with its '\n', starting at offset <paramref name="at"/>. Lines must
    /// come in order, each once. Returns <see cref="Passed"/>.
    /// </summary>
    public string? Line(string raw, int at) => Measure(raw, at, complete: true);

    /// <summary>
    /// The unfinished last line (no '\n' yet) at <paramref name="at"/>, counted without being kept: the
    /// same text comes again in <see cref="Line"/> once complete. A flood with no newline passes the limit here.
    /// </summary>
    public string? Tail(string partial, int at) => Measure(partial, at, complete: false);

    private string? Measure(string text, int at, bool complete)
    {
        if (Passed is not null || text.Length == 0) return Passed;
        if (IsXenLine(text, complete))
        {
            if (complete) xenSeen = true;
        }
        else if (xenSeen)
        {
            // An unfinished line grows between polls: resume where the last look at it stopped.
            bool resume = !complete && at == tailAt;
            var c = resume ? tailCount : count;
            int i = resume ? tailIndex : 0;
            for (; i < text.Length; i++)
            {
                char ch = text[i];
                if (ch == '\r' && i + 1 == text.Length && !complete) break;   // a CR whose next character is not here yet
                if (ch == '\r' && i + 1 < text.Length && text[i + 1] == '\n') continue;   // the serial driver's CR
                if (c.Add((byte)ch, limits) is { } passed)
                {
                    bool driverCr = ch == '\n' && i > 0 && text[i - 1] == '\r';
                    return Pass(passed, at + (driverCr ? i - 1 : i));
                }
            }
            if (complete)
            {
                count = c;
                tailAt = -1;
            }
            else (tailAt, tailIndex, tailCount) = (at, i, c);
        }
        if ((long)at + text.Length > limits.TranscriptBytes) return Pass(limits.TranscriptPassed, (int)Math.Min(limits.TranscriptBytes, int.MaxValue));
        return null;
    }

    private string Pass(string message, int keep)
    {
        Passed = message;
        KeepLength = keep;
        return message;
    }

    /// <summary>One of Xen's lines (or, unfinished, possibly one: a prefix of "(XEN)").</summary>
    private static bool IsXenLine(string text, bool complete)
    {
        if (!complete && text.Length < XenPrefix.Length) return XenPrefix.StartsWith(text, StringComparison.Ordinal);
        return text.StartsWith(XenPrefix, StringComparison.Ordinal);
    }
}
