using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

using Xtf.Hosting;

namespace Xtf.Reports;

/// <summary>
/// Writes an Allure 2 results folder from result records, following Allure's public result format:
/// &lt;uuid&gt;-result.json per test × host, &lt;uuid&gt;-container.json per area, &lt;uuid&gt;-attachment.* files,
/// environment.properties, categories.json and executor.json. Allure 2 and Allure 3 both read it.
/// </summary>
public static class AllureResults
{
    /// <summary>Allure's status for each of our words. CRASH and DIVERGED get their own categories.</summary>
    public static string StatusFor(string word) => word switch
    {
        "SUCCESS" => "passed",
        "FAILURE" => "failed",
        "ERROR" => "broken",
        "SKIP" => "skipped",
        "CRASH" => "broken",
        "DIVERGED" => "failed",
        _ => "unknown",
    };

    /// <summary>The categories, matched in order on the status and on the message, which starts with our word.</summary>
    public static readonly (string Name, string Status, string Word)[] Categories =
    [
        ("Run interrupted: the tests it did not finish have no verdict", "broken", "(?:INTERRUPTED|ABORTED|UNFINISHED)"),
        ("Simulator diverged from real Xen", "failed", "DIVERGED"),
        ("Crashed: no result line (panic, Xen crash, timeout)", "broken", "CRASH"),
        ("Test failures", "failed", "FAILURE"),
        ("Test errors", "broken", "ERROR"),
    ];

    public static string FullName(ResultRecord r) => $"xtf.pv64.{(r.Category.Length > 0 ? r.Category : "general")}.{r.Test}";

    /// <summary>Stable across runs, so Allure can draw history and trends: a hash of fullName and host.</summary>
    public static string HistoryId(ResultRecord r) => Hex(SHA256.HashData(Encoding.UTF8.GetBytes(FullName(r) + "|" + r.Host)))[..32];

    /// <summary>Writes the folder; returns the number of result files written.</summary>
    public static int Write(ResultSet set, string outDir, ExecutorInfo? executor = null)
    {
        Directory.CreateDirectory(outDir);
        foreach (var stale in Directory.GetFiles(outDir).Where(f => IsAllureFile(Path.GetFileName(f)))) File.Delete(stale);

        var byArea = new SortedDictionary<string, List<(string Uuid, ResultRecord R)>>(StringComparer.Ordinal);
        foreach (var loaded in set.Results)
        {
            var r = loaded.Record;
            string uuid = UuidFor("result", r.Key, r.Start.ToUnixTimeMilliseconds().ToString());
            var json = ResultJson(loaded, uuid, outDir);
            AtomicFile.WriteAllText(Path.Combine(outDir, $"{uuid}-result.json"), json.ToJsonString(Indented));
            string area = r.Category.Length > 0 ? r.Category : "general";
            if (!byArea.TryGetValue(area, out var list)) byArea[area] = list = [];
            list.Add((uuid, r));
        }
        foreach (var (area, list) in byArea)
        {
            string uuid = UuidFor("container", area, string.Join(",", list.Select(x => x.Uuid)));
            var container = new JsonObject
            {
                ["uuid"] = uuid,
                ["name"] = area,
                ["children"] = new JsonArray(list.Select(x => (JsonNode)JsonValue.Create(x.Uuid)!).ToArray()),
                ["befores"] = new JsonArray(),
                ["afters"] = new JsonArray(),
                ["start"] = list.Min(x => x.R.Start.ToUnixTimeMilliseconds()),
                ["stop"] = list.Max(x => x.R.Stop.ToUnixTimeMilliseconds()),
            };
            AtomicFile.WriteAllText(Path.Combine(outDir, $"{uuid}-container.json"), container.ToJsonString(Indented));
        }
        foreach (var (folder, state) in set.Incomplete)
        {
            string uuid = UuidFor("run", folder, state.Start.ToUnixTimeMilliseconds().ToString());
            AtomicFile.WriteAllText(Path.Combine(outDir, $"{uuid}-result.json"), IncompleteRunJson(folder, state, uuid).ToJsonString(Indented));
        }
        AtomicFile.WriteAllText(Path.Combine(outDir, "environment.properties"), EnvironmentProperties(set));
        AtomicFile.WriteAllText(Path.Combine(outDir, "categories.json"), CategoriesJson().ToJsonString(Indented));
        AtomicFile.WriteAllText(Path.Combine(outDir, "executor.json"), (executor ?? ExecutorInfo.FromEnvironment()).ToJson().ToJsonString(Indented));
        return set.Results.Count + set.Incomplete.Count;
    }

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private static bool IsAllureFile(string name) =>
        name.EndsWith("-result.json", StringComparison.Ordinal) || name.EndsWith("-container.json", StringComparison.Ordinal)
        || name.Contains("-attachment", StringComparison.Ordinal)
        || name is "environment.properties" or "categories.json" or "executor.json";

