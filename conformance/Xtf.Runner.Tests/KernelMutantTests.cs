using System.Globalization;
using Xtf.Hosting;
using Xtf.Sim;

namespace Xtf.Runner.Tests;

/// <summary>
/// Mutated suite kernels (byte flips, ELF header, program header and note field changes,
/// truncations, gzip) through the runner's loading path (<see cref="ForeignKernel"/>) and the
/// simulator's dom0 builder plus a short boot: no exception may escape either, and the simulator
/// must answer every image with a modelled result, never "simulator internal error".
/// The count is 3,000 by default; <c>XTF_IMAGE_MUTANTS=100000</c> runs the full campaign (README).
/// </summary>
[TestFixture]
public sealed class KernelMutantTests
{
    /// <summary>Guest instructions per mutant: the build and the first steps of the guest, not a whole test.</summary>
    private const long InstructionBudget = 20_000;

    private static int Count =>
        int.TryParse(Environment.GetEnvironmentVariable("XTF_IMAGE_MUTANTS"), NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0 ? n : 3_000;

    private static ulong Seed =>
        ulong.TryParse(Environment.GetEnvironmentVariable("XTF_IMAGE_MUTANT_SEED"), NumberStyles.None, CultureInfo.InvariantCulture, out ulong s) ? s : 0x1A6E;

    private static readonly Lazy<List<byte[]>> Bases = new(() => XtfCli.Catalog.Cases.Select(c => c.Build().Bytes).ToList());

    [Test]
    public void NoMutatedImageThrowsOrEndsInAnInternalError()
    {
        var bases = Bases.Value;
        Assert.That(bases, Has.Count.GreaterThan(50), "the suite's kernels are the bases");
        int count = Count;
        ulong seed = Seed;
        var failures = new List<string>();
        var ends = new SortedDictionary<string, int>(StringComparer.Ordinal);
        int refused = 0, warned = 0, viaFile = 0;
        string dir = Path.Combine(Path.GetTempPath(), $"xtf-mutants-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            for (long i = 0; i < count; i++)
            {
                var mutant = KernelMutant.Nth(seed, i, bases.Count);
                byte[] image = mutant.Apply(bases[mutant.Base]);
                string name = $"mutant-{i}";
                try
                {
                    ForeignKernel k;
                    if (i % 500 == 0)
                    {
                        string path = Path.Combine(dir, name);
                        File.WriteAllBytes(path, image);
                        k = ForeignKernel.Load(path);
                        viaFile++;
                    }
                    else k = ForeignKernel.Inspect(name, image, name);
                    if (k.Warnings.Count > 0) warned++;
                    Assert.That(k.Warnings, Has.Count.LessThanOrEqualTo(1), "one warning line at most");
                    Assert.That(k.Bytes, Is.SameAs(image).Or.EqualTo(image), "the bytes are passed on unchanged");
                }
                catch (InputException) { refused++; }
                catch (Exception e) when (e is not AssertionException)
                {
                    failures.Add($"#{i} {mutant}: ForeignKernel threw {e.GetType().Name}: {e.Message}");
                }

                try
                {
                    var r = SimMachine.Run(image, new SimOptions { InstructionLimit = InstructionBudget, KeepTraceText = false });
                    string key = r.End + (r.End == BootEnd.XenPanic ? ": " + r.Detail : "");
                    ends[key] = ends.GetValueOrDefault(key) + 1;
                    if (r.Detail?.Contains("internal error", StringComparison.Ordinal) == true || r.Serial.Contains("simulator internal error", StringComparison.Ordinal))
                        failures.Add($"#{i} {mutant}: {r.Detail}");
                }
                catch (Exception e)
                {
                    failures.Add($"#{i} {mutant}: SimMachine.Run threw {e.GetType().Name}: {e.Message}");
                }
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }

        TestContext.Progress.WriteLine($"{count} mutants (seed {seed}): ForeignKernel refused {refused}, warned on {warned}, {viaFile} read from files; " +
                                       $"{failures.Count} failures");
        foreach (var (end, n) in ends.OrderByDescending(x => x.Value).Take(25)) TestContext.Progress.WriteLine($"  {n,6}  {end}");
        // One line per kind of failure (the message without its addresses), with its count and first mutant.
        var kinds = failures.GroupBy(f => System.Text.RegularExpressions.Regex.Replace(f[(f.IndexOf(": ", f.IndexOf(':') + 1, StringComparison.Ordinal) + 2)..], "0x[0-9a-f]+", "0x…"))
            .Select(g => $"{g.Count(),6} × {g.Key}\n         first: {g.First()}");
        Assert.That(failures, Is.Empty, string.Join("\n", kinds));
    }

    [Test]
    public void AMutantIsItsRecipe()
    {
        var a = KernelMutant.Nth(7, 12345, 100);
        var b = KernelMutant.Nth(7, 12345, 100);
        Assert.That(b.ToString(), Is.EqualTo(a.ToString()));
        var image = Bases.Value[a.Base % Bases.Value.Count];
        Assert.That(a.Apply(image), Is.EqualTo(b.Apply(image)));
        var others = Enumerable.Range(0, 50).Select(i => KernelMutant.Nth(7, i, 100).ToString()).Distinct().Count();
        Assert.That(others, Is.GreaterThan(45), "different indices give different mutants");
    }

    /// <summary>
    /// Writes mutants <c>0 .. XTF_IMAGE_MUTANTS-1</c> as files into <c>XTF_IMAGE_MUTANT_DIR</c>, for
    /// <c>xtf run --kernel F --host both</c> on real Xen (how the builder's answers were checked).
    /// </summary>
    [Test, Explicit("writes files for a manual real-Xen comparison")]
    public void WriteMutantsForRealXen()
    {
        string dir = Environment.GetEnvironmentVariable("XTF_IMAGE_MUTANT_DIR") ?? Path.Combine(Path.GetTempPath(), "xtf-mutants");
        Directory.CreateDirectory(dir);
        var bases = Bases.Value;
        for (long i = 0; i < Count; i++)
        {
            var m = KernelMutant.Nth(Seed, i, bases.Count);
            File.WriteAllBytes(Path.Combine(dir, $"mutant-{i:D6}"), m.Apply(bases[m.Base]));
            File.WriteAllText(Path.Combine(dir, $"mutant-{i:D6}.recipe"), m + "\n");
        }
    }
}
