using System.Buffers.Binary;
using System.IO.Compression;
using Xtf.Hosting;

namespace Xtf.Runner.Tests;

/// <summary>
/// What <c>xtf run --kernel</c> refuses (only what cannot be a kernel) and what it passes on to Xen
/// with a warning (what a strict reader dislikes but Xen may still judge).
/// </summary>
public sealed class ForeignKernelLoadTests
{
    private string dir = "";

    [SetUp]
    public void MakeDir()
    {
        dir = Path.Combine(Path.GetTempPath(), $"xtf-load-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
    }

    [TearDown]
    public void RemoveDir() => Directory.Delete(dir, recursive: true);

    private static byte[] Example() => XtfCli.Catalog.Cases.Single(c => c.FullName == "test-pv64-example").Build().Bytes;

    private string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static string Refusal(string path) => Assert.Throws<InputException>(() => ForeignKernel.Load(path))!.Message;

    /// <summary>XTF's hvm64 shape: ELF32 class, machine x86-64, one PT_LOAD and only a PHYS32_ENTRY note.</summary>
    internal static byte[] HvmImage()
    {
        var f = new byte[0x2000];
        f[0] = 0x7f; f[1] = (byte)'E'; f[2] = (byte)'L'; f[3] = (byte)'F'; f[4] = 1; f[5] = 1; f[6] = 1;
        var s = f.AsSpan();
        BinaryPrimitives.WriteUInt16LittleEndian(s[16..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(s[18..], 62);
        BinaryPrimitives.WriteUInt32LittleEndian(s[20..], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(s[24..], 0x100000);
        BinaryPrimitives.WriteUInt32LittleEndian(s[28..], 52);
        BinaryPrimitives.WriteUInt16LittleEndian(s[40..], 52);
        BinaryPrimitives.WriteUInt16LittleEndian(s[42..], 32);
        BinaryPrimitives.WriteUInt16LittleEndian(s[44..], 2);
        uint[] load = [1, 0x1000, 0x100000, 0x100000, 0x1000, 0x1000, 7, 0x1000];
        uint[] note = [4, 0x1000, 0x100000, 0x100000, 20, 20, 4, 4];
        for (int i = 0; i < 8; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(s[(52 + 4 * i)..], load[i]);
            BinaryPrimitives.WriteUInt32LittleEndian(s[(84 + 4 * i)..], note[i]);
        }
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x1000..], 4);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x1004..], 4);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x1008..], 18);
        "Xen\0"u8.CopyTo(s[0x100C..]);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x1010..], 0x100000);
        return f;
    }

    [Test]
    public void ASuiteKernelLoadsWithoutWarnings()
    {
        var k = ForeignKernel.Load(Write("example", Example()));
        Assert.That(k.Warnings, Is.Empty);
        Assert.That(k.Is32Bit, Is.False);
        Assert.That(k.Bytes, Is.EqualTo(Example()));
    }

    [Test]
    public void ADirectoryIsNamedAsOne() => Assert.That(Refusal(dir), Does.EndWith("it is a directory"));

    [Test]
    public void AnEmptyFileIsRefused() => Assert.That(Refusal(Write("empty", [])), Does.EndWith("the file is empty"));

    [Test]
    public void BytesThatAreNotElfAreRefused() =>
        Assert.That(Refusal(Write("text", "not a kernel at all\n"u8.ToArray())), Does.EndWith("not an ELF image"));

    [Test]
    public void AnEndlessDeviceStopsAtTheImageLimit()
    {
        Assume.That(File.Exists("/dev/zero"), "/dev/zero");
        Assert.That(Refusal("/dev/zero"), Does.EndWith($"larger than the {ForeignKernel.MaxImageBytes >> 20} MiB image limit"));
    }

    [Test]
    public void AGzipBombIsRefusedAtTheDecompressedLimit()
    {
        var packed = new MemoryStream();
        using (var gz = new GZipStream(packed, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            gz.Write(Example());
            var zeros = new byte[1 << 20];
            for (int i = 0; i < (ForeignKernel.MaxImageBytes >> 20) + 1; i++) gz.Write(zeros);
        }
        Assert.That(packed.Length, Is.LessThan(1 << 20), "a small file");
        Assert.That(Refusal(Write("bomb.gz", packed.ToArray())), Does.EndWith($"decompresses to more than the {ForeignKernel.MaxImageBytes >> 20} MiB image limit"));
    }

    [Test]
    public void AnHvmKernelIsLoadedAsAPvhKernel()
    {
        // ELF32 for x86-64 with only a PHYS32_ENTRY note, as XTF builds hvm64 kernels: no warning about the machine.
        var k = ForeignKernel.Load(Write("test-hvm64-example", HvmImage()));
        Assert.That(k.Pvh, Is.True);
        Assert.That(k.Is32Bit, Is.False, "a PVH kernel's ELF class says nothing about its mode");
        Assert.That(k.Warnings, Is.Empty);
        Assert.That(ForeignKernel.Load(Write("pv", Example())).Pvh, Is.False);
    }

    [TestCase(16, (byte)3, "ELF type 3")]            // ET_DYN
    [TestCase(18, (byte)3, "machine i386 (3)")]      // EM_386 in an ELF64 image
    [TestCase(5, (byte)2, "big-endian")]
    public void WhatTheStrictReaderDislikesIsPassedOnWithOneWarning(int offset, byte value, string said)
    {
        var image = Example();
        image[offset] = value;
        if (offset == 18) image[19] = 0;
        var k = ForeignKernel.Load(Write("odd", image));
        Assert.That(k.Warnings, Has.Count.EqualTo(1));
        Assert.That(k.Warnings[0], Does.Contain(said).And.EndWith("passed to Xen as it is"));
        Assert.That(k.Bytes, Is.EqualTo(image), "unchanged");
    }

    [Test]
    public void GarbageHeadersBecomeAWarningNotAnException()
    {
        var image = Example();
        BinaryPrimitives.WriteUInt64LittleEndian(image.AsSpan(32), 0x7fff_ffff_ffff);   // e_phoff far past the end
        BinaryPrimitives.WriteUInt16LittleEndian(image.AsSpan(56), 0xffff);
        var k = ForeignKernel.Load(Write("garbage", image));
        Assert.That(k.Warnings, Has.Count.EqualTo(1));
    }

    [Test]
    public void AGzipKernelIsInspectedInside()
    {
        var packed = new MemoryStream();
        using (var gz = new GZipStream(packed, CompressionLevel.Optimal, leaveOpen: true)) gz.Write(Example());
        var k = ForeignKernel.Load(Write("example.gz", packed.ToArray()));
        Assert.That(k.Warnings, Is.Empty);
        Assert.That(k.Bytes, Is.EqualTo(packed.ToArray()), "Xen gets the compressed bytes");
        var corrupt = packed.ToArray()[..^100];
        Assert.That(ForeignKernel.Load(Write("cut.gz", corrupt)).Warnings, Has.Count.LessThanOrEqualTo(1));
    }

    /// <summary>
    /// The reproduction on real Xen: a kernel whose e_type the strict reader used to refuse boots on
    /// Xen (its libelf never looks at e_type); the run warns once and reports Xen's verdict.
    /// </summary>
    [Test]
    public void AnImageXenBootsIsRunDespiteTheWarning()
    {
        RealXen.Require();
        var image = Example();
        image[16] = 3;   // ET_DYN
        string path = Write("dyn-example", image);
        var k = ForeignKernel.Load(path);
        Assert.That(k.Warnings, Has.Count.EqualTo(1));
        var outcome = RealXen.Boot(k.Name, k.Bytes);
        Assert.That(outcome.Status, Is.EqualTo(TestStatus.Success), outcome.Message);
    }
}
