using System.Text.RegularExpressions;

namespace Xtf.Hosting;

/// <summary>
/// Values a guest prints that change from boot to boot on real Xen (a calibrated TSC frequency, a
/// TSC reading): each pattern's first capture group (the whole match when it has none) is replaced by
/// <see cref="Masked"/> on both hosts' compared lines before <see cref="Divergence.Compare"/> looks
/// at them. Everything else on the line still has to agree.
/// </summary>
public sealed class LineMask
{
    public const string Masked = "<masked>";

    /// <summary>Time given to one pattern on one line: a pathological pattern fails the comparison, not the runner.</summary>
    public static readonly TimeSpan MatchTimeout = TimeSpan.FromMilliseconds(250);

    private readonly Regex[] patterns;

    private LineMask(Regex[] patterns) => this.patterns = patterns;

    public static LineMask None { get; } = new([]);

    public bool IsEmpty => patterns.Length == 0;

    /// <summary>The mask of these patterns; false with the reason when one does not compile.</summary>
    public static bool TryCreate(IEnumerable<string> patterns, out LineMask mask, out string? error)
    {
        var list = new List<Regex>();
        foreach (string p in patterns)
        {
            try
            {
                list.Add(new Regex(p, RegexOptions.CultureInvariant, MatchTimeout));
            }
            catch (ArgumentException e)
            {
                mask = None;
                error = $"'{p}' is not a regular expression: {e.Message}";
                return false;
            }
        }
        mask = new LineMask(list.ToArray());
        error = null;
        return true;
    }

    /// <summary>The line with every masked value replaced.</summary>
    public string Apply(string line)
    {
        foreach (var r in patterns)
        {
            try
            {
                line = r.Replace(line, m =>
                {
                    var g = m.Groups.Count > 1 && m.Groups[1].Success ? m.Groups[1] : m.Groups[0];
                    return m.Value[..(g.Index - m.Index)] + Masked + m.Value[(g.Index - m.Index + g.Length)..];
                });
            }
            catch (RegexMatchTimeoutException)
            {
                line += " [mask timed out]";
            }
        }
        return line;
    }
}
