using System.Text;
using System.Text.RegularExpressions;

namespace Xtf.Reports;

/// <summary>
/// Makes a generated HTML report load nothing from the network, so that it opens the same on an
/// offline CI machine and sends nothing anywhere. The Allure 3 "awesome" report always adds Google's
/// analytics loader (a remote script and the inline gtag calls that feed it; the allure package has
/// no setting for this plugin); this removes every script or link element that names a remote
/// address, and the inline scripts that only call gtag. The report's own code is inlined as data:
/// URIs and stays.
/// </summary>
public static partial class OfflineHtml
{
    /// <summary>Rewrites every *.html file under <paramref name="directory"/>; returns what was removed ("file: element").</summary>
    public static IReadOnlyList<string> Apply(string directory)
    {
        var removed = new List<string>();
        foreach (var file in Directory.EnumerateFiles(directory, "*.html", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            string html = File.ReadAllText(file);
            var (clean, gone) = Strip(html);
            if (gone.Count == 0) continue;
            File.WriteAllText(file, clean, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
            removed.AddRange(gone.Select(g => $"{Path.GetRelativePath(directory, file)}: {g}"));
        }
        return removed;
    }

    /// <summary>The page without remote script and link elements and without inline gtag scripts; and what went (shortened).</summary>
    public static (string Html, List<string> Removed) Strip(string html)
    {
        var sb = new StringBuilder(html.Length);
        var removed = new List<string>();
        int at = 0;
        while (true)
        {
            var element = NextElement(html, at);
            if (element is null) break;
            var (start, end, tag, openTag, body) = element.Value;
            bool remote = Attributes(openTag).Any(a => a.Name is "src" or "href" && IsRemote(a.Value));
            bool analytics = tag == "script" && !Attributes(openTag).Any(a => a.Name == "src") && GtagCall().IsMatch(body);
            sb.Append(html, at, (remote || analytics ? start : end) - at);
            if (remote || analytics)
            {
                removed.Add(Shorten(html[start..end]));
                // Drop the line the element stood on when nothing else is on it.
                while (sb.Length > 0 && sb[^1] is ' ' or '\t') sb.Length--;
                if (end < html.Length && html[end] == '\n' && (sb.Length == 0 || sb[^1] == '\n')) end++;
            }
            at = end;
        }
        sb.Append(html, at, html.Length - at);
        return (sb.ToString(), removed);
    }

    /// <summary>Addresses that reach the network from src/href attributes of any element (links a reader clicks, &lt;a href&gt;, are not loads and are left out).</summary>
    public static IReadOnlyList<string> RemoteLoads(string html) =>
        OpenTag().Matches(html)
            .Where(m => !m.Groups[1].Value.Equals("a", StringComparison.OrdinalIgnoreCase))
            .SelectMany(m => Attributes(m.Value))
            .Where(a => a.Name is "src" or "href" or "srcset" or "poster" or "data" && IsRemote(a.Value))
            .Select(a => a.Value)
            .ToList();

    /// <summary>http:, https:, ws:, wss: or protocol-relative (//host) addresses.</summary>
    public static bool IsRemote(string url)
    {
        string u = url.Trim();
        return u.StartsWith("//", StringComparison.Ordinal)
            || RemoteScheme().IsMatch(u);
    }

    private static string Shorten(string s)
    {
        s = Regex.Replace(s, @"\s+", " ");
        return s.Length <= 120 ? s : s[..117] + "...";
    }

    /// <summary>The next &lt;script&gt; (with its body) or &lt;link&gt; element at or after <paramref name="from"/>.</summary>
    private static (int Start, int End, string Tag, string OpenTag, string Body)? NextElement(string html, int from)
    {
        var m = ScriptOrLink().Match(html, from);
        if (!m.Success) return null;
        int start = m.Index;
        int openEnd = EndOfOpenTag(html, start);
        if (openEnd < 0) return null;
        string tag = m.Groups[1].Value.ToLowerInvariant();
        string openTag = html[start..openEnd];
        if (tag == "link") return (start, openEnd, tag, openTag, "");
        int close = html.IndexOf("</script", openEnd, StringComparison.OrdinalIgnoreCase);
        if (close < 0) return (start, html.Length, tag, openTag, html[openEnd..]);
        int closeEnd = html.IndexOf('>', close);
        closeEnd = closeEnd < 0 ? html.Length : closeEnd + 1;
        return (start, closeEnd, tag, openTag, html[openEnd..close]);
    }

    /// <summary>Index just past the '&gt;' that ends the opening tag at <paramref name="start"/>, quotes respected.</summary>
    private static int EndOfOpenTag(string html, int start)
    {
        char quote = '\0';
        for (int i = start + 1; i < html.Length; i++)
        {
            char c = html[i];
            if (quote != '\0') { if (c == quote) quote = '\0'; }
            else if (c is '"' or '\'') quote = c;
            else if (c == '>') return i + 1;
        }
        return -1;
    }

    private static IEnumerable<(string Name, string Value)> Attributes(string openTag) =>
        Attribute().Matches(openTag).Select(m => (m.Groups[1].Value.ToLowerInvariant(),
            m.Groups[2].Success ? m.Groups[2].Value : m.Groups[3].Success ? m.Groups[3].Value : m.Groups[4].Value));

    [GeneratedRegex(@"<(script|link)\b", RegexOptions.IgnoreCase)]
    private static partial Regex ScriptOrLink();

    [GeneratedRegex(@"<([a-zA-Z][a-zA-Z0-9-]*)\b(?:[^>""']|""[^""]*""|'[^']*')*>")]
    private static partial Regex OpenTag();

    [GeneratedRegex(@"\s([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*=\s*(?:""([^""]*)""|'([^']*)'|([^\s""'>]+))")]
    private static partial Regex Attribute();

    [GeneratedRegex(@"^(?:https?|wss?):", RegexOptions.IgnoreCase)]
    private static partial Regex RemoteScheme();

    [GeneratedRegex(@"\bgtag\s*\(")]
    private static partial Regex GtagCall();
}
