using System.ComponentModel;
using System.Diagnostics;
using Xtf.Elf;
using Xtf.Hosting;
using Xtf.Sim;

namespace Xtf.Runner.Tests;

/// <summary>
/// A kernel our C# generator did not make: Foreign/c-probe is plain C compiled by gcc -O2 into
/// a 64-bit PV kernel that speaks XTF's console protocol. It proves that <c>xtf run --kernel</c>
/// boots foreign kernels on real Xen, and its exact output is pinned here so that any change in
/// what the compiled code computes fails the test.
/// </summary>
[TestFixture]
public sealed class ForeignKernelTests
{
    private const string KernelName = "c-probe";
    private const ulong LinkAddress = 0x100000;

    /// <summary>The guest's lines from the banner to the result line, exactly.</summary>
    private static readonly string[] ExpectedGuestLines =
    [
        "--- Xen Test Framework ---",
        "Environment: PV 64bit (Long mode 4 levels)",
        "Freestanding C kernel built by gcc",
        "Decimal: 0 -42 4294967295 -9223372036854775808 18446744073709551615",
        "Hex: 0 ff DEADBEEF 0000beef 0x123456789abcdef0",
        "Width: [   42] [42   ] [-0042] [ ab] [cd  ] [Z] [%]",
        "Strings: strlen 18, reversed \"krowemarF tseT neX\"",
        "memmove: forward \"01230123456789ef\", backward \"6789abcdefabcdef\"",
        "CRC-32 of \"123456789\": cbf43926 (table[1] 77073096, table[255] 2d02ef8d)",
        "Sum of squares 1..100: 338350",
        "Switch: 12! = 479001600, digit sum 27, 75 steps",
        "Division: 18364758544493064720 / 1000000007 = 18364758415 rem 939755815",
        "Signed division: -1000000000000 / 7 = -142857142857 rem -1",
        "Struct copy: 96 bytes, probe/Probe, sums 612/1476, ids 17 18 19 20",
        "BSS: 0 of 4096 bytes non-zero",
        "Xen version: 4.17 (0x00040011)",
        "start_info: magic \"xen-3.0-x86_64p\", privileged initial domain",
        "Test result: SUCCESS",
    ];

    /// <summary>
    /// Freestanding, non-PIC, no red zone (nothing may live below rsp in a kernel), integer
    /// registers only, and no loop-to-memcpy rewriting inside our own memcpy and friends.
    /// </summary>
    private static readonly string[] GccFlags =
    [
        "-std=gnu11", "-O2", "-Wall", "-Wextra",
        "-ffreestanding", "-fno-pic", "-no-pie", "-mcmodel=small", "-mno-red-zone", "-mgeneral-regs-only",
        "-fno-stack-protector", "-fcf-protection=none", "-fno-asynchronous-unwind-tables", "-fno-unwind-tables",
        "-fno-tree-loop-distribute-patterns",
        "-nostdlib", "-static", "-z", "max-page-size=0x1000",
        "-Wl,--build-id=none", "-Wl,--no-warn-rwx-segments",
    ];

    private string workDir = "";
    private string kernelPath = "";
    private byte[] kernel = [];

