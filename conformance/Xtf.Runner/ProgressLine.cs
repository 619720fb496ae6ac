using System.Diagnostics;

namespace Xtf.Runner;

/// <summary>
/// Progress during a run: done/total, failures so far, the test started last and an ETA. On a
/// terminal it is one line redrawn in place under the result lines; otherwise (a pipe, a CI log)
/// it is a plain "progress:" line about every tenth of the run.
/// </summary>
public sealed class ProgressLine
{
    private readonly TextWriter w;
    private readonly int total;
    private readonly bool terminal;
    private readonly int plainStep;
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private readonly object gate = new();
    private int done, failed;
    private string current = "";
    private bool drawn;

    public ProgressLine(TextWriter w, int total, bool terminal)
    {
        this.w = w;
        this.total = total;
        this.terminal = terminal;
        plainStep = Math.Max(1, (total + 9) / 10);
    }

    /// <summary>True when the writer is this process's console and the console is a terminal.</summary>
    public static bool IsTerminal(TextWriter w) =>
        ReferenceEquals(w, Console.Out) && !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("TERM") is not (null or "dumb");

    public void Started(string test)
    {
        lock (gate)
        {
            current = test;
            if (terminal) Draw();
        }
    }

    /// <summary>Prints a finished test's lines, then the progress.</summary>
    public void Finished(bool failure, IEnumerable<string> lines)
    {
        lock (gate)
        {
            done++;
            if (failure) failed++;
            if (terminal && drawn) w.Write("\r\x1b[K");
            foreach (var l in lines) w.WriteLine(l);
            if (terminal) Draw();
            else if (total > 1 && done < total && done % plainStep == 0) w.WriteLine("progress: " + Text());
        }
    }

    /// <summary>Removes the redrawn line before the closing summary.</summary>
    public void Clear()
    {
        lock (gate)
        {
            if (terminal && drawn) { w.Write("\r\x1b[K"); drawn = false; w.Flush(); }
        }
    }

    public string Text()
    {
        string eta = done == 0 ? "?" : Clock(TimeSpan.FromTicks(clock.Elapsed.Ticks / done * (total - done)));
        return $"{done}/{total} done, {failed} failed, ETA {eta}" + (done < total && current.Length > 0 ? $", running {current}" : "");
    }

    private static string Clock(TimeSpan t) => t.TotalHours >= 1 ? $"{(int)t.TotalHours}:{t:mm\\:ss}" : $"{t:m\\:ss}";

    private void Draw()
    {
        string text = "[" + Text() + "]";
        int width = Console.IsOutputRedirected ? 120 : Math.Max(40, Console.WindowWidth - 1);
        if (text.Length > width) text = text[..width];
        w.Write("\r\x1b[K" + text);
        w.Flush();
        drawn = true;
    }
}
