using Xtf.Runner;

namespace Xtf.Reports.Tests;

public sealed class ProgressLineTests
{
    [Test]
    public void PlainLinesWhenNotATerminal()
    {
        var w = new StringWriter();
        var p = new ProgressLine(w, 20, terminal: false);
        for (int i = 0; i < 20; i++)
        {
            p.Started($"t{i}");
            p.Finished(i == 3, [$"t{i} SUCCESS"]);
        }
        var progress = w.ToString().Split('\n').Where(l => l.StartsWith("progress: ", StringComparison.Ordinal)).ToList();
        Assert.That(progress, Has.Count.EqualTo(9), "every tenth of the run, none after the last test");
        Assert.That(progress[0], Does.StartWith("progress: 2/20 done, 0 failed, ETA "));
        Assert.That(progress[^1], Does.StartWith("progress: 18/20 done, 1 failed, ETA ").And.Contain("running t17"));
        Assert.That(w.ToString(), Does.Not.Contain("\r"));
    }

    [Test]
    public void ATerminalGetsOneRedrawnLine()
    {
        var w = new StringWriter();
        var p = new ProgressLine(w, 2, terminal: true);
        p.Started("t0");
        p.Finished(true, ["t0 FAILURE"]);
        p.Clear();
        string s = w.ToString();
        Assert.That(s, Does.Contain("\r\x1b[K[0/2 done, 0 failed, ETA ?, running t0]"));
        Assert.That(s, Does.Contain("t0 FAILURE\n\r\x1b[K[1/2 done, 1 failed"));
        Assert.That(s, Does.EndWith("\r\x1b[K"));
    }
}
