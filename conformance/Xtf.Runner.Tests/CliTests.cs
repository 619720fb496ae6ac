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

    private static void AssertOneLineError((int Code, string Out, string Err) r, string phrase)
    {
        Assert.That(r.Code, Is.EqualTo(ExitCodes.Usage), r.Err);
        var lines = r.Err.TrimEnd('\n').Split('\n');
        Assert.That(lines, Has.Length.EqualTo(1), "exactly one line on stderr: " + r.Err);
        Assert.That(lines[0], Does.StartWith("xtf: "));
        Assert.That(lines[0], Does.Contain(phrase));
        Assert.That(r.Err, Does.Not.Contain("   at "), "no stack trace");
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
    }

    private static byte[] KernelFor(string name) => XtfCli.Catalog.Select([name]).Single().Build().Bytes;

    [TestCaseSource(nameof(BadKernels))]
    public void BadKernelFileIsExitCode2WithOneLine(byte[] content, string phrase) =>
        AssertOneLineError(Xtf("run", "--kernel", TempFile(content), "--host", "xen"), phrase);

    [Test]
    public void MissingKernelFile() => AssertOneLineError(Xtf("run", "--kernel", "/nonexistent/kernel"), "cannot read kernel");

    [TestCase(new[] { "frobnicate" }, "unknown command")]
    [TestCase(new[] { "run", "--bogus" }, "unknown option --bogus")]
    [TestCase(new[] { "run", "-z" }, "unknown option")]
    [TestCase(new[] { "run", "--jobs", "0" }, "--jobs must be")]
    [TestCase(new[] { "run", "--jobs" }, "--jobs needs a value")]
    [TestCase(new[] { "run", "--accel", "hvf" }, "--accel must be tcg or kvm")]
    [TestCase(new[] { "run", "--host", "mars" }, "--host must be")]
    [TestCase(new[] { "run", "--timeout", "-3" }, "--timeout must be")]
    [TestCase(new[] { "run", "--seed", "banana" }, "--seed must be")]
    [TestCase(new[] { "run", "--budget", "0" }, "--budget must be")]
    [TestCase(new[] { "run", "no-such-test-*" }, "no test matches")]
    [TestCase(new[] { "build", "example" }, "build needs -o FILE")]
    public void WrongOptionsAreExitCode2(string[] args, string phrase) => AssertOneLineError(Xtf(args), phrase);

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
    public void HelpExits0() => Assert.That(Xtf("--help").Code, Is.EqualTo(0));

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
