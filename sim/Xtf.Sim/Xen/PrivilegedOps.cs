using Iced.Intel;
using Xtf.Sim.Cpu;

namespace Xtf.Sim.Xen;

/// <summary>
/// Privileged-instruction emulation for a 64-bit PV guest kernel (xen/arch/x86/pv/emul-priv-op.c):
/// what Xen emulates when the guest's ring-3 kernel executes an instruction only ring 0 may.
/// </summary>
public sealed class PrivilegedOps
{
    private readonly X86Interpreter cpu;
    private readonly VcpuInfoArea vcpuInfo;
    private readonly SimTrace trace;

    public PrivilegedOps(X86Interpreter interpreter, VcpuInfoArea vcpuInfo, SimTrace trace)
    {
        cpu = interpreter;
        this.vcpuInfo = vcpuInfo;
        this.trace = trace;
    }

    /// <summary>
    /// CR0 as a 64-bit PV guest reads it: the host's CR0 without TS (PE MP ET NE WP AM PG), with
    /// the guest's own virtual TS or'd in. Measured on Xen 4.17.7 under QEMU -cpu max: 0x80050033.
    /// </summary>
    public const ulong GuestCr0 = 0x8005_0033;

    /// <summary>CR0.TS: the one bit of CR0 a PV guest owns (fpu_taskswitch).</summary>
    public const ulong Cr0Ts = 1UL << 3;

    /// <summary>
    /// CR4 as Xen shows it to a 64-bit PV guest (pv_make_cr4's guest view): PAE, MCE, OSFXSR,
    /// OSXMMEXCPT. Measured on Xen 4.17.7 under QEMU -cpu max: 0x660.
    /// </summary>
    public const ulong GuestCr4 = 0x660;

    /// <summary>
    /// pv_emulate_privileged_op (xen/arch/x86/pv/emul-priv-op.c), entered from
    /// do_general_protection (xen/arch/x86/traps.c) for a #GP with error code 0. Emulated here:
    /// mov from CR0/CR2/CR3/CR4 and mov to CR2, in guest kernel mode. Anything else returns
    /// false and the caller injects the #GP, as Xen does for what it cannot emulate.
    /// </summary>
    public bool Emulate(Vcpu v)
    {
        var c = v.Cpu;
        // Fetch and decode with the guest's execute permission; an unfetchable or other
        // instruction is not emulated and the #GP is delivered.
        if (!cpu.TryDecodeAt(c, c.Rip, out var ins)) return false;
        if (ins.Code is not (Code.Mov_r64_cr or Code.Mov_cr_r64)) return false;

        // x86_emulate: mov to/from a control register needs ring 0; a 64-bit PV guest kernel
        // (ring 3 in hardware) is shown as ring 0. The model runs dom0 in guest kernel mode only.
        if (ins.Code == Code.Mov_r64_cr)
        {
            int cr = ins.Op1Register - Register.CR0;
            ulong value;
            switch (cr)   // read_cr
            {
                case 0: value = GuestCr0 | (v.VirtualTs ? Cr0Ts : 0); break;
                case 2: value = v.GuestCr2; break;
                case 3: value = c.Cr3 & ~0xFFFUL; break;        // the L4's machine frame (gmfn = mfn for PV)
                case 4: value = GuestCr4; break;
                default: return false;                           // X86EMUL_UNHANDLEABLE: #GP
            }
            c[(Reg)(ins.Op0Register - Register.RAX)] = value;
        }
        else
        {
            int cr = ins.Op0Register - Register.CR0;
            ulong value = c[(Reg)(ins.Op1Register - Register.RAX)];
            switch (cr)   // write_cr
            {
                case 2:
                    v.GuestCr2 = value;
                    vcpuInfo.SetCr2(v, value);
                    break;
                default: return false;                           // not modelled: the #GP is delivered
            }
        }
        trace.Exception(v.Id, 13, 0, c.Rip, "emulated " + ins.Code);
        c.Rip = ins.NextIP;
        return true;
    }
}
