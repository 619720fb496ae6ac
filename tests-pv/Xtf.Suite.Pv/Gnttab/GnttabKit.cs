using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Gnttab;

/// <summary>Shared helpers of the grant-table tests (docs/pv-abi.md §13).</summary>
internal static class GnttabKit
{
    /// <summary>grant_table_op(cmd, uop, count).</summary>
    public static Val Op(GuestProgram g, GnttabOp op, Val uop, Val count) => g.Hypercall(Hypercall.GrantTableOp, (int)op, uop, count);

    /// <summary>A GNTST_* value as the 16-bit status field reads back (unsigned).</summary>
    public static long St(GnttabStatus s) => (ushort)(short)s;

    /// <summary>The MFN behind a kernel virtual address (VA = pseudo-physical address; start_info.mfn_list).</summary>
    public static Val Mfn(GuestProgram g, Val va) => Val.At(Val.At(g.StartInfo, StartInfo.Layout.MfnList) + ((va >> 12) << 3));

    /// <summary>update_va_mapping(va, pte, UVMF_INVLPG).</summary>
    public static Val MapVa(GuestProgram g, Val va, Val pte) => g.Hypercall(Hypercall.UpdateVaMapping, va, pte, (long)GuestProgram.UvmfInvlpg);
}
