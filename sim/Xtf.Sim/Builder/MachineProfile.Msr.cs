namespace Xtf.Sim.Builder;

/// <summary>
/// The MSRs a 64-bit PV dom0 can read with rdmsr in guest kernel mode, and the values Xen 4.17 gives it
/// (docs/pv-abi.md §16.4). Measured on Debian's Xen 4.17.7 under QEMU 10.0.2 TCG <c>-cpu max -m 512
/// -smp 1</c> by reading every index 0–0x1fff, 0x40000000–0x400000ff and 0xc0000000–0xc0001fff with a
/// fault-catching rdmsr (XTF's msr kernel, reference run of 2026-12-05): 179 indices read, every other
/// one is #GP(0). The values are facts of this configuration; the few that follow vCPU state
/// (TSC, the FS/GS bases, TSC_AUX) are computed by the hypervisor model, not kept here.
/// </summary>
public sealed partial record MachineProfile
{
    /// <summary>MSR indices whose value is the vCPU's state rather than a constant.</summary>
    public const uint MsrTsc = 0x10, MsrFsBase = 0xC000_0100, MsrGsBase = 0xC000_0101, MsrShadowGsBase = 0xC000_0102,
        MsrTscAux = 0xC000_0103, MsrEfer = 0xC000_0080, MsrApicBase = 0x1b, MsrMiscEnable = 0x1a0, MsrDebugCtl = 0x1d9,
        MsrHypercallPage = 0x4000_0000, MsrPlatformInfo = 0xce, MsrMiscFeaturesEnables = 0x140;

    /// <summary>
    /// rdmsr as Xen answers it (guest_rdmsr, then read_msr of pv/emul-priv-op.c, then vmce_rdmsr): the
    /// constant value, null for an index that raises #GP(0). The dynamic indices (<see cref="MsrTsc"/>,
    /// the FS/GS bases, <see cref="MsrTscAux"/>) return 0 here: the caller substitutes the vCPU's value.
    /// </summary>
    public ulong? MsrValue(uint index)
    {
        foreach (var (first, last, value) in ReadableMsrs)
            if (index >= first && index <= last) return value;
        return null;
    }

    /// <summary>What wrmsr does to a readable MSR (measured; an unreadable index is always #GP(0)).</summary>
    public enum MsrWrite
    {
        /// <summary>#GP(0) whatever the value.</summary>
        Refused,
        /// <summary>Accepted when the value is the one read; any other is #GP(0).</summary>
        SameOnly,
        /// <summary>Any value accepted and dropped: reads are unchanged.</summary>
        Ignored,
        /// <summary>Any value accepted and kept for the vCPU: reads return it.</summary>
        Stored,
    }

    /// <summary>
    /// wrmsr of a readable index, measured (2026-12-05, suite test priv-msrs: the value read written back,
    /// then with bit 0 flipped, then read again). The FS/GS/shadow-GS bases are Xen's own case (a
    /// canonical value, kept). Indices not listed here are <see cref="MsrWrite.Refused"/>.
    /// </summary>
    public MsrWrite MsrWriteRule(uint index)
    {
        foreach (var (first, last, rule) in WritableMsrs)
            if (index >= first && index <= last) return rule;
        return MsrWrite.Refused;
    }

    /// <summary>
    /// MISC_FEATURES_ENABLES and EFER only unchanged; MCG_CAP, MCG_CTL, MISC_ENABLE, MCi_CTL2 and the
    /// banks' MCi_CTL ignored; MCi_STATUS/ADDR/MISC of the two banks only unchanged (0); the registers
    /// of banks beyond MCG_CAP's two ignored; MCG_STATUS and TSC_AUX kept.
    /// </summary>
    private static readonly (uint First, uint Last, MsrWrite Rule)[] WritableMsrs =
    [
        (MsrMiscFeaturesEnables, MsrMiscFeaturesEnables, MsrWrite.SameOnly),
        (0x179, 0x179, MsrWrite.Ignored),
        (0x17a, 0x17a, MsrWrite.Stored),
        (0x17b, 0x17b, MsrWrite.Ignored),
        (MsrMiscEnable, MsrMiscEnable, MsrWrite.Ignored),
        (0x280, 0x29f, MsrWrite.Ignored),
        (0x400, 0x400, MsrWrite.Ignored),
        (0x401, 0x403, MsrWrite.SameOnly),
        (0x404, 0x404, MsrWrite.Ignored),
        (0x405, 0x407, MsrWrite.SameOnly),
        (0x408, 0x47f, MsrWrite.Ignored),
        (MsrEfer, MsrEfer, MsrWrite.SameOnly),
        (MsrTscAux, MsrTscAux, MsrWrite.Stored),
    ];

    /// <summary>
    /// Readable MSR ranges (first, last, value), measured. 0x0–0x1 P5 machine-check address/type,
    /// 0x1b APIC_BASE (BSP, enabled, 0xfee00000), 0x8b microcode revision, 0xce PLATFORM_INFO (no CPUID
    /// faulting), 0x140 MISC_FEATURES_ENABLES, 0x179–0x17b MCG_CAP (2 banks)/STATUS/CTL, 0x1a0
    /// MISC_ENABLE (Xen's guest view), 0x277 PAT (Xen's), 0x280–0x29f MCi_CTL2, 0x345
    /// PERF_CAPABILITIES, 0x400–0x47f the machine-check banks (MCi_CTL all ones for the two banks),
    /// 0x40000000 the hypercall-page MSR, 0xc0000080 EFER (SCE, LME, LMA, NXE).
    /// </summary>
    private static readonly (uint First, uint Last, ulong Value)[] ReadableMsrs =
    [
        (0x0, 0x1, 0),
        (MsrTsc, MsrTsc, 0),
        (MsrApicBase, MsrApicBase, 0xfee0_0900),
        (0x8b, 0x8b, 0x0100_0065),
        (MsrPlatformInfo, MsrPlatformInfo, 0),
        (MsrMiscFeaturesEnables, MsrMiscFeaturesEnables, 0),
        (0x179, 0x179, 2),
        (0x17a, 0x17b, 0),
        (MsrMiscEnable, MsrMiscEnable, 0x0080_1801),
        (0x277, 0x277, 0x0000_0501_0007_0406),
        (0x280, 0x29f, 0),
        (0x345, 0x345, 0),
        (0x400, 0x400, ulong.MaxValue),
        (0x401, 0x403, 0),
        (0x404, 0x404, ulong.MaxValue),
        (0x405, 0x47f, 0),
        (MsrHypercallPage, MsrHypercallPage, 0),
        (MsrEfer, MsrEfer, 0xd01),
        (MsrFsBase, MsrTscAux, 0),
    ];
}
