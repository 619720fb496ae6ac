using Xtf.Abi;
using Xtf.Elf;
using Xtf.Sim.Memory;

namespace Xtf.Sim.Builder;

/// <summary>
/// A PV vCPU's register state at its first entry, as a PV domain builder or VCPUOP_initialise sets
/// it: 64-bit kernel mode on ring 3 selectors, flat data selectors 0.
/// </summary>
public sealed record VcpuBootState
{
    public required ulong Rip { get; init; }
    public required ulong Rsp { get; init; }
    public ulong Rsi { get; init; }
    /// <summary>Xen sets IF; the guest's pushf also shows the always-one bit 1.</summary>
    public ulong Rflags { get; init; } = 0x202;
    public ushort Cs { get; init; } = PvLayout.FlatKernelCs;
    public ushort Ss { get; init; } = PvLayout.FlatKernelSs;
    public ushort Ds { get; init; }
    public ushort Es { get; init; }
    public ushort Fs { get; init; }
    public ushort Gs { get; init; }
    /// <summary>Machine address of the L4.</summary>
    public required ulong Cr3 { get; init; }
    /// <summary>Xen's internal dom0 builder leaves kernel_ss/kernel_sp 0 (libxc sets 0xE02B / rsp).</summary>
    public ushort KernelSs { get; init; }
    public ulong KernelSp { get; init; }
}

/// <summary>dom0 as Xen's builder leaves it at first entry (docs/dom0.md §2). Addresses are guest-virtual unless named machine.</summary>
public sealed record Dom0
{
    // ---- the virtual layout (§2.4) ----
    public required ulong VirtStart { get; init; }
    public required ulong VirtEnd { get; init; }
    public required ulong KernelStart { get; init; }
    /// <summary>virt_kend, not rounded.</summary>
    public required ulong KernelEnd { get; init; }
    public required ulong PhysmapStart { get; init; }
    public required ulong PhysmapEnd { get; init; }
    public required ulong StartInfoVa { get; init; }
    /// <summary>Printed end of the start info: StartInfoVa + sizeof(start_info) + sizeof(dom0_vga_console_info).</summary>
    public required ulong StartInfoEnd { get; init; }
    public required ulong PageTablesStart { get; init; }
    public required ulong PageTablesEnd { get; init; }
    public required ulong BootStackVa { get; init; }
    public required ulong Entry { get; init; }
    public required ulong NrPtFrames { get; init; }
    public required ulong NrPages { get; init; }
    public required int MaxVcpus { get; init; }

    // ---- machine memory ----
    /// <summary>Machine address of the initial power-of-two block.</summary>
    public required ulong AllocBlockStart { get; init; }
    public required ulong AllocBlockEnd { get; init; }
    public required int AllocOrder { get; init; }
    /// <summary>pfn → mfn for every one of <see cref="NrPages"/> pages, as runs (the guest's mfn_list holds the same values).</summary>
    public required PhysToMachineMap P2mMap { get; init; }
    private ulong[]? p2mArray;
    /// <summary><see cref="P2mMap"/> page by page (made on first use).</summary>
    public ulong[] P2m => p2mArray ??= P2mMap.ToArray();
    /// <summary>mfn → pfn for dom0's pages.</summary>
    public required IReadOnlyDictionary<ulong, ulong> M2p { get; init; }
    /// <summary>The bootstrap page-table frames in Xen's order (L4 first).</summary>
    public required IReadOnlyList<PvPageTables.TableFrame> PageTableFrames { get; init; }
    /// <summary>Machine address of the L4.</summary>
    public required ulong Cr3 { get; init; }
    public required ulong SharedInfoMfn { get; init; }

    // ---- what the guest sees ----
    public required StartInfo StartInfo { get; init; }
    public required Dom0VgaConsoleInfo ConsoleInfo { get; init; }
    /// <summary>The cooked command line written to start_info.cmd_line.</summary>
    public required string CommandLine { get; init; }
    /// <summary>Xen's lines from <c>*** Building a PV Dom0 ***</c> to <c>Dom0 has maximum N VCPUs</c>, without the "(XEN) [time] " prefix.</summary>
    public required IReadOnlyList<string> BuildLog { get; init; }
    public required VcpuBootState Vcpu0 { get; init; }
    /// <summary>Bit n = VM-assist type n enabled (only pae_extended_cr3, for PAE_MODE "yes").</summary>
    public required ulong VmAssist { get; init; }
    /// <summary>The Xen notes as libelf parsed them (with the computed kernel extent).</summary>
    public required ElfDomParms Parms { get; init; }
    /// <summary>The same notes through Xtf.Elf's typed view (null for the legacy '__xen_guest' form).</summary>
    public required XenNotes? Notes { get; init; }
    public required ulong? HypercallPageVa { get; init; }

    public ulong Rip => Vcpu0.Rip;
    public ulong Rsp => Vcpu0.Rsp;
    public ulong Rsi => Vcpu0.Rsi;
    public ulong Rflags => Vcpu0.Rflags;
    public ushort Cs => Vcpu0.Cs;
    public ushort Ss => Vcpu0.Ss;
    public ushort Ds => Vcpu0.Ds;
    public ushort Es => Vcpu0.Es;
    public ushort Fs => Vcpu0.Fs;
    public ushort Gs => Vcpu0.Gs;

    /// <summary>The MFN behind a virtual address of the initial mapping, or null outside [VirtStart, VirtEnd).</summary>
    public ulong? MfnOfVa(ulong va) => va >= VirtStart && va < VirtEnd ? P2mMap[(va - VirtStart) >> 12] : null;
}
