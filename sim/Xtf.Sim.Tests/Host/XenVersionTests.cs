using Xtf.Abi;
using Xtf.Guest;
using Xtf.Hosting;

namespace Xtf.Sim.Tests.Host;

/// <summary>xen_version answers real Xen 4.17.7 gave (test-pv64-misc-xen-version-strings).</summary>
[Parallelizable(ParallelScope.All)]
public sealed class XenVersionTests
{
    [Test]
    public void ChangesetIsEmptyAndZeroFilled()
    {
        var k = KernelBuilder.Build("test-pv64-sim-changeset", "sim changeset", g =>
        {
            var cs = g.Alloc(64);
            g.MemSet(cs.Ptr, 0x5a, 64);
            g.ExpectEq(g.XenVersion(XenVer.Changeset, cs.Ptr), 0, "XENVER_changeset");
            for (int i = 0; i < 64; i += 8) g.ExpectEq(cs.U64(i), 0, $"changeset bytes {i}..{i + 7}");
            g.Success();
        });
        var o = ConsoleProtocol.Evaluate(new SimHost(new SimOptions()).Boot(new BootRequest(k.Name, k.Bytes)));
        Assert.That(o.Status, Is.EqualTo(TestStatus.Success), o.Message);
    }
}
