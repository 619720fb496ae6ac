using System.Xml.Linq;

namespace Xtf.Architecture.Tests;

/// <summary>
/// The pipeline's project graph (docs/architecture.md), checked from the project files: each product
/// project may reference exactly the projects its stage needs, nothing reaches the real-Xen host but
/// the runner and test support, and no low-level test project leans on a suite.
/// </summary>
public sealed class ProjectGraphTests
{
    /// <summary>Every product project and the projects it may reference directly.</summary>
    private static readonly Dictionary<string, string[]> Allowed = new()
    {
        ["Xtf.Abi"] = [],
        ["Xtf.Elf"] = [],
        ["Xtf.Hosting"] = [],
        ["Xtf.Guest"] = ["Xtf.Abi", "Xtf.Elf"],
        ["Xtf.Hosting.Xen"] = ["Xtf.Hosting"],
        ["Xtf.Sim"] = ["Xtf.Abi", "Xtf.Elf", "Xtf.Hosting"],
        ["Xtf.Suite.Pv"] = ["Xtf.Abi", "Xtf.Guest"],
        ["Xtf.Suite.Hvm"] = ["Xtf.Abi", "Xtf.Guest"],
        ["Xtf.Fuzz"] = ["Xtf.Abi", "Xtf.Guest", "Xtf.Hosting", "Xtf.Sim"],
        ["Xtf.Reports"] = ["Xtf.Hosting"],
        ["Xtf.Runner"] = ["Xtf.Elf", "Xtf.Guest", "Xtf.Hosting", "Xtf.Hosting.Xen", "Xtf.Sim", "Xtf.Fuzz", "Xtf.Reports", "Xtf.Suite.*"],
        ["Xtf.Testing"] = ["Xtf.Elf", "Xtf.Guest", "Xtf.Hosting", "Xtf.Hosting.Xen", "Xtf.Sim"],
        ["Xtf.TestLogger"] = [],
    };

    /// <summary>Pairs (from, to) that must not exist even transitively.</summary>
    private static readonly (string From, string To, string Why)[] Forbidden =
    [
        ("Xtf.Sim", "Xtf.Hosting.Xen", "the simulator knows nothing of QEMU"),
        ("Xtf.Reports", "Xtf.Hosting.Xen", "reports depend on the result model only"),
        ("Xtf.Reports", "Xtf.Sim", "reports depend on the result model only"),
        ("Xtf.Reports", "Xtf.Guest", "reports depend on the result model only"),
        ("Xtf.Fuzz", "Xtf.Hosting.Xen", "the fuzzer takes its hosts from the runner"),
        ("Xtf.Suite.*", "Xtf.Sim", "a suite is written once for every host"),
        ("Xtf.Suite.*", "Xtf.Hosting", "a suite is written once for every host"),
        ("Xtf.Abi.Tests", "Xtf.Suite.*", "low-level tests do not lean on a suite"),
        ("Xtf.Elf.Tests", "Xtf.Suite.*", "low-level tests do not lean on a suite"),
        ("Xtf.Guest.Tests", "Xtf.Suite.*", "low-level tests do not lean on a suite"),
        ("Xtf.Sim.Tests", "Xtf.Suite.*", "low-level tests do not lean on a suite"),
    ];

    private static readonly string Root = FindRoot();

