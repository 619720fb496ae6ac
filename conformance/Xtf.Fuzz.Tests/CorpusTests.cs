using Xtf.Fuzz;

namespace Xtf.Fuzz.Tests;

/// <summary>Every saved case under tests-pv/corpus runs as a regression test: the simulator must print what the model predicts.</summary>
public class CorpusTests
{
    public static string CorpusDirectory
    {
        get
        {
            for (var d = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); d is not null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "Xtf.sln"))) return Path.Combine(d.FullName, "tests-pv", "corpus");
            throw new DirectoryNotFoundException("no Xtf.sln above the test directory");
        }
    }

    public static IEnumerable<TestCaseData> Files() =>
        Directory.Exists(CorpusDirectory)
            ? Directory.GetFiles(CorpusDirectory, "*.case").Order(StringComparer.Ordinal).Select(f => new TestCaseData(Path.GetFileName(f)).SetName($"Corpus({Path.GetFileName(f)})"))
            : [];

    [TestCaseSource(nameof(Files))]
    public void CaseFileAgreesWithTheModel(string file)
    {
        var c = FuzzCase.Parse(File.ReadAllText(Path.Combine(CorpusDirectory, file)));
        Assert.That(c.Steps, Is.Not.Empty);
        var run = FuzzEngine.RunSim([c]);
        var findings = FuzzEngine.Check([c], run);
        Assert.That(findings.Select(f => f.ToString()), Is.Empty);
    }

    [Test]
    public void TheCorpusIsNotEmpty() => Assert.That(Files(), Is.Not.Empty);
}
