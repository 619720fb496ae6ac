using Xtf.Guest;

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
                Built[fullName] = image = Case(fullName).Build();
            return image;
        }
    }
}