    private static JsonObject ResultJson(LoadedResult loaded, string uuid, string outDir)
    {
        var r = loaded.Record;
        string word = r.ReportStatus;
        long start = r.Start.ToUnixTimeMilliseconds(), stop = Math.Max(start, r.Stop.ToUnixTimeMilliseconds());

        var attachments = new JsonArray();
        void Attach(string name, string? text, string type, string ext)
        {
            if (text is null) return;
            string source = $"{UuidFor("attachment", uuid, name)}-attachment.{ext}";
            AtomicFile.WriteAllText(Path.Combine(outDir, source), text);
            attachments.Add(new JsonObject { ["name"] = name, ["source"] = source, ["type"] = type });
        }
        Attach("transcript", loaded.ReadTranscript(), "text/plain", "txt");
        Attach("simulator trace", loaded.ReadTrace(), "text/plain", "txt");
        if (r.Diff is not null) Attach("transcript diff (- real Xen, + simulator)", r.Diff, "text/plain", "txt");
        if (loaded.FullPath(r.FuzzCase) is { } fuzzPath && File.Exists(fuzzPath))
            Attach("shrunk fuzz case", File.ReadAllText(fuzzPath), "text/plain", "txt");

        var steps = new JsonArray();
        var checks = r.Checks;
        for (int i = 0; i < checks.Count; i++)
        {
            // The guest reports no time per line: spread the steps evenly over the run.
            long s = start + (stop - start) * i / Math.Max(1, checks.Count);
            long e = start + (stop - start) * (i + 1) / Math.Max(1, checks.Count);
            steps.Add(new JsonObject
            {
                ["name"] = checks[i],
                ["status"] = StepStatus(checks[i]),
                ["stage"] = "finished",
                ["start"] = s,
                ["stop"] = e,
                ["steps"] = new JsonArray(),
                ["attachments"] = new JsonArray(),
                ["parameters"] = new JsonArray(),
            });
        }

        string message = word == "SUCCESS" ? "" : $"{word}: " + (word == "DIVERGED" ? "the simulator's transcript differs from real Xen's" + (r.Message.Length > 0 ? $" ({r.Message})" : "") : r.Message);
        var labels = new JsonArray
        {
            Label("parentSuite", "pv64"),
            Label("suite", r.Category.Length > 0 ? r.Category : "general"),
            Label("subSuite", r.Host),
            Label("host", r.Host),
            Label("environment", "pv64"),
            Label("framework", "xtf.net"),
            Label("language", "csharp"),
        };
        if (r.XenVersion is not null) labels.Add(Label("xen_version", r.XenVersion));
        if (r.QemuVersion is not null) labels.Add(Label("qemu_version", r.QemuVersion));
        if (r.Shard is not null) labels.Add(Label("shard", r.Shard));

        var parameters = new JsonArray { Parameter("host", r.Host), Parameter("vCPUs", r.Vcpus.ToString()) };
        if (r.Seed is not null) parameters.Add(Parameter("seed", r.Seed));
        if (!string.IsNullOrWhiteSpace(r.XenCommandLine)) parameters.Add(Parameter("xen command line", r.XenCommandLine));

        return new JsonObject
        {
            ["uuid"] = uuid,
            ["historyId"] = HistoryId(r),
            ["testCaseId"] = Hex(SHA256.HashData(Encoding.UTF8.GetBytes(FullName(r))))[..32],
            ["name"] = $"{r.Test} [{r.Host}]",
            ["fullName"] = FullName(r),
            ["description"] = r.Title,
            ["status"] = StatusFor(word),
            ["statusDetails"] = new JsonObject
            {
                ["known"] = false,
                ["muted"] = false,
                ["flaky"] = false,
                ["message"] = message,
                ["trace"] = r.Diff ?? string.Join("\n", r.GuestLines),
            },
            ["stage"] = "finished",
            ["start"] = start,
            ["stop"] = stop,
            ["labels"] = labels,
            ["parameters"] = parameters,
            ["links"] = new JsonArray(),
            ["steps"] = steps,
            ["attachments"] = attachments,
        };
    }

