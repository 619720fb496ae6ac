using Xtf.Guest;

namespace Xtf.Guest.Tests;

/// <summary>Builds kernels once per test run and reads them back the way Xen's loader would.</summary>
internal static class Kernels
{
    private static readonly Lazy<TestCatalog> LazyCatalog =
        new(() => TestCatalog.FromAssemblies(typeof(Xtf.Suite.Pv.Example).Assembly));

    private static readonly Dictionary<string, KernelImage> Built = new(StringComparer.Ordinal);

    public static TestCatalog Catalog => LazyCatalog.Value;

    /// <summary>Full names of every catalog case, for TestCaseSource.</summary>
    /// <summary>
    /// The generator's kernels: every catalog case except those whose image a test deliberately
    /// breaks (<see cref="XtfTest.ExpectedRefusal"/>), which Xen must refuse and no shape test applies to.
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

    /// <summary>A kernel for a hand-written body.</summary>
    public static KernelImage Build(Action<GuestProgram> body, string title = "unit") =>
        KernelBuilder.Build("test-pv64-unit", title, body);
}
