namespace Xtf.Sim.Builder;

// The MSRs a PVH dom0 vCPU can read and their values at boot (hvm_msr_read_intercept / guest_rdmsr;
// measured with XTF's msr test on Debian Xen 4.17.7 under QEMU TCG, 2026-12-06). Anything else is #GP.
// EFER, the TSC, the segment bases and the syscall MSRs are the vCPU's own state, not listed here.
public sealed partial record MachineProfile
{
    /// <summary>Readable MSR ranges [first, last] whose value is 0 unless <see cref="HvmMsrValues"/> says otherwise.</summary>
    private static readonly (uint First, uint Last)[] HvmMsrRanges =
    [
        (0x00, 0x01), (0x1b, 0x1b), (0x2c, 0x2c), (0x3b, 0x3b), (0x8b, 0x8b), (0xce, 0xce), (0xfe, 0xfe),
        (0x140, 0x140), (0x174, 0x176), (0x179, 0x17b), (0x1d9, 0x1d9), (0x1db, 0x1de), (0x200, 0x20f),
        (0x250, 0x250), (0x258, 0x259), (0x268, 0x26f), (0x277, 0x277), (0x280, 0x29f), (0x2ff, 0x2ff),
        (0x400, 0x47f), (0x6e0, 0x6e0), (0x4000_0000, 0x4000_0000),
        (0xc000_0081, 0xc000_0084), (0xc000_0100, 0xc000_0104), (0xc000_0408, 0xc000_040a),
        (0xc001_0114, 0xc001_0114), (0xc001_0117, 0xc001_0117),   // svm_msr_read_intercept: VM_CR, VM_HSAVE_PA read 0
    ];

    private static readonly SortedDictionary<uint, ulong> HvmMsrValues = new()
    {
        [0x1b] = 0xfee00900,
        [0x8b] = 0x01000065,
        [0xce] = 0x80000000,
        [0xfe] = 0x508,
        [0x179] = 0x2,
        [0x200] = 0x80000000,
        [0x201] = 0xff80000800,
        [0x250] = 0x0606060606060606,
        [0x258] = 0x0606060606060606,
        [0x268] = 0x0505050505050505, [0x269] = 0x0505050505050505, [0x26a] = 0x0505050505050505, [0x26b] = 0x0505050505050505,
        [0x26c] = 0x0505050505050505, [0x26d] = 0x0505050505050505, [0x26e] = 0x0505050505050505, [0x26f] = 0x0505050505050505,
        [0x277] = 0x0000050100070406,   // measured: the guest PAT reads Xen's own layout under QEMU TCG
        [0x2ff] = 0xc06,
        [0x400] = ulong.MaxValue,
        [0x404] = ulong.MaxValue,
        [0xc000_0408] = 0x2000000000000000, [0xc000_0409] = 0x2000000000000000, [0xc000_040a] = 0x2000000000000000,
    };

    /// <summary>The boot value of an MSR a PVH dom0 may read; false: rdmsr is #GP.</summary>
    public bool HvmMsr(uint msr, out ulong value)
    {
        value = 0;
        foreach (var (first, last) in HvmMsrRanges)
        {
            if (msr < first || msr > last) continue;
            HvmMsrValues.TryGetValue(msr, out value);
            return true;
        }
        return false;
    }
}
