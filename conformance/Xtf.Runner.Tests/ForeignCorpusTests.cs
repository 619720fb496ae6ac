using System.Text.Json;
using Xtf.Elf;
using Xtf.Hosting;
using Xtf.Reports;
using Xtf.Testing;

namespace Xtf.Runner.Tests;

/// <summary>
/// `xtf run --kernel-dir DIR [GLOB...]` and several `--kernel FILE`: every kernel of a folder (XTF's
/// tests/&lt;name&gt;/test-&lt;env&gt;-&lt;name&gt; layout or a flat folder) runs into one foreign results folder with
/// a record per kernel and its own matrix; the suite's folder is untouched. The folders are made
/// here from suite-built kernels and hand-made files (no XTF build is needed).
/// </summary>
[Parallelizable(ParallelScope.All)]
public sealed class ForeignCorpusTests
{
    private static (int Code, string Out, string Err) Xtf(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = XtfCli.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    private static string Temp() => Directory.CreateTempSubdirectory("xtf-corpus-").FullName;

    private static byte[] Suite(string name) => XtfCli.Catalog.Select([name]).Single().Build().Bytes;

    private static void Write(string path, byte[] bytes)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
    }

    private static void WriteText(string path, string text) => Write(path, System.Text.Encoding.ASCII.GetBytes(text));

    /// <summary>A relocatable object (ELF type 1), as the .o files beside XTF's kernels.</summary>
    private static byte[] ObjectFile()
    {
        var bytes = Suite("test-pv64-example");
        bytes[16] = 1;
        bytes[17] = 0;
        return bytes;
    }

    /// <summary>
    /// XTF's layout: tests/&lt;name&gt;/test-pv64-&lt;name&gt; with .cfg, .o, .d, main.c, info.json and a
    /// Makefile beside it, and files at the top that are not kernels.
    /// </summary>
    private static string XtfShapedFolder(string root, params (string Name, byte[] Kernel)[] kernels)
    {
        string dir = Path.Combine(root, "xtf-build");
        foreach (var (name, kernel) in kernels)
        {
            string test = Path.Combine(dir, "tests", name);
            Write(Path.Combine(test, $"test-pv64-{name}"), kernel);
            WriteText(Path.Combine(test, $"test-pv64-{name}.cfg"), $"name=\"test-pv64-{name}\"\ntype=\"pv\"\n");
            Write(Path.Combine(test, "main-pv64.o"), ObjectFile());
            WriteText(Path.Combine(test, "main-pv64.d"), "main-pv64.o: main.c\n");
            WriteText(Path.Combine(test, "main.c"), "/* a test */\n");
            WriteText(Path.Combine(test, "info.json"), "{}\n");
            WriteText(Path.Combine(test, "Makefile"), "all:\n");
        }
        WriteText(Path.Combine(dir, "README"), "not a kernel\n");
        Write(Path.Combine(dir, "empty"), []);
        return dir;
    }

    /// <summary>The test rows of a matrix.md: "| test | env | area | cells... |".</summary>
    private static List<string[]> MatrixRows(string folder) =>
        File.ReadAllLines(Path.Combine(folder, "matrix.md"))
            .Where(l => l.StartsWith("| ", StringComparison.Ordinal) && !l.StartsWith("| test |", StringComparison.Ordinal))
            .Select(l => l.Trim('|').Split('|').Select(c => c.Trim()).ToArray()).ToList();

    /// <summary>Exit 2 and one line on stderr that starts "xtf run: ", nothing run.</summary>
    private static void AssertOneLineError((int Code, string Out, string Err) r, string phrase)
    {
        Assert.That(r.Code, Is.EqualTo(ExitCodes.Usage), r.Out + r.Err);
        var lines = r.Err.TrimEnd('\n').Split('\n');
        Assert.That(lines, Has.Length.EqualTo(1), "exactly one line on stderr: " + r.Err);
        Assert.That(lines[0], Does.StartWith("xtf run: "));
        Assert.That(lines[0], Does.Contain(phrase));
        Assert.That(r.Err, Does.Not.Contain("   at "), "no stack trace");
        Assert.That(r.Out, Is.Empty, "nothing ran");
    }

