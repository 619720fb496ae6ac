using System.Buffers.Binary;
using Xtf.Abi;
using static Xtf.Abi.Tests.V;

namespace Xtf.Abi.Tests;

// All layouts from docs/pv-abi.md §5.0.
public class SchedStructLayoutTests
{
    [Test]
    public void SchedShutdownLayout()
    {
        Spec.Layout<SchedShutdown>(("Size", 4), ("Reason", 0));
        var s = new SchedShutdown { Reason = D(1) };
        Spec.Codec(s, new Image(4).U32(0, D(1)).ToArray());
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(s.ToBytes().AsSpan(SchedShutdown.Layout.Reason)), Is.EqualTo(D(1)));
    }

    [Test]
    public void SchedPollLayout()
    {
        Spec.Layout<SchedPoll>(("Size", 24), ("Ports", 0), ("NrPorts", 8), ("Timeout", 16));
        var p = new SchedPoll { Ports = Q(1), NrPorts = D(2), Timeout = Q(3) };
        Spec.Codec(p, new Image(24).U64(0, Q(1)).U32(8, D(2)).U64(16, Q(3)).ToArray());
        Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(p.ToBytes().AsSpan(SchedPoll.Layout.Timeout)), Is.EqualTo(Q(3)));
        Assert.That(SchedPoll.MaxPorts, Is.EqualTo(128), "docs/pv-abi.md §5.4");
    }

    [Test]
    public void SchedRemoteShutdownLayout()
    {
        Spec.Layout<SchedRemoteShutdown>(("Size", 8), ("DomainId", 0), ("Reason", 4));
        var r = new SchedRemoteShutdown { DomainId = W(1), Reason = D(2) };
        Spec.Codec(r, new Image(8).U16(0, W(1)).U32(4, D(2)).ToArray());
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(r.ToBytes().AsSpan(SchedRemoteShutdown.Layout.Reason)), Is.EqualTo(D(2)));
    }

    [Test]
    public void SchedWatchdogLayout()
    {
        Spec.Layout<SchedWatchdog>(("Size", 8), ("Id", 0), ("Timeout", 4));
        var w = new SchedWatchdog { Id = D(1), Timeout = D(2) };
        Spec.Codec(w, new Image(8).U32(0, D(1)).U32(4, D(2)).ToArray());
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(w.ToBytes().AsSpan(SchedWatchdog.Layout.Timeout)), Is.EqualTo(D(2)));
    }

    [Test]
    public void SchedPinOverrideLayout()
    {
        Spec.Layout<SchedPinOverride>(("Size", 4), ("Pcpu", 0));
        var p = new SchedPinOverride { Pcpu = -2 };
        Spec.Codec(p, new Image(4).I32(0, -2).ToArray());
        Assert.That(BinaryPrimitives.ReadInt32LittleEndian(p.ToBytes().AsSpan(SchedPinOverride.Layout.Pcpu)), Is.EqualTo(-2));
    }
}
