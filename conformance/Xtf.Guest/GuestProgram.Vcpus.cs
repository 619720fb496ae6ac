using Xtf.Abi;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Guest;

// Secondary vCPUs. A test declares an entry routine, then StartVcpu builds a vcpu_guest_context
// for it in guest memory and brings the vCPU up. Only one vCPU should print at a time: the
// console line buffer is shared.
public sealed partial class GuestProgram
{
    /// <summary>
    /// A vcpu_guest_context for vCPU <paramref name="vcpu"/> that starts at <paramref name="entry"/>
    /// in kernel mode on its own stack, with this kernel's trap handlers and page tables, and rdi =
    /// the vCPU id. Returns the context buffer so a test can change fields before VCPUOP_initialise.
    /// </summary>
    public GuestBuffer VcpuContext(int vcpu, Routine entry, int stackPages = 1)
    {
        var stack = Page($"vcpu{vcpu}_stack", stackPages);
        var ctx = Alloc(VcpuGuestContext.Layout.Size, 16, $"vcpu{vcpu}_context");
        int regs = VcpuGuestContext.Layout.UserRegs;
        Set(ctx.U64(VcpuGuestContext.Layout.Flags), (long)VgcfFlags.InKernel);
        Set(ctx.U64(regs + CpuUserRegs.Layout.Rip), AddressOf(entry));
        Set(ctx.U64(regs + CpuUserRegs.Layout.Rsp), (long)(stack.Address + (ulong)stack.Size));
        Set(ctx.U64(regs + CpuUserRegs.Layout.Rdi), vcpu);
        Set(ctx.U16(regs + CpuUserRegs.Layout.Cs), PvLayout.FlatKernelCs);
        Set(ctx.U16(regs + CpuUserRegs.Layout.Ss), PvLayout.FlatKernelSs);
        Set(ctx.U64(regs + CpuUserRegs.Layout.Rflags), 0x200);
        Set(ctx.U64(VcpuGuestContext.Layout.KernelSs), PvLayout.FlatKernelSs);
        Set(ctx.U64(VcpuGuestContext.Layout.KernelSp), (long)(stack.Address + (ulong)stack.Size));
        Set(ctx.U64(VcpuGuestContext.Layout.Ctrlreg + 8 * 3), CurrentCr3());
        MemCopy(ctx.Addr(VcpuGuestContext.Layout.TrapCtxt), (long)Runtime.TrapTable, 32 * TrapInfo.Layout.Size);
        return ctx;
    }

    /// <summary>
    /// Brings vCPU <paramref name="vcpu"/> up at <paramref name="entry"/>: VCPUOP_initialise with
    /// <see cref="VcpuContext"/>, then VCPUOP_up. Both return codes are checked (a failure is a
    /// test failure); returns VCPUOP_up's result.
    /// </summary>
    public Val StartVcpu(int vcpu, Routine entry, int stackPages = 1)
    {
        var ctx = VcpuContext(vcpu, entry, stackPages);
        ExpectEq(VcpuOp(Abi.VcpuOp.Initialise, vcpu, ctx.Ptr), 0, $"VCPUOP_initialise({vcpu})");
        var up = VcpuOp(Abi.VcpuOp.Up, vcpu, 0);
        ExpectEq(up, 0, $"VCPUOP_up({vcpu})");
        return up;
    }

    /// <summary>
    /// CR3 as Xen wants it in a context: the machine address of the L4 at start_info.pt_base,
    /// found through the p2m list (mfn_list[pt_base / 4 KiB]; dom0's VIRT_BASE is 0).
    /// </summary>
    public Val CurrentCr3()
    {
        var ptBase = Val.At(StartInfo, Abi.StartInfo.Layout.PtBase);
        var mfnList = Val.At(StartInfo, Abi.StartInfo.Layout.MfnList);
        return Val.At(mfnList + ((ptBase >> 12) << 3)) << 12;
    }

    /// <summary>Takes the calling vCPU down (VCPUOP_down on itself); it never comes back by itself.</summary>
    public void DownSelf(Val vcpuId) => VcpuOp(Abi.VcpuOp.Down, vcpuId, 0);

    /// <summary>Atomically adds <paramref name="delta"/> to a 64-bit guest variable (lock xadd).</summary>
    public void AtomicAdd(Val variable, long delta)
    {
        if (variable.Kind != ValKind.Memory || !FitsDisp32(variable.Address)) throw new ArgumentException("AtomicAdd needs a variable at a fixed address");
        MovImm(rax, delta);
        a.@lock.xadd(__qword_ptr[Abs(variable.Address)], rax);
    }

    /// <summary>
    /// Spins (with pause) until <paramref name="condition"/> holds, emitting the condition's code
    /// in every pass (so a hypercall inside it is made each time); at most <paramref name="maxSpins"/>
    /// passes. Returns 1 if it held.
    /// </summary>
    public Val WaitUntil(Func<Cond> condition, long maxSpins = 100_000_000)
    {
        var n = Var("wait_spins");
        var ok = Var("wait_ok");
        Set(n, 0);
        Set(ok, 0);
        While(n < maxSpins, () =>
        {
            If(condition(), () => { Set(ok, 1); Break(); });
            a.pause();
            Set(n, n + 1);
        });
        return ok;
    }

    /// <summary>
    /// Spins (with pause) until <paramref name="condition"/> holds (re-read from memory each pass),
    /// at most <paramref name="maxSpins"/> times; returns 1 if it held. A hypercall inside the
    /// condition would run only once: use the <see cref="WaitUntil(Func{Cond}, long)"/> form.
    /// </summary>
    public Val WaitUntil(Cond condition, long maxSpins = 100_000_000)
    {
        var n = Var("wait_spins");
        var ok = Var("wait_ok");
        Set(n, 0);
        Set(ok, 0);
        While(n < maxSpins, () =>
        {
            If(condition, () => { Set(ok, 1); Break(); });
            a.pause();
            Set(n, n + 1);
        });
        return ok;
    }
}