    [Test]
    public void AnXtfShapedFolderRunsIntoOneForeignFolderAndLeavesTheSuiteAlone()
    {
        string root = Temp();
        string dir = XtfShapedFolder(root, ("a", Suite("test-pv64-example")), ("b", StatusKernels.Failure().Bytes), ("c", StatusKernels.Skip().Bytes));
        string results = Path.Combine(root, "results");
        var suite = Xtf("run", "test-pv64-example", "--results", results);
        Assert.That(suite.Code, Is.EqualTo(0), suite.Out + suite.Err);
        string suiteMatrix = File.ReadAllText(Path.Combine(results, "matrix.md"));
        string suiteRecord = File.ReadAllText(Path.Combine(results, "sim", "test-pv64-example.json"));

        var r = Xtf("run", "--kernel-dir", dir, "--results", results, "--jobs", "2");
        Assert.That(r.Code, Is.EqualTo(ExitCodes.Failure), "worst result wins: " + r.Out + r.Err);
        // 3 kernels; per test folder .cfg .o .d main.c info.json Makefile (6 x 3), README, empty: 20 other files.
        Assert.That(r.Out, Does.Contain($"corpus {dir}: 3 kernel(s); 20 other file(s) are not kernels; 3 selected"));
        string foreign = Path.Combine(results, "foreign", "xtf-build");
        Assert.That(r.Out, Does.Contain($"3 test(s): 1 SUCCESS, 1 SKIP, 1 FAILURE; transcripts in {foreign}"));

        // The suite's folder: its record and matrix untouched; a report of it lists the corpus folder below the table.
        Assert.That(File.ReadAllText(Path.Combine(results, "matrix.md")), Is.EqualTo(suiteMatrix));
        Assert.That(File.ReadAllText(Path.Combine(results, "sim", "test-pv64-example.json")), Is.EqualTo(suiteRecord));
        var set = ResultSet.Load([results]);
        Assert.That(set.Tests, Is.EqualTo(new[] { "test-pv64-example" }));
        Assert.That(set.ForeignFolders, Is.EqualTo(new[] { foreign }));
        Assert.That(Matrix.Markdown(set), Does.Contain("not in this matrix").And.Contain(foreign));

        // The corpus folder: one record per kernel (named by file name), its matrix, summary and run.json.
        var own = ResultSet.Load([foreign]);
        Assert.That(own.Results.Select(x => (x.Record.Test, x.Record.Host, x.Record.Status, x.Record.Category)), Is.EqualTo(new[]
        {
            ("test-pv64-a", "sim", "SUCCESS", "foreign"), ("test-pv64-b", "sim", "FAILURE", "foreign"), ("test-pv64-c", "sim", "SKIP", "foreign"),
        }));
        Assert.That(MatrixRows(foreign).Select(x => x[0]), Is.EqualTo(new[] { "test-pv64-a", "test-pv64-b", "test-pv64-c" }));
        Assert.That(File.Exists(Path.Combine(foreign, "summary.html")), Is.True);
        using var run = JsonDocument.Parse(File.ReadAllText(Path.Combine(foreign, RunCompletion.FileName)));
        Assert.That(run.RootElement.GetProperty("state").GetString(), Is.EqualTo(RunCompletion.Complete));
        Assert.That(own.ReadTranscriptOf("test-pv64-a"), Does.Contain("Test result: SUCCESS"));

        // A second corpus run replaces the corpus folder's records, not the suite's.
        var again = Xtf("run", "--kernel-dir", dir, "test-pv64-a", "--results", results);
        Assert.That(again.Code, Is.EqualTo(0), again.Out + again.Err);
        Assert.That(ResultSet.Load([foreign]).Tests, Is.EqualTo(new[] { "test-pv64-a" }));
        Assert.That(ResultSet.Load([results]).Tests, Is.EqualTo(new[] { "test-pv64-example" }));
        Directory.Delete(root, true);
    }

    [Test]
    public void AFlatFolderWithGlobsRunsTheKernelsTheyName()
    {
        string root = Temp();
        string dir = Path.Combine(root, "flat");
        Write(Path.Combine(dir, "test-pv64-x"), Suite("test-pv64-example"));
        Write(Path.Combine(dir, "test-pv64-y"), Suite("test-pv64-example"));
        Write(Path.Combine(dir, "other.elf"), Suite("test-pv64-example"));
        WriteText(Path.Combine(dir, "notes.txt"), "hello\n");
        string results = Path.Combine(root, "results");

        var r = Xtf("run", "--kernel-dir", dir + "/", "test-pv64-*", "--results", results);
        Assert.That(r.Code, Is.EqualTo(0), r.Out + r.Err);
        Assert.That(r.Out, Does.Contain("3 kernel(s); 1 other file(s) are not kernels; 2 selected"));
        string foreign = Path.Combine(results, "foreign", "flat");
        Assert.That(ResultSet.Load([foreign]).Tests, Is.EqualTo(new[] { "test-pv64-x", "test-pv64-y" }));

        var one = Xtf("run", "--kernel-dir", dir, "other.elf", "test-pv64-y", "--results", results);
        Assert.That(one.Code, Is.EqualTo(0), one.Out + one.Err);
        Assert.That(ResultSet.Load([foreign]).Tests, Is.EqualTo(new[] { "other.elf", "test-pv64-y" }));

        var shard = Xtf("run", "--kernel-dir", dir, "--shard", "1/2", "--results", results);
        Assert.That(shard.Code, Is.EqualTo(0), shard.Out + shard.Err);
        Assert.That(shard.Out, Does.Contain("shard 1/2: 2 kernel(s)"));
        Assert.That(ResultSet.Load([foreign]).Tests, Has.Count.EqualTo(2));
        Directory.Delete(root, true);
    }

