using Xtf.Elf;

namespace Xtf.Runner.Tests;

/// <summary>
/// bzImage files given to <c>xtf run --kernel</c> / <c>--kernel-dir</c> (docs/dom0.md §2.16): the payload is
/// inspected like a kernel file; what Xen must judge (an old protocol, a payload outside the file, a format the
/// runner cannot open) passes with one warning; a malformed header never escapes as anything but a one-line refusal.
/// </summary>
public sealed class ForeignBzImageTests
{
    private string dir = "";

    [SetUp]
    public void MakeDir()
    {
        dir = Path.Combine(Path.GetTempPath(), $"xtf-bz-{Environment.ProcessId}-{Guid.NewGuid():N}");
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

    [Test]
    public void GzipElfAndLz4PayloadsAreKernels()
    {
        foreach (var (name, image) in new[] { ("gz", BzImage.WrapGzip(Example())), ("elf", BzImage.Wrap(Example())) })
        {
            var k = ForeignKernel.Load(Write(name, image));
            Assert.That(k.Warnings, Is.Empty, name);
            Assert.That(k.Bytes, Is.EqualTo(image), "Xen gets the file as it is");
            Assert.That(ForeignCorpus.Classify(Path.Combine(dir, name), out _), Is.EqualTo(ForeignCorpus.Kind.Kernel));
        }
        var lz4 = ForeignKernel.Load(Write("lz4", BzImage.WrapLz4(Example())));
        Assert.That(lz4.Warnings.Single(), Does.Contain("a bzImage with a lz4 payload, not inspected"));
    }

    [Test]
    public void WhatXenMustJudgeIsPassedOnWithAWarning()
    {
        var image = BzImage.WrapGzip(Example());
        var old = ForeignKernel.Load(Write("old", BzImage.With(image, BzImage.Version, 0x0207, 2)));
        Assert.That(old.Warnings.Single(), Does.Contain("boot protocol 2.07, older than the 2.08 Xen needs"));
        var outside = ForeignKernel.Load(Write("outside", BzImage.With(image, BzImage.PayloadOffset, 0x100000, 4)));
        Assert.That(outside.Warnings.Single(), Does.Contain("is not inside the file"));
    }

    [Test]
    public void APayloadThatIsNoKernelIsRefusedInOneLine()
    {
        var e = Assert.Throws<InputException>(() => ForeignKernel.Load(Write("text", BzImage.Wrap(new byte[4096]))))!;
        Assert.That(e.Message, Does.EndWith("not a usable kernel: not an ELF image inside the bzImage"));
        Assert.That(e.Message, Does.Not.Contain("\n"));
    }

    [Test]
    public void MalformedHeadersNeverCrashTheLoader()
    {
        var image = BzImage.WrapGzip(Example());
        var random = new Random(10);
        for (int i = 0; i < 400; i++)
        {
            var bytes = (byte[])image.Clone();
            bytes[BzImage.SetupSects] = (byte)random.Next(256);
            BitConverter.TryWriteBytes(bytes.AsSpan(BzImage.PayloadOffset), random.Next(4) == 0 ? (uint)random.Next() : (uint)random.Next(64));
            BitConverter.TryWriteBytes(bytes.AsSpan(BzImage.PayloadLength), random.Next(4) == 0 ? uint.MaxValue - (uint)random.Next(8) : (uint)random.Next(image.Length));
            if (random.Next(3) == 0) bytes = bytes[..random.Next(BzImage.HeaderEnd, bytes.Length)];
            try
            {
                var k = ForeignKernel.Inspect("m", bytes, "m");
                Assert.That(k.Warnings, Has.Count.LessThanOrEqualTo(1));
            }
            catch (InputException e)
            {
                Assert.That(e.Message, Does.Not.Contain("\n"));
            }
        }
    }
}
