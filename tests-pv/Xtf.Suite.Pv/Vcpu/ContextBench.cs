using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Vcpu;

/// <summary>
/// A valid vcpu_guest_context for one vCPU plus a pristine copy, so a test can break one field
/// at a time: <see cref="Try"/> restores the copy, applies the change and calls VCPUOP_initialise.
/// </summary>
public sealed class ContextBench
{
    private readonly GuestProgram g;
    private readonly GuestBuffer saved;

    public ContextBench(GuestProgram g, int vcpu, Routine entry)
    {
        this.g = g;
        Vcpu = vcpu;
        Context = g.VcpuContext(vcpu, entry);
        saved = g.Alloc(VcpuGuestContext.Layout.Size, 16, $"vcpu{vcpu}_context_copy");
        g.MemCopy(saved.Ptr, Context.Ptr, VcpuGuestContext.Layout.Size);
    }

    public int Vcpu { get; }
    public GuestBuffer Context { get; }

    /// <summary>A 64-bit field of the context.</summary>
    public Val U64(int offset) => Context.U64(offset);

    /// <summary>A 64-bit field of user_regs.</summary>
    public Val Reg(int offset) => Context.U64(VcpuGuestContext.Layout.UserRegs + offset);

    /// <summary>ctrlreg[n].</summary>
    public Val Cr(int n) => Context.U64(VcpuGuestContext.Layout.Ctrlreg + 8 * n);

    /// <summary>trap_ctxt[vector].address.</summary>
    public Val TrapAddress(int vector) => Context.U64(VcpuGuestContext.Layout.TrapCtxt + vector * TrapInfo.Layout.Size + TrapInfo.Layout.Address);

    /// <summary>Restores the valid context, applies <paramref name="change"/>, returns VCPUOP_initialise's result.</summary>
    public Val Try(Action change)
    {
        g.MemCopy(Context.Ptr, saved.Ptr, VcpuGuestContext.Layout.Size);
        change();
        return g.VcpuOp(VcpuOp.Initialise, Vcpu, Context.Ptr);
    }

    /// <summary>Checks that breaking the context with <paramref name="change"/> gives <paramref name="expected"/>.</summary>
    public void Expect(string what, Action change, int expected = -Errno.EINVAL) =>
        g.ExpectEq(Try(change), expected, what);

    /// <summary>
    /// The machine frame behind guest virtual address <paramref name="va"/> of the initial
    /// mapping (dom0's pfn = va / 4 KiB; mfn = mfn_list[pfn]).
    /// </summary>
    public static Val MfnOf(GuestProgram g, Val va)
    {
        var mfnList = Val.At(g.StartInfo, StartInfo.Layout.MfnList);
        return Val.At(mfnList + ((va >> 12) << 3));
    }
}
