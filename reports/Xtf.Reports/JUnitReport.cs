using System.Globalization;
using System.Text;
using System.Xml;

using Xtf.Hosting;

namespace Xtf.Reports;

/// <summary>
/// JUnit XML as GitLab (artifacts:reports:junit) and Jenkins read it: &lt;testsuites&gt; with one
/// &lt;testsuite&gt; per host and one &lt;testcase&gt; per test × host; &lt;failure&gt; for FAILURE and
/// DIVERGED, &lt;error&gt; for ERROR and CRASH, &lt;skipped&gt; for SKIP; the transcript as system-out.
/// A run that did not complete (interrupted) adds a &lt;testsuite name="xtf run"&gt; whose one testcase is
/// an &lt;error type="INTERRUPTED"&gt; naming the tests without a verdict (no testcase is invented for
/// them), and every testsuite carries the property xtf.run.state.
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
            var incomplete = set.Incomplete;
            WriteCounts(w, set.Results, incomplete.Count);
            foreach (var host in set.Hosts)
            {
                var results = set.Results.Where(r => r.Record.Host == host).ToList();
                w.WriteStartElement("testsuite");
                w.WriteAttributeString("name", $"xtf pv64 on {host}");
                WriteCounts(w, results);
                w.WriteAttributeString("timestamp", results.Min(r => r.Record.Start).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture));
                w.WriteAttributeString("hostname", host);
                WriteRunState(w, incomplete);
                foreach (var loaded in results) WriteCase(w, loaded);
                w.WriteEndElement();
            }
            if (incomplete.Count > 0) WriteIncompleteRuns(w, incomplete);
            w.WriteEndElement();
            w.WriteEndDocument();
        }
        AtomicFile.WriteAllBytes(path, ms.ToArray());
    }

    /// <summary>The counts of a testsuite (or, with the incomplete runs' error cases added, of the whole document).</summary>
    private static void WriteCounts(XmlWriter w, IReadOnlyCollection<LoadedResult> results, int runErrors = 0)
    {
        w.WriteAttributeString("tests", (results.Count + runErrors).ToString(CultureInfo.InvariantCulture));
        w.WriteAttributeString("failures", results.Count(r => Kind(r.Record.ReportStatus) == "failure").ToString(CultureInfo.InvariantCulture));
        w.WriteAttributeString("errors", (results.Count(r => Kind(r.Record.ReportStatus) == "error") + runErrors).ToString(CultureInfo.InvariantCulture));
        w.WriteAttributeString("skipped", results.Count(r => Kind(r.Record.ReportStatus) == "skipped").ToString(CultureInfo.InvariantCulture));
        w.WriteAttributeString("time", Seconds(results.Sum(r => r.Record.Seconds)));
    }

    private static void WriteRunState(XmlWriter w, IReadOnlyList<(string Folder, RunCompletion State)> incomplete)
    {
        if (incomplete.Count == 0) return;
        w.WriteStartElement("properties");
        w.WriteStartElement("property");
        w.WriteAttributeString("name", "xtf.run.state");
        w.WriteAttributeString("value", Clean(string.Join("; ", incomplete.Select(r => $"{r.Folder}: {r.State.Describe()}"))));
        w.WriteEndElement();
        w.WriteEndElement();
    }

    /// <summary>One error case per run that did not complete: CI shows the run as broken, and no test gets a made-up verdict.</summary>
    private static void WriteIncompleteRuns(XmlWriter w, IReadOnlyList<(string Folder, RunCompletion State)> incomplete)
    {
        w.WriteStartElement("testsuite");
        w.WriteAttributeString("name", "xtf run");
        w.WriteAttributeString("tests", incomplete.Count.ToString(CultureInfo.InvariantCulture));
        w.WriteAttributeString("failures", "0");
        w.WriteAttributeString("errors", incomplete.Count.ToString(CultureInfo.InvariantCulture));
        w.WriteAttributeString("skipped", "0");
        w.WriteAttributeString("time", Seconds(incomplete.Sum(r => Math.Max(0, (r.State.Stop - r.State.Start).TotalSeconds))));
        WriteRunState(w, incomplete);
        foreach (var (folder, state) in incomplete)
        {
            w.WriteStartElement("testcase");
            w.WriteAttributeString("name", $"run {state.State}: {folder}");
            w.WriteAttributeString("classname", "xtf.run");
            w.WriteAttributeString("time", Seconds(Math.Max(0, (state.Stop - state.Start).TotalSeconds)));
            w.WriteStartElement("error");
            w.WriteAttributeString("type", state.Word);
            w.WriteAttributeString("message", Clean($"{state.Word}: run {state.Describe()}"));
            w.WriteString(Clean($"without a verdict (no record): {string.Join(", ", state.Unfinished)}\n"));
            w.WriteEndElement();
            w.WriteEndElement();
        }
        w.WriteEndElement();
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
