using Xtf.Abi;
using static Xtf.Abi.Tests.V;

namespace Xtf.Abi.Tests;

// Layouts from Xen's public headers (arch-x86/hvm/start_info.h, memory.h, hvm/hvm_op.h), as docs/hvm.md gives them.
public class HvmStructLayoutTests
{
    [Test]
    public void HvmStartInfoLayout()
    {
        Spec.Layout<HvmStartInfo>(("Size", 56), ("Magic", 0), ("Version", 4), ("Flags", 8), ("NrModules", 12), ("ModlistPaddr", 16),
            ("CmdlinePaddr", 24), ("RsdpPaddr", 32), ("MemmapPaddr", 40), ("MemmapEntries", 48), ("Reserved", 52));
        var s = new HvmStartInfo
        {
            Magic = D(1), Version = D(2), Flags = D(3), NrModules = D(4), ModlistPaddr = Q(5), CmdlinePaddr = Q(6),
            RsdpPaddr = Q(7), MemmapPaddr = Q(8), MemmapEntries = D(9),
        };
        Spec.Codec(s, new Image(56).U32(0, D(1)).U32(4, D(2)).U32(8, D(3)).U32(12, D(4)).U64(16, Q(5)).U64(24, Q(6))
            .U64(32, Q(7)).U64(40, Q(8)).U32(48, D(9)).ToArray());
        Assert.That(HvmStartInfo.MagicValue, Is.EqualTo(0x336ec578u));
    }

    [Test]
    public void XenAddToPhysmapLayout()
    {
        Spec.Layout<XenAddToPhysmap>(("Size", 24), ("Domid", 0), ("Pages", 2), ("Space", 4), ("Idx", 8), ("Gpfn", 16));
        var x = new XenAddToPhysmap { Domid = W(1), Pages = W(2), Space = D(3), Idx = Q(4), Gpfn = Q(5) };
        Spec.Codec(x, new Image(24).U16(0, W(1)).U16(2, W(2)).U32(4, D(3)).U64(8, Q(4)).U64(16, Q(5)).ToArray());
    }

    [Test]
    public void E820EntryLayout()
    {
        Spec.Layout<E820Entry>(("Size", 20), ("Addr", 0), ("Length", 8), ("Type", 16));
        var e = new E820Entry { Addr = Q(1), Length = Q(2), Type = D(3) };
        Spec.Codec(e, new Image(20).U64(0, Q(1)).U64(8, Q(2)).U32(16, D(3)).ToArray());
    }

    [Test]
    public void XenMemoryMapLayout()
    {
        Spec.Layout<XenMemoryMap>(("Size", 16), ("NrEntries", 0), ("Buffer", 8));
        var m = new XenMemoryMap { NrEntries = D(1), Buffer = Q(2) };
        Spec.Codec(m, new Image(16).U32(0, D(1)).U64(8, Q(2)).ToArray());
    }

    [Test]
    public void XenHvmParamLayout()
    {
        Spec.Layout<XenHvmParam>(("Size", 16), ("Domid", 0), ("Index", 4), ("Value", 8));
        var p = new XenHvmParam { Domid = W(1), Index = D(2), Value = Q(3) };
        Spec.Codec(p, new Image(16).U16(0, W(1)).U32(4, D(2)).U64(8, Q(3)).ToArray());
    }
}
