using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Mm;

/// <summary>
/// update_va_mapping's flags (xen/arch/x86/mm.c, __do_update_va_mapping): every flush type (none,
/// TLB_FLUSH, INVLPG, 3) with UVMF_LOCAL, UVMF_ALL and a readable vCPU mask succeeds; an unreadable
/// mask is -EFAULT after the entry has changed (the page is then unmapped), and is not read for flush
/// type 0 or 3. An address in Xen's area, or one whose L3 entry is empty, is -EINVAL.
/// update_va_mapping_otherdomain with DOMID_SELF works the same; with its own id it is -ESRCH.
/// </summary>
public sealed class UpdateVaMappingFlags : XtfTest
{
    public override string Name => "mm-update-va-mapping-flags";
    public override string Title => "update_va_mapping flush flags and errors";
    public override string Category => "mm";

    public override void Body(GuestProgram g)
    {
        var mm = new MmKit(g);
        var page = g.Page("uvm_page");
        var mask = g.Alloc(8, name: "uvm_vcpumask");
        g.Set(mask.U64(0), 1);
        g.Set(page.U64(0), 0xabc);
        var pte = mm.Pte(page.Ptr, MmKit.Writable);

        foreach (long flags in new long[] { 0, 1, 2, 3, 5, 6 })
            g.ExpectEq(mm.Uvm(page.Ptr, pte, flags), 0, $"flags {flags}");
        g.ExpectEq(mm.Uvm(page.Ptr, pte, mask.Ptr | MmKit.UvmfTlbFlush), 0, "TLB_FLUSH with a vCPU mask");
        g.ExpectEq(mm.Uvm(page.Ptr, pte, mask.Ptr | MmKit.UvmfInvlpg), 0, "INVLPG with a vCPU mask");
        g.ExpectEq(mm.Uvm(page.Ptr, pte, 0x4000_0000 | 3), 0, "an unreadable mask with flush type 3");
        g.ExpectEq(mm.Uvm(page.Ptr, pte, 0x4000_0000), 0, "an unreadable mask with flush type 0");
        g.ExpectEq(mm.Uvm(page.Ptr, 0, 0x4000_0000 | MmKit.UvmfInvlpg), -Errno.EFAULT, "unmap with an unreadable mask");
        var r = g.GuardedRead(page.Ptr);
        g.ExpectEq(r.Fault.Vector, 14, "the page was unmapped all the same");
        g.ExpectEq(mm.Uvm(page.Ptr, pte, MmKit.UvmfInvlpg), 0, "map it back");
        g.ExpectEq(page.U64(0), 0xabc, "its data");

        g.ExpectEq(g.Hypercall(Hypercall.UpdateVaMappingOtherdomain, page.Ptr, pte, MmKit.UvmfInvlpg, DomId.Self), 0,
            "update_va_mapping_otherdomain, DOMID_SELF");
        g.ExpectEq(g.Hypercall(Hypercall.UpdateVaMappingOtherdomain, page.Ptr, pte, MmKit.UvmfInvlpg, 0), -Errno.ESRCH,
            "update_va_mapping_otherdomain, its own id 0");
        g.ExpectEq(mm.Uvm(unchecked((long)MmKit.RoMpt), 0, MmKit.UvmfInvlpg), -Errno.EINVAL, "an address in Xen's area");
        g.ExpectEq(mm.Uvm(0x4000_0000, 0, MmKit.UvmfInvlpg), -Errno.EINVAL, "an address without an L2");
        g.Success();
    }
}
