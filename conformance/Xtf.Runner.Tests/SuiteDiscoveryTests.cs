using Xtf.Guest;

namespace Xtf.Runner.Tests;

/// <summary>The runner finds suites by file pattern and attribute, never by a type named in code.</summary>
public sealed class SuiteDiscoveryTests
{
    private static string SuiteFile => Path.Combine(AppContext.BaseDirectory, "Xtf.Suite.Pv.dll");

    private static string TempDir()
    {
        string dir = Path.Combine(Path.GetTempPath(), "xtf-discovery-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    [Test]
    public void TheRunnersCatalogueIsTheDiscoveredSuites()
    {
        Assert.That(XtfCli.Catalog.Cases.Select(c => c.FullName), Does.Contain("test-pv64-example"));
        Assert.That(TestCatalog.Discover().Cases.Select(c => c.FullName), Is.EqualTo(XtfCli.Catalog.Cases.Select(c => c.FullName)));
    }

    [Test]
    public void AFolderWithTheSuiteFindsIt_AndNamesEndingInTestsAreNotSuites()
    {
        string dir = TempDir();
        try
        {
            Assert.That(TestCatalog.Discover(dir).Cases, Is.Empty, "an empty folder holds no suite");
            File.Copy(SuiteFile, Path.Combine(dir, "Xtf.Suite.Pv.Tests.dll"));
            Assert.That(TestCatalog.Discover(dir).Cases, Is.Empty, "a *.Tests.dll is a test project, not a suite");
            File.Copy(SuiteFile, Path.Combine(dir, "Xtf.Suite.Pv.dll"));
            var pvSuite = System.Reflection.AssemblyName.GetAssemblyName(SuiteFile).Name;
            Assert.That(TestCatalog.Discover(dir).Cases, Has.Count.EqualTo(XtfCli.Catalog.Cases.Count(c => c.Test.GetType().Assembly.GetName().Name == pvSuite)));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void AnAssemblyWithoutTheAttributeIsNotASuite()
    {
        string dir = TempDir();
        try
        {
            File.Copy(typeof(TestCatalog).Assembly.Location, Path.Combine(dir, "Xtf.Suite.Guest.dll"));
            Assert.That(TestCatalog.Discover(dir).Cases, Is.Empty);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
