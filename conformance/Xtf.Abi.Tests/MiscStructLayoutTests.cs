using System.Buffers.Binary;
using Xtf.Abi;
using static Xtf.Abi.Tests.V;

namespace Xtf.Abi.Tests;

public class MiscStructLayoutTests
{
    [Test]
    public void MulticallEntryLayout()
    {
        // Not in docs/pv-abi.md: Xen's x86-64 multicall_entry is op, result, args[6], all 8-byte words.
        Spec.Layout<MulticallEntry>(("Size", 64), ("Op", 0), ("Result", 8), ("Args", 16));
        var m = new MulticallEntry { Op = Q(1), Result = -22, Args = [Q(2), Q(3), Q(4), Q(5), Q(6), Q(7)] };
        Spec.Codec(m, new Image(64).U64(0, Q(1)).I64(8, -22).U64(16, Q(2)).U64(24, Q(3)).U64(32, Q(4))
            .U64(40, Q(5)).U64(48, Q(6)).U64(56, Q(7)).ToArray());
        Assert.That(BinaryPrimitives.ReadInt64LittleEndian(m.ToBytes().AsSpan(MulticallEntry.Layout.Result)), Is.EqualTo(-22));
    }

    [Test]
    public void MulticallEntryAcceptsFewerArgs()
    {
        var bytes = new MulticallEntry { Op = (ulong)Hypercall.SchedOp, Args = [1] }.ToBytes();
        Assert.That(bytes, Is.EqualTo(new Image(64).U64(0, 29).U64(16, 1).ToArray()));
        Assert.Throws<ArgumentException>(() => new MulticallEntry { Args = new ulong[7] }.ToBytes());
    }

    [Test]
    public void MmuextRequestLayout()
    {
        // public xen.h struct mmuext_op: unsigned int cmd @0, union arg1 (mfn or linear_addr) @8, union arg2 @16; 24 bytes.
        Spec.Layout<MmuextRequest>(("Size", 24), ("Cmd", 0), ("Arg1", 8), ("Arg2", 16));
        var r = new MmuextRequest { Cmd = MmuextCmd.NewUserBaseptr, Arg1 = Q(1), Arg2 = Q(2) };
        Spec.Codec(r, new Image(24).U32(0, 15).U64(8, Q(1)).U64(16, Q(2)).ToArray());
    }

    [Test]
    public void MmuUpdateLayout()
    {
        // Xen's mmu_update: ptr then val, 16 bytes; the command lives in ptr's low two bits.
        Spec.Layout<MmuUpdate>(("Size", 16), ("Ptr", 0), ("Val", 8));
        var u = new MmuUpdate { Ptr = Q(1), Val = Q(2) };
        Spec.Codec(u, new Image(16).U64(0, Q(1)).U64(8, Q(2)).ToArray());
        Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(u.ToBytes().AsSpan(MmuUpdate.Layout.Val)), Is.EqualTo(Q(2)));
        Assert.That(new MmuUpdate { Ptr = 0x1234_5001 }.Command, Is.EqualTo(MmuUpdateCmd.MachphysUpdate));
        Assert.That(new MmuUpdate { Ptr = 0x1234_5002 }.Command, Is.EqualTo(MmuUpdateCmd.PtUpdatePreserveAd));
    }

    [Test]
    public void XenFeatureInfoLayout()
    {
        // docs/pv-abi.md §9: { u32 submap_idx @0; u32 submap @4 }, 8 bytes.
        Spec.Layout<XenFeatureInfo>(("Size", 8), ("SubmapIdx", 0), ("Submap", 4));
        var f = new XenFeatureInfo { SubmapIdx = D(1), Submap = D(2) };
        Spec.Codec(f, new Image(8).U32(0, D(1)).U32(4, D(2)).ToArray());
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(f.ToBytes().AsSpan(XenFeatureInfo.Layout.Submap)), Is.EqualTo(D(2)));

        // docs/pv-abi.md §9: default 64-bit PV domU submap 0 is 0x000220E0.
        var domU = new XenFeatureInfo { Submap = 0x000220E0 };
        Assert.That(domU.Has(XenFeature.DirectMapped) && domU.Has(XenFeature.MmuPtUpdatePreserveAd), Is.True);
        Assert.That(domU.Has(XenFeature.Dom0) || domU.Has(XenFeature.PaePgdirAbove4gb), Is.False);
    }

    [Test]
    public void XenPlatformParametersLayout()
    {
        // docs/pv-abi.md §9: { u64 virt_start; }, 8 bytes.
        Spec.Layout<XenPlatformParameters>(("Size", 8), ("VirtStart", 0));
        var p = new XenPlatformParameters { VirtStart = 0xFFFF_8000_0000_0000 };
        Spec.Codec(p, new Image(8).U64(0, 0xFFFF_8000_0000_0000).ToArray());
        Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(p.ToBytes().AsSpan(XenPlatformParameters.Layout.VirtStart)), Is.EqualTo(PvLayout.HypervisorVirtStart));
    }

    [Test]
    public void XenCompileInfoLayout()
    {
        // docs/pv-abi.md §9: compiler[64] @0, compile_by[16] @64, compile_domain[32] @80, compile_date[32] @112; 144 bytes.
        Spec.Layout<XenCompileInfo>(("Size", 144), ("Compiler", 0), ("CompileBy", 64), ("CompileDomain", 80), ("CompileDate", 112));
        Assert.That((XenCompileInfo.CompilerLength, XenCompileInfo.CompileByLength, XenCompileInfo.CompileDomainLength, XenCompileInfo.CompileDateLength),
            Is.EqualTo((64, 16, 32, 32)));

        var c = new XenCompileInfo { Compiler = "gcc (Debian 12.2.0-14) 12.2.0", CompileBy = "pkg-xen-devel", CompileDomain = "lists.alioth.debian.org", CompileDate = "Tue Jan  7 2025" };
        Spec.Codec(c, new Image(144).Ascii(0, c.Compiler).Ascii(64, c.CompileBy).Ascii(80, c.CompileDomain).Ascii(112, c.CompileDate).ToArray());
        Assert.That(c.ToBytes()[XenCompileInfo.Layout.CompileBy], Is.EqualTo((byte)'p'));
        Assert.Throws<ArgumentException>(() => new XenCompileInfo { CompileBy = new string('x', 17) }.ToBytes());
    }
}
