using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Builder;

/// <summary>start_info fields and the dom0 builder's arithmetic (docs/dom0.md §2.4), as guest values.</summary>
public static class BuilderKit
{
    public const long Page = 0x1000;
    public const long FourMiB = 0x40_0000;
    public const long TwoMiB = 0x20_0000;
    public const long StackPad = 0x8_0000;

    public static Val Field(GuestProgram g, int offset, int width = 8) => Val.At(g.StartInfo, offset, width);
    public static Val NrPages(GuestProgram g) => Field(g, StartInfo.Layout.NrPages);
    public static Val MfnList(GuestProgram g) => Field(g, StartInfo.Layout.MfnList);
    public static Val PtBase(GuestProgram g) => Field(g, StartInfo.Layout.PtBase);
    public static Val NrPtFrames(GuestProgram g) => Field(g, StartInfo.Layout.NrPtFrames);

    public static Val PageUp(Val x) => (x + (Page - 1)) & ~Val.Const(Page - 1);

    /// <summary>
    /// Xen's v_end for a boot stack ending at <paramref name="stackEnd"/>: rounded up to 4 MiB,
    /// plus another 4 MiB when fewer than 512 KiB would be left after the stack.
    /// </summary>
    public static Val MappedEnd(GuestProgram g, Val stackEnd)
    {
        var end = g.Var("v_end");
        g.Set(end, (stackEnd + (FourMiB - 1)) & ~Val.Const(FourMiB - 1));
        g.If((end - stackEnd).ULt(StackPad), () => g.Set(end, end + FourMiB));
        return end;
    }

    /// <summary>The initial block's pages for a mapping [0, <paramref name="vEnd"/>) without an initrd: the next power of two.</summary>
    public static Val BlockPages(GuestProgram g, Val vEnd)
    {
        var pages = g.Var("block_pages");
        g.Set(pages, 1);
        g.While(() => pages.ULt(vEnd >> 12), () => g.Set(pages, pages + pages));
        return pages;
    }

    /// <summary>
    /// The page-table frame holding the L1 for <paramref name="va"/> (a mapping below 1 GiB): the tables are L4, the
    /// L1 for 0–2 MiB, L2, L3, then the L1s of each further 2 MiB in order (docs/dom0.md §2.6).
    /// </summary>
    public static Val L1Frame(GuestProgram g, Val ptBase, Val va)
    {
        var frame = g.Var("l1_frame");
        g.Set(frame, ptBase + ((va >> 21) + 3) * Page);
        g.If((va >> 21) == 0, () => g.Set(frame, ptBase + Page));
        return frame;
    }

    /// <summary>XENMEM_* with a domid_t argument for DOMID_SELF.</summary>
    public static Val ReservationOp(GuestProgram g, MemoryOp op)
    {
        var dom = g.Alloc(2, name: "domid");
        g.Set(dom.U16(0), DomId.Self);
        return g.Hypercall(Hypercall.MemoryOp, (int)op, dom.Ptr);
    }
}
