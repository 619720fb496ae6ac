using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Mm;

/// <summary>
/// mmu_update at L2, L3 and L4 (xen/arch/x86/mm.c, mod_l2_entry..mod_l4_entry): a pinned L2 over a
/// read-only L1 hooked into the builder's L3 (slot 1, 1 GiB) makes an L1 entry written with
/// mmu_update visible at 0x40000000 (MMU_PT_UPDATE_PRESERVE_AD keeps the accessed bit the read set
/// there, a normal update drops it); an L3 entry with PSE, and one pointing at an L1, are -EINVAL.
/// In the L4, Xen's slot 256 is -EINVAL even when cleared; a guest slot past Xen's (300) takes a
/// read-only self reference (a linear page table: the L4's entry 0 reads back through it, a store
/// faults) but not a writable one (-EINVAL); an L2 takes a read-only self reference too, and a
/// read-only entry to another pinned L2, which then may not point back (nor may a table holding
/// linear entries become a target). A request on
/// a frame that holds no type writes it as plain memory. The foreign domain: the caller's own id is
/// -ESRCH, DOMID_IO is accepted for an L1 entry but not an L3 one (-EINVAL: page and page-table owners
/// differ), and (bits 16+) page tables of domain 0 are its own.
/// </summary>
public sealed class MmuUpdateLevels : XtfTest
{
    public override string Name => "mm-mmu-update-levels";
    public override string Title => "mmu_update at L2, L3 and L4, linear page tables";
    public override string Category => "mm";

