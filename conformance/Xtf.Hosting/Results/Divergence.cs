namespace Xtf.Hosting;

/// <summary>
/// Real Xen against the simulator: everything from Xen's dom0 builder on must be identical once
/// normalised (<see cref="ConsoleProtocol.ComparedLines"/>): the builder's lines, the guest's lines,
/// Xen's messages about the guest, its shutdown line or its panic. A simulator that fails before
/// the guest prints anything therefore diverges from a Xen that boots the guest.
/// </summary>
public static class Divergence
{
    /// <summary>Lines of difference shown at most.</summary>
    public const int MaxShown = 20;

    /// <summary>
    /// Null when the two agree; otherwise a short line diff ("-" real Xen, "+" simulator). A
    /// <paramref name="mask"/> hides values that vary per boot on both sides first.
    /// </summary>
    public static string? Compare(TestOutcome xen, TestOutcome sim, LineMask? mask = null)
    {
        var a = ConsoleProtocol.ComparedLines(xen.Transcript.Lines);
        var b = ConsoleProtocol.ComparedLines(sim.Transcript.Lines);
        if (mask is { IsEmpty: false })
        {
            a = a.Select(mask.Apply).ToList();
            b = b.Select(mask.Apply).ToList();
        }
        if (a.SequenceEqual(b) && xen.Status == sim.Status) return null;
        var diff = new List<string>();
        if (xen.Status != sim.Status) diff.Add($"status: xen {xen.StatusText}, sim {sim.StatusText}");
        if (a.Count == 0 || b.Count == 0) diff.Add($"compared lines: xen {a.Count}, sim {b.Count} (from \"{BuildRefusal.BuildingLine}\" on)");
        int n = Math.Max(a.Count, b.Count);
        for (int i = 0, shown = 0; i < n && shown < MaxShown; i++)
        {
            string? x = i < a.Count ? a[i] : null;
            string? y = i < b.Count ? b[i] : null;
            if (x == y) continue;
            if (x is not null) diff.Add($"- {Shown(x)}");
            if (y is not null) diff.Add($"+ {Shown(y)}");
            shown++;
        }
        if (xen.Status != sim.Status && xen.Status == TestStatus.Crash) diff.Add($"  xen: {xen.Message}");
        if (xen.Status != sim.Status && sim.Status == TestStatus.Crash) diff.Add($"  sim: {sim.Message}");
        return string.Join("\n", diff);
    }

    /// <summary>Longest line a diff shows (a flooding guest prints lines of a megabyte).</summary>
    public const int LineChars = 300;

    private static string Shown(string line) => line.Length <= LineChars ? line : line[..LineChars] + $" [{line.Length - LineChars} more characters]";
}
