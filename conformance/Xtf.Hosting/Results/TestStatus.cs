namespace Xtf.Hosting;

/// <summary>
/// A run's result. The first four are XTF's words, printed by the guest; CRASH is the runner's
/// word for a run that ended without a result line (panic, Xen crash, timeout); DIVERGED means
/// real Xen and the simulator printed different transcripts. Ordered so that the worst status has
/// the highest value.
/// </summary>
public enum TestStatus { Success = 0, Skip = 1, Error = 2, Failure = 3, Crash = 4, Diverged = 5 }

public static class ExitCodes
{
    public const int Success = 0;
    public const int InternalError = 1;
    public const int Usage = 2;
    public const int Skip = 3;
    public const int Error = 4;
    public const int Failure = 5;
    public const int Crash = 6;
    public const int Diverged = 7;

    public static int For(TestStatus status) => status switch
    {
        TestStatus.Success => Success,
        TestStatus.Skip => Skip,
        TestStatus.Error => Error,
        TestStatus.Failure => Failure,
        TestStatus.Crash => Crash,
        _ => Diverged,
    };

    /// <summary>XTF's rule over a set of runs: the worst status decides.</summary>
    public static int Worst(IEnumerable<TestStatus> statuses) =>
        statuses.Select(For).DefaultIfEmpty(Success).Max();
}

public static class TestStatusNames
{
    public static string Word(this TestStatus s) => s.ToString().ToUpperInvariant();

    public static bool TryParse(string word, out TestStatus status)
    {
        switch (word)
        {
            case "SUCCESS": status = TestStatus.Success; return true;
            case "SKIP": status = TestStatus.Skip; return true;
            case "ERROR": status = TestStatus.Error; return true;
            case "FAILURE": status = TestStatus.Failure; return true;
            case "CRASH": status = TestStatus.Crash; return true;
            case "DIVERGED": status = TestStatus.Diverged; return true;
            default: status = default; return false;
        }
    }
}