    public override void Body(GuestProgram g)
    {
        var mm = new MmKit(g);
        var l1 = g.Page("lv_l1");
        var l2 = g.Page("lv_l2");
        var data = g.Page("lv_data");
        g.Set(data.U64(0), 0x5eed);

        g.Set(l2.U64(0), mm.Pte(l1.Ptr, MmKit.Writable));
        g.ExpectEq(mm.Remap(l1.Ptr, MmKit.ReadOnly), 0, "remap the L1 read-only");
        g.ExpectEq(mm.Remap(l2.Ptr, MmKit.ReadOnly), 0, "remap the L2 read-only");
        g.ExpectEq(mm.Ext(MmuextCmd.PinL2Table, mm.Mfn(l2.Ptr)), 0, "pin the L2");

        g.ExpectEq(mm.Update(mm.L3Entry(1), mm.Pte(l2.Ptr, MmKit.Writable)), 0, "L3 slot 1 -> the L2");
        g.ExpectEq(mm.Done, 1, "one update done");
        g.ExpectEq(mm.Update(mm.Mfn(l1.Ptr) << 12, mm.Pte(data.Ptr, MmKit.Writable)), 0, "L1 slot 0 -> the data page");
        var r = g.GuardedRead(0x4000_0000);
        g.ExpectEq(r.Fault.Vector, -1, "0x40000000 reads");
        g.ExpectEq(r.Value, 0x5eed, "the data page's value");
        // MMU_PT_UPDATE_PRESERVE_AD keeps the accessed bit the read set; a normal update does not.
        g.ExpectEq(mm.Update(mm.Mfn(l1.Ptr) << 12, mm.Pte(data.Ptr, MmKit.Rw | MmKit.P)), 0, "L1 slot 0 without A/D");
        g.ExpectEq(mm.Ext(MmuextCmd.InvlpgLocal, 0x4000_0000), 0, "invlpg (Xen does not flush for an L1 update)");
        g.ExpectEq(g.GuardedRead(0x4000_0000).Value, 0x5eed, "read through it");
        g.ExpectEq(Val.At(l1.Ptr) & MmKit.Accessed, MmKit.Accessed, "the read set accessed");
        g.ExpectEq(mm.Update((mm.Mfn(l1.Ptr) << 12) | 2, mm.Pte(data.Ptr, MmKit.Rw | MmKit.P)), 0, "PRESERVE_AD update without A/D");
        g.ExpectEq(Val.At(l1.Ptr) & MmKit.Accessed, MmKit.Accessed, "accessed kept");
        g.ExpectEq(mm.Update(mm.Mfn(l1.Ptr) << 12, mm.Pte(data.Ptr, MmKit.Rw | MmKit.P)), 0, "normal update without A/D");
        g.ExpectEq(Val.At(l1.Ptr) & MmKit.Accessed, 0, "accessed gone");
        g.ExpectEq(mm.Update(mm.L3Entry(1), mm.Pte(l2.Ptr, MmKit.Writable | MmKit.Pse)), -Errno.EINVAL, "L3 entry with PSE");
        g.ExpectEq(mm.Update(mm.L3Entry(2), mm.Pte(l1.Ptr, MmKit.Writable)), -Errno.EINVAL, "L3 entry pointing at an L1");
        g.ExpectEq(mm.Done, 0, "nothing done");

        // L2 self reference.
        g.ExpectEq(mm.Update((mm.Mfn(l2.Ptr) << 12) + 8, mm.Pte(l2.Ptr, MmKit.ReadOnly)), 0, "L2 slot 1 -> itself, read-only");
        g.ExpectEq(mm.Update((mm.Mfn(l2.Ptr) << 12) + 8, mm.Pte(l2.Ptr, MmKit.Writable)), -Errno.EINVAL, "L2 slot 1 -> itself, writable");
        g.ExpectEq(mm.Update((mm.Mfn(l2.Ptr) << 12) + 8, 0), 0, "L2 slot 1 cleared");

        // Linear entries between two L2s: a table used as a linear target may not hold linear entries.
        var l2b = g.Page("lv_l2b");
        g.ExpectEq(mm.Remap(l2b.Ptr, MmKit.ReadOnly), 0, "remap a second L2 read-only");
        g.ExpectEq(mm.Ext(MmuextCmd.PinL2Table, mm.Mfn(l2b.Ptr)), 0, "pin it");
        Val L2Slot(GuestBuffer t, int slot) => (mm.Mfn(t.Ptr) << 12) + 8 * slot;
        g.ExpectEq(mm.Update(L2Slot(l2, 2), mm.Pte(l2b.Ptr, MmKit.ReadOnly)), 0, "L2 slot 2 -> the second L2, read-only");
        g.ExpectEq(mm.Update(L2Slot(l2b, 0), mm.Pte(l2.Ptr, MmKit.ReadOnly)), -Errno.EINVAL, "the target back to the first");
        g.ExpectEq(mm.Update(L2Slot(l2, 2), 0), 0, "L2 slot 2 cleared");
        g.ExpectEq(mm.Update(L2Slot(l2b, 0), mm.Pte(l2.Ptr, MmKit.ReadOnly)), 0, "now the second L2 -> the first");
        g.ExpectEq(mm.Update(L2Slot(l2, 2), mm.Pte(l2b.Ptr, MmKit.ReadOnly)), -Errno.EINVAL, "and the first, a target, may not point back");
        g.ExpectEq(mm.Update(L2Slot(l2b, 0), 0), 0, "cleared");
        g.ExpectEq(mm.Ext(MmuextCmd.UnpinTable, mm.Mfn(l2b.Ptr)), 0, "unpin the second L2");

        // L4: Xen's slot and a linear self map.
        g.ExpectEq(mm.Update(mm.L4Entry(256), 0), -Errno.EINVAL, "L4 slot 256 (Xen's) cleared");
        g.ExpectEq(mm.Update(mm.L4Entry(300), mm.Pte(mm.PtBase, MmKit.ReadOnly)), 0, "L4 slot 300 -> the L4, read-only");
        const ulong linear = 0xFFFF_0000_0000_0000UL | (300UL << 39) | (300UL << 30) | (300UL << 21) | (300UL << 12);
        var self = g.GuardedRead(linear);
        g.ExpectEq(self.Fault.Vector, -1, "the L4 reads through the linear map");
        g.ExpectEq(self.Value, Val.At(mm.PtBase), "its entry 0");
        var store = g.GuardedWrite(linear + 8 * 400, 0);
        g.ExpectEq(store.Vector, 14, "a store through the linear map is a #PF");
        g.ExpectEq(store.ErrorCode, 3, "error code 3 (present, write)");
        g.ExpectEq(mm.Update(mm.L4Entry(300), mm.Pte(mm.PtBase, MmKit.Writable)), -Errno.EINVAL, "L4 slot 300 -> the L4, writable");
        g.ExpectEq(mm.Update(mm.L4Entry(300), 0), 0, "L4 slot 300 cleared");

        // A frame with no type: written as plain memory.
        g.ExpectEq(mm.Update((mm.Mfn(data.Ptr) << 12) + 8, 0x1234_5678), 0, "mmu_update on a data page");
        g.ExpectEq(data.U64(8), 0x1234_5678, "it wrote the word");

        // get_pg_owner: its own id is not a foreign domain; DOMID_IO works for its own frames.
        g.ExpectEq(mm.Update(mm.L3Entry(1), 0, foreignDom: 0), -Errno.ESRCH, "foreign domain = its own id 0");
        g.ExpectEq(mm.Update(mm.L3Entry(1), 0, foreignDom: DomId.Io), -Errno.EINVAL, "an L3 entry with foreign domain DOMID_IO");
        g.ExpectEq(mm.Update(mm.Mfn(l1.Ptr) << 12, 0, foreignDom: DomId.Io), 0, "an L1 entry with foreign domain DOMID_IO");
        g.ExpectEq(mm.Update(mm.L3Entry(1), 0, foreignDom: 2 << 16 | DomId.Self), -Errno.ESRCH, "page tables of domain 1");
        g.ExpectEq(mm.Update(mm.L3Entry(1), 0, foreignDom: 1 << 16 | DomId.Self), 0, "page tables of domain 0, given as 1 << 16");
        g.ExpectEq(mm.Ext(MmuextCmd.UnpinTable, mm.Mfn(l2.Ptr)), 0, "unpin the L2");
        g.ExpectEq(mm.Remap(l1.Ptr, MmKit.Writable), 0, "the L1 maps writable again");
        g.Success();
    }
}
