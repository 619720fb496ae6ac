using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Hvm.Start;

/// <summary>
/// The PVH dom0's guest-physical memory map (docs/dom0.md §4.2): XENMEM_memory_map gives the host's e820
/// with RAM clamped to the domain's pages, the rest of RAM unusable and Xen's ACPI tables carved out of the
/// last RAM below 4 GiB; maximum_gpfn is the last RAM frame; machine_memory_map is not for a PVH dom0.
/// </summary>
public sealed class MemoryMap : XtfTest
{
    public override string Name => "memory-map";
    public override string Title => "XENMEM_memory_map and the reservation of a PVH dom0";
    public override string Category => "hvm_start";
    public override Environments Environments => Environments.Hvm64;

    private const int MaxEntries = 32;

    public override void Body(GuestProgram g)
    {
        var entries = g.Alloc(MaxEntries * E820Entry.Layout.Size, 8, "e820");
        var map = g.Alloc(XenMemoryMap.Layout.Size, 8, "memory_map");
        g.Set(map.U32(XenMemoryMap.Layout.NrEntries), MaxEntries);
        g.Set(map.U64(XenMemoryMap.Layout.Buffer), entries.Ptr);
        g.ExpectEq(g.Hypercall(Hypercall.MemoryOp, (long)MemoryOp.MemoryMap, map.Ptr), 0, "XENMEM_memory_map");
        var n = map.U32(XenMemoryMap.Layout.NrEntries);
        g.Print("%u entries\n", n);
        var i = g.Var("i");
        g.For(i, 0, n, () =>
        {
            var e = g.Var("e");
            g.Set(e, entries.Ptr + i * E820Entry.Layout.Size);
            g.Print("[%016lx, %016lx) type %u\n", Val.At(e, E820Entry.Layout.Addr),
                Val.At(e, E820Entry.Layout.Addr) + Val.At(e, E820Entry.Layout.Length), Val.At(e, E820Entry.Layout.Type, 4));
        });

        var dom = g.Alloc(8, 8, "domid");
        g.Set(dom.U16(0), DomId.Self);
        g.Print("maximum_gpfn %#x\n", g.Hypercall(Hypercall.MemoryOp, (long)MemoryOp.MaximumGpfn, dom.Ptr));
        g.Print("current_reservation %u\n", g.Hypercall(Hypercall.MemoryOp, (long)MemoryOp.CurrentReservation, dom.Ptr));
        g.Print("maximum_reservation %#x\n", g.Hypercall(Hypercall.MemoryOp, (long)MemoryOp.MaximumReservation, dom.Ptr));
        var buf = g.Alloc(XenMemoryMap.Layout.Size, 8, "machine_map");
        g.Set(buf.U32(XenMemoryMap.Layout.NrEntries), MaxEntries);
        g.Set(buf.U64(XenMemoryMap.Layout.Buffer), entries.Ptr);
        g.ExpectEq(g.Hypercall(Hypercall.MemoryOp, (long)MemoryOp.MachineMemoryMap, buf.Ptr), -Errno.ENOSYS, "machine_memory_map");
        g.Success();
    }
}
