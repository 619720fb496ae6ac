using Xtf.Hosting;

namespace Xtf.Reports.Tests;

/// <summary>Result records made up for tests: one per status, with transcripts on disk.</summary>
public static class Records
{
    public static ResultRecord Make(string test, string host, string status, string area = "sched", double seconds = 1.0,
        string[]? checks = null, bool? agree = null, string? diff = null, string message = "", string? traceHash = null) => new()
    {
        Test = test,
        Title = $"title of {test}",
        Category = area,
        Host = host,
        Status = status,
        Message = message,
        Seconds = seconds,
        Start = new DateTimeOffset(2026, 11, 22, 6, 0, 0, TimeSpan.Zero),
        Stop = new DateTimeOffset(2026, 11, 22, 6, 0, 0, TimeSpan.Zero).AddSeconds(seconds),
        Seed = host == "sim" ? "0x5eed" : null,
        Vcpus = 2,
        XenVersion = host == "sim" ? "4.17.7 (simulator model)" : "4.17.7",
        QemuVersion = host == "xen" ? "10.0.2" : null,
        Transcript = $"{host}/{test}.log",
        TraceHash = traceHash,
        GuestLines = ["--- Xen Test Framework ---", "Environment: PV 64bit (Long mode 4 levels)", $"title of {test}", .. checks ?? ["check one"], $"Test result: {(status is "CRASH" ? "ERROR" : status)}"],
        Agree = agree,
        Diff = diff,
    };

    /// <summary>A results folder holding every status word: SUCCESS, SKIP, ERROR, FAILURE, CRASH, and a DIVERGED pair.</summary>
    public static string Folder(string? dir = null)
    {
        dir ??= Directory.CreateTempSubdirectory("xtf-records-").FullName;
        var records = new[]
        {
            Make("test-pv64-synth-success", "xen", "SUCCESS", checks: ["200 yields returned 0"]),
            Make("test-pv64-synth-skip", "xen", "SKIP", message: "Skip: not here"),
            Make("test-pv64-synth-error", "xen", "ERROR", area: "evtchn", message: "Error: bad setup", checks: ["Error: bad setup"]),
            Make("test-pv64-synth-failure", "xen", "FAILURE", area: "vcpu", message: "Fail: x: expected 0, got -22", checks: ["ok line", "Fail: x: expected 0, got -22"]),
            Make("test-pv64-synth-crash", "xen", "CRASH", message: "timeout"),
            Make("test-pv64-synth-diverged", "xen", "SUCCESS", agree: false, diff: "- a\n+ b"),
            Make("test-pv64-synth-diverged", "sim", "SUCCESS", agree: false, diff: "- a\n+ b", traceHash: new string('a', 64)),
        };
        foreach (var r in records)
        {
            r.WriteTo(dir);
            File.WriteAllText(Path.Combine(dir, r.Transcript), "(XEN) boot\n" + string.Join("\n", r.GuestLines) + "\n\u001b[0m");
        }
        return dir;
    }
}
