using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Misc;

/// <summary>
/// memory_op queries dom0 can make (docs/dom0.md §2.14): current_reservation = nr_pages,
/// maximum_reservation = 4294967295 (max_pages 0xFFFFFFFF), maximum_gpfn = 0 for PV, maximum_ram_page =
/// the host's last RAM page + 1 (0x1ffe0 at 512 MiB; printed, and checked to lie above every frame in
/// dom0's mfn_list, since the guest cannot know the machine's size), XENMEM_memory_map is -ENOSYS for PV; an unknown
/// domain is -ESRCH, an unreadable domid -EFAULT, an unknown command -ENOSYS.
/// </summary>
public sealed class MemoryOpQueries : XtfTest
{
    public override string Name => "misc-memory-op";
    public override string Title => "memory_op: reservations, maximum_ram_page, errors";
    public override string Category => "misc";

    public override void Body(GuestProgram g)
    {
        var dom = g.Alloc(2, name: "domid");
        Val Op(MemoryOp op, Val arg) => g.Hypercall(Hypercall.MemoryOp, (int)op, arg);
        g.Set(dom.U16(0), DomId.Self);
        g.ExpectEq(Op(MemoryOp.CurrentReservation, dom.Ptr), Val.At(g.StartInfo, StartInfo.Layout.NrPages), "current_reservation(self) = nr_pages");
        g.ExpectEq(Op(MemoryOp.MaximumReservation, dom.Ptr), 0xFFFF_FFFFL, "maximum_reservation(self)");
        g.ExpectEq(Op(MemoryOp.MaximumGpfn, dom.Ptr), 0, "maximum_gpfn(self) for PV");
        g.Set(dom.U16(0), 0);
        g.ExpectEq(Op(MemoryOp.CurrentReservation, dom.Ptr), Val.At(g.StartInfo, StartInfo.Layout.NrPages), "current_reservation(0) = nr_pages");
        var maxPage = g.Var("max_page");
        g.Set(maxPage, Op(MemoryOp.MaximumRamPage, 0));
        g.Print("maximum_ram_page %#lx\n", maxPage);
        var nr = Val.At(g.StartInfo, StartInfo.Layout.NrPages);
        var p2m = Val.At(g.StartInfo, StartInfo.Layout.MfnList);
        var i = g.Var("i");
        var highest = g.Var("highest_mfn");
        g.For(i, 0, nr, () => g.If(Val.At(p2m + (i << 3)).UGt(highest), () => g.Set(highest, Val.At(p2m + (i << 3)))));
        g.Expect(maxPage.UGt(highest), "maximum_ram_page lies above every frame dom0 holds");
        g.ExpectEq(Op(MemoryOp.MemoryMap, dom.Ptr), -Errno.ENOSYS, "XENMEM_memory_map for PV");

        g.Set(dom.U16(0), 5);
        g.ExpectEq(Op(MemoryOp.CurrentReservation, dom.Ptr), -Errno.ESRCH, "current_reservation(5)");
        g.ExpectEq(Op(MemoryOp.CurrentReservation, 0x4000_0000), -Errno.EFAULT, "current_reservation from an unmapped address");
        g.ExpectEq(Op((MemoryOp)63, dom.Ptr), -Errno.ENOSYS, "memory_op command 63");
        g.Success();
    }
}
