using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Mm;

/// <summary>
/// Building blocks shared by the memory-management tests: machine addresses of the kernel's pages
/// (through start_info's mfn_list) and of the builder's page-table entries, and one-request wrappers
/// for mmu_update, mmuext_op and update_va_mapping. The builder's tables sit right after the L4 at
/// pt_base: the L1 for 0-2 MiB, then the L2, then the L3 (docs/pv-abi.md §11).
/// </summary>
public sealed class MmKit
{
    public const long P = 1, Rw = 2, User = 4, Accessed = 0x20, Dirty = 0x40, Pse = 0x80;
    /// <summary>A read-only leaf as XTF writes one: accessed, dirty, present.</summary>
    public const long ReadOnly = Accessed | Dirty | P;
    /// <summary>A writable leaf or an upper-level entry: accessed, dirty, writable, present.</summary>
    public const long Writable = Accessed | Dirty | Rw | P;
    public const long AddressMask = 0x000F_FFFF_FFFF_F000;
    public const long UvmfInvlpg = 2, UvmfTlbFlush = 1, UvmfAll = 4;
    /// <summary>RO_MPT_VIRT_START: where Xen maps the read-only M2P for PV guests (L4 slot 256).</summary>
    public const ulong RoMpt = 0xFFFF_8000_0000_0000;

    private readonly GuestProgram g;
    private readonly GuestBuffer req, done, ext;

    public MmKit(GuestProgram g)
    {
        this.g = g;
        req = g.Alloc(MmuUpdate.Layout.Size, name: "mmu_update");
        done = g.Alloc(4, name: "mmu_done");
        ext = g.Alloc(MmuextRequest.Layout.Size, name: "mmuext_op");
    }

    /// <summary>The virtual address of the L4 (start_info.pt_base).</summary>
    public Val PtBase => Val.At(g.StartInfo, StartInfo.Layout.PtBase);

    /// <summary>The frame behind a kernel virtual address (pfn = va >> 12 in dom0's initial mapping).</summary>
    public Val Mfn(Val va) => Val.At(Val.At(g.StartInfo, StartInfo.Layout.MfnList) + ((va >> 12) << 3));

    /// <summary>The machine address of the L4 entry in <paramref name="slot"/>.</summary>
    public Val L4Entry(int slot) => (Mfn(PtBase) << 12) + 8 * slot;

    /// <summary>The machine address of the builder's L3 entry in <paramref name="slot"/> (the L3 under L4 slot 0).</summary>
    public Val L3Entry(int slot) => (Val.At(PtBase) & AddressMask) + 8 * slot;

    /// <summary>The machine address of the L1 entry mapping <paramref name="va"/> (below 2 MiB).</summary>
    public Val L1EntryOf(Val va) => (Mfn(PtBase + 0x1000) << 12) + (((va >> 12) & 511) << 3);

    /// <summary>An entry for the frame behind <paramref name="va"/> with <paramref name="flags"/>.</summary>
    public Val Pte(Val va, long flags) => (Mfn(va) << 12) | flags;

    /// <summary>mmu_update with one request (foreign domain DOMID_SELF unless given); *done is left in <see cref="Done"/>.</summary>
    public Val Update(Val ptr, Val val, Val? foreignDom = null)
    {
        g.Set(req.U64(MmuUpdate.Layout.Ptr), ptr);
        g.Set(req.U64(MmuUpdate.Layout.Val), val);
        g.Set(done.U32(0), 99);
        return g.Hypercall(Hypercall.MmuUpdate, req.Ptr, 1, done.Ptr, foreignDom ?? Val.Const(DomId.Self));
    }

    public Val Done => done.U32(0);

    /// <summary>mmuext_op with one request.</summary>
    public Val Ext(MmuextCmd cmd, Val arg1, Val? arg2 = null, Val? foreignDom = null)
    {
        g.Set(ext.U32(MmuextRequest.Layout.Cmd), (uint)cmd);
        g.Set(ext.U64(MmuextRequest.Layout.Arg1), arg1);
        g.Set(ext.U64(MmuextRequest.Layout.Arg2), arg2 ?? Val.Const(0));
        return g.Hypercall(Hypercall.MmuextOp, ext.Ptr, 1, 0, foreignDom ?? Val.Const(DomId.Self));
    }

    /// <summary>update_va_mapping(va, pte, flags).</summary>
    public Val Uvm(Val va, Val pte, Val flags) => g.Hypercall(Hypercall.UpdateVaMapping, va, pte, flags);

    /// <summary>Maps the page at <paramref name="va"/> onto its own frame again with <paramref name="flags"/> (UVMF_INVLPG).</summary>
    public Val Remap(Val va, long flags) => Uvm(va, Pte(va, flags), UvmfInvlpg);
}
