using Xtf.Abi;
using Xtf.Guest;
using Xtf.Hosting;

namespace Xtf.Sim.Tests.Host;

/// <summary>
/// The grant-table model (sim/Xtf.Sim/Xen/GrantTable.cs, docs/pv-abi.md §13) where the suite's
/// gnttab-* tests do not reach: the frames it shares are never dom0's own pages, GNTMAP_contains_pte
/// mappings at an aligned PTE address, and replacement refused in that mode.
/// </summary>
[Parallelizable(ParallelScope.All)]
public sealed class GrantTableTests
{
    private static TestOutcome Run(Action<GuestProgram> body)
    {
        var k = KernelBuilder.Build("test-pv64-sim-gnttab", "sim grant table", body);
        var t = new SimHost(new SimOptions()).Boot(new BootRequest(k.Name, k.Bytes));
        var o = ConsoleProtocol.Evaluate(t);
        foreach (var l in o.GuestLines) TestContext.Out.WriteLine("  | " + l);
        return o;
    }

    private static Val Op(GuestProgram g, GnttabOp op, Val uop) => g.Hypercall(Hypercall.GrantTableOp, (int)op, uop, 1);
    private static Val P2m(GuestProgram g) => Val.At(g.StartInfo, StartInfo.Layout.MfnList);
    private static Val Mfn(GuestProgram g, Val va) => Val.At(P2m(g) + ((va >> 12) << 3));

    /// <summary>Sets up a one-frame v1 table, maps it at a page, and grants ref 8 (dom0 to itself) of <paramref name="granted"/>.</summary>
    private static GuestBuffer TableGranting(GuestProgram g, GuestBuffer granted)
    {
        var list = g.Alloc(8);
        var st = g.Alloc(GnttabSetupTable.Layout.Size);
        var table = g.Page("gnttab");
        g.Set(st.U16(GnttabSetupTable.Layout.Dom), DomId.Self);
        g.Set(st.U32(GnttabSetupTable.Layout.NrFrames), 1);
        g.Set(st.U64(GnttabSetupTable.Layout.FrameList), list.Ptr);
        g.ExpectEq(Op(g, GnttabOp.SetupTable, st.Ptr), 0, "setup_table");
        g.ExpectEq(g.Hypercall(Hypercall.UpdateVaMapping, table.Ptr, (list.U64(0) << 12) | 0x67, 2), 0, "map the table");
        g.Set(table.U32(8 * 8 + GrantEntryV1.Layout.Frame), Mfn(g, granted.Ptr));
        g.Set(table.U16(8 * 8 + GrantEntryV1.Layout.Flags), (long)Gtf.PermitAccess);
        return table;
    }

    [Test]
    public void SharedAndStatusFramesAreNeitherDom0PagesNorSharedInfo()
    {
        var o = Run(g =>
        {
            var list = g.Alloc(8 * 5);
            var st = g.Alloc(GnttabSetupTable.Layout.Size);
            g.Set(st.U16(GnttabSetupTable.Layout.Dom), DomId.Self);
            g.Set(st.U32(GnttabSetupTable.Layout.NrFrames), 4);
            g.Set(st.U64(GnttabSetupTable.Layout.FrameList), list.Ptr);
            g.ExpectEq(Op(g, GnttabOp.SetupTable, st.Ptr), 0, "setup_table(4)");
            var ver = g.Alloc(4);
            g.Set(ver.U32(0), 2);
            g.ExpectEq(Op(g, GnttabOp.SetVersion, ver.Ptr), 0, "set_version(2)");
            var gsf = g.Alloc(GnttabGetStatusFrames.Layout.Size);
            g.Set(gsf.U32(GnttabGetStatusFrames.Layout.NrFrames), 1);
            g.Set(gsf.U16(GnttabGetStatusFrames.Layout.Dom), DomId.Self);
            g.Set(gsf.U64(GnttabGetStatusFrames.Layout.FrameList), list.Ptr + 32);
            g.ExpectEq(Op(g, GnttabOp.GetStatusFrames, gsf.Ptr), 0, "get_status_frames(1)");
            g.ExpectEq(gsf.U16(GnttabGetStatusFrames.Layout.Status), 0, "one status frame");

            var nr = g.Var("nr");
            var hits = g.Var("hits");
            var i = g.Var("i");
            var j = g.Var("j");
            g.Set(nr, Val.At(g.StartInfo, StartInfo.Layout.NrPages));
            g.For(i, 0, nr, () => g.For(j, 0, 5, () =>
                g.If(Val.At(P2m(g) + (i << 3)) == Val.At(list.Ptr + (j << 3)), () => g.Set(hits, hits + 1))));
            g.ExpectEq(hits, 0, "no frame is in dom0's P2M");
            g.For(j, 0, 5, () =>
            {
                g.ExpectNe(Val.At(list.Ptr + (j << 3)) << 12, Val.At(g.StartInfo, StartInfo.Layout.SharedInfo), "not shared_info");
                g.For(i, 0, j, () => g.ExpectNe(Val.At(list.Ptr + (i << 3)), Val.At(list.Ptr + (j << 3)), "distinct frames"));
            });
            g.Success();
        });
        Assert.That(o.Status, Is.EqualTo(TestStatus.Success), o.Message);
    }

