namespace Xtf.Sim.Builder;

/// <summary>
/// What the CPU under Xen shows or does at CPL 3 for a 64-bit PV guest, beyond CPUID and MSRs
/// (docs/pv-abi.md §16). Measured on Debian's Xen 4.17.7 under QEMU 10.0.2 TCG <c>-cpu max -m 512
/// -smp 1</c> (2026-12-05; the suite test priv-descriptor-registers prints them, and XTF's memop-seg
/// and pv-fsgsbase reference runs show the two CPU facts).
/// </summary>
public sealed partial record MachineProfile
{
    /// <summary>sidt at CPL 3 (no UMIP): Xen's IDT of pCPU 0 (idt_table) and its limit.</summary>
    public ulong XenIdtBase => 0xffff_82d0_4057_7000;
    public ushort XenIdtLimit => 0xfff;

    /// <summary>
    /// sgdt at CPL 3: the per-vCPU GDT mapping in Xen's per-domain area (GDT_VIRT_START of vCPU 0) and its
    /// limit (Xen's reserved entries end at 0xefff). Other vCPUs' GDTs follow every <see cref="XenGdtVcpuStride"/>
    /// bytes (Xen's layout; measured for vCPU 0 only).
    /// </summary>
    public ulong XenGdtBase => 0xffff_8200_0000_0000;
    public ushort XenGdtLimit => 0xefff;
    public ulong XenGdtVcpuStride => 0x2_0000;

    /// <summary>sldt and str at CPL 3: no LDT loaded by Xen for the guest (0), Xen's TSS selector 0xe040.</summary>
    public ushort XenLdtSelector => 0;
    public ushort XenTaskRegister => 0xe040;

    /// <summary>smsw at CPL 3 into a 32-bit register: the host CR0's low half (PE MP TS ET NE WP AM PG) as measured.</summary>
    public ulong XenMachineStatusWord => 0x8005_003b;

    /// <summary>QEMU TCG raises #GP(0), never #SS(0), for a non-canonical stack-segment access (memop-seg's reference run).</summary>
    public bool NonCanonicalStackIsGp => true;

    /// <summary>QEMU TCG's wrfsbase/wrgsbase accept a non-canonical value without #GP (pv-fsgsbase's reference run).</summary>
    public bool WrBaseSkipsCanonicalCheck => true;

    /// <summary>
    /// What a byte read of an I/O port gives dom0 once Xen admits the access (IOPL or I/O bitmap),
    /// measured (suite test priv-port-io): 0x92 (system control port A) 0x02, 0x64 (keyboard
    /// controller status) 0x1c, 0x4d0 (ELCR) 0x00. Ports Xen keeps for itself (its serial console
    /// 0x3f8-0x3ff, the PIC 0x20-0x21) and QEMU's unassigned ones (0x80) read all ones, which is
    /// also what the model gives every port not listed here (an assumption beyond the ports measured).
    /// 0xcf8 is Xen's own emulated PCI configuration address (see PrivilegedOps).
    /// </summary>
    public byte? PortByte(ushort port) => port switch
    {
        0x92 => 0x02,
        0x64 => 0x1c,
        0x4d0 => 0x00,
        _ => null,
    };
}