    [Test]
    public void AnHvmKernelInACorpusBootsAsAPvhDom0()
    {
        string root = Temp();
        string dir = XtfShapedFolder(root, ("example", Suite("test-pv64-example")));
        Write(Path.Combine(dir, "tests", "example", "test-hvm64-example"), Suite("test-hvm64-pvh-hello"));
        string results = Path.Combine(root, "results");

        var r = Xtf("run", "--kernel-dir", dir, "--results", results);
        Assert.That(r.Err, Is.Empty);
        var set = ResultSet.Load([Path.Combine(results, "foreign", "xtf-build")]);
        var hvm = set.Find("test-hvm64-example", "sim")!.Record;
        Assert.That(hvm.Status, Is.Not.EqualTo("SKIP"), "an HVM kernel is run, not refused");
        string log = File.ReadAllText(Path.Combine(results, "foreign", "xtf-build", hvm.Transcript));
        Assert.That(log, Does.Contain("dom0=pvh dom0-iommu=none"), "booted as a PVH dom0");
        Assert.That(set.Find("test-pv64-example", "sim")!.Record.Status, Is.EqualTo("SUCCESS"));
        Directory.Delete(root, true);
    }

    [Test]
    public void AWarningNamesTheKernel()
    {
        string root = Temp();
        string dir = Path.Combine(root, "flat");
        var noNotes = new ElfBuilder(ElfMachine.X86_64, 0x100000).AddLoad(0x100000, 0x100000, new byte[0x1000], 0x1000, SegmentFlags.R | SegmentFlags.X).Build();
        Write(Path.Combine(dir, "bare.elf"), noNotes);
        Write(Path.Combine(dir, "test-pv64-example"), Suite("test-pv64-example"));
        var r = Xtf("run", "--kernel-dir", dir, "--results", Path.Combine(root, "results"));
        Assert.That(r.Code, Is.Not.EqualTo(ExitCodes.Usage).And.Not.EqualTo(ExitCodes.InternalError), r.Out + r.Err);
        Assert.That(r.Err.TrimEnd('\n').Split('\n'), Is.EqualTo(new[] { "xtf run: warning: bare.elf: it has no Xen ELF notes; passed to Xen as it is" }));
        Directory.Delete(root, true);
    }

    [Test]
    public void SeveralKernelOptionsRunIntoForeignKernels()
    {
        string root = Temp();
        string a = Path.Combine(root, "one", "test-pv64-a"), b = Path.Combine(root, "two", "test-pv64-b");
        Write(a, Suite("test-pv64-example"));
        Write(b, StatusKernels.Error().Bytes);
        string results = Path.Combine(root, "results");
        var r = Xtf("run", "--kernel", b, "--kernel", a, "--results", results);
        Assert.That(r.Code, Is.EqualTo(ExitCodes.Error), r.Out + r.Err);
        var set = ResultSet.Load([Path.Combine(results, "foreign", "kernels")]);
        Assert.That(set.Results.Select(x => (x.Record.Test, x.Record.Status)), Is.EqualTo(new[] { ("test-pv64-a", "SUCCESS"), ("test-pv64-b", "ERROR") }));
        Assert.That(ResultSet.Load([results]).ForeignFolders, Is.EqualTo(new[] { Path.Combine(results, "foreign", "kernels") }));
        Directory.Delete(root, true);
    }

    [Test]
    public void SeveralKernelOptionsWithOneNameAreRefused()
    {
        string root = Temp();
        string a = Path.Combine(root, "one", "k"), b = Path.Combine(root, "two", "k");
        Write(a, Suite("test-pv64-example"));
        Write(b, Suite("test-pv64-example"));
        AssertOneLineError(Xtf("run", "--kernel", a, "--kernel", b, "--results", Path.Combine(root, "results")), "two --kernel files are named k");
        WriteText(Path.Combine(root, "text"), "not a kernel\n");
        AssertOneLineError(Xtf("run", "--kernel", a, "--kernel", Path.Combine(root, "text")), "not an ELF image");
        AssertOneLineError(Xtf("run", "--kernel", a, "--kernel", Path.Combine(root, "missing")), "cannot read kernel");
        Directory.Delete(root, true);
    }