    [Test]
    public void ContainsPteMapsAtAnAlignedPteAndReplaceIsRefusedThere()
    {
        var o = Run(g =>
        {
            var granted = g.Page("granted");
            var target = g.Page("target");
            TableGranting(g, granted);
            g.Set(granted.U64(0), 0x4242);
            var l1 = Val.At(g.StartInfo, StartInfo.Layout.PtBase) + 0x1000;      // the L1 for 0-2 MiB
            var pteMa = g.Var("pte_ma");
            g.Set(pteMa, (Mfn(g, l1) << 12) + (((long)target.Address >> 12 & 511) << 3));

            var map = g.Alloc(GnttabMapGrantRef.Layout.Size);
            g.Set(map.U64(GnttabMapGrantRef.Layout.HostAddr), pteMa);
            g.Set(map.U32(GnttabMapGrantRef.Layout.Flags), (long)(GntMap.HostMap | GntMap.ContainsPte));
            g.Set(map.U32(GnttabMapGrantRef.Layout.Ref), 8);
            g.ExpectEq(Op(g, GnttabOp.MapGrantRef, map.Ptr), 0, "map by PTE address");
            g.ExpectEq(map.U16(GnttabMapGrantRef.Layout.Status), 0, "mapped");
            g.ExpectEq(target.U64(0), 0x4242, "the target shows the granted page");
            var pte = Val.At(l1 + (((long)target.Address >> 12 & 511) << 3));
            g.ExpectEq(pte >> 62, 3, "NX and _PAGE_GNTTAB set");
            g.ExpectEq(pte & 0x67, 0x67, "present, RW, user, accessed, dirty");

            var replace = g.Alloc(GnttabUnmapAndReplace.Layout.Size);
            g.Set(replace.U64(GnttabUnmapAndReplace.Layout.HostAddr), pteMa);
            g.Set(replace.U64(GnttabUnmapAndReplace.Layout.NewAddr), (long)granted.Address);
            g.Set(replace.U32(GnttabUnmapAndReplace.Layout.Handle), map.U32(GnttabMapGrantRef.Layout.Handle));
            g.ExpectEq(Op(g, GnttabOp.UnmapAndReplace, replace.Ptr), 0, "unmap_and_replace by PTE address");
            g.ExpectEq(replace.U16(GnttabUnmapAndReplace.Layout.Status), St(GnttabStatus.GeneralError), "no replace with contains_pte");
            g.ExpectEq(granted.U64(0), 0x4242, "new_addr untouched");

            var unmap = g.Alloc(GnttabUnmapGrantRef.Layout.Size);
            g.Set(unmap.U64(GnttabUnmapGrantRef.Layout.HostAddr), pteMa);
            g.Set(unmap.U32(GnttabUnmapGrantRef.Layout.Handle), map.U32(GnttabMapGrantRef.Layout.Handle));
            g.ExpectEq(Op(g, GnttabOp.UnmapGrantRef, unmap.Ptr), 0, "unmap by PTE address");
            g.ExpectEq(unmap.U16(GnttabUnmapGrantRef.Layout.Status), 0, "unmapped");
            g.ExpectEq(pte, 0, "the PTE is cleared");
            g.Success();
        });
        Assert.That(o.Status, Is.EqualTo(TestStatus.Success), o.Message);
    }

    [Test]
    public void UnmodelledCommandsAreNotImplemented()
    {
        var o = Run(g =>
        {
            var buf = g.Alloc(64);
            foreach (var op in new[] { GnttabOp.DumpTable, GnttabOp.Transfer, GnttabOp.Copy, GnttabOp.SwapGrantRef, GnttabOp.CacheFlush })
                g.ExpectEq(Op(g, op, buf.Ptr), -Errno.ENOSYS, op.ToString());
            g.Success();
        });
        Assert.That(o.Status, Is.EqualTo(TestStatus.Success), o.Message);
    }

    private static long St(GnttabStatus s) => (ushort)(short)s;
}
