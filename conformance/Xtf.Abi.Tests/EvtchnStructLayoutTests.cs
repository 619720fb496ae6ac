using System.Buffers.Binary;
using Xtf.Abi;
using static Xtf.Abi.Tests.V;

namespace Xtf.Abi.Tests;

// All layouts from the table in docs/pv-abi.md §7.1.
public class EvtchnStructLayoutTests
{
    private static uint U32At(byte[] b, int off) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(off));

    [Test]
    public void EvtchnAllocUnboundLayout()
    {
        Spec.Layout<EvtchnAllocUnbound>(("Size", 8), ("Dom", 0), ("RemoteDom", 2), ("Port", 4));
        var a = new EvtchnAllocUnbound { Dom = W(1), RemoteDom = W(2), Port = D(3) };
        Spec.Codec(a, new Image(8).U16(0, W(1)).U16(2, W(2)).U32(4, D(3)).ToArray());
        Assert.That(U32At(a.ToBytes(), EvtchnAllocUnbound.Layout.Port), Is.EqualTo(D(3)));
    }

    [Test]
    public void EvtchnBindInterdomainLayout()
    {
        Spec.Layout<EvtchnBindInterdomain>(("Size", 12), ("RemoteDom", 0), ("RemotePort", 4), ("LocalPort", 8));
        var b = new EvtchnBindInterdomain { RemoteDom = W(1), RemotePort = D(2), LocalPort = D(3) };
        Spec.Codec(b, new Image(12).U16(0, W(1)).U32(4, D(2)).U32(8, D(3)).ToArray());
        Assert.That(U32At(b.ToBytes(), EvtchnBindInterdomain.Layout.LocalPort), Is.EqualTo(D(3)));
    }

    [Test]
    public void EvtchnBindVirqLayout()
    {
        Spec.Layout<EvtchnBindVirq>(("Size", 12), ("Virq", 0), ("Vcpu", 4), ("Port", 8));
        var b = new EvtchnBindVirq { Virq = D(1), Vcpu = D(2), Port = D(3) };
        Spec.Codec(b, new Image(12).U32(0, D(1)).U32(4, D(2)).U32(8, D(3)).ToArray());
        Assert.That(U32At(b.ToBytes(), EvtchnBindVirq.Layout.Vcpu), Is.EqualTo(D(2)));
    }

    [Test]
    public void EvtchnBindPirqLayout()
    {
        Spec.Layout<EvtchnBindPirq>(("Size", 12), ("Pirq", 0), ("Flags", 4), ("Port", 8));
        var b = new EvtchnBindPirq { Pirq = D(1), Flags = D(2), Port = D(3) };
        Spec.Codec(b, new Image(12).U32(0, D(1)).U32(4, D(2)).U32(8, D(3)).ToArray());
        Assert.That(U32At(b.ToBytes(), EvtchnBindPirq.Layout.Flags), Is.EqualTo(D(2)));
        Assert.That(EvtchnBindPirq.FlagWillShare, Is.EqualTo(1u), "docs/pv-abi.md §7.1: bit 0");
    }

    [Test]
    public void EvtchnBindIpiLayout()
    {
        Spec.Layout<EvtchnBindIpi>(("Size", 8), ("Vcpu", 0), ("Port", 4));
        var b = new EvtchnBindIpi { Vcpu = D(1), Port = D(2) };
        Spec.Codec(b, new Image(8).U32(0, D(1)).U32(4, D(2)).ToArray());
        Assert.That(U32At(b.ToBytes(), EvtchnBindIpi.Layout.Port), Is.EqualTo(D(2)));
    }

    [Test]
    public void EvtchnCloseLayout()
    {
        Spec.Layout<EvtchnClose>(("Size", 4), ("Port", 0));
        var c = new EvtchnClose { Port = D(1) };
        Spec.Codec(c, new Image(4).U32(0, D(1)).ToArray());
        Assert.That(U32At(c.ToBytes(), EvtchnClose.Layout.Port), Is.EqualTo(D(1)));
    }

    [Test]
    public void EvtchnSendLayout()
    {
        Spec.Layout<EvtchnSend>(("Size", 4), ("Port", 0));
        var s = new EvtchnSend { Port = D(2) };
        Spec.Codec(s, new Image(4).U32(0, D(2)).ToArray());
        Assert.That(U32At(s.ToBytes(), EvtchnSend.Layout.Port), Is.EqualTo(D(2)));
    }

    [Test]
    public void EvtchnStatusArgsLayout()
    {
        Spec.Layout<EvtchnStatusArgs>(("Size", 24), ("Dom", 0), ("Port", 4), ("Status", 8), ("Vcpu", 12),
            ("Union", 16), ("UnboundDom", 16), ("InterdomainDom", 16), ("InterdomainPort", 20), ("Pirq", 16), ("Virq", 16));

        var s = new EvtchnStatusArgs { Dom = W(1), Port = D(2), Status = D(3), Vcpu = D(4), Union = Q(5) };
        Spec.Codec(s, new Image(24).U16(0, W(1)).U32(4, D(2)).U32(8, D(3)).U32(12, D(4)).U64(16, Q(5)).ToArray());
        Assert.That(U32At(s.ToBytes(), EvtchnStatusArgs.Layout.Status), Is.EqualTo(D(3)));
    }

    [Test]
    public void EvtchnStatusArgsUnionViews()
    {
        // docs/pv-abi.md §7.12: interdomain writes dom @16 and port @20; unbound writes only the 2-byte dom @16.
        var inter = new EvtchnStatusArgs { Status = (uint)EvtchnStatus.Interdomain, InterdomainDom = 0x7FF0, InterdomainPort = 42 };
        var bytes = inter.ToBytes();
        Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(16)), Is.EqualTo((ushort)0x7FF0));
        Assert.That(U32At(bytes, 20), Is.EqualTo(42u));

        var echoed = new Image(24).U64(16, 0xAAAA_BBBB_CCCC_DDDD).ToArray();
        var unbound = EvtchnStatusArgs.Read(echoed) with { UnboundDom = 5 };
        Assert.That(unbound.Union, Is.EqualTo(0xAAAA_BBBB_CCCC_0005UL), "bytes 18..23 are echoed untouched");

        // Getters read the offsets of docs/pv-abi.md §7.1: u16 dom / u32 pirq / u32 virq at 16, u32 interdomain port at 20.
        var raw = EvtchnStatusArgs.Read(new Image(24).U32(16, 0xCAFE_1234).U32(20, 0x89AB_CDEF).ToArray());
        Assert.That((raw.UnboundDom, raw.InterdomainDom, raw.InterdomainPort, raw.Pirq, raw.Virq),
            Is.EqualTo(((ushort)0x1234, (ushort)0x1234, 0x89AB_CDEFu, 0xCAFE_1234u, 0xCAFE_1234u)));

        var virq = new EvtchnStatusArgs { Virq = 13 };
        Assert.That((virq.Virq, virq.Pirq, virq.InterdomainPort), Is.EqualTo((13u, 13u, 0u)));
    }

    [Test]
    public void EvtchnBindVcpuLayout()
    {
        Spec.Layout<EvtchnBindVcpu>(("Size", 8), ("Port", 0), ("Vcpu", 4));
        var b = new EvtchnBindVcpu { Port = D(1), Vcpu = D(2) };
        Spec.Codec(b, new Image(8).U32(0, D(1)).U32(4, D(2)).ToArray());
        Assert.That(U32At(b.ToBytes(), EvtchnBindVcpu.Layout.Vcpu), Is.EqualTo(D(2)));
    }

    [Test]
    public void EvtchnUnmaskLayout()
    {
        Spec.Layout<EvtchnUnmask>(("Size", 4), ("Port", 0));
        var u = new EvtchnUnmask { Port = D(3) };
        Spec.Codec(u, new Image(4).U32(0, D(3)).ToArray());
        Assert.That(U32At(u.ToBytes(), EvtchnUnmask.Layout.Port), Is.EqualTo(D(3)));
    }

    [Test]
    public void EvtchnResetLayout()
    {
        Spec.Layout<EvtchnReset>(("Size", 2), ("Dom", 0));
        var r = new EvtchnReset { Dom = W(1) };
        Spec.Codec(r, new Image(2).U16(0, W(1)).ToArray());
        Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(r.ToBytes().AsSpan(EvtchnReset.Layout.Dom)), Is.EqualTo(W(1)));
    }

    [Test]
    public void EvtchnInitControlLayout()
    {
        Spec.Layout<EvtchnInitControl>(("Size", 24), ("ControlGfn", 0), ("Offset", 8), ("Vcpu", 12), ("LinkBits", 16), ("Pad", 17));
        var c = new EvtchnInitControl { ControlGfn = Q(1), Offset = D(2), Vcpu = D(3), LinkBits = B(4) };
        Spec.Codec(c, new Image(24).U64(0, Q(1)).U32(8, D(2)).U32(12, D(3)).U8(16, B(4)).ToArray());
        Assert.That(c.ToBytes()[EvtchnInitControl.Layout.LinkBits], Is.EqualTo(B(4)));
    }

    [Test]
    public void EvtchnExpandArrayLayout()
    {
        Spec.Layout<EvtchnExpandArray>(("Size", 8), ("ArrayGfn", 0));
        var e = new EvtchnExpandArray { ArrayGfn = Q(1) };
        Spec.Codec(e, new Image(8).U64(0, Q(1)).ToArray());
        Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(e.ToBytes().AsSpan(EvtchnExpandArray.Layout.ArrayGfn)), Is.EqualTo(Q(1)));
    }

    [Test]
    public void EvtchnSetPriorityLayout()
    {
        Spec.Layout<EvtchnSetPriority>(("Size", 8), ("Port", 0), ("Priority", 4));
        var p = new EvtchnSetPriority { Port = D(1), Priority = D(2) };
        Spec.Codec(p, new Image(8).U32(0, D(1)).U32(4, D(2)).ToArray());
        Assert.That(U32At(p.ToBytes(), EvtchnSetPriority.Layout.Priority), Is.EqualTo(D(2)));
    }
}
