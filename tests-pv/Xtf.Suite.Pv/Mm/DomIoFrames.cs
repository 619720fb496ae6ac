using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Mm;

/// <summary>
/// Frames below 1 MiB belong to dom_io (xen/arch/x86/mm.c, get_page_from_l1e): dom0 may map them
/// read-only or writable without taking a reference, and Xen flips the cache attributes of such a
/// mapping: write-back (none) gains PCD|PWT, write-through (PWT) and write-protect (PWT|PAT) gain PCD
/// and lose PAT, uncached ones stay. Measured through update_va_mapping and mmu_update, reading the
/// L1 entry back (user and _PAGE_GUEST_KERNEL added as for any kernel mapping). Pinning such a frame
/// is -EINVAL with Xen's "Error mfn" line.
/// </summary>
public sealed class DomIoFrames : XtfTest
{
    public override string Name => "mm-dom-io-frames";
    public override string Title => "Mapping dom_io frames below 1 MiB: cache attributes flipped";
    public override string Category => "mm";

    public override void Body(GuestProgram g)
    {
        var mm = new MmKit(g);
        var page = g.Page("io_page");
        var pte = mm.PtBase + 0x1000 + (((long)page.Address >> 12 & 511) << 3);
        const long kernel = 1L << 52 | MmKit.User;
        foreach (var (flags, expected) in new (long, long)[]
        {
            (MmKit.ReadOnly, MmKit.ReadOnly | 0x18),
            (MmKit.Writable, MmKit.Writable | 0x18),
            (MmKit.Writable | 0x08, MmKit.Writable | 0x18),
            (MmKit.Writable | 0x10, MmKit.Writable | 0x10),
            (MmKit.Writable | 0x88, MmKit.Writable | 0x18),
            (MmKit.Writable | 0x18, MmKit.Writable | 0x18),
        })
        {
            g.ExpectEq(mm.Uvm(page.Ptr, (0xB8L << 12) | flags, MmKit.UvmfInvlpg), 0, $"map mfn 0xb8 with flags {flags:#x}");
            g.ExpectEq(Val.At(pte), (0xB8L << 12) | kernel | expected, $"the entry has flags {expected:#x}");
        }
        g.ExpectEq(mm.Update(mm.L1EntryOf(page.Ptr), (0x10L << 12) | MmKit.Writable), 0, "mmu_update mapping mfn 0x10 writable");
        g.ExpectEq(Val.At(pte), (0x10L << 12) | kernel | MmKit.Writable | 0x18, "uncached");
        g.ExpectEq(mm.Uvm(page.Ptr, mm.Pte(page.Ptr, MmKit.Writable), MmKit.UvmfInvlpg), 0, "the page mapped back");
        g.ExpectEq(mm.Ext(MmuextCmd.PinL1Table, 0xB8), -Errno.EINVAL, "pin mfn 0xb8");
        g.Success();
    }
}
