using Xtf.Guest;
using Xtf.Sim.Xen;

using Xtf.Sim;

namespace Xtf.Suite.Pv.Tests.Simulator;

/// <summary>Storage reused across machines (decoded pages) or made on demand (event-channel buckets) changes nothing a run shows.</summary>
[NonParallelizable]
public sealed class ReuseTests
{
    private static TestCatalog Catalog => SuiteKernels.Catalog;

    [Test]
    public void ARunIsTheSameWhateverRanBeforeIt()
    {
        var example = Catalog.Select(["test-pv64-example"]).Single().Build().Bytes;
        var other = Catalog.Select(["selftest"]).Single().Build().Bytes;
        var first = SimMachine.Run(example, new SimOptions());
        var between = SimMachine.Run(other, new SimOptions());
        var again = SimMachine.Run(example, new SimOptions());
        Assert.That(between.End, Is.EqualTo(Xtf.Hosting.BootEnd.Shutdown));
        Assert.That((again.Serial, again.Trace, again.TraceHash, again.Instructions),
            Is.EqualTo((first.Serial, first.Trace, first.TraceHash, first.Instructions)));
    }

    [Test]
    public void EventChannelPortRefsStayValidWhenLaterBucketsAreMade()
    {
        var t = new EventChannelTable(int.MaxValue);
        ref var low = ref t[1];
        ref var high = ref t[EventChannelTable.AbiMaxPorts - 1];   // a bucket made after low's
        low.State = PortState.Ipi;
        high.State = PortState.Virq;
        low.NotifyVcpu = 3;
        Assert.That((t[1].State, t[1].NotifyVcpu, t[EventChannelTable.AbiMaxPorts - 1].State), Is.EqualTo((PortState.Ipi, 3, PortState.Virq)));
        Assert.That(t[0].State, Is.EqualTo(PortState.Reserved));
        Assert.That(t[64].State, Is.EqualTo(PortState.Free));
        Assert.Throws<IndexOutOfRangeException>(() => _ = t[EventChannelTable.AbiMaxPorts].State);
    }
}
