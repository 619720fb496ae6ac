using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Builder;

/// <summary>
/// The dom0 virtual layout (docs/dom0.md §2.4, §2.6) checked from inside: kernel, phys-mach map,
/// start info, page tables and boot stack follow each other on 4 KiB boundaries in that order;
/// the mapping ends at the next 4 MiB boundary leaving at least 512 KiB after the stack (a read of
/// its last page works, a read just past it is a #PF for cr2 = v_end); nr_pt_frames is the exact
/// table count (3 + v_end / 2 MiB); the tables are, in order, L4, L1, L2, L3, L1, linked through
/// the P2M; they are mapped read-only, so a store to the L4, L2 or L3 is a #PF with error code 3
/// (present, write; Xen clears the user bit for a guest kernel) and cr2 = the address.
/// </summary>
public sealed class BuilderLayout : XtfTest
{
    public override string Name => "builder-layout";
    public override string Title => "dom0 builder: bootstrap layout and read-only page tables";
    public override string Category => "builder";

    public override void Body(GuestProgram g)
    {
        var nr = BuilderKit.NrPages(g);
        var p2m = BuilderKit.MfnList(g);
        var pt = BuilderKit.PtBase(g);
        var frames = BuilderKit.NrPtFrames(g);
        var si = g.StartInfo;
        var rsp = g.BootStackPointer;

        g.ExpectEq(p2m, BuilderKit.PageUp(g.ImageEnd), "mfn_list = the kernel's end rounded up to a page");
        g.ExpectEq(si, BuilderKit.PageUp(p2m + nr * 8), "start_info follows the phys-mach map");
        g.ExpectEq(pt, BuilderKit.PageUp(si + StartInfo.Layout.Size + Dom0VgaConsoleInfo.Layout.Size), "pt_base follows start_info");
        var stack = pt + (frames << 12);
        g.ExpectEq(rsp, stack + BuilderKit.Page, "rsp = the end of the boot stack page after the tables");
        g.ExpectEq((p2m | si | pt | rsp) & 0xFFF, 0, "every bootstrap element is 4 KiB aligned");

        var end = BuilderKit.MappedEnd(g, rsp);
        g.Print("mapped 0-%#lx, %u table frames\n", end, frames);
        g.ExpectEq(frames, 3 + (end >> 21), "nr_pt_frames = L4 + L3 + L2 + one L1 per 2 MiB");
        g.Expect((end - rsp).UGe(BuilderKit.StackPad), "at least 512 KiB after the boot stack");

        var last = g.GuardedRead(end - 8);
        g.ExpectEq(last.Fault.Vector, -1, "the last mapped page reads");
        var stackTop = g.GuardedRead(rsp - 8);
        g.ExpectEq(stackTop.Fault.Vector, -1, "the boot stack is mapped");
        var past = g.GuardedRead(end);
        g.ExpectEq(past.Fault.Vector, 14, "a read at v_end is a #PF");
        g.ExpectEq(past.Fault.ErrorCode, 0, "#PF error code 0 (not present, read, kernel)");
        g.ExpectEq(past.Fault.Cr2, end, "cr2 = v_end");

        // The tables: L4 first, then L1 (0-2 MiB), L2, L3, further L1s; entries are MFN | 0x67.
        Val Frame(int i) => pt + i * BuilderKit.Page;
        Val Mfn(Val va) => Val.At(p2m + ((va >> 12) << 3));
        Val Entry(Val table, Val index) => Val.At(table + (index << 3));
        var e = g.Var("entry");
        g.Set(e, Entry(Frame(0), 0));
        g.ExpectEq(e & 0xFFF, 0x67, "L4[0] flags 0x67");
        g.ExpectEq((e & PvLayoutMask) >> 12, Mfn(Frame(3)), "L4[0] -> frame 3 (L3)");
        g.ExpectEq((Entry(Frame(3), 0) & PvLayoutMask) >> 12, Mfn(Frame(2)), "L3[0] -> frame 2 (L2)");
        g.ExpectEq((Entry(Frame(2), 0) & PvLayoutMask) >> 12, Mfn(Frame(1)), "L2[0] -> frame 1 (L1, 0-2 MiB)");
        g.ExpectEq((Entry(Frame(2), 1) & PvLayoutMask) >> 12, Mfn(Frame(4)), "L2[1] -> frame 4 (L1, 2-4 MiB)");

        // L1 entries: pfn i maps to mfn_list[i]; the table frames are read-only, the rest writable.
        var l1 = BuilderKit.L1Frame(g, pt, si);
        g.Set(e, Entry(l1, (si >> 12) & 511));
        g.ExpectEq((e & PvLayoutMask) >> 12, Mfn(si), "the start_info page maps mfn_list[pfn]");
        g.ExpectEq(e & 0x7, 0x7, "start_info is mapped present, writable, user");
        g.ExpectEq(e >> 52, 1, "L1 entries carry Xen's software bit 52");
        var l1pt = BuilderKit.L1Frame(g, pt, pt);
        g.ExpectEq(Entry(l1pt, (pt >> 12) & 511) & 0x3, 0x1, "the L4 frame is mapped read-only");

        foreach (var (i, what) in new[] { (0, "L4"), (2, "L2"), (3, "L3") })
        {
            var w = g.GuardedWrite(Frame(i), Entry(Frame(i), 0));
            g.ExpectEq(w.Vector, 14, $"a store to the {what} frame is a #PF");
            g.ExpectEq(w.ErrorCode, 3, $"{what}: error code 3 (present, write)");
            g.ExpectEq(w.Cr2, Frame(i), $"{what}: cr2 = the table address");
        }
        g.Success();
    }

    private const long PvLayoutMask = 0x000F_FFFF_FFFF_F000;
}
