namespace Xtf.Sim.Builder;

/// <summary>
/// CPUID of the measured machine (docs/pv-abi.md §12). Measured 2026-12-05 on Debian's Xen 4.17.7
/// under QEMU 10.0.2 TCG <c>-cpu max -m 512 -smp 1</c>, as dom0 in guest kernel mode, by a probe
/// kernel built with this project's guest framework: for every leaf 0–0xe (subleaves 0–3, 0xd:
/// 0–10), 0x40000000–0x40000006 (subleaves 0–2), 0x40000100–0x40000200 and 0x80000000–0x8000000b,
/// once through Xen's forced-emulation prefix (<c>ud2; .ascii "xen"; cpuid</c>) and once as a plain
/// <c>cpuid</c>. Plain <c>cpuid</c> never faulted and returned QEMU's own values (its hypervisor leaf
/// says "TCGTCGTCGTCG"): Xen has no CPUID faulting on this machine, so the instruction runs
/// natively. The values are facts of this one configuration, not derivations.
/// </summary>
public sealed partial record MachineProfile
{
    /// <summary>Whether Xen can make plain <c>cpuid</c> fault for a PV guest (measured: no, it runs natively).</summary>
    public bool CpuidFaulting => false;

    /// <summary>
    /// CPUID leaf 0x40000003 subleaf 0 EAX Xen reports (vtsc 0, TSC not "safe", RDTSCP present: 4), with
    /// tsc_mode, tsc_khz and incarnation all 0 for dom0 (measured).
    /// </summary>
    public uint XenTscLeafFeatures => 4;

    /// <summary>
    /// Xen's calibrated host TSC frequency in kHz (leaf 0x40000003 subleaf 2). Under TCG it changes from
    /// boot to boot (measured 0x1ffb9d and 0x1ffb9b = 2,096,029 and 2,096,027 kHz): a fixed value here.
    /// </summary>
    public uint XenCpuKhz => 0x1ffb9d;

    /// <summary>
    /// get_upper_mfn_bound (xen/arch/x86/mm.c): the highest machine frame (no memory hotplug). Leaf
    /// 0x40000005 EBX is its bit length + 12: measured 0x1d (29) at 512 MiB.
    /// </summary>
    public ulong UpperMfnBound => MachineFrames - 1;

    /// <summary>
    /// The domain's CPUID policy as Xen 4.17 gives dom0 through forced emulation (the #UD path in guest
    /// kernel mode), basic and extended leaves only (the hypervisor leaves are Xen's own, computed in
    /// <c>GuestCpuid</c>). Leaves absent here read as zeros. Leaf 1 ECX includes OSXSAVE and EDX MTRR:
    /// Xen's dom0 kernel-mode leaks, as measured.
    /// </summary>
    public (uint Eax, uint Ebx, uint Ecx, uint Edx) XenPolicyLeaf(uint leaf, uint subleaf) =>
        Find(XenPolicy, leaf, IsSubleafIndexed(leaf) ? subleaf : 0);

    /// <summary>
    /// Plain <c>cpuid</c> as QEMU's <c>-cpu max</c> answers it on pCPU 0 (no faulting, so Xen is not
    /// involved). A leaf above the basic, hypervisor (0x40000001) or extended (0x8000000a) maximum
    /// returns the highest basic leaf (0xd) with the same subleaf, as measured.
    /// </summary>
    public (uint Eax, uint Ebx, uint Ecx, uint Edx) NativeCpuid(uint leaf, uint subleaf)
    {
        bool inRange = leaf switch
        {
            <= NativeMaxBasic => true,
            >= 0x4000_0000 and <= 0x4000_0001 => true,
            >= 0x8000_0000 and <= NativeMaxExtended => true,
            _ => false,
        };
        if (!inRange) leaf = NativeMaxBasic;
        if (leaf == 0xb && subleaf >= 2) return (0, 0, subleaf & 0xff, 0);   // no further topology level: ECX echoes the subleaf
        return Find(Native, leaf, IsSubleafIndexed(leaf) ? subleaf : 0);
    }

    private const uint NativeMaxBasic = 0xd, NativeMaxExtended = 0x8000_000a;

    private static bool IsSubleafIndexed(uint leaf) => leaf is 4 or 7 or 0xb or 0xd;

