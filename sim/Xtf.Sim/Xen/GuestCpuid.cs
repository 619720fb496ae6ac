using Xtf.Sim.Builder;

namespace Xtf.Sim.Xen;

/// <summary>
/// CPUID as Xen computes it for a PV guest from the domain's policy (xen/arch/x86/cpuid.c
/// guest_cpuid, xen/arch/x86/traps.c cpuid_hypervisor_leaves): the policy's basic and extended
/// leaves (measured, <see cref="MachineProfile.XenPolicyLeaf"/>), zeros outside their ranges, and
/// Xen's own leaves at 0x40000000 (docs/pv-abi.md §12). The dynamic adjustments Xen makes for a PV
/// dom0 in kernel mode through the #UD path (OSXSAVE, MTRR; APIC id cleared in leaf 1) are part
/// of the measured values; the model runs dom0 in kernel mode only and never changes CR4 or XCR0.
/// </summary>
public sealed class GuestCpuid
{
    /// <summary>Xen's hypervisor leaves start here (0x40000100 only for a Viridian HVM domain).</summary>
    public const uint HypervisorBase = 0x4000_0000;

    /// <summary>XEN_CPUID_MAX_NUM_LEAVES: the default limit when the toolstack sets none (dom0).</summary>
    public const uint HypervisorLeaves = 5;

    /// <summary>XEN_CPUID_FEAT1_MMU_PT_UPDATE_PRESERVE_AD, set for every PV domain.</summary>
    public const uint Feat1MmuPtUpdatePreserveAd = 1;

    /// <summary>"XenVMMXenVMM" in EBX, ECX, EDX.</summary>
    public const uint SignatureEbx = 0x566e_6558, SignatureEcx = 0x6558_4d4d, SignatureEdx = 0x4d4d_566e;

    private readonly MachineProfile profile;

    public GuestCpuid(MachineProfile profile) => this.profile = profile;

    /// <summary>guest_cpuid (xen/arch/x86/cpuid.c): the first pass's range checks, then the leaf.</summary>
    public (uint Eax, uint Ebx, uint Ecx, uint Edx) Leaf(uint leaf, uint subleaf)
    {
        switch (leaf)
        {
            case < HypervisorBase:
                if (leaf > profile.XenPolicyLeaf(0, 0).Eax) return default;            // beyond basic.max_leaf: zeros (AMD model)
                return profile.XenPolicyLeaf(leaf, subleaf);                            // 4, 7, 0xb, 0xd by subleaf; missing subleaves are zeros
            case <= HypervisorBase + 0x1ff:
                return HypervisorLeaf(leaf, subleaf);                                   // no Viridian for PV: both ranges go here
            case >= 0x8000_0000 and < 0x8001_0000:
                if ((leaf & 0xffff) > (profile.XenPolicyLeaf(0x8000_0000, 0).Eax & 0xffff)) return default;
                return profile.XenPolicyLeaf(leaf, subleaf);
            default:
                return default;
        }
    }

    /// <summary>cpuid_hypervisor_leaves (xen/arch/x86/traps.c) for a PV domain with the default limit.</summary>
    private (uint, uint, uint, uint) HypervisorLeaf(uint leaf, uint subleaf)
    {
        uint idx = leaf - HypervisorBase;
        if (idx > HypervisorLeaves) return default;
        switch (idx)
        {
            case 0: return (HypervisorBase + HypervisorLeaves, SignatureEbx, SignatureEcx, SignatureEdx);
            case 1: return ((uint)XenIdentity.Major << 16 | (uint)XenIdentity.Minor, 0, 0, 0);
            case 2: return (1, HypervisorBase, Feat1MmuPtUpdatePreserveAd, 0);      // one hypercall page, MSR base, features
            case 3:                                                                  // time leaf
                return subleaf switch
                {
                    0 => (profile.XenTscLeafFeatures, 0, 0, 0),                       // tsc_mode 0, tsc_khz 0, incarnation 0 (measured)
                    2 => (profile.XenCpuKhz, 0, 0, 0),
                    _ => default,                                                     // subleaf 1: no offset, no scale for dom0 (measured)
                };
            case 5:                                                                  // PV-specific parameters
                return subleaf == 0 ? (0u, (uint)(64 - ulong.LeadingZeroCount(profile.UpperMfnBound)) + 12, 0u, 0u) : default;
            default:
                return default;                                                      // 4: HVM only
        }
    }
}