    /// <summary>
    /// A run that did not complete, as one broken result of its own ("xtf run [interrupted]"): Allure shows
    /// it in its category, and the tests without a verdict are named in it, not given results.
    /// </summary>
    private static JsonObject IncompleteRunJson(string folder, RunCompletion state, string uuid)
    {
        string word = state.Word;
        long start = state.Start.ToUnixTimeMilliseconds(), stop = Math.Max(start, state.Stop.ToUnixTimeMilliseconds());
        return new JsonObject
        {
            ["uuid"] = uuid,
            ["historyId"] = Hex(SHA256.HashData(Encoding.UTF8.GetBytes("xtf.run|" + folder)))[..32],
            ["name"] = $"xtf run [{state.State}]",
            ["fullName"] = "xtf.run",
            ["description"] = $"The run into {folder} did not complete.",
            ["status"] = "broken",
            ["statusDetails"] = new JsonObject
            {
                ["known"] = false,
                ["muted"] = false,
                ["flaky"] = false,
                ["message"] = $"{word}: run {state.Describe()}",
                ["trace"] = "without a verdict (no record): " + string.Join(", ", state.Unfinished),
            },
            ["stage"] = "finished",
            ["start"] = start,
            ["stop"] = stop,
            ["labels"] = new JsonArray { Label("parentSuite", "pv64"), Label("suite", "run"), Label("framework", "xtf.net"), Label("language", "csharp") },
            ["parameters"] = new JsonArray { Parameter("folder", folder) },
            ["links"] = new JsonArray(),
            ["steps"] = new JsonArray(),
            ["attachments"] = new JsonArray(),
        };
    }

    /// <summary>A guest line's step status: XTF's "Fail", "Error" and "Skip" prefixes; anything else passed.</summary>
    public static string StepStatus(string line) =>
        line.StartsWith("Fail", StringComparison.Ordinal) ? "failed"
        : line.StartsWith("Error", StringComparison.Ordinal) ? "broken"
        : line.StartsWith("Skip", StringComparison.Ordinal) ? "skipped"
        : "passed";

    private static JsonObject Label(string name, string value) => new() { ["name"] = name, ["value"] = value };
    private static JsonObject Parameter(string name, string value) => new() { ["name"] = name, ["value"] = value };

    public static JsonArray CategoriesJson() => new(Categories.Select(c => (JsonNode)new JsonObject
    {
        ["name"] = c.Name,
        ["matchedStatuses"] = new JsonArray(JsonValue.Create(c.Status)),
        ["messageRegex"] = $"{c.Word}:[\\s\\S]*",
    }).ToArray());