    private static (uint, uint, uint, uint) Find((uint Leaf, uint Sub, uint A, uint B, uint C, uint D)[] table, uint leaf, uint subleaf)
    {
        foreach (var e in table)
            if (e.Leaf == leaf && e.Sub == subleaf) return (e.A, e.B, e.C, e.D);
        return (0, 0, 0, 0);
    }

    // "AuthenticAMD" in EBX EDX ECX order; the brand string is "QEMU TCG CPU version 2.5+".
    private const uint Auth = 0x6874_7541, EnticAmd = 0x444d_4163, Enti = 0x6974_6e65;

    /// <summary>Measured through <c>ud2; "xen"; cpuid</c> (see the type's summary); zero leaves left out.</summary>
    private static readonly (uint Leaf, uint Sub, uint A, uint B, uint C, uint D)[] XenPolicy =
    [
        (0x0, 0, 0xd, Auth, EnticAmd, Enti),
        (0x1, 0, 0x663, 0x800, 0xfed8_3203, 0x0fc9_d3f5),
        (0x7, 0, 0x1, 0x218c_0329, 0x0040_0200, 0x10),
        (0x7, 1, 0x1c00, 0, 0, 0),
        (0xd, 0, 0x7, 0x240, 0x340, 0),
        (0xd, 1, 0x5, 0, 0, 0),
        (0xd, 2, 0x100, 0x240, 0, 0),
        (0x8000_0000, 0, 0x8000_000a, Auth, EnticAmd, Enti),
        (0x8000_0001, 0, 0x663, 0, 0x163, 0xe9d1_dbf5),
        (0x8000_0002, 0, 0x554d_4551, 0x4743_5420, 0x5550_4320, 0x7265_7620),
        (0x8000_0003, 0, 0x6e6f_6973, 0x352e_3220, 0x2b, 0),
        (0x8000_0005, 0, 0x01ff_01ff, 0x01ff_01ff, 0x4002_0140, 0x4002_0140),
        (0x8000_0006, 0, 0, 0x4200_4200, 0x0200_8140, 0x0080_8140),
        (0x8000_0008, 0, 0x3028, 0x4, 0, 0),
    ];

    /// <summary>Measured with a plain <c>cpuid</c> on vCPU 0 (pCPU 0); zero leaves left out.</summary>
    private static readonly (uint Leaf, uint Sub, uint A, uint B, uint C, uint D)[] Native =
    [
        (0x0, 0, 0xd, Auth, EnticAmd, Enti),
        (0x1, 0, 0x663, 0x800, 0xfef8_320b, 0x0fcb_fbfd),
        (0x5, 0, 0, 0, 0x3, 0),
        (0x6, 0, 0x4, 0, 0, 0),
        (0x7, 0, 0x1, 0x219c_43a9, 0x8041_020c, 0x10),
        (0x7, 1, 0x1c80, 0, 0, 0),
        (0xb, 0, 0, 0x1, 0x100, 0),
        (0xb, 1, 0, 0x1, 0x201, 0),
        (0xd, 0, 0x21f, 0x240, 0xa88, 0),
        (0xd, 1, 0x5, 0x3c8, 0, 0),
        (0xd, 2, 0x100, 0x240, 0, 0),
        (0xd, 3, 0x40, 0x3c0, 0, 0),
        (0xd, 4, 0x40, 0x400, 0, 0),
        (0xd, 9, 0x8, 0xa80, 0, 0),
        (0x4000_0000, 0, 0x4000_0001, 0x5447_4354, 0x4354_4743, 0x4743_5447),   // "TCGTCGTCGTCG"
        (0x8000_0000, 0, 0x8000_000a, Auth, EnticAmd, Enti),
        (0x8000_0001, 0, 0x663, 0, 0x177, 0xedd3_fbfd),
        (0x8000_0002, 0, 0x554d_4551, 0x4743_5420, 0x5550_4320, 0x7265_7620),
        (0x8000_0003, 0, 0x6e6f_6973, 0x352e_3220, 0x2b, 0),
        (0x8000_0005, 0, 0x01ff_01ff, 0x01ff_01ff, 0x4002_0140, 0x4002_0140),
        (0x8000_0006, 0, 0, 0x4200_4200, 0x0200_8140, 0x0080_8140),
        (0x8000_0008, 0, 0x3928, 0x204, 0, 0),
        (0x8000_000a, 0, 0x1, 0x10, 0, 0x1001_0001),
    ];
}