    [OneTimeSetUp]
    public void CompileKernel()
    {
        string sources = Path.Combine(TestContext.CurrentContext.TestDirectory, "Foreign", "c-probe");
        Assert.That(Directory.Exists(sources), Is.True, $"kernel sources are missing: {sources}");

        workDir = Path.Combine(Path.GetTempPath(), $"xtf-foreign-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(workDir);
        kernelPath = Path.Combine(workDir, KernelName);

        Compile(sources, kernelPath, "-O2");
        kernel = File.ReadAllBytes(kernelPath);
        foreach (var level in OtherOptimisationLevels)
            Compile(sources, kernelPath + level, level);
    }

    /// <summary>Other optimisation levels, run on the simulator: each makes a different mix of instructions.</summary>
    private static readonly string[] OtherOptimisationLevels = ["-O0", "-O1", "-Os", "-O3"];

    private static void Compile(string sources, string output, string optimisation)
    {
        var args = new List<string>(GccFlags.Select(f => f == "-O2" ? optimisation : f))
        {
            "-T", Path.Combine(sources, "kernel.ld"),
            "-o", output,
            Path.Combine(sources, "head.S"),
            Path.Combine(sources, "main.c"),
        };
        TestContext.Progress.WriteLine("gcc " + string.Join(" ", args));

        var (exit, text) = RunGcc(args);
        if (exit is null)
        {
            string reason = $"gcc is not available: {text}";
            if (RealXen.InCi) Assert.Fail(reason + " (CI must build the foreign kernel)");
            Assert.Inconclusive(reason);
        }
        Assert.That(exit, Is.EqualTo(0), $"gcc {optimisation} failed to build {KernelName}:\n{text}");
        if (text.Length > 0) TestContext.Progress.WriteLine(text);
    }

    [OneTimeTearDown]
    public void RemoveWorkDir()
    {
        if (workDir.Length > 0 && Directory.Exists(workDir))
            Directory.Delete(workDir, recursive: true);
    }

    /// <summary>Runs gcc; the exit code is null when gcc cannot be started.</summary>
    private static (int? Exit, string Output) RunGcc(IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo("gcc")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        Process process;
        try
        {
            process = Process.Start(psi) ?? throw new Win32Exception("Process.Start returned null");
        }
        catch (Win32Exception e)
        {
            return (null, e.Message);
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
            {
                process.Kill(entireProcessTree: true);
                return (-1, "gcc did not finish within 2 minutes");
            }
            return (process.ExitCode, (stdout.GetAwaiter().GetResult() + stderr.GetAwaiter().GetResult()).Trim());
        }
    }

    [Test]
    public void CompiledKernelIsElf64ExecWithXenNotes()
    {
        var elf = ElfImage.Parse(kernel);
        Assert.That(elf.Class, Is.EqualTo(ElfClass.Elf64));
        Assert.That(elf.FileType, Is.EqualTo(ElfFileType.ET_EXEC));
        Assert.That(elf.Machine, Is.EqualTo(ElfMachine.X86_64));
        Assert.That(elf.Entry, Is.EqualTo(LinkAddress));

        var loads = elf.ProgramHeaders.Where(p => p.Type == SegmentType.Load).ToList();
        Assert.That(loads, Has.Count.EqualTo(1), "one loadable segment");
        var load = loads[0];
        Assert.That(load.VirtualAddress, Is.EqualTo(LinkAddress));
        Assert.That(load.PhysicalAddress, Is.EqualTo(LinkAddress));
        Assert.That(load.Flags, Is.EqualTo(SegmentFlags.R | SegmentFlags.W | SegmentFlags.X));

        var note = elf.ProgramHeaders.SingleOrDefault(p => p.Type == SegmentType.Note);
        Assert.That(note, Is.Not.Null, "a PT_NOTE segment");
        Assert.That(note!.VirtualAddress, Is.GreaterThanOrEqualTo(load.VirtualAddress));
        Assert.That(note.VirtualAddress + note.MemorySize, Is.LessThanOrEqualTo(load.VirtualAddress + load.FileSize),
            "the notes lie inside the loaded image");

        var xen = elf.Xen;
        Assert.That(xen.HasAnyXenNote, Is.True);
        Assert.That(xen.Broken, Is.False, string.Join("; ", xen.Problems));
        Assert.That(xen.GuestOs, Is.EqualTo("C-probe"));
        Assert.That(xen.GuestVersion, Is.Not.Null.And.Not.Empty);
        Assert.That(xen.Loader, Is.EqualTo("generic"));
        Assert.That(xen.XenVersion, Is.EqualTo("xen-3.0"));
        Assert.That(xen.Features, Is.EqualTo("!writable_page_tables|pae_pgdir_above_4gb"));
        Assert.That(xen.PaeMode, Is.EqualTo("yes"));
        Assert.That(xen.VirtBase, Is.Null, "no VIRT_BASE: Xen maps the image 1:1");

        Assert.That(xen.HypercallPage, Is.Not.Null, "HYPERCALL_PAGE note");
        ulong page = xen.HypercallPage!.Value;
        Assert.That(page % 0x1000, Is.EqualTo(0UL), "hypercall page is page-aligned");
        Assert.That(page, Is.GreaterThanOrEqualTo(load.VirtualAddress));
        Assert.That(page + 0x1000, Is.LessThanOrEqualTo(load.VirtualAddress + load.FileSize), "hypercall page is in the file image");
        var pageBytes = elf.FileBytes(load).Slice((int)(page - load.VirtualAddress), 0x1000).ToArray();
        Assert.That(pageBytes, Is.All.EqualTo((byte)0xcc), "the hypercall page is poisoned with int3 until Xen fills it");
    }

    /// <summary><c>xtf run --kernel</c> on real Xen, and on both hosts with the transcripts compared.</summary>
    [TestCase("xen")]
    [TestCase("both")]
    public void XtfRunKernelBootsTheForeignKernel(string host)
    {
        RealXen.Require();
        string results = Path.Combine(workDir, "results-" + host);
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        int exit = XtfCli.Run(["run", "--kernel", kernelPath, "--host", host, "--results", results], stdout, stderr);

        TestContext.Out.WriteLine(stdout.ToString());
        Assert.That(stderr.ToString(), Is.Empty);
        Assert.That(exit, Is.EqualTo(ExitCodes.Success), stdout.ToString());
        Assert.That(stdout.ToString(), Does.Contain(KernelName));
        Assert.That(stdout.ToString(), Does.Contain("SUCCESS"));
        string[] hosts = host == "both" ? ["sim", "xen"] : [host];
        foreach (var h in hosts)
            Assert.That(File.Exists(Path.Combine(results, "foreign", KernelName, h, KernelName + ".log")), Is.True, $"the runner keeps the {h} transcript in the kernel's own folder");
        if (host == "both") Assert.That(stdout.ToString(), Does.Contain("transcripts agree"));
    }

    [Test]
    public void ForeignKernelPrintsItsExpectedLinesAndPowersOff()
    {
        var outcome = RealXen.Boot(KernelName, kernel);

        Assert.That(outcome.Status, Is.EqualTo(TestStatus.Success), outcome.Message);
        Assert.That(outcome.GuestLines, Is.Not.Empty);
        Assert.That(outcome.GuestLines[0], Is.EqualTo("--- Xen Test Framework ---"));
        Assert.That(outcome.GuestLines, Does.Contain("Freestanding C kernel built by gcc"), "the title line");
        Assert.That(outcome.GuestLines[^1], Is.EqualTo("Test result: SUCCESS"));
        Assert.That(outcome.GuestLines, Is.EqualTo(ExpectedGuestLines));
        Assert.That(outcome.ShutdownReason, Is.EqualTo(0), "SCHEDOP_shutdown(SHUTDOWN_poweroff)");
    }

    /// <summary>-O2 is the kernel real Xen runs above; the other levels make other instruction mixes.</summary>
    private static readonly string[] AllOptimisationLevels = ["-O2", .. OtherOptimisationLevels];

    [TestCaseSource(nameof(AllOptimisationLevels))]
    public void SimulatorRunsTheGccKernelWithTheSameLinesAsRealXen(string level)
    {
        byte[] image = level == "-O2" ? kernel : File.ReadAllBytes(kernelPath + level);
        if (level != "-O2") Assert.That(image, Is.Not.EqualTo(kernel), $"gcc {level} made different code from -O2");
        var t = new SimHost(new SimOptions()).Boot(new BootRequest(KernelName + level, image));
        var outcome = ConsoleProtocol.Evaluate(t);

        Assert.That(outcome.Status, Is.EqualTo(TestStatus.Success), outcome.Message + "\n" + t.Log);
        Assert.That(outcome.GuestLines, Is.EqualTo(ExpectedGuestLines), $"gcc {level}: the same lines real Xen gives (pinned above)");
        Assert.That(outcome.ShutdownReason, Is.EqualTo(0), "SCHEDOP_shutdown(SHUTDOWN_poweroff)");
        Assert.That(t.Instructions, Is.GreaterThan(10_000), "the compiled code really ran in the interpreter");
    }
}