    [Test]
    public void BadKernelDirsAreOneLineErrors()
    {
        string root = Temp();
        string kernel = Path.Combine(root, "flat", "test-pv64-k");
        Write(kernel, Suite("test-pv64-example"));
        Directory.CreateDirectory(Path.Combine(root, "empty"));
        WriteText(Path.Combine(root, "texts", "a.txt"), "text\n");
        Write(Path.Combine(root, "twice", "a", "k"), Suite("test-pv64-example"));
        Write(Path.Combine(root, "twice", "b", "k"), Suite("test-pv64-example"));

        AssertOneLineError(Xtf("run", "--kernel-dir", Path.Combine(root, "missing")), "no such folder");
        AssertOneLineError(Xtf("run", "--kernel-dir", kernel), "a file, not a folder");
        AssertOneLineError(Xtf("run", "--kernel-dir", Path.Combine(root, "empty")), "no kernel in it");
        AssertOneLineError(Xtf("run", "--kernel-dir", Path.Combine(root, "texts")), "no kernel in it (no ELF or gzip-compressed ELF file; 1 other file(s))");
        AssertOneLineError(Xtf("run", "--kernel-dir", Path.Combine(root, "twice")), "two kernels named k");
        AssertOneLineError(Xtf("run", "--kernel-dir", Path.Combine(root, "flat"), "--kernel", kernel), "--kernel-dir and --kernel do not mix");
        AssertOneLineError(Xtf("run", "--kernel-dir", Path.Combine(root, "flat"), "example"), "no kernel in " + Path.Combine(root, "flat") + " matches example (suite tests do not mix with --kernel-dir)");
        AssertOneLineError(Xtf("run", "--kernel-dir", Path.Combine(root, "flat"), "test-pv64-k", "nothing-*"), "matches nothing-*");
        AssertOneLineError(Xtf("run", "--kernel-dir"), "--kernel-dir needs a value");
        AssertOneLineError(Xtf("run", "--kernel-dir", "a", "--kernel-dir", "b"), "--kernel-dir is given more than once");
        Directory.Delete(root, true);
    }

    [Test]
    public void GzipKernelsAreKernelsAndObjectsAreNot()
    {
        string root = Temp();
        string gz = Path.Combine(root, "k.gz");
        using (var file = File.Create(gz))
        using (var zip = new System.IO.Compression.GZipStream(file, System.IO.Compression.CompressionLevel.Fastest))
            zip.Write(Suite("test-pv64-example"));
        Write(Path.Combine(root, "m.o"), ObjectFile());
        WriteText(Path.Combine(root, "t"), "text");
        Assert.That(ForeignCorpus.Classify(gz, out _), Is.EqualTo(ForeignCorpus.Kind.Kernel));
        Assert.That(ForeignCorpus.Classify(Path.Combine(root, "m.o"), out string why), Is.EqualTo(ForeignCorpus.Kind.NotAKernel));
        Assert.That(why, Does.Contain("relocatable object"));
        Assert.That(ForeignCorpus.Classify(Path.Combine(root, "t"), out _), Is.EqualTo(ForeignCorpus.Kind.NotAKernel));
        Directory.Delete(root, true);
    }

    /// <summary>A corpus on both hosts: the same comparison as the suite's (real Xen needed).</summary>
    [Test]
    public void ACorpusRunsOnBothHostsWithTheTranscriptsCompared()
    {
        RealXen.Require();
        string root = Temp();
        string dir = XtfShapedFolder(root, ("a", Suite("test-pv64-example")), ("b", StatusKernels.Failure().Bytes));
        Write(Path.Combine(dir, "tests", "a", "test-hvm64-a"), Suite("test-hvm64-pvh-hello"));
        string results = Path.Combine(root, "results");
        var r = Xtf("run", "--kernel-dir", dir, "--host", "both", "--results", results);
        Assert.That(r.Out, Does.Match(@"test-pv64-a\s+SUCCESS .*transcripts agree"));
        var set = ResultSet.Load([Path.Combine(results, "foreign", "xtf-build")]);
        Assert.That(set.Results.Where(x => x.Record.Host == "xen" || x.Record.Test != "test-hvm64-a").Select(x => (x.Record.Test, x.Record.Host, x.Record.Status)), Is.EqualTo(new[]
        {
            ("test-hvm64-a", "xen", "SUCCESS"),
            ("test-pv64-a", "sim", "SUCCESS"), ("test-pv64-a", "xen", "SUCCESS"),
            ("test-pv64-b", "sim", "FAILURE"), ("test-pv64-b", "xen", "FAILURE"),
        }));
        string xenLog = File.ReadAllText(Path.Combine(results, "foreign", "xtf-build", set.Find("test-hvm64-a", "xen")!.Record.Transcript));
        Assert.That(xenLog, Does.Contain("*** Building a PVH Dom0 ***"), "real Xen built it as a PVH dom0");
        Assert.That(set.Results.Where(x => x.Record.Test != "test-hvm64-a").Select(x => x.Record.Agree), Is.All.True);
        Directory.Delete(root, true);
    }
}
