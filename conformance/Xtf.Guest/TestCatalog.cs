using System.Reflection;
using System.Runtime.Loader;
using System.Text.RegularExpressions;

namespace Xtf.Guest;

/// <summary>One runnable kernel: a test in one environment.</summary>
public sealed record TestCase(XtfTest Test, Environments Environment)
{
    public string FullName => Test.FullName(Environment);
    public KernelImage Build() => KernelBuilder.Build(Test, Environment);

    /// <summary>Xen builds this kernel as a PVH dom0 (an HVM environment).</summary>
    public bool Pvh => EnvironmentNames.IsHvm(Environment);
}

/// <summary>The tests found in suite assemblies, in a stable order.</summary>
public sealed class TestCatalog
{
    /// <summary>Suite assemblies are named Xtf.Suite.&lt;Name&gt;.dll; their test projects (*.Tests.dll) are not suites.</summary>
    public const string SuiteFilePattern = "Xtf.Suite.*.dll";

    public TestCatalog(IEnumerable<XtfTest> tests)
    {
        Cases = tests
            .SelectMany(t => EnvironmentNames.Each(t.Environments).Select(e => new TestCase(t, e)))
            .OrderBy(c => c.FullName, StringComparer.Ordinal)
            .ToList();
        var dup = Cases.GroupBy(c => c.FullName).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new InvalidOperationException($"two tests are named {dup.Key}");
    }

    public IReadOnlyList<TestCase> Cases { get; }

    /// <summary>
    /// Every suite in <paramref name="directory"/> (default: the application's own folder): each
    /// <see cref="SuiteFilePattern"/> file that carries <see cref="XtfSuiteAttribute"/>, in name order.
    /// </summary>
    public static TestCatalog Discover(string? directory = null)
    {
        directory ??= AppContext.BaseDirectory;
        return FromAssemblies(Directory.GetFiles(directory, SuiteFilePattern).Order(StringComparer.Ordinal)
            .Where(file => !Path.GetFileNameWithoutExtension(file).EndsWith(".Tests", StringComparison.Ordinal))
            .Select(Load)
            .Where(assembly => assembly.GetCustomAttribute<XtfSuiteAttribute>() is not null)
            .ToArray());
    }

    /// <summary>A suite the application was built with loads by name; one dropped in beside it, from its path.</summary>
    private static Assembly Load(string file)
    {
        var name = AssemblyName.GetAssemblyName(file);
        try { return Assembly.Load(name); }
        catch (FileNotFoundException) { return AssemblyLoadContext.Default.LoadFromAssemblyPath(Path.GetFullPath(file)); }
    }

    public static TestCatalog FromAssemblies(params Assembly[] assemblies) => new(
        assemblies.SelectMany(a => a.GetTypes())
            .Where(t => typeof(XtfTest).IsAssignableFrom(t) && !t.IsAbstract && t.GetConstructor(Type.EmptyTypes) is not null)
            .Select(t => (XtfTest)Activator.CreateInstance(t)!));

    /// <summary>Cases whose full name (test-pv64-x) or short name (x) matches any glob; all when none given.</summary>
    public IReadOnlyList<TestCase> Select(IReadOnlyCollection<string> globs)
    {
        if (globs.Count == 0) return Cases;
        var patterns = globs.Select(Glob).ToList();
        return Cases.Where(c => patterns.Any(p => p.IsMatch(c.FullName) || p.IsMatch(c.Test.Name))).ToList();
    }

    public static Regex Glob(string glob) =>
        new("^" + Regex.Escape(glob).Replace("\\*", ".*").Replace("\\?", ".") + "$", RegexOptions.CultureInvariant);
}
