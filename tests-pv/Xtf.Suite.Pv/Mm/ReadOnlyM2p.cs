using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Mm;

/// <summary>
/// The read-only M2P Xen maps for a PV guest at 0xffff800000000000 (L4 slot 256): the entry of a
/// kernel frame reads its pfn (the L4's and a data page's), a store there is a #PF with error code 3,
/// and MMU_MACHPHYS_UPDATE changes what it shows.
/// </summary>
public sealed class ReadOnlyM2p : XtfTest
{
    public override string Name => "mm-ro-m2p";
    public override string Title => "The read-only M2P: readable, not writable, follows machphys updates";
    public override string Category => "mm";

    public override void Body(GuestProgram g)
    {
        var mm = new MmKit(g);
        var page = g.Page("m2p_page");
        Val Entry(Val va) => MmKit.RoMpt + (mm.Mfn(va) << 3);

        var own = g.GuardedRead(Entry(page.Ptr));
        g.ExpectEq(own.Fault.Vector, -1, "the page's M2P entry reads");
        g.ExpectEq(own.Value, (long)(page.Address >> 12), "its pfn");
        var l4 = g.GuardedRead(Entry(mm.PtBase));
        g.ExpectEq(l4.Fault.Vector, -1, "the L4's M2P entry reads");
        g.ExpectEq(l4.Value, mm.PtBase >> 12, "its pfn");

        var store = g.GuardedWrite(Entry(page.Ptr), 0);
        g.ExpectEq(store.Vector, 14, "a store to the M2P is a #PF");
        g.ExpectEq(store.ErrorCode, 3, "error code 3 (present, write)");
        g.ExpectEq(store.Cr2, Entry(page.Ptr), "cr2 = the entry");

        g.ExpectEq(mm.Update((mm.Mfn(page.Ptr) << 12) | 1, 0x12345), 0, "MMU_MACHPHYS_UPDATE to 0x12345");
        g.ExpectEq(g.GuardedRead(Entry(page.Ptr)).Value, 0x12345, "the M2P shows it");
        g.ExpectEq(mm.Update((mm.Mfn(page.Ptr) << 12) | 1, (long)(page.Address >> 12)), 0, "MMU_MACHPHYS_UPDATE back");
        g.ExpectEq(g.GuardedRead(Entry(page.Ptr)).Value, (long)(page.Address >> 12), "the pfn again");
        g.Success();
    }
}
