using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Builder;

/// <summary>
/// mfn_list (docs/dom0.md §2.7): nr_pages entries, each below XENMEM_maximum_ram_page and all
/// distinct (Xen's read-only M2P maps each back to its pfn, which two pfns sharing a frame could not
/// both satisfy; this holds at any machine size, unlike a bitmap over machine frames); the first first_p2m_pfn entries are the consecutive
/// frames of the naturally aligned initial block; the rest of the last P2M page is zero.
/// MMU_MACHPHYS_UPDATE accepts frames the domain owns (re-recording pfn 0 and the last pfn) and
/// refuses machine frame 0, which is not dom0's, with -EINVAL.
/// </summary>
public sealed class BuilderMfnList : XtfTest
{
    public override string Name => "builder-mfn-list";
    public override string Title => "dom0 builder: mfn_list consistent with nr_pages";
    public override string Category => "builder";

    public override void Body(GuestProgram g)
    {
        var nr = BuilderKit.NrPages(g);
        var p2m = BuilderKit.MfnList(g);
        var maxPage = g.Var("max_page");
        g.Set(maxPage, g.Hypercall(Hypercall.MemoryOp, (int)MemoryOp.MaximumRamPage, 0));
        g.Print("maximum_ram_page %#lx\n", maxPage);
        g.Expect(maxPage.UGe(nr), "maximum_ram_page >= nr_pages");

        var i = g.Var("i");
        var mfn = g.Var("mfn");
        var tooBig = g.Var("too_big");
        var dups = g.Var("duplicates");
        g.For(i, 0, nr, () =>
        {
            g.Set(mfn, Val.At(p2m + (i << 3)));
            g.If(mfn.UGe(maxPage), () => { g.Set(tooBig, tooBig + 1); g.Continue(); });
            g.If(Val.At(Val.Const(unchecked((long)PvLayout.MachToPhysVirtStart)) + (mfn << 3)) != i, () => g.Set(dups, dups + 1));
        });
        g.ExpectEq(tooBig, 0, "every mfn < maximum_ram_page");
        g.ExpectEq(dups, 0, "m2p[mfn_list[pfn]] = pfn: the entries are distinct");

        var first = BuilderKit.Field(g, StartInfo.Layout.FirstP2mPfn);
        var base0 = Val.At(p2m);
        var gaps = g.Var("gaps");
        g.For(i, 1, first, () => g.If(Val.At(p2m + (i << 3)) != base0 + i, () => g.Set(gaps, gaps + 1)));
        g.ExpectEq(gaps, 0, "the initial block is contiguous");
        g.ExpectEq(base0 & (first - 1), 0, "the initial block is aligned to its size");

        var tail = g.Var("tail");
        var endOfTable = p2m + (nr << 3);
        g.For(i, endOfTable, BuilderKit.PageUp(endOfTable), () => g.Set(tail, tail | Val.At(i, 0, 1)));
        g.ExpectEq(tail, 0, "the P2M page is zero after the last entry");

        var req = g.Alloc(MmuUpdate.Layout.Size * 2, name: "mmu_update");
        var done = g.Alloc(4, name: "done");
        g.Set(req.U64(MmuUpdate.Layout.Ptr), (base0 << 12) | (int)MmuUpdateCmd.MachphysUpdate);
        g.Set(req.U64(MmuUpdate.Layout.Val), 0);
        g.Set(req.U64(MmuUpdate.Layout.Size + MmuUpdate.Layout.Ptr), (Val.At(p2m + ((nr - 1) << 3)) << 12) | (int)MmuUpdateCmd.MachphysUpdate);
        g.Set(req.U64(MmuUpdate.Layout.Size + MmuUpdate.Layout.Val), nr - 1);
        g.ExpectEq(g.Hypercall(Hypercall.MmuUpdate, req.Ptr, 2, done.Ptr, DomId.Self), 0, "MMU_MACHPHYS_UPDATE for pfn 0 and the last pfn");
        g.ExpectEq(done.U32(0), 2, "two updates done");
        g.Set(req.U64(MmuUpdate.Layout.Ptr), (int)MmuUpdateCmd.MachphysUpdate);
        g.ExpectEq(g.Hypercall(Hypercall.MmuUpdate, req.Ptr, 1, done.Ptr, DomId.Self), -Errno.EINVAL, "MMU_MACHPHYS_UPDATE of machine frame 0");
        g.ExpectEq(done.U32(0), 0, "nothing done");
        g.Success();
    }
}
