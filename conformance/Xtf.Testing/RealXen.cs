using Xtf.Hosting;
using Xtf.Hosting.Xen;

using NUnit.Framework;

namespace Xtf.Testing;

/// <summary>
/// Access to real Xen for tests. Where QEMU or the hypervisor image is missing, a test is
/// Inconclusive with the reason; under CI (CI=true) it fails instead, because CI must run them.
/// </summary>
public static class RealXen
{
    private static readonly Lazy<(XenHost? Host, string? Missing)> Probe = new(() =>
    {
        try
        {
            var host = new XenHost(new XenHostOptions { Timeout = TimeSpan.FromSeconds(90) });
            host.Validate();
            return (host, null);
        }
        catch (HostException e)
        {
            return (null, e.Message);
        }
    });

    public static bool InCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>The host, or an Inconclusive (Fail under CI) result naming what is missing.</summary>
    public static XenHost Require()
    {
        var (host, missing) = Probe.Value;
        if (host is not null) return host;
        string reason = $"real Xen is not available: {missing}";
        if (InCi) Assert.Fail(reason + " (CI must run real-Xen tests)");
        Assert.Inconclusive(reason);
        throw new InvalidOperationException("unreachable");
    }

    /// <summary>Hosts for machines with other than the default RAM, one per size (validated like the default one).</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<int, XenHost> Sized = new();

    public static TestOutcome Boot(string name, byte[] kernel, int vcpus = 1, TimeSpan? timeout = null, string? cmdline = null, int? memoryMiB = null, bool pvh = false)
    {
        var host = Require();
        if (memoryMiB is { } mib && mib != host.Options.MemoryMiB)
            host = Sized.GetOrAdd(mib, m => new XenHost(new XenHostOptions { Timeout = TimeSpan.FromSeconds(90), MemoryMiB = m }));
        var t = host.BootAsync(new BootRequest(name, kernel, vcpus, timeout, cmdline, pvh)).GetAwaiter().GetResult();
        var outcome = ConsoleProtocol.Evaluate(t);
        TestContext.Out.WriteLine($"{name}: {outcome.StatusText} in {outcome.Elapsed.TotalSeconds:0.00}s; {outcome.Message}");
        foreach (var line in outcome.GuestLines) TestContext.Out.WriteLine("  | " + line);
        return outcome;
    }
}
