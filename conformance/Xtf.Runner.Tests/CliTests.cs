using Xtf.Elf;
using Xtf.Hosting;

namespace Xtf.Runner.Tests;

/// <summary>The xtf command line: bad input is one clear line and exit code 2, never a stack trace.</summary>
[Parallelizable(ParallelScope.All)]
public sealed class CliTests
{
    private static (int Code, string Out, string Err) Xtf(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = XtfCli.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    private static string TempFile(byte[] content)
    {
        string path = Path.Combine(Directory.CreateTempSubdirectory("xtf-cli-").FullName, "kernel");
        File.WriteAllBytes(path, content);
        return path;
    }

    /// <summary>Exit 2 and one line on stderr that names the command ("xtf run: ...", or "xtf: ..." before a command is known).</summary>
    private static void AssertOneLineError((int Code, string Out, string Err) r, string phrase, string? command = null)
    {
        Assert.That(r.Code, Is.EqualTo(ExitCodes.Usage), r.Err);
        var lines = r.Err.TrimEnd('\n').Split('\n');
        Assert.That(lines, Has.Length.EqualTo(1), "exactly one line on stderr: " + r.Err);
        Assert.That(lines[0], Does.StartWith(command is null ? "xtf" : $"xtf {command}: "));
        Assert.That(lines[0], Does.Match(@"^xtf( [a-z]+)?: "));
        Assert.That(lines[0], Does.Contain(phrase));
        Assert.That(r.Err, Does.Not.Contain("   at "), "no stack trace");
        Assert.That(r.Out, Is.Empty, "nothing ran");
    }

    public static IEnumerable<TestCaseData> BadKernels()
    {
        yield return new TestCaseData(System.Text.Encoding.ASCII.GetBytes("this is a text file, not a kernel\n"), "not an ELF image").SetName("TextFile");
        yield return new TestCaseData(Array.Empty<byte>(), "the file is empty").SetName("EmptyFile");
    }

    /// <summary>Malformed images that are still kernels to Xen: passed on (with a warning from ForeignKernel), and judged by the host.</summary>
    public static IEnumerable<TestCaseData> MalformedKernels()
    {
        var good = KernelFor("example");
        yield return new TestCaseData(good[..100]).SetName("TruncatedHeaders");
        yield return new TestCaseData(good[..0x1800]).SetName("TruncatedSegment");
        var noNotes = new ElfBuilder(ElfMachine.X86_64, 0x100000).AddLoad(0x100000, 0x100000, new byte[0x1000], 0x1000, SegmentFlags.R | SegmentFlags.X).Build();
        yield return new TestCaseData(noNotes).SetName("NoXenNotes");
    }

    [TestCaseSource(nameof(MalformedKernels))]
    public void MalformedKernelIsRunAndJudgedNotRefused(byte[] content)
    {
        string path = TempFile(content);
        Assert.That(ForeignKernel.Load(path).Warnings, Has.Count.EqualTo(1), "one warning line");
        var r = Xtf("run", "--kernel", path, "--host", "sim", "--results", Path.Combine(Path.GetDirectoryName(path)!, "results"));
        Assert.That(r.Code, Is.Not.EqualTo(ExitCodes.Usage), r.Err);
        Assert.That(r.Code, Is.Not.EqualTo(ExitCodes.InternalError), r.Err);
        Assert.That(r.Err, Does.Not.Contain("   at "), "no stack trace");
        Assert.That(r.Err.Split('\n').Count(l => l.StartsWith("xtf run: warning: ", StringComparison.Ordinal)), Is.EqualTo(1),
            "the reader's warning reaches the user on stderr, once");
    }

    private static byte[] KernelFor(string name) => XtfCli.Catalog.Select([name]).Single().Build().Bytes;

    [TestCaseSource(nameof(BadKernels))]
    public void BadKernelFileIsExitCode2WithOneLine(byte[] content, string phrase) =>
        AssertOneLineError(Xtf("run", "--kernel", TempFile(content), "--host", "xen"), phrase);

    [Test]
    public void BuildIntoAMissingFolderIsExitCode2WithOneLine() =>
        AssertOneLineError(Xtf("build", "example", "-o", "/nonexistent/folder/kernel"), "cannot write /nonexistent/folder/kernel");

    [Test]
    public void XenMemoryBeyondTheMachinesRamIsRefused()
    {
        if (global::Xtf.Hosting.Xen.XenHost.HostMemoryMiB() is not { } ram || ram >= 65536)
            Assert.Inconclusive("needs a machine with /proc/meminfo and less than 64 GiB of RAM");
        AssertOneLineError(Xtf("run", "example", "--host", "xen", "--memory", "65536"), "more than this machine's");
    }

    [Test]
    public void MissingKernelFile() => AssertOneLineError(Xtf("run", "--kernel", "/nonexistent/kernel"), "cannot read kernel");

    [TestCase(new[] { "frobnicate" }, "xtf: unknown command 'frobnicate'")]
    [TestCase(new[] { "--bogus" }, "xtf: unknown option --bogus")]
    [TestCase(new[] { "run", "--bogus" }, "xtf run: unknown option --bogus")]
    [TestCase(new[] { "run", "-z" }, "xtf run: unknown option -z")]
    [TestCase(new[] { "run", "--jobs", "0" }, "xtf run: --jobs must be a whole number from 1 to 64, not '0'")]
    [TestCase(new[] { "run", "--jobs" }, "xtf run: --jobs needs a value")]
    [TestCase(new[] { "run", "--jobs", "2", "--jobs", "3" }, "xtf run: --jobs is given more than once")]
    [TestCase(new[] { "run", "--accel", "hvf" }, "xtf run: --accel must be tcg or kvm, not 'hvf'")]
    [TestCase(new[] { "run", "--host", "mars" }, "xtf run: --host must be sim, xen or both, not 'mars'")]
    [TestCase(new[] { "run", "--timeout", "-3" }, "xtf run: --timeout must be")]
    [TestCase(new[] { "run", "--timeout", "0" }, "xtf run: --timeout must be a number of seconds greater than 0 and at most 3600, not '0'")]
    [TestCase(new[] { "run", "--timeout", "3601" }, "greater than 0 and at most 3600, not '3601'")]
    [TestCase(new[] { "run", "--seed", "banana" }, "xtf run: --seed must be a number (decimal or 0x hex), not 'banana'")]
    [TestCase(new[] { "run", "--budget", "0" }, "xtf run: --budget must be")]
    [TestCase(new[] { "run", "--shard", "0/2" }, "xtf run: --shard must be K/N")]
    [TestCase(new[] { "run", "--verbose=yes" }, "xtf run: --verbose takes no value")]
    [TestCase(new[] { "run", "--host", "both", "--mask", "(unclosed" }, "xtf run: --mask: '(unclosed' is not a regular expression")]
    [TestCase(new[] { "report", "--no-html=1" }, "xtf report: --no-html takes no value")]
    [TestCase(new[] { "run", "no-such-test-*" }, "xtf run: no test matches no-such-test-*")]
    [TestCase(new[] { "run", "example", "--kernel", "/bin/true" }, "xtf run: --kernel and test names do not mix")]
    [TestCase(new[] { "build", "example" }, "xtf build: -o FILE is required")]
    [TestCase(new[] { "build", "example", "sched-yield", "-o", "/nonexistent/x" }, "xtf build: give exactly one test name")]
    [TestCase(new[] { "build", "test-pv64-*", "-o", "/nonexistent/x" }, "xtf build: 'test-pv64-*' matches")]
    [TestCase(new[] { "compare", "--xen", "a", "--xen", "b", "--xen", "c" }, "xtf compare: --xen is given more than 2 times")]
    [TestCase(new[] { "compare", "--xen", "a", "x", "y" }, "xtf compare: --xen and --xen-cmdline compare when given twice")]
    [TestCase(new[] { "completion", "zsh" }, "xtf completion: no completion script for 'zsh'")]
    public void WrongOptionsAreExitCode2(string[] args, string phrase) => AssertOneLineError(Xtf(args), phrase);

    /// <summary>Every command has its own options: one that belongs to another command is refused, and the error says whose it is.</summary>
    [TestCase(new[] { "list", "--budget", "5" }, "list", "--budget is not an option of list (it belongs to run)")]
    [TestCase(new[] { "build", "example", "-o", "/nonexistent/x", "--host", "xen" }, "build", "--host is not an option of build (it belongs to run, fuzz)")]
    [TestCase(new[] { "run", "--area", "evtchn" }, "run", "--area is not an option of run (it belongs to fuzz)")]
    [TestCase(new[] { "run", "--no-html" }, "run", "--no-html is not an option of run (it belongs to report)")]
    [TestCase(new[] { "report", "--jobs", "2" }, "report", "--jobs is not an option of report (it belongs to run, compare)")]
    [TestCase(new[] { "doctor", "--seed", "1" }, "doctor", "--seed is not an option of doctor (it belongs to run, fuzz)")]
    [TestCase(new[] { "fuzz", "--kernel", "/bin/true" }, "fuzz", "--kernel is not an option of fuzz (it belongs to run)")]
    [TestCase(new[] { "bench", "--breakdown", "--verbose" }, "bench", "--verbose is not an option of bench (it belongs to run)")]
    [TestCase(new[] { "list", "--jobs=2" }, "list", "--jobs is not an option of list")]
    public void AnOptionOfAnotherCommandIsRefused(string[] args, string command, string phrase) => AssertOneLineError(Xtf(args), phrase, command);

    [TestCase(new[] { "doctor", "extra" }, "doctor", "unexpected argument 'extra'")]
    [TestCase(new[] { "bench", "5" }, "bench", "unexpected argument '5'")]
    public void AWordACommandDoesNotTakeIsRefused(string[] args, string command, string phrase) => AssertOneLineError(Xtf(args), phrase, command);

    [Test]
    public void MissingXenImage() =>
        AssertOneLineError(Xtf("run", "example", "--host", "xen", "--xen", "/nonexistent/xen.gz", "--qemu", "/bin/true"), "Xen image not found");

    [Test]
    public void MissingQemu() =>
        AssertOneLineError(Xtf("run", "example", "--host", "xen", "--qemu", "/nonexistent/qemu-system-x86_64"), "QEMU not found");

    [Test]
    public void NotAXenImage() =>
        AssertOneLineError(Xtf("run", "example", "--host", "xen", "--xen", TempFile([1, 2, 3, 4]), "--qemu", "/bin/true"), "not a Xen hypervisor image");

    [Test]
    public void NoArgumentsPrintsUsageAndExits2()
    {
        var r = Xtf();
        Assert.That(r.Code, Is.EqualTo(ExitCodes.Usage));
        Assert.That(r.Out, Does.Contain("usage: xtf"));
    }

    [Test]
    public void HelpExits0()
    {
        var r = Xtf("--help");
        Assert.That(r.Code, Is.EqualTo(0));
        foreach (var command in new[] { "list", "run", "build", "report", "compare", "doctor", "bench", "fuzz", "completion" })
            Assert.That(r.Out, Does.Contain($"\n  {command} "), $"the overview names {command}");
        Assert.That(Xtf("help").Out, Is.EqualTo(r.Out));
    }

    /// <summary>`xtf COMMAND --help` shows that command's options and exit codes, and none of another command's.</summary>
    [TestCase("run", new[] { "--host", "--seed", "--budget", "--kernel", "--kernel-dir", "--xen", "--qemu", "--accel", "--vcpus", "--jobs", "--timeout", "--memory", "--xen-cmdline", "--results", "--shard", "--verbose" },
        new[] { "--area", "--cases", "--replay", "--no-html", "--breakdown", "--timing-ratio" }, "7 DIVERGED")]
    [TestCase("fuzz", new[] { "--area", "--cases", "--seed", "--host", "--batch", "--replay", "--results", "--xen", "--qemu", "--timeout" },
        new[] { "--kernel", "--budget", "--jobs", "--shard", "--no-html" }, "5 model disagreement")]
    [TestCase("report", new[] { "--output", "--no-html" }, new[] { "--host", "--jobs", "--seed" }, "8 written without the Allure HTML")]
    [TestCase("compare", new[] { "--xen", "--xen-cmdline", "--output", "--timing-ratio", "--timing-seconds", "--qemu", "--accel", "--jobs", "--timeout", "--memory", "--vcpus", "--shard" },
        new[] { "--host", "--seed", "--kernel", "--no-html" }, "1 a new failure")]
    [TestCase("build", new[] { "--output", "-o" }, new[] { "--host", "--jobs" }, "0 written")]
    [TestCase("list", new string[0], new[] { "--host", "--budget" }, "0 listed")]
    [TestCase("doctor", new[] { "--qemu", "--xen" }, new[] { "--host", "--jobs" }, "0 ready")]
    [TestCase("bench", new[] { "--seconds", "--breakdown" }, new[] { "--host", "--jobs" }, "0 measured")]
    public void EachCommandHasItsOwnHelp(string command, string[] has, string[] hasNot, string exitCodes)
    {
        var r = Xtf(command, "--help");
        Assert.That(r.Code, Is.EqualTo(0), r.Err);
        Assert.That(r.Err, Is.Empty);
        Assert.That(r.Out, Does.Contain($"xtf {command}"), "the usage line names the command");
        var options = System.Text.RegularExpressions.Regex.Matches(r.Out, @"(?<=[\s,])--?[a-z][a-z-]*(?=[\s,])").Select(m => m.Value).ToHashSet();
        foreach (var o in has) Assert.That(options, Does.Contain(o), $"{command} --help lists {o}");
        foreach (var o in hasNot) Assert.That(options, Does.Not.Contain(o), $"{command} --help does not list {o}");
        Assert.That(r.Out, Does.Contain("Exit codes").And.Contain(exitCodes));
        Assert.That(Xtf("help", command).Out, Is.EqualTo(r.Out), $"xtf help {command} is xtf {command} --help");
    }

    /// <summary>Tab completion: System.CommandLine's [suggest] directive answers with commands, option values and test names.</summary>
    [TestCase("xtf ", "run")]
    [TestCase("xtf ru", "run")]
    [TestCase("xtf run --ho", "--host")]
    [TestCase("xtf run --host ", "both")]
    [TestCase("xtf fuzz --area ", "evtchn")]
    [TestCase("xtf run test-pv64-sched-yi", "test-pv64-sched-yield")]
    [TestCase("xtf build exam", "test-pv64-example")]
    public void SuggestDirectiveCompletes(string line, string expected)
    {
        var r = Xtf($"[suggest:{line.Length}]", line);
        Assert.That(r.Code, Is.EqualTo(0), r.Err);
        var words = r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.That(words, Does.Contain(expected));
    }

    [Test]
    public void RunOptionsAreNotSuggestedForList()
    {
        var r = Xtf("[suggest:10]", "xtf list -");
        Assert.That(r.Out, Does.Not.Contain("--host").And.Not.Contain("--budget"));
    }

    /// <summary>The script `xtf completion bash` prints, loaded into a real bash, completes through the runner.</summary>
    [TestCase("xtf ru", "run")]
    [TestCase("xtf run --host b", "both")]
    [TestCase("xtf fuzz --area ev", "evtchn")]
    [TestCase("xtf list test-pv64-sched-yi", "test-pv64-sched-yield")]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void BashCompletionScriptCompletes(string line, string expected)
    {
        if (OnPath("bash") is null) Assert.Inconclusive("bash is not installed");
        string dir = Directory.CreateTempSubdirectory("xtf-complete-").FullName;
        string xtf = Path.Combine(dir, "xtf");
        File.WriteAllText(xtf, $"#!/bin/sh\nexec dotnet '{typeof(XtfCli).Assembly.Location}' \"$@\"\n");
        File.SetUnixFileMode(xtf, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        string script = Xtf("completion", "bash").Out;
        File.WriteAllText(Path.Combine(dir, "completion.bash"), script);
        var words = line.Split(' ');
        string probe = $"""
            source '{dir}/completion.bash'
            COMP_LINE='{line}'; COMP_POINT=${"{#COMP_LINE}"}
            COMP_WORDS=({string.Join(" ", words.Select(w => $"'{w}'"))}); COMP_CWORD={words.Length - 1}
            COMP_WORDS[0]='{xtf}'
            _xtf_complete
            printf '%s\n' "${"{COMPREPLY[@]}"}"
            """;
        var info = new System.Diagnostics.ProcessStartInfo("bash") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var bash = System.Diagnostics.Process.Start(info)!;
        bash.StandardInput.Write(probe);
        bash.StandardInput.Close();
        string output = bash.StandardOutput.ReadToEnd();
        string errors = bash.StandardError.ReadToEnd();
        Assert.That(bash.WaitForExit(60_000), Is.True);
        Assert.That(output.Split('\n', StringSplitOptions.RemoveEmptyEntries), Does.Contain(expected), output + errors);
        Directory.Delete(dir, true);
    }

    private static string? OnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    [Test]
    public void ListShowsXtfNamesAndFiltersByGlob()
    {
        var all = Xtf("list");
        Assert.That(all.Code, Is.EqualTo(0));
        Assert.That(all.Out, Does.Contain("test-pv64-example"));
        var some = Xtf("list", "test-pv64-xen-*");
        Assert.That(some.Out, Does.Contain("test-pv64-xen-version"));
        Assert.That(some.Out, Does.Not.Contain("test-pv64-example"));
        Assert.That(Xtf("list", "example").Out.Trim().Split('\n'), Has.Length.EqualTo(1), "a short name matches too");
    }

    [Test]
    public void BuildWritesAParsableKernel()
    {
        string path = Path.Combine(Directory.CreateTempSubdirectory("xtf-cli-").FullName, "example.elf");
        var r = Xtf("build", "example", "-o", path);
        Assert.That(r.Code, Is.EqualTo(0), r.Err);
        var elf = ElfImage.Parse(File.ReadAllBytes(path));
        Assert.That(elf.Entry, Is.EqualTo(0x100000UL));
        Assert.That(elf.Xen.Loader, Is.EqualTo("generic"));
    }

    [Test]
    public void RunsASuiteTestOnRealXenAndExits0()
    {
        RealXen.Require();
        string results = Directory.CreateTempSubdirectory("xtf-cli-").FullName;
        var r = Xtf("run", "test-pv64-example", "--host", "xen", "--results", results);
        Assert.That(r.Code, Is.EqualTo(0), r.Out + r.Err);
        Assert.That(r.Out, Does.Match(@"test-pv64-example\s+SUCCESS\s+\d+\.\d\ds"));
        Assert.That(File.ReadAllText(Path.Combine(results, "xen", "test-pv64-example.log")), Does.Contain("Hello World"));
    }

    [Test]
    public void WorstResultDecidesTheExitCode()
    {
        RealXen.Require();
        string results = Directory.CreateTempSubdirectory("xtf-cli-").FullName;
        var r = Xtf("run", "--kernel", TempFile(StatusKernels.Failure().Bytes), "--host", "xen", "--results", results);
        Assert.That(r.Code, Is.EqualTo(ExitCodes.Failure), r.Out + r.Err);
    }
}
