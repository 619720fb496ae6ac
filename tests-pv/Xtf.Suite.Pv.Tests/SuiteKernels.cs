using System.IO.Compression;
using Xtf.Elf;
using Xtf.Guest;
using Xtf.Sim.Builder;

namespace Xtf.Suite.Pv.Tests;

/// <summary>The suite's one catalogue for every test here, and its kernels, each built once per test run.</summary>
internal static class SuiteKernels
{
    private static readonly Lazy<TestCatalog> LazyCatalog =
        new(() => TestCatalog.FromAssemblies(typeof(Example).Assembly));

    private static readonly Dictionary<string, KernelImage> Built = new(StringComparer.Ordinal);

    public static TestCatalog Catalog => LazyCatalog.Value;

    /// <summary>
    /// Full names of the suite's kernels, for TestCaseSource: every catalog case except those whose
    /// image a test deliberately breaks (<see cref="XtfTest.ExpectedRefusal"/>), which Xen must refuse
    /// and no shape check applies to.
    /// </summary>
    public static IEnumerable<string> CaseNames() => Catalog.Cases.Where(c => c.Test.ExpectedRefusal is null).Select(c => c.FullName);

    public static TestCase Case(string fullName) => Catalog.Cases.Single(c => c.FullName == fullName);

    /// <summary>The kernel of a catalog case, built once.</summary>
    public static KernelImage Get(string fullName)
    {
        lock (Built)
        {
            if (!Built.TryGetValue(fullName, out var image))
                Built[fullName] = image = Unwrapped(Case(fullName));
            return image;
        }
    }

    /// <summary>
    /// The ELF a kernel carries: a bzImage's payload (docs/dom0.md §2.16) unwrapped from gzip, LZ4 or lzop (or taken as
    /// it is), so that the shape checks see the code Xen loads (and the wrappers are read back once more).
    /// </summary>
    private static KernelImage Unwrapped(TestCase c)
    {
        var k = c.Build();
        bool elfFile = k.Bytes.Length >= 4 && k.Bytes[0] == 0x7f && k.Bytes[1] == 'E' && k.Bytes[2] == 'L' && k.Bytes[3] == 'F';
        // A bzImage broken on purpose (a refusal test, its header perhaps no longer one): its code is the plain kernel's.
        if (c.Test.ExpectedRefusal is not null && !elfFile) return KernelBuilder.Build(k.Name, k.Title, c.Test.Body);
        if (!BzImage.HasHeader(k.Bytes)) return k;
        byte[] payload = k.Bytes.AsSpan((int)BzImage.PayloadStart(k.Bytes), (int)BzImage.ReadPayloadLength(k.Bytes)).ToArray();
        byte[] elf;
        if (XenBzImage.IsGzip(payload))
        {
            using var gz = new GZipStream(new MemoryStream(payload), CompressionMode.Decompress);
            var output = new MemoryStream();
            gz.CopyTo(output);
            elf = output.ToArray();
        }
        else elf = XenBzImage.FormatOf(payload) switch
        {
            "lz4" => Lz4Legacy.Decompress(payload, m => new InvalidDataException(m)),
            "lzo" => Lzop.Decompress(payload, m => new InvalidDataException(m)),
            "bzip2" => Bzip2Stream.Decompress(payload, 64 << 20, m => new InvalidDataException(m)),
            "xz" => XzStream.Decompress(payload, 64 << 20, m => new InvalidDataException(m)),
            "lzma" => LzmaStream.Decompress(payload, 64 << 20, m => new InvalidDataException(m)),
            "zstd" => ZstdFrame.Decompress(payload, 64 << 20, m => new InvalidDataException(m)),
            _ => payload,
        };
        return k with { Bytes = elf };
    }
}
