using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Misc;

/// <summary>
/// mmu_update and update_va_mapping on dom0's own L1 entries (xen/arch/x86/mm.c): a normal
/// update clears and restores a data page's PTE (read back through the read-only L1 mapping);
/// update_va_mapping unmaps a page (a read is then a #PF, error code 0, cr2 = the address) and
/// maps it back. Command 3 is MMU_PT_UPDATE_NO_TRANSLATE (accepted: real Xen 4.17.7 returns 0),
/// 4 is unknown (-ENOSYS). A PTE mapping a page-table frame writable is -EBUSY (measured on real
/// Xen for both hypercalls: the page cannot take the writable type). Also: an unknown foreign
/// domain, an unreadable request list, a non-canonical update_va_mapping address.
/// </summary>
public sealed class PageTableUpdates : XtfTest
{
    public override string Name => "misc-page-table-updates";
    public override string Title => "mmu_update and update_va_mapping basics";
    public override string Category => "misc";

    public override void Body(GuestProgram g)
    {
        var p2m = Val.At(g.StartInfo, StartInfo.Layout.MfnList);
        var pt = Val.At(g.StartInfo, StartInfo.Layout.PtBase);
        Val Mfn(Val va) => Val.At(p2m + ((va >> 12) << 3));
        var page = g.Page("victim");
        var l1 = pt + 0x1000;                                   // the L1 for 0-2 MiB
        var pteVa = g.Var("pte_va");
        var pteMa = g.Var("pte_ma");
        var original = g.Var("original_pte");
        g.Set(pteVa, l1 + (((long)page.Address >> 12 & 511) << 3));
        g.Set(pteMa, (Mfn(l1) << 12) + (((long)page.Address >> 12 & 511) << 3));
        g.Set(original, Val.At(pteVa));
        g.Set(page.U64(), 0x1234);

        var req = g.Alloc(MmuUpdate.Layout.Size, name: "mmu_update");
        var done = g.Alloc(4, name: "done");
        Val Update(Val ptr, Val val, Val dom)
        {
            g.Set(req.U64(MmuUpdate.Layout.Ptr), ptr);
            g.Set(req.U64(MmuUpdate.Layout.Val), val);
            g.Set(done.U32(0), 99);
            return g.Hypercall(Hypercall.MmuUpdate, req.Ptr, 1, done.Ptr, dom);
        }
        g.ExpectEq(Update(pteMa, 0, DomId.Self), 0, "MMU_NORMAL_PT_UPDATE clearing a PTE");
        g.ExpectEq(done.U32(0), 1, "one update done");
        g.ExpectEq(Val.At(pteVa), 0, "the PTE reads back 0");
        g.ExpectEq(Update(pteMa, original, DomId.Self), 0, "MMU_NORMAL_PT_UPDATE restoring it");
        g.ExpectEq(Val.At(pteVa) & ~Val.Const(0x60), original & ~Val.Const(0x60), "the PTE is back (accessed/dirty aside)");
        g.ExpectEq(page.U64(), 0x1234, "the page reads its data again");

        g.ExpectEq(Update(pteMa | 3, original, DomId.Self), 0, "MMU_PT_UPDATE_NO_TRANSLATE (command 3) rewriting the PTE");
        g.ExpectEq(done.U32(0), 1, "one update done");
        g.ExpectEq(Update(pteMa | 4, original, DomId.Self), -Errno.ENOSYS, "mmu_update command 4");
        g.ExpectEq(done.U32(0), 0, "nothing done");
        g.ExpectEq(Update(pteMa, (Mfn(pt) << 12) | 0x67, DomId.Self), -Errno.EBUSY, "a PTE mapping the L4 writable");
        g.ExpectEq(Update(pteMa, original, 5), -Errno.ESRCH, "foreign domain 5");
        g.ExpectEq(g.Hypercall(Hypercall.MmuUpdate, 0x4000_0000, 1, done.Ptr, DomId.Self), -Errno.EFAULT, "an unmapped request list");
        g.ExpectEq(g.Hypercall(Hypercall.MmuUpdate, req.Ptr, 0, done.Ptr, DomId.Self), 0, "zero requests");

        // update_va_mapping: unmap, fault, remap.
        g.ExpectEq(g.Hypercall(Hypercall.UpdateVaMapping, page.Ptr, 0, (long)GuestProgram.UvmfInvlpg), 0, "update_va_mapping(unmap)");
        var r = g.GuardedRead(page.Ptr);
        g.ExpectEq(r.Fault.Vector, 14, "a read of the unmapped page is a #PF");
        g.ExpectEq(r.Fault.ErrorCode, 0, "error code 0");
        g.ExpectEq(r.Fault.Cr2, page.Ptr, "cr2 = the page");
        g.ExpectEq(g.Hypercall(Hypercall.UpdateVaMapping, page.Ptr, original, (long)GuestProgram.UvmfInvlpg), 0, "update_va_mapping(remap)");
        var again = g.GuardedRead(page.Ptr);
        g.ExpectEq(again.Fault.Vector, -1, "the page reads again");
        g.ExpectEq(again.Value, 0x1234, "with its data");
        g.ExpectEq(g.Hypercall(Hypercall.UpdateVaMapping, page.Ptr, (Mfn(pt) << 12) | 0x67, (long)GuestProgram.UvmfInvlpg), -Errno.EBUSY,
            "update_va_mapping mapping the L4 writable");
        g.ExpectEq(g.Hypercall(Hypercall.UpdateVaMapping, unchecked((long)0x0000_8000_0000_0000UL), 0, (long)GuestProgram.UvmfInvlpg), -Errno.EINVAL,
            "update_va_mapping of a non-canonical address");
        g.Success();
    }
}