    public static string EnvironmentProperties(ResultSet set)
    {
        var lines = new List<(string, string)>
        {
            ("environment", "pv64"),
            ("hosts", string.Join(",", set.Hosts)),
        };
        void Distinct(string key, Func<ResultRecord, string?> pick)
        {
            var values = set.Results.Select(x => pick(x.Record)).Where(v => !string.IsNullOrEmpty(v)).Distinct().Order(StringComparer.Ordinal).ToList();
            if (values.Count > 0) lines.Add((key, string.Join(", ", values!)));
        }
        Distinct("xen.version", r => r.Host == "xen" ? r.XenVersion : null);
        Distinct("sim.model", r => r.Host == "sim" ? r.XenVersion : null);
        Distinct("qemu.version", r => r.QemuVersion);
        Distinct("sim.seed", r => r.Seed);
        Distinct("xen.cmdline", r => r.XenCommandLine);
        Distinct("shards", r => r.Shard);
        if (set.Incomplete.Count > 0)
            lines.Add(("run.state", string.Join("; ", set.Incomplete.Select(r => $"{r.Folder}: {r.State.Describe()}"))));
        var sb = new StringBuilder();
        foreach (var (k, v) in lines) sb.Append(Escape(k, true)).Append('=').Append(Escape(v, false)).Append('\n');
        return sb.ToString();
    }

    /// <summary>Java properties escaping: backslash, line breaks, and in keys also '=', ':' and spaces.</summary>
    private static string Escape(string s, bool key)
    {
        var sb = new StringBuilder();
        foreach (char c in s)
        {
            switch (c)
            {
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '=' or ':' or ' ' when key: sb.Append('\\').Append(c); break;
                default:
                    if (c > 0x7e || c < 0x20) sb.Append($"\\u{(int)c:x4}"); else sb.Append(c);
                    break;
            }
        }
        return sb.ToString();
    }

    /// <summary>A name-based UUID (the same inputs give the same file names, so a rerun of a report is reproducible).</summary>
    public static string UuidFor(params string[] parts)
    {
        var h = SHA256.HashData(Encoding.UTF8.GetBytes(string.Join("\u001f", parts)));
        h[6] = (byte)((h[6] & 0x0f) | 0x50);
        h[8] = (byte)((h[8] & 0x3f) | 0x80);
        return new Guid(h.AsSpan(0, 16), bigEndian: true).ToString("D");
    }

    private static string Hex(byte[] b) => Convert.ToHexStringLower(b);
}

/// <summary>executor.json: who made the results. Filled from GitLab CI's or Jenkins' variables when present.</summary>
public sealed record ExecutorInfo(string Name, string Type, string? BuildName, string? BuildUrl, string? ReportUrl, long? BuildOrder)
{
    public static ExecutorInfo FromEnvironment()
    {
        static string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null;
        if (Env("GITLAB_CI") is not null)
            return new ExecutorInfo("GitLab CI", "gitlab", $"{Env("CI_PROJECT_PATH")} #{Env("CI_PIPELINE_ID")}", Env("CI_JOB_URL"), null,
                long.TryParse(Env("CI_PIPELINE_IID"), out long iid) ? iid : null);
        if (Env("JENKINS_URL") is not null)
            return new ExecutorInfo("Jenkins", "jenkins", Env("BUILD_TAG"), Env("BUILD_URL"), null,
                long.TryParse(Env("BUILD_NUMBER"), out long n) ? n : null);
        return new ExecutorInfo("xtf report", Env("CI") == "true" ? "ci" : "local", null, null, null, null);
    }

    public JsonObject ToJson()
    {
        var o = new JsonObject { ["name"] = Name, ["type"] = Type };
        if (BuildName is not null) o["buildName"] = BuildName;
        if (BuildUrl is not null) o["buildUrl"] = BuildUrl;
        if (ReportUrl is not null) o["reportUrl"] = ReportUrl;
        if (BuildOrder is not null) o["buildOrder"] = BuildOrder;
        return o;
    }
}
