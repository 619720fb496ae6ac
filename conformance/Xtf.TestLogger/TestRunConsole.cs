using System.Text;
using Microsoft.VisualStudio.TestPlatform.ObjectModel;
using Microsoft.VisualStudio.TestPlatform.ObjectModel.Client;
using Microsoft.VisualStudio.TestPlatform.ObjectModel.Logging;

namespace Xtf.TestLogger;

/// <summary>
/// The console view of one test project's run, next to the built-in console logger turned quiet
/// (which keeps only the "Passed!/Failed! - ..." line and errors): every failed test with its
/// message, stack trace and output; every skipped or inconclusive test with its reason; warnings.
/// It leaves out the one warning that a filtered run of a whole solution repeats for each project
/// whose tests the filter does not select ("No test matches the given testcase filter ... in X.dll").
/// </summary>
[FriendlyName(FriendlyName)]
[ExtensionUri(Uri)]
public sealed class TestRunConsole : ITestLoggerWithParameters
{
    public const string FriendlyName = "xtf";
    public const string Uri = "logger://xtf/test-run-console";

    /// <summary>vstest's text for a project none of whose tests the filter selects (CrossPlatEngine resources).</summary>
    public const string NoMatchWarning = "No test matches the given testcase filter";

    private readonly object _gate = new();
    private readonly TextWriter _out;

    public TestRunConsole() : this(Console.Out) { }

    /// <summary>For tests: the lines go to <paramref name="output"/>.</summary>
    public TestRunConsole(TextWriter output) => _out = output;

    public void Initialize(TestLoggerEvents events, string testRunDirectory)
    {
        events.TestResult += (_, e) => Write(Describe(e.Result));
        events.TestRunMessage += (_, e) => Write(Describe(e.Level, e.Message));
    }

    public void Initialize(TestLoggerEvents events, Dictionary<string, string?> parameters) =>
        Initialize(events, parameters.GetValueOrDefault(DefaultLoggerParameterNames.TestRunDirectory) ?? "");

    private void Write(string? text)
    {
        if (string.IsNullOrEmpty(text)) return;
        lock (_gate)
        {
            _out.Write(text);
            _out.Flush();
        }
    }

    /// <summary>The lines for one message, or null for what the quiet console logger prints itself (errors) and the no-match warning.</summary>
    public static string? Describe(TestMessageLevel level, string? message)
    {
        if (level != TestMessageLevel.Warning || string.IsNullOrWhiteSpace(message)) return null;
        if (message.StartsWith(NoMatchWarning, StringComparison.Ordinal)) return null;
        return message.TrimEnd() + Environment.NewLine;
    }

    /// <summary>The lines for one result: nothing for a pass, the reason for a skip, everything for a failure.</summary>
    public static string? Describe(TestResult result)
    {
        string name = string.IsNullOrWhiteSpace(result.DisplayName) ? result.TestCase.DisplayName : result.DisplayName;
        string head = $"{name} [{Duration(result.Duration)}]";
        switch (result.Outcome)
        {
            case TestOutcome.Passed:
                return null;
            case TestOutcome.Failed:
                var sb = new StringBuilder();
                sb.Append("  Failed ").AppendLine(head);
                Section(sb, "Error Message:", result.ErrorMessage, "   ");
                Section(sb, "Stack Trace:", result.ErrorStackTrace, "   ");
                foreach (var (category, title) in new[]
                         {
                             (TestResultMessage.StandardOutCategory, "Standard Output Messages:"),
                             (TestResultMessage.StandardErrorCategory, "Standard Error Messages:"),
                         })
                    Section(sb, title, string.Concat(result.Messages.Where(m => m.Category == category).Select(m => m.Text)), " ");
                return sb.AppendLine().ToString();
            default:   // Skipped, and None (NUnit's Inconclusive)
                string? reason = result.ErrorMessage?.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0);
                return $"  Skipped {head}{(reason is null ? "" : ": " + reason)}{Environment.NewLine}";
        }
    }

    private static void Section(StringBuilder sb, string title, string? text, string indent)
    {
        if (string.IsNullOrWhiteSpace(text)) return;
        sb.Append("  ").AppendLine(title);
        foreach (var line in text.TrimEnd().Split('\n'))
            sb.Append(indent).AppendLine(line.TrimEnd('\r'));
    }

    private static string Duration(TimeSpan d) =>
        d < TimeSpan.FromMilliseconds(1) ? "< 1 ms"
        : d < TimeSpan.FromSeconds(1) ? $"{(int)d.TotalMilliseconds} ms"
        : d < TimeSpan.FromMinutes(1) ? $"{(int)d.TotalSeconds} s"
        : $"{(int)d.TotalMinutes} m {d.Seconds} s";
}