    private static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Xtf.sln"))) return d.FullName;
        throw new InvalidOperationException("Xtf.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>Every project in the tree by name, with the names of the projects it references.</summary>
    private static readonly Lazy<Dictionary<string, List<string>>> Graph = new(() =>
        Directory.EnumerateFiles(Root, "*.csproj", SearchOption.AllDirectories)
            .Where(p => !p.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj" or ".git"))
            .ToDictionary(p => Path.GetFileNameWithoutExtension(p), References));

    private static List<string> References(string csproj)
    {
        var dir = Path.GetDirectoryName(csproj)!;
        var refs = new List<string>();
        foreach (var e in XDocument.Load(csproj).Descendants().Where(e => e.Name.LocalName is "ProjectReference" or "Reference"))
        {
            if (e.Name.LocalName == "Reference") { refs.Add("assembly:" + e.Attribute("Include")?.Value); continue; }
            string include = e.Attribute("Include")!.Value.Replace('\\', '/');
            string? exclude = e.Attribute("Exclude")?.Value.Replace('\\', '/');
            if (!include.Contains('*')) { refs.Add(Path.GetFileNameWithoutExtension(include)); continue; }
            // A pattern reference (the runner's suites): every project file it matches.
            var matches = Directory.EnumerateFiles(Root, "*.csproj", SearchOption.AllDirectories)
                .Select(p => Path.GetRelativePath(dir, p).Replace('\\', '/'))
                .Where(rel => Glob(include).IsMatch(rel) && (exclude is null || !Glob(exclude).IsMatch(rel)));
            refs.AddRange(matches.Select(Path.GetFileNameWithoutExtension)!);
        }
        return refs;
    }

    private static System.Text.RegularExpressions.Regex Glob(string pattern) =>
        new("^" + System.Text.RegularExpressions.Regex.Escape(pattern).Replace("\\*", "[^/]*") + "$");

    private static bool Matches(string name, string pattern) =>
        pattern.EndsWith(".*", StringComparison.Ordinal)
            ? name.StartsWith(pattern[..^1], StringComparison.Ordinal) && !name.EndsWith(".Tests", StringComparison.Ordinal)
            : name == pattern;

    private static HashSet<string> Closure(string project)
    {
        var seen = new HashSet<string>();
        var todo = new Stack<string>([project]);
        while (todo.Count > 0)
            foreach (var r in Graph.Value.GetValueOrDefault(todo.Pop(), []))
                if (seen.Add(r)) todo.Push(r);
        return seen;
    }

    [Test]
    public void EveryProductProjectHasAPlaceInTheGraph()
    {
        var product = Graph.Value.Keys.Where(n => !n.EndsWith(".Tests", StringComparison.Ordinal));
        Assert.That(product.Where(n => !Allowed.Keys.Any(k => Matches(n, k))), Is.Empty,
            "a new product project needs its stage in docs/architecture.md and in this table");
    }

    [Test]
    public void ProductProjectsReferenceOnlyWhatTheirStageNeeds()
    {
        var wrong = new List<string>();
        foreach (var (name, refs) in Graph.Value.Where(p => !p.Key.EndsWith(".Tests", StringComparison.Ordinal)))
        {
            var allowed = Allowed.First(a => Matches(name, a.Key)).Value;
            wrong.AddRange(refs.Where(r => !allowed.Any(a => Matches(r, a))).Select(r => $"{name} -> {r}"));
        }
        Assert.That(wrong, Is.Empty);
    }

    [Test]
    public void NoForbiddenPathExistsEvenTransitively()
    {
        var found = new List<string>();
        foreach (var (from, to, why) in Forbidden)
            foreach (var project in Graph.Value.Keys.Where(n => Matches(n, from) || n == from))
                foreach (var reached in Closure(project).Where(r => Matches(r, to)))
                    found.Add($"{project} reaches {reached}: {why}");
        Assert.That(found, Is.Empty);
    }

    [Test]
    public void NoProjectReferencesATestProjectOrAnAssemblyByPath()
    {
        var bad = Graph.Value.SelectMany(p => p.Value
            .Where(r => r.StartsWith("assembly:", StringComparison.Ordinal) || r.EndsWith(".Tests", StringComparison.Ordinal))
            .Select(r => $"{p.Key} -> {r}"));
        Assert.That(bad, Is.Empty);
    }

    [Test]
    public void TheRunnerNamesNoSuiteInItsCode()
    {
        var dir = Path.Combine(Root, "conformance", "Xtf.Runner");
        var naming = Directory.EnumerateFiles(dir, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}"))
            .Where(f => System.Text.RegularExpressions.Regex.IsMatch(File.ReadAllText(f), @"Xtf\.Suite\.[A-Z]"));
        Assert.That(naming, Is.Empty, "suites are found by TestCatalog.Discover, not named");
    }

    [Test]
    public void TheRulesSeeTheRealGraph()
    {
        // The checks above would pass on an empty graph: make sure they read the tree.
        Assert.That(Graph.Value.Keys, Is.SupersetOf(new[] { "Xtf.Sim", "Xtf.Hosting", "Xtf.Hosting.Xen", "Xtf.Runner", "Xtf.Suite.Pv", "Xtf.Sim.Tests" }));
        Assert.That(Graph.Value["Xtf.Runner"], Does.Contain("Xtf.Suite.Pv"), "the runner's pattern reference finds the PV suite");
        Assert.That(Closure("Xtf.Runner"), Does.Contain("Xtf.Abi"));
    }

    [Test]
    public void TheCheckerCatchesAForbiddenReference()
    {
        // A planted edge: the simulator referencing the real-Xen host must be found transitively.
        var simRefs = Graph.Value["Xtf.Sim"];
        var saved = simRefs.ToList();
        try
        {
            simRefs.Add("Xtf.Testing");
            Assert.That(Closure("Xtf.Sim"), Does.Contain("Xtf.Hosting.Xen"));
        }
        finally
        {
            simRefs.Clear();
            simRefs.AddRange(saved);
        }
    }
}
