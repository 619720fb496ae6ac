namespace Xtf.Hosting;

/// <summary>
/// The expected outcome "Xen refuses to build dom0 from this image with message M": the boot
/// ends in Xen's panic, and one of Xen's lines from <c>*** Building a PV Dom0 ***</c> to the
/// panic text is exactly M. Such a run is a SUCCESS; its compared lines (what two hosts must
/// agree on) are those Xen lines instead of guest lines, since no guest ever runs.
/// </summary>
public static class BuildRefusal
{
    public const string BuildingLine = "*** Building a PV Dom0 ***";
    /// <summary>The same banner for a PVH dom0 (<c>dom0=pvh</c>).</summary>
    public const string PvhBuildingLine = "*** Building a PVH Dom0 ***";

    public static bool IsBuildingLine(string? xenText) => xenText is BuildingLine or PvhBuildingLine;
    public const string PanicLine = "Panic on CPU 0:";

    /// <summary>Xen's lines (prefix and timestamp removed) from the build banner through the panic text; empty when there is none.</summary>
    public static IReadOnlyList<string> BuildLines(IReadOnlyList<string> lines)
    {
        var xen = lines.Select(ConsoleProtocol.XenText).Where(x => x is not null).Select(x => x!).ToList();
        int start = xen.FindIndex(IsBuildingLine);
        if (start < 0) return [];
        int panic = xen.FindIndex(start, x => x == PanicLine);
        int end = panic < 0 || panic + 1 >= xen.Count ? xen.Count : panic + 2;
        return xen.GetRange(start, end - start);
    }

    /// <summary>The verdict for a run that must end as <paramref name="refusal"/> says (or, when null, with <paramref name="shutdownReason"/>).</summary>
    public static TestOutcome Expecting(this TestOutcome outcome, int shutdownReason, string? refusal) =>
        refusal is null ? outcome.ExpectShutdown(shutdownReason) : outcome.ExpectRefusal(refusal);

    public static TestOutcome ExpectRefusal(this TestOutcome outcome, string message)
    {
        var build = BuildLines(outcome.Transcript.Lines);
        bool panicked = outcome.Transcript.End == BootEnd.XenPanic && build.Contains(PanicLine);
        if (panicked && build.Contains(message))
            return outcome with { Status = TestStatus.Success, Warnings = false, Message = "refused as expected: " + message, GuestLines = build };
        string got = panicked ? "Xen panicked without that line: " + outcome.Message
            : outcome.Status == TestStatus.Crash ? outcome.Message : $"the guest ran and reported {outcome.StatusText}";
        return outcome with { Status = TestStatus.Failure, Warnings = false, Message = $"expected Xen to refuse the image with '{message}'; {got}", GuestLines = build.Count > 0 ? build : outcome.GuestLines };
    }
}
