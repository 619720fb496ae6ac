using System.Diagnostics;
using Xtf.Abi;
using Xtf.Sim.Cpu;
using Xtf.Sim.Memory;

namespace Xtf.Sim.Xen;

/// <summary>
/// Memory management and page-type tracking (xen/arch/x86/mm.c, xen/common/memory.c): the page
/// type model (Mmu.PageTypes.cs), mmu_update and update_va_mapping (Mmu.Updates.cs), mmuext_op
/// (Mmu.Mmuext.cs), the read-only M2P (Mmu.Machphys.cs), memory_op. Invariants: a frame holds one
/// type at a time; a page table is never mapped writable; type counts never go negative.
/// </summary>
public sealed partial class Mmu
{
    private const ulong PtePresent = 1, PteRw = 2, PtePse = 0x80, PteAddressMask = 0x000F_FFFF_FFFF_F000;
    private const int EntriesPerTable = 512;
    /// <summary>Requests one mmu_update handles before it stops (Xen would preempt and continue).</summary>
    private const uint MaxRequests = 4096;

    /// <summary>MMU_PT_UPDATE_NO_TRANSLATE (public xen.h, 4.11 on): command 3.</summary>
    private const int MmuPtUpdateNoTranslate = 3;

    private readonly Domain domain;
    private readonly GuestMemory guest;
    private readonly X86Interpreter cpu;

    public Mmu(Domain domain, GuestMemory guest, X86Interpreter interpreter)
    {
        this.domain = domain;
        this.guest = guest;
        cpu = interpreter;
        interpreter.MachphysWindow = this;
    }

    private MachineMemory Memory => domain.Memory;

    /// <summary>Frames below 1 MiB: Xen gives them to dom_io at boot (xen/arch/x86/mm.c, arch_init_memory).</summary>
    public const ulong DomIoLowFrames = 0x100;

    /// <summary>Where Xen's guest diagnostics go (the serial line); set by the hypervisor.</summary>
    public Action<string>? Diagnostic { get; set; }

    /// <summary>The vCPU whose hypercall is running (the "d0vN" of a diagnostic).</summary>
    public int CurrentVcpu { get; set; }

    /// <summary>
    /// get_page (xen/arch/x86/mm.c): the frame must be the domain's. A frame another owner holds is
    /// reported on the console (measured for dom_io's low frames: "d0v0 Error mfn 00000: rd=d0 od=d[IO]
    /// caf=8000000000000001 taf=e400000000000001"); other owners' counts are not modelled, so only those are printed.
    /// </summary>
    public bool GetPage(ulong mfn)
    {
        if (domain.M2p.ContainsKey(mfn)) return true;
        if (mfn < DomIoLowFrames)
            Diagnostic?.Invoke($"d{domain.Id}v{CurrentVcpu} Error mfn {mfn:x5}: rd=d{domain.Id} od=d[IO] caf=8000000000000001 taf=e400000000000001");
        return false;
    }

}
