namespace Xtf.Sim.Builder;

// CPUID as an HVM (PVH dom0) vCPU sees it: Xen's HVM policy (cpuid is always intercepted). Measured with
// XTF's cpuid test on Debian Xen 4.17.7 under QEMU TCG, 512 MiB, 1 vCPU (2026-12-06). The TSC-derived
// values of leaf 0x40000003 change from boot to boot (calibration): they are configuration, the ones of
// that boot are kept.
public sealed partial record MachineProfile
{
    /// <summary>(leaf, subleaf or uint.MaxValue when the leaf has none) → eax, ebx, ecx, edx.</summary>
    private static readonly SortedDictionary<(uint, uint), (uint, uint, uint, uint)> HvmCpuidTable = new()
    {
        [(0x0, ~0u)] = (0x0000000d, 0x68747541, 0x444d4163, 0x69746e65),
        [(0x1, ~0u)] = (0x00000663, 0x00000800, 0xf6f83203, 0x0fcbfbfd),
        [(0x7, 0)] = (0x00000001, 0x219c03a9, 0x0040020c, 0x00000010),
        [(0x7, 1)] = (0x00001c00, 0, 0, 0),
        [(0xd, 0)] = (0x00000207, 0x00000240, 0x00000a88, 0),
        [(0xd, 1)] = (0x00000005, 0, 0, 0),
        [(0xd, 2)] = (0x00000100, 0x00000240, 0, 0),
        [(0xd, 9)] = (0x00000008, 0x00000a80, 0, 0),
        [(0x40000000, ~0u)] = (0x40000005, 0x566e6558, 0x65584d4d, 0x4d4d566e),
        [(0x40000001, ~0u)] = (0x00040011, 0, 0, 0),
        [(0x40000002, ~0u)] = (0x00000001, 0x40000000, 0, 0),
        [(0x40000003, 0)] = (0x00000005, 0, 0x001ffb9d, 0x00000001),
        [(0x40000003, 1)] = (0, 0, 0xf4457c66, 0xffffffff),
        [(0x40000003, 2)] = (0x001ffb9d, 0, 0, 0),
        [(0x40000004, 0)] = (0x0000005c, 0, 0, 0),
        [(0x80000000, ~0u)] = (0x8000000a, 0x68747541, 0x444d4163, 0x69746e65),
        [(0x80000001, ~0u)] = (0x00000663, 0, 0x00000173, 0xedd3fbfd),
        [(0x80000002, ~0u)] = (0x554d4551, 0x47435420, 0x55504320, 0x72657620),
        [(0x80000003, ~0u)] = (0x6e6f6973, 0x352e3220, 0x0000002b, 0),
        [(0x80000005, ~0u)] = (0x01ff01ff, 0x01ff01ff, 0x40020140, 0x40020140),
        [(0x80000006, ~0u)] = (0, 0x42004200, 0x02008140, 0x00808140),
        [(0x80000008, ~0u)] = (0x00003028, 0x00100004, 0, 0),
    };

    /// <summary>
    /// A measured fact of the modelled CPU (QEMU TCG): into (0xCE) executes in 64-bit mode, raising #OF when OF
    /// is set, where hardware raises #UD (XTF's swint-emulation on real Xen, 2026-12-06).
    /// </summary>
    public bool IntoIn64BitMode { get; init; } = true;

    /// <summary>
    /// Measured under QEMU TCG (nested SVM with HAP, 2026-12-06): a 64-bit PVH dom0's mov from CR2 in its #PF
    /// handler reads 0, not the faulting address.
    /// </summary>
    public bool HvmCr2ReadsZero { get; init; } = true;

    /// <summary>
    /// Measured likewise: the CPU gives Xen no SVM decode assists, so a mov from CR8 in long mode goes to
    /// hvm_emulate_one_insn, fails ("CR access emulation failed (1)") and is #GP(0); mov to CR8 is accepted.
    /// </summary>
    public bool HvmCr8ReadFaults { get; init; } = true;

    /// <summary>Leaves whose subleaf selects the values.</summary>
    private static bool HasSubleaves(uint leaf) => leaf is 0x4 or 0x7 or 0xb or 0xd or 0x40000003 or 0x40000004;

    /// <summary>guest_cpuid for the PVH dom0's vCPU <paramref name="vcpu"/>: the measured policy, zeros elsewhere.</summary>
    public (uint Eax, uint Ebx, uint Ecx, uint Edx) HvmCpuid(uint leaf, uint subleaf, int vcpu)
    {
        var key = (leaf, HasSubleaves(leaf) ? subleaf : ~0u);
        if (!HvmCpuidTable.TryGetValue(key, out var r)) return (0, 0, 0, 0);
        if (leaf == 1) r.Item2 = (r.Item2 & 0x00FF_FFFF) | ((uint)(2 * vcpu) << 24);   // initial APIC id
        if (leaf == 0x40000004 && subleaf == 0) r.Item2 = (uint)vcpu;
        return r;
    }
}
