using Xtf.Abi;
using Xtf.Sim.Cpu;

namespace Xtf.Sim.Xen;

/// <summary>
/// A PV vCPU's debug registers (xen/arch/x86/pv/misc-hypercalls.c set_debugreg, do_get_debugreg;
/// x86_emulate's read_dr for PV; docs/pv-abi.md §16.2): the values live in the vCPU's
/// <see cref="CpuState"/>, where the interpreter finds the armed breakpoints.
/// </summary>
public sealed class DebugRegisters
{
    public const ulong Cr4De = 1UL << 3;
    /// <summary>DR6 bits that always read as 1 (X86_DR6_DEFAULT) and the reserved-zero bit 12.</summary>
    public const ulong Dr6Default = 0xFFFF_0FF0, Dr6Zeros = 0x1000, Dr6Rtm = 1UL << 16, Dr6Bld = 1UL << 11;
    /// <summary>DR7: reserved-zero bits 12, 14, 15; RTM (bit 11); GD (bit 13); the reserved-one bit 10.</summary>
    public const ulong Dr7Zeros = 0xD000, Dr7Rtm = 1UL << 11, Dr7GeneralDetect = 1UL << 13, Dr7Default = 0x400, Dr7ActiveMask = 0xFF;

    private readonly GuestCpuid cpuid;

    public DebugRegisters(GuestCpuid cpuid) => this.cpuid = cpuid;

    private bool PolicyRtm => (cpuid.Leaf(7, 0).Ebx & (1u << 11)) != 0;
    private bool PolicyBld => (cpuid.Leaf(7, 0).Ecx & (1u << 24)) != 0;

    /// <summary>x86_adj_dr6_rsvd: reserved bits forced to their fixed values for the domain's policy.</summary>
    public ulong AdjustDr6(ulong dr6)
    {
        ulong ones = Dr6Default;
        if (PolicyRtm) ones &= ~Dr6Rtm;
        if (PolicyBld) ones &= ~Dr6Bld;
        return (dr6 | ones) & ~Dr6Zeros;
    }

    /// <summary>x86_adj_dr7_rsvd.</summary>
    public ulong AdjustDr7(ulong dr7)
    {
        ulong zeros = Dr7Zeros | (PolicyRtm ? 0 : Dr7Rtm);
        return (dr7 & ~zeros) | Dr7Default;
    }

    /// <summary>
    /// set_debugreg (pv/misc-hypercalls.c): 0 or -ENODEV (the emulator's #UD), -EINVAL (#GP, bad bit),
    /// -EPERM (#GP, not permitted). DR0-3 must be canonical addresses outside Xen's range; DR4/DR5
    /// alias DR6/DR7 unless CR4.DE; DR6/DR7 take 32 bits; DR7.GD and I/O breakpoints without CR4.DE
    /// are refused; I/O breakpoint enables are kept aside (dr7_emul).
    /// </summary>
    public long Set(Vcpu v, int reg, ulong value)
    {
        var c = v.Cpu;
        switch (reg)
        {
            case >= 0 and <= 3:
                if (!BreakpointAddressOk(value)) return -Errno.EPERM;
                c.SetDr(reg, value);
                return 0;
            case 4 or 6:
                if (reg == 4 && (v.GuestCr4 & Cr4De) != 0) return -Errno.ENODEV;
                if (value != (uint)value) return -Errno.EINVAL;
                c.Dr6 = AdjustDr6(value);
                return 0;
            case 5 or 7:
                if (reg == 5 && (v.GuestCr4 & Cr4De) != 0) return -Errno.ENODEV;
                if (value != (uint)value) return -Errno.EINVAL;
                value = AdjustDr7(value);
                if ((value & Dr7GeneralDetect) != 0) return -Errno.EPERM;
                if ((value & Dr7ActiveMask) != 0)
                {
                    ulong ioEnable = 0;
                    for (int i = 16, n = 0; i < 32; i += 4, n++)
                    {
                        if (((value >> i) & 3) != 2) continue;   // DR_IO
                        if ((v.GuestCr4 & Cr4De) == 0) return -Errno.EPERM;
                        ioEnable |= value & (3UL << (2 * n));
                    }
                    v.Dr7Emul = ioEnable;
                    value &= ~ioEnable;
                }
                else v.Dr7Emul = 0;
                c.Dr7 = value;
                return 0;
            default:
                return -Errno.ENODEV;
        }
    }

    /// <summary>
    /// x86emul_read_dr for a PV vCPU: false for a register that is #UD (DR4/DR5 with CR4.DE, DR8 and up).
    /// DR7 reads with the emulated I/O enables merged back.
    /// </summary>
    public bool TryRead(Vcpu v, int reg, out ulong value)
    {
        var c = v.Cpu;
        value = 0;
        switch (reg)
        {
            case >= 0 and <= 3: value = c.Dr(reg); return true;
            case 4 or 6:
                if (reg == 4 && (v.GuestCr4 & Cr4De) != 0) return false;
                value = c.Dr6;
                return true;
            case 5 or 7:
                if (reg == 5 && (v.GuestCr4 & Cr4De) != 0) return false;
                value = c.Dr7 | v.Dr7Emul;
                return true;
            default:
                return false;
        }
    }

    /// <summary>do_set_debugreg (hypercall 8).</summary>
    public long SetDebugreg(Vcpu v, int reg, ulong value) => Set(v, reg, value);

    /// <summary>do_get_debugreg (hypercall 9): the value, or -ENODEV.</summary>
    public long GetDebugreg(Vcpu v, int reg) => TryRead(v, reg, out ulong value) ? unchecked((long)value) : -Errno.ENODEV;

    /// <summary>
    /// breakpoint_addr_ok: a canonical address outside the range Xen reserves for itself
    /// (HYPERVISOR_VIRT_START to HYPERVISOR_VIRT_END).
    /// </summary>
    public static bool BreakpointAddressOk(ulong address) =>
        GuestMemory.IsCanonical(address) && !(address >= Hypervisor.HypervisorVirtStart && address < Hypervisor.HypervisorVirtEnd);

    /// <summary>
    /// do_debug (xen/arch/x86/traps.c) for a #DB raised in guest context: the status bits the CPU
    /// produced (B0-B3, BD, BS, BT: positive polarity) are or'd into the guest's DR6, which keeps
    /// earlier sticky bits, before the #DB is injected.
    /// </summary>
    public void MergeDr6(Vcpu v, ulong hardwareStatus)
    {
        var c = v.Cpu;
        c.Dr6 = AdjustDr6(c.Dr6 | (hardwareStatus & 0xE00F));
    }
}
