using Xtf.Guest;

namespace Xtf.Suite.Hvm;

/// <summary>An expected result other than SUCCESS (or a documented simulator gap), with why and the evidence.</summary>
public sealed record Expectation(string Test, string Host, string Status, string Reason, string Evidence);

/// <summary>
/// The HVM suite's expected-results table. A test not listed must give SUCCESS on both hosts, with the
/// same transcript. Every entry needs a reason and evidence.
/// </summary>
public static class ExpectedResults
{
    public static readonly IReadOnlyList<Expectation> Entries =
    [
        // Real Xen: every hvm64 test passes on Debian's Xen 4.17.7 as a PVH dom0 under QEMU 10 TCG.
    ];

    public static string StatusFor(TestCase test, string host) =>
        Entries.FirstOrDefault(e => e.Test == test.FullName && e.Host == host)?.Status ?? "SUCCESS";

    /// <summary>True when the simulator is documented to differ from real Xen for this test.</summary>
    public static bool KnownSimGap(TestCase test) => Entries.Any(e => e.Test == test.FullName && e.Host == "sim");
}
