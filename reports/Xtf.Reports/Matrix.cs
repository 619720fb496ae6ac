using System.Globalization;
using System.Net;
using System.Text;

using Xtf.Hosting;

namespace Xtf.Reports;

/// <summary>The test × environment × host matrix: status and seconds per host, and whether the transcripts agree.</summary>
public static class Matrix
{
    public static string Cell(ResultRecord? r) =>
        r is null ? "—" : $"{r.ReportStatus}{(r.Warnings ? "*" : "")} {r.Seconds.ToString("0.00", CultureInfo.InvariantCulture)}s";

    /// <summary>The environment an XTF-style name carries (<c>test-&lt;env&gt;-&lt;name&gt;</c>: pv64, hvm64, ...), or "—".</summary>
    public static string Environment(string test)
    {
        if (!test.StartsWith("test-", StringComparison.Ordinal)) return "—";
        int end = test.IndexOf('-', 5);
        return end > 5 ? test[5..end] : "—";
    }

    /// <summary>"yes", "no", or "—" when the test did not run on both hosts.</summary>
    public static string Agreement(ResultSet set, string test)
    {
        var pair = set.Results.Where(r => r.Record.Test == test && r.Record.Agree is not null).ToList();
        if (pair.Count == 0) return "—";
        return pair.All(r => r.Record.Agree == true) ? "yes" : "no";
    }

    public static string Markdown(ResultSet set)
    {
        var hosts = set.Hosts;
        var sb = new StringBuilder();
        sb.Append("# xtf results: test × environment × host\n\n");
        foreach (var (folder, state) in set.Incomplete)
        {
            sb.Append($"**{state.Word} RUN** — {folder}: run {state.Describe()}. The tests it did not finish have no verdict here");
            sb.Append(state.Unfinished.Count > 0 ? $": {string.Join(", ", state.Unfinished)}.\n\n" : ".\n\n");
        }
        sb.Append(string.Join(", ", set.Counts().Select(c => $"{c.Count} {c.Status}"))).Append($" ({set.Results.Count} runs of {set.Tests.Count} tests)\n\n");
        var envs = set.Tests.GroupBy(Environment).OrderBy(g => g.Key, StringComparer.Ordinal).ToList();
        if (envs.Count > 1) sb.Append("By environment: ").Append(string.Join(", ", envs.Select(g => $"{g.Key} {g.Count()} tests"))).Append("\n\n");
        sb.Append("| test | env | area | ").Append(string.Join(" | ", hosts)).Append(" | transcripts agree |\n");
        sb.Append("|---|---|---|").Append(string.Concat(hosts.Select(_ => "---|"))).Append("---|\n");
        foreach (var test in set.Tests)
        {
            var any = set.Results.First(r => r.Record.Test == test).Record;
            sb.Append($"| {test} | {Environment(test)} | {any.Category} | ");
            sb.Append(string.Join(" | ", hosts.Select(h => Cell(set.Find(test, h)?.Record))));
            sb.Append($" | {Agreement(set, test)} |\n");
        }
        if (set.Results.Any(r => r.Record.Warnings)) sb.Append("\n\\* with warnings\n");
        if (set.ForeignFolders.Count > 0)
        {
            sb.Append("\nForeign kernels (`xtf run --kernel`, `--kernel-dir`) are not in this matrix; each such run has its own results folder:\n\n");
            foreach (var f in set.ForeignFolders) sb.Append($"- {f}\n");
        }
        return sb.ToString();
    }
}

