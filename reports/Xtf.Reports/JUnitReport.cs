using System.Globalization;
using System.Text;
using System.Xml;

using Xtf.Hosting;

namespace Xtf.Reports;

/// <summary>
/// JUnit XML as GitLab (artifacts:reports:junit) and Jenkins read it: &lt;testsuites&gt; with one
/// &lt;testsuite&gt; per host and one &lt;testcase&gt; per test × host; &lt;failure&gt; for FAILURE and
/// DIVERGED, &lt;error&gt; for ERROR and CRASH, &lt;skipped&gt; for SKIP; the transcript as system-out.
/// </summary>
public static class JUnitReport
{
    public static void Write(ResultSet set, string path)
    {
        var settings = new XmlWriterSettings { Indent = true, Encoding = new UTF8Encoding(false), CheckCharacters = true };
        using var ms = new MemoryStream();
        using (var w = XmlWriter.Create(ms, settings))
        {
            w.WriteStartDocument();
            w.WriteStartElement("testsuites");
            w.WriteAttributeString("name", "xtf");
            WriteCounts(w, set.Results);
            foreach (var host in set.Hosts)
            {
                var results = set.Results.Where(r => r.Record.Host == host).ToList();
                w.WriteStartElement("testsuite");
                w.WriteAttributeString("name", $"xtf pv64 on {host}");
                WriteCounts(w, results);
                w.WriteAttributeString("timestamp", results.Min(r => r.Record.Start).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture));
                w.WriteAttributeString("hostname", host);
                foreach (var loaded in results) WriteCase(w, loaded);
                w.WriteEndElement();
            }
            w.WriteEndElement();
            w.WriteEndDocument();
        }
        AtomicFile.WriteAllBytes(path, ms.ToArray());
    }

    private static void WriteCounts(XmlWriter w, IReadOnlyCollection<LoadedResult> results)
    {
        w.WriteAttributeString("tests", results.Count.ToString(CultureInfo.InvariantCulture));
        w.WriteAttributeString("failures", results.Count(r => Kind(r.Record.ReportStatus) == "failure").ToString(CultureInfo.InvariantCulture));
        w.WriteAttributeString("errors", results.Count(r => Kind(r.Record.ReportStatus) == "error").ToString(CultureInfo.InvariantCulture));
        w.WriteAttributeString("skipped", results.Count(r => Kind(r.Record.ReportStatus) == "skipped").ToString(CultureInfo.InvariantCulture));
        w.WriteAttributeString("time", Seconds(results.Sum(r => r.Record.Seconds)));
    }

    /// <summary>The JUnit element for a status word; null for SUCCESS.</summary>
    public static string? Kind(string word) => word switch
    {
        "FAILURE" or "DIVERGED" => "failure",
        "ERROR" or "CRASH" => "error",
        "SKIP" => "skipped",
        _ => null,
    };

    private static void WriteCase(XmlWriter w, LoadedResult loaded)
    {
        var r = loaded.Record;
        string word = r.ReportStatus;
        w.WriteStartElement("testcase");
        w.WriteAttributeString("name", r.Test);
        w.WriteAttributeString("classname", $"xtf.{r.Host}.{(r.Category.Length > 0 ? r.Category : "general")}");
        w.WriteAttributeString("time", Seconds(r.Seconds));
        if (Kind(word) is { } kind)
        {
            w.WriteStartElement(kind);
            string message = word == "DIVERGED" ? "DIVERGED: the simulator's transcript differs from real Xen's" : $"{word}: {r.Message}";
            w.WriteAttributeString("message", Clean(message));
            if (kind != "skipped")
            {
                w.WriteAttributeString("type", word);
                var text = new StringBuilder(message).Append('\n');
                if (r.Diff is not null) text.Append(r.Diff).Append('\n');
                foreach (var c in r.Checks) text.Append(c).Append('\n');
                w.WriteString(Clean(text.ToString()));
            }
            w.WriteEndElement();
        }
        if (loaded.ReadTranscript() is { } transcript)
        {
            w.WriteStartElement("system-out");
            w.WriteString(Clean(transcript));
            w.WriteEndElement();
        }
        w.WriteEndElement();
    }

    private static string Seconds(double s) => s.ToString("0.000", CultureInfo.InvariantCulture);

    /// <summary>XML 1.0 cannot carry most control characters (a serial log has some): shown as \xNN.</summary>
    public static string Clean(string s)
    {
        StringBuilder? sb = null;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            bool ok = c is '\t' or '\n' or '\r' || (c >= 0x20 && c <= 0xD7FF) || (c >= 0xE000 && c <= 0xFFFD);
            if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                sb?.Append(c).Append(s[i + 1]);
                i++;
                continue;
            }
            if (ok) { sb?.Append(c); continue; }
            sb ??= new StringBuilder(s, 0, i, s.Length + 16);
            sb.Append($"\\x{(int)c:x2}");
        }
        return sb?.ToString() ?? s;
    }
}
