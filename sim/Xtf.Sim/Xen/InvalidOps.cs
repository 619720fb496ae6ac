using Xtf.Sim.Cpu;

namespace Xtf.Sim.Xen;

/// <summary>
/// Forced emulation for a PV guest's #UD (xen/arch/x86/pv/emul-inv-op.c): the bytes
/// <c>0f 0b 78 65 6e</c> (<c>ud2; .ascii "xen"</c>) followed by <c>cpuid</c> make Xen answer the
/// CPUID from the domain's policy instead of delivering the #UD (docs/pv-abi.md §12).
/// </summary>
public sealed class InvalidOps
{
    /// <summary>The forced-emulation signature: ud2, then "xen".</summary>
    public static ReadOnlySpan<byte> Signature => [0x0f, 0x0b, 0x78, 0x65, 0x6e];

    /// <summary>The one instruction Xen emulates after it: cpuid.</summary>
    public static ReadOnlySpan<byte> CpuidOpcode => [0x0f, 0xa2];

    private readonly GuestMemory guest;
    private readonly GuestCpuid cpuid;
    private readonly SimTrace trace;

    public InvalidOps(GuestMemory guest, GuestCpuid cpuid, SimTrace trace)
    {
        this.guest = guest;
        this.cpuid = cpuid;
        this.trace = trace;
    }

    /// <summary>
    /// pv_emulate_invalid_op / emulate_forced_invalid_op (xen/arch/x86/pv/emul-inv-op.c), entered
    /// from do_invalid_op (xen/arch/x86/traps.c). False: not forced emulation of cpuid, and the
    /// caller delivers the #UD. True: handled; <paramref name="inject"/> is then an exception Xen
    /// injects instead (a #PF when the prefix or the opcode cannot be read, a #DB when TF is set
    /// after the emulated cpuid), or null.
    /// </summary>
    public bool Emulate(Vcpu v, out VmExit? inject)
    {
        inject = null;
        var c = v.Cpu;
        ulong eip = c.Rip;

        // The signature, read as copy_from_guest_pv does: a byte that cannot be read is a #PF
        // (error code 0) at that byte, with rip left at the ud2.
        Span<byte> sig = stackalloc byte[5];
        if (ReadGuest(v, eip, sig) is { } sigFault)
        {
            inject = PageFault(sigFault);
            return true;
        }
        if (!sig.SequenceEqual(Signature)) return false;
        eip += (ulong)sig.Length;

        // Only cpuid is emulated.
        Span<byte> instr = stackalloc byte[2];
        if (ReadGuest(v, eip, instr) is { } instrFault)
        {
            inject = PageFault(instrFault);
            return true;
        }
        if (!instr.SequenceEqual(CpuidOpcode)) return false;

        // CPUID faulting for the guest's own user mode (MSR_MISC_FEATURES_ENABLES) would turn this
        // into a #GP outside kernel mode; the model runs the guest kernel only and never enables it.
        eip += (ulong)instr.Length;

        var (a, b, cc, d) = cpuid.Leaf((uint)c[Reg.Rax], (uint)c[Reg.Rcx]);
        c[Reg.Rax] = a;
        c[Reg.Rbx] = b;
        c[Reg.Rcx] = cc;
        c[Reg.Rdx] = d;
        trace.Exception(v.Id, 6, null, c.Rip, "emulated forced cpuid");

        // pv_emul_instruction_done (xen/arch/x86/pv/emulate.c): rip past the instruction, RF
        // cleared, and a single-step trap when TF is set (DR6 is not modelled).
        c.Rip = eip;
        c.Rflags &= ~Traps.FlagRf;
        if ((c.Rflags & Traps.FlagTf) != 0)
            inject = new VmExit(ExitKind.Exception, 0, Vector: 1, Detail: "single step after forced cpuid");
        return true;
    }

    /// <summary>Reads guest bytes one at a time; returns the address of the first unreadable byte, or null.</summary>
    private ulong? ReadGuest(Vcpu v, ulong va, Span<byte> into)
    {
        for (int i = 0; i < into.Length; i++)
            if (!guest.CopyFromGuest(v, va + (ulong)i, into.Slice(i, 1))) return va + (ulong)i;
        return null;
    }

    private static VmExit PageFault(ulong address) =>
        new(ExitKind.Exception, 0, Vector: 14, ErrorCode: 0, HasErrorCode: true, Cr2: address, Detail: "forced-emulation prefix unreadable");
}
