using System.CommandLine;
using System.Diagnostics;
using System.Text.RegularExpressions;
using Xtf.Hosting;
using Xtf.Hosting.Xen;

namespace Xtf.Runner;

/// <summary>xtf doctor: what is installed for real-Xen runs, and the exact command that fixes each gap.</summary>
public static partial class Doctor
{
    public const string SetupCommand = "sudo scripts/setup-xen.sh";

    [GeneratedRegex(@"version (\d+)\.(\d+)(\.\d+)?")]
    private static partial Regex QemuVersion();

    public static Command Command(TextWriter stdout)
    {
        var qemu = CommandOptions.TextWithDefault("--qemu", "the qemu-system-x86_64 to check", "PATH", RunOptions.DefaultQemu);
        var xen = CommandOptions.TextWithDefault("--xen", "the hypervisor image to check", "PATH", XenBuild.DebianDefault);
        var command = new Command("doctor", "Report what is installed for real-Xen runs and reports, with the command that fixes each gap") { qemu, xen };
        command.SetAction(r => Report(r.GetValue(qemu)!, r.GetValue(xen)!, stdout));
        return command;
    }

    public static int Report(string qemuName, string xenPath, TextWriter w)
    {
        bool ready = true;
        void Line(string what, string state, string detail, string? fix = null)
        {
            w.WriteLine($"{what,-10} {state,-8} {detail}");
            if (fix is not null) w.WriteLine($"{"",-10} {"",-8} fix: {fix}");
        }

        string? qemu = EmulatorProcesses.FindOnPath(qemuName);
        if (qemu is null)
        {
            ready = false;
            Line("qemu", "missing", $"{qemuName} not found", SetupCommand);
        }
        else
        {
            var (major, minor, text) = ProbeQemu(qemu);
            if (major is null) { ready = false; Line("qemu", "broken", $"{qemu}: {text}", SetupCommand); }
            else if (major < 8) Line("qemu", "warn", $"{qemu}: QEMU {text}; below 8.0 it mis-reports int $N error codes (QEMU #1382)", SetupCommand + "   # installs QEMU from bookworm-backports");
            else Line("qemu", "ok", $"{qemu}: QEMU {text}");
        }

        try
        {
            var b = XenBuild.Prepare(xenPath);
            string pv32 = XenConfig.HasPv32(b.SourcePath) switch { true => "PV32 on", false => "PV32 off (pv32 tests SKIP)", null => "PV32 unknown" };
            Line("xen", "ok", $"{b.SourcePath}: Xen {b.Version ?? "(version unknown)"}{(b.Debug == true ? " debug=y" : b.Debug == false ? " debug=n" : "")}, {pv32}");
        }
        catch (HostException e)
        {
            ready = false;
            Line("xen", "missing", e.Message, SetupCommand);
        }

        bool kvm = File.Exists("/dev/kvm");
        Line("accel", "ok", "tcg (default)" + (kvm ? "; /dev/kvm exists, but use --accel kvm only with real nested virtualisation" : "; no /dev/kvm"));

        string? setpriv = EmulatorProcesses.FindOnPath("setpriv");
        Line("setpriv", setpriv is null ? "warn" : "ok",
            setpriv is null ? "missing: a killed runner could leave QEMU running" : $"{setpriv}: QEMU dies with the runner",
            setpriv is null ? "sudo apt-get install util-linux" : null);

        string? readelf = EmulatorProcesses.FindOnPath("readelf");
        Line("readelf", readelf is null ? "warn" : "ok", readelf ?? "missing: the ELF tests compare against binutils", readelf is null ? "sudo apt-get install binutils" : null);

        var allure = AllureTool.Find();
        Line("allure", allure.Missing is null ? "ok" : "warn",
            allure.Missing is null ? $"{allure.Path}: Allure {allure.Version}" : $"{allure.Missing}: xtf report writes no Allure HTML",
            allure.Missing is null ? null : ReportCommands.SetupCommand);
        string? chromium = EmulatorProcesses.FindOnPath("chromium");
        Line("chromium", chromium is null ? "warn" : "ok", chromium ?? "missing: the report rendering checks need it",
            chromium is null ? ReportCommands.SetupCommand : null);

        w.WriteLine(ready ? "ready for real Xen" : "not ready for real Xen");
        return ready ? 0 : 1;
    }

    public static (int? Major, int? Minor, string Text) ProbeQemu(string qemu)
    {
        try
        {
            var info = new ProcessStartInfo(qemu, "--version") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            using var p = Process.Start(info)!;
            string output = p.StandardOutput.ReadToEnd();
            p.WaitForExit(10_000);
            var m = QemuVersion().Match(output);
            if (!m.Success) return (null, null, "no version in its --version output");
            return (int.Parse(m.Groups[1].Value), int.Parse(m.Groups[2].Value), m.Value["version ".Length..]);
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return (null, null, e.Message);
        }
    }

    public static string QemuVersionLine(string qemuName)
    {
        var path = EmulatorProcesses.FindOnPath(qemuName);
        if (path is null) return "QEMU not found";
        var (_, _, text) = ProbeQemu(path);
        return $"QEMU {text}";
    }
}
