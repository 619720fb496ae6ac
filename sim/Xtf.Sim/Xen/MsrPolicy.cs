using Xtf.Sim.Builder;

namespace Xtf.Sim.Xen;

/// <summary>
/// rdmsr and wrmsr as Xen 4.17 emulates them for a 64-bit PV dom0 in guest kernel mode
/// (xen/arch/x86/msr.c guest_rdmsr/guest_wrmsr, then read_msr/write_msr of
/// xen/arch/x86/pv/emul-priv-op.c, then vmce; docs/pv-abi.md §16.4). Which indices read and their
/// constant values are measured (<see cref="MachineProfile.MsrValue"/>); the vCPU-state ones are
/// computed here. False means #GP(0).
/// </summary>
public sealed class MsrPolicy
{
    private readonly MachineProfile profile;
    private readonly VirtualClock clock;

    public MsrPolicy(MachineProfile profile, VirtualClock clock)
    {
        this.profile = profile;
        this.clock = clock;
    }

    /// <summary>read_msr: the value, or false for #GP(0).</summary>
    public bool TryRead(Vcpu v, uint index, out ulong value)
    {
        value = 0;
        if (profile.MsrValue(index) is not { } constant) return false;
        var c = v.Cpu;
        value = index switch
        {
            MachineProfile.MsrTsc => clock.Tsc,                       // rdtsc (no vtsc for dom0)
            MachineProfile.MsrFsBase => c.FsBase,
            MachineProfile.MsrGsBase => c.GsBase,                     // the active (kernel) GS base
            MachineProfile.MsrShadowGsBase => v.ShadowGsBase,         // gs_base_user while in kernel mode
            _ => v.StoredMsrs.TryGetValue(index, out ulong stored) ? stored : constant,   // MCG_STATUS, TSC_AUX once written
        };
        return true;
    }

    /// <summary>
    /// write_msr: true when Xen accepts the write. FS/GS/shadow-GS bases take a canonical value; the
    /// other readable MSRs follow the measured rule (<see cref="MachineProfile.MsrWriteRule"/>);
    /// everything else is #GP(0).
    /// </summary>
    public bool TryWrite(Vcpu v, uint index, ulong value)
    {
        var c = v.Cpu;
        switch (index)
        {
            case MachineProfile.MsrFsBase:
                if (!GuestMemory.IsCanonical(value)) return false;
                c.FsBase = value;
                return true;
            case MachineProfile.MsrGsBase:
                if (!GuestMemory.IsCanonical(value)) return false;
                c.GsBase = value;
                return true;
            case MachineProfile.MsrShadowGsBase:
                if (!GuestMemory.IsCanonical(value)) return false;
                v.ShadowGsBase = value;
                return true;
        }
        switch (profile.MsrWriteRule(index))
        {
            case MachineProfile.MsrWrite.SameOnly:
                return TryRead(v, index, out ulong current) && current == value;
            case MachineProfile.MsrWrite.Ignored:
                return true;
            case MachineProfile.MsrWrite.Stored:
                v.StoredMsrs[index] = value;
                if (index == MachineProfile.MsrTscAux) c.TscAux = (uint)value;
                return true;
            default:
                return false;
        }
    }
}