/// <summary>summary.html: one self-contained page (no script, no external file) with the matrix, the divergences and the fuzz summary.</summary>
public static class SummaryPage
{
    public static string Html(ResultSet set, string title = "xtf results")
    {
        static string E(string? s) => WebUtility.HtmlEncode(s ?? "");
        var hosts = set.Hosts;
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>").Append(E(title)).Append("</title>\n<style>\n")
          .Append("body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse}")
          .Append("td,th{border:1px solid #ccc;padding:2px 8px;text-align:left;font-size:14px}th{background:#eee}")
          .Append("#interrupted{background:#fde2b8;border:2px solid #c60;padding:8px;font-weight:bold}")
          .Append(".SUCCESS{background:#d8f5d8}.SKIP{background:#eee}.ERROR,.CRASH{background:#fde2b8}.FAILURE,.DIVERGED{background:#f9c9c9}")
          .Append("pre{background:#f6f6f6;padding:8px;overflow:auto;font-size:13px}code{font-size:13px}\n</style></head><body>\n");
        sb.Append("<h1>").Append(E(title)).Append("</h1>\n");
        if (set.Incomplete.Count > 0)
        {
            sb.Append("<div id=\"interrupted\"><p>This run did not complete: the tests it did not finish have no verdict here.</p><ul>\n");
            foreach (var (folder, state) in set.Incomplete)
            {
                sb.Append("<li>").Append(E(state.Word)).Append(" RUN — ").Append(E(folder)).Append(": run ").Append(E(state.Describe()));
                if (state.Unfinished.Count > 0) sb.Append(". Without a verdict: ").Append(E(string.Join(", ", state.Unfinished)));
                sb.Append("</li>\n");
            }
            sb.Append("</ul></div>\n");
        }
        sb.Append("<p id=\"totals\">")
          .Append(E(string.Join(", ", set.Counts().Select(c => $"{c.Count} {c.Status}"))))
          .Append($" — {set.Results.Count} runs of {set.Tests.Count} tests on {E(string.Join(" and ", hosts))}</p>\n");
        var versions = set.Results.Select(r => r.Record).Where(r => r.Host == "xen").Select(r => $"Xen {r.XenVersion}, QEMU {r.QemuVersion}").Distinct().ToList();
        if (versions.Count > 0) sb.Append("<p>Real Xen: ").Append(E(string.Join("; ", versions))).Append("</p>\n");

        sb.Append("<h2>Matrix</h2>\n<table id=\"matrix\"><thead><tr><th>test</th><th>env</th><th>area</th>");
        foreach (var h in hosts) sb.Append("<th>").Append(E(h)).Append("</th>");
        sb.Append("<th>transcripts agree</th></tr></thead><tbody>\n");
        foreach (var test in set.Tests)
        {
            var any = set.Results.First(r => r.Record.Test == test).Record;
            sb.Append("<tr><td title=\"").Append(E(any.Title)).Append("\">").Append(E(test)).Append("</td><td>").Append(E(Matrix.Environment(test))).Append("</td><td>").Append(E(any.Category)).Append("</td>");
            foreach (var h in hosts)
            {
                var r = set.Find(test, h)?.Record;
                sb.Append("<td class=\"").Append(r?.ReportStatus ?? "").Append("\" title=\"").Append(E(r?.Message)).Append("\">")
                  .Append(E(Matrix.Cell(r))).Append("</td>");
            }
            sb.Append("<td>").Append(Matrix.Agreement(set, test)).Append("</td></tr>\n");
        }
        sb.Append("</tbody></table>\n");
        if (set.ForeignFolders.Count > 0)
        {
            sb.Append("<p id=\"foreign\">Foreign kernels (<code>xtf run --kernel</code>, <code>--kernel-dir</code>) are not in this matrix; each such run has its own results folder:</p>\n<ul>\n");
            foreach (var f in set.ForeignFolders) sb.Append("<li><code>").Append(E(f)).Append("</code></li>\n");
            sb.Append("</ul>\n");
        }

        var problems = set.Results.Select(r => r.Record).Where(r => !StatusWords.IsGood(r.ReportStatus) && r.ReportStatus != "DIVERGED").ToList();
        sb.Append("<h2>Failures</h2>\n");
        if (problems.Count == 0) sb.Append("<p>None.</p>\n");
        else
        {
            sb.Append("<ul id=\"failures\">\n");
            foreach (var r in problems)
                sb.Append($"<li><code>{E(r.Test)}</code> on {E(r.Host)}: <b>{E(r.ReportStatus)}</b> {E(r.Message)}</li>\n");
            sb.Append("</ul>\n");
        }

        var divergent = set.Results.Select(r => r.Record).Where(r => r.Host == "sim" && r.Agree == false).ToList();
        sb.Append("<h2>Divergences (real Xen against the simulator)</h2>\n");
        if (divergent.Count == 0)
            sb.Append(set.Results.Any(r => r.Record.Agree is not null) ? "<p>None: every transcript agrees.</p>\n" : "<p>No test ran on both hosts.</p>\n");
        foreach (var r in divergent)
            sb.Append($"<h3>{E(r.Test)}</h3>\n<pre class=\"diff\">{E(r.Diff)}</pre>\n");

        sb.Append("<h2>Fuzzing</h2>\n");
        if (set.FuzzSummaries.Count == 0) sb.Append("<p>No fuzz summary in these results.</p>\n");
        foreach (var (path, text) in set.FuzzSummaries)
            sb.Append($"<h3>{E(Path.GetFileName(path))}</h3>\n<pre class=\"fuzz\">{E(text)}</pre>\n");

        if (set.Ignored.Count > 0)
        {
            sb.Append("<h2>Files ignored</h2>\n<ul>\n");
            foreach (var i in set.Ignored) sb.Append("<li>").Append(E(i)).Append("</li>\n");
            sb.Append("</ul>\n");
        }
        sb.Append("<p><small>Folders: ").Append(E(string.Join(", ", set.Folders))).Append("</small></p>\n</body></html>\n");
        return sb.ToString();
    }
}
