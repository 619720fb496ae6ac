namespace Xtf.Sim.Builder;

// What a PVH dom0 gets on the measured machine (docs/hvm.md §1, shared spec xen-4.17-dom0.md §4.1-4.2).
public sealed partial record MachineProfile
{
    /// <summary>F_pvh = F_pv − 268 (measured at 512/1, 1024/1 and 512 MiB with 2 CPUs/2 vCPUs).</summary>
    public const ulong PvhFreePagesLess = 268;

    /// <summary>The host e820 below 4 GiB that is not RAM (QEMU's map): start, end (exclusive), type.</summary>
    public IReadOnlyList<(ulong Start, ulong End, uint Type)> HostE820 =>
    [
        (0, 0x9FC00, 1),
        (0x9FC00, 0xA0000, 2),
        (0xF0000, 0x100000, 2),
        (0x100000, LowRamEnd << 12, 1),
        (LowRamEnd << 12, LowRamFrames << 12, 2),
        (0xFFFC0000, 0x1_0000_0000, 2),
        (0xFD_0000_0000, 0x100_0000_0000, 2),
    ];

    /// <summary>IO-APICs and interrupt source overrides in the host MADT (QEMU's pc machine: 1 and 5).</summary>
    public const int MadtIoApics = 1, MadtOverrides = 5;

    /// <summary>The host FADT's address, listed in the XSDT Xen builds for a PVH dom0 (measured: ACPI: FACP 1FFE21E3 at 512 MiB).</summary>
    public ulong HostFadtAddress => (LowRamEnd << 12) + 0x21E3;

    /// <summary>
    /// nr_pages of a PVH dom0 (dom0_compute_nr_pages with the HAP paging-pool reservation):
    /// A = F_pvh − (vcpus − 1); the pool is sized from A less its 1/16 margin; nr = A2 − min(A2/16, 128 MiB).
    /// </summary>
    public ulong PvhNrPages
    {
        get
        {
            ulong a = FreePages - PvhFreePagesLess - (ulong)(Dom0Vcpus - 1);
            ulong pre = a - Math.Min(a / 16, 32768);
            ulong kb = 4 * (256 * (ulong)Dom0Vcpus + pre * 4 / 1024);
            ulong pool = (kb + 1023) / 1024 * 256;
            ulong a2 = a - pool;
            return a2 - Math.Min(a2 / 16, 32768);
        }
    }
}

public sealed partial record MachineProfile
{
    /// <summary>
    /// setup_low_mem_virq after a PVH dom0 (measured 0x1000 pages at 512 MiB: what is left once the paging
    /// pool and the p2m are allocated is between 16 and 32 MiB). Other sizes are taken to leave the same.
    /// </summary>
    public ulong PvhLowMemVirqThreshold => 0x1000;
}

public sealed partial record MachineProfile
{
    /// <summary>
    /// The real-mode IVT the firmware left at physical 0, which a PVH dom0 sees in its low 1 MiB: every vector
    /// f000:ff53, SeaBIOS's default iret stub (hypercalls given a null pointer read these bytes on real Xen:
    /// domain ids, interface versions and HVM_PARAM indices that do not match, as measured).
    /// </summary>
    public uint PvhLowIvtEntry => 0xF000_FF53;
}
