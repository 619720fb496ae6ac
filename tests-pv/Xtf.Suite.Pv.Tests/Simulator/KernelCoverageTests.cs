using System.Diagnostics;
using Iced.Intel;
using Xtf.Elf;
using Xtf.Guest;
using Xtf.Sim.Cpu;

using Xtf.Sim;

namespace Xtf.Suite.Pv.Tests.Simulator;

/// <summary>Every instruction in the kernels we boot is one the interpreter implements.</summary>
[Parallelizable(ParallelScope.All)]
public sealed class KernelCoverageTests
{
    private static TestCatalog Catalog => SuiteKernels.Catalog;

    private static IEnumerable<string> Unimplemented(ReadOnlySpan<byte> code, ulong ip, string where)
    {
        var found = new List<string>();
        byte[] bytes = code.ToArray();
        var reader = new ByteArrayCodeReader(bytes);
        var decoder = Decoder.Create(64, reader, ip);
        ulong end = ip + (ulong)code.Length;
        var marker = GuestProgram.ForcedEmulationPrefix.AsSpan(2);
        while (decoder.IP < end)
        {
            decoder.Decode(out var ins);
            if (!X86Interpreter.IsImplemented(in ins)) found.Add($"{where} 0x{ins.IP:x}: {ins} ({ins.Code})");
            // The "xen" after a ud2 is the forced-emulation marker's data (Xen reads it, the CPU never runs it).
            if (ins.Code == Code.Ud2 && reader.Position + marker.Length <= bytes.Length &&
                bytes.AsSpan(reader.Position, marker.Length).SequenceEqual(marker))
            {
                reader.Position += marker.Length;
                decoder.IP += (ulong)marker.Length;
            }
        }
        return found;
    }

    private static ReadOnlySpan<byte> CodeOf(KernelImage k)
    {
        var elf = ElfImage.Parse(k.Bytes);
        var ph = elf.ProgramHeaders.Single(p => p.Type == SegmentType.Load
            && k.CodeBase >= p.VirtualAddress && k.CodeBase + (ulong)k.CodeSize <= p.VirtualAddress + p.FileSize);
        return elf.FileBytes(ph).Slice((int)(k.CodeBase - ph.VirtualAddress), k.CodeSize);
    }

    public static IEnumerable<TestCaseData> Kernels()
    {
        foreach (var c in Catalog.Cases) yield return new TestCaseData(c.FullName).SetName($"Implemented: {c.FullName}");
        foreach (var name in new[] { "failure", "skip", "error", "nothing", "warning", "gp", "ud", "spin" })
            yield return new TestCaseData("status:" + name).SetName($"Implemented: status kernel {name}");
    }

    private static KernelImage Build(string name)
    {
        if (!name.StartsWith("status:", StringComparison.Ordinal)) return SuiteKernels.Get(name);   // a bzImage kernel's ELF
        return name["status:".Length..] switch
        {
            "failure" => Xtf.Testing.StatusKernels.Failure(),
            "skip" => Xtf.Testing.StatusKernels.Skip(),
            "error" => Xtf.Testing.StatusKernels.Error(),
            "nothing" => Xtf.Testing.StatusKernels.Nothing(),
            "warning" => Xtf.Testing.StatusKernels.Warning(),
            "gp" => Xtf.Testing.StatusKernels.GeneralProtection(),
            "ud" => Xtf.Testing.StatusKernels.InvalidOpcode(),
            _ => Xtf.Testing.StatusKernels.Spin(),
        };
    }

    [TestCaseSource(nameof(Kernels))]
    public void EveryInstructionOfAGeneratedKernelIsImplemented(string name)
    {
        KernelImage k;
        try
        {
            k = Build(name);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            Assert.Inconclusive($"{name} does not build (not an interpreter matter): {e.Message}");
            return;
        }
        var missing = Unimplemented(CodeOf(k), k.CodeBase, k.Name).ToList();
        Assert.That(missing, Is.Empty);
    }

    private static string SourceFile([System.Runtime.CompilerServices.CallerFilePath] string path = "") => path;

    private static string? RepositoryRoot(string? dir)
    {
        while (dir is not null && !File.Exists(Path.Combine(dir, "Xtf.sln"))) dir = Path.GetDirectoryName(dir);
        return dir;
    }

    [Test]
    public void EveryInstructionOfTheGccBuiltKernelIsImplemented()
    {
        string? root = RepositoryRoot(TestContext.CurrentContext.TestDirectory) ?? RepositoryRoot(Path.GetDirectoryName(SourceFile()));
        if (root is null) Assert.Ignore("repository root not found");
        string sources = Path.Combine(root!, "conformance", "Xtf.Runner.Tests", "Foreign", "c-probe");
        if (!Directory.Exists(sources)) Assert.Ignore("c-probe sources not found");
        string dir = Path.Combine(Path.GetTempPath(), $"xtf-cpu-cprobe-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            string kernel = Path.Combine(dir, "c-probe.elf");
            // The flags of conformance/Xtf.Runner.Tests/ForeignKernelTests.cs.
            var args = new List<string>
            {
                "-std=gnu11", "-O2", "-ffreestanding", "-fno-pic", "-no-pie", "-mcmodel=small", "-mno-red-zone", "-mgeneral-regs-only",
                "-fno-stack-protector", "-fcf-protection=none", "-fno-asynchronous-unwind-tables", "-fno-unwind-tables",
                "-fno-tree-loop-distribute-patterns", "-nostdlib", "-static", "-z", "max-page-size=0x1000",
                "-Wl,--build-id=none", "-Wl,--no-warn-rwx-segments",
                "-T", Path.Combine(sources, "kernel.ld"), "-o", kernel,
                Path.Combine(sources, "head.S"), Path.Combine(sources, "main.c"),
            };
            var psi = new ProcessStartInfo("gcc") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var a in args) psi.ArgumentList.Add(a);
            Process? p;
            try
            {
                p = Process.Start(psi);
            }
            catch (System.ComponentModel.Win32Exception)
            {
                p = null;
            }
            if (p is null) Assert.Ignore("gcc is not available");
            string err = p!.StandardError.ReadToEnd();
            p.StandardOutput.ReadToEnd();
            if (!p.WaitForExit(120_000)) Assert.Ignore("gcc did not finish");
            Assert.That(p.ExitCode, Is.Zero, err);

            var elf = ElfImage.Parse(File.ReadAllBytes(kernel));
            var text = elf.Sections.Single(s => s.Name == ".text");
            var code = elf.Bytes.Span.Slice((int)text.Offset, (int)text.Size);
            var missing = Unimplemented(code, text.Address, "c-probe").ToList();
            Assert.That(missing, Is.Empty);
            TestContext.Out.WriteLine($"c-probe .text: {text.Size} bytes decoded, all implemented");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
