using Xtf.Abi;
using Xtf.Sim.Cpu;

namespace Xtf.Sim.Xen;

/// <summary>One trap_info slot as set_trap_table stores it.</summary>
public readonly record struct TrapEntry(byte Flags, ushort Cs, ulong Address);

/// <summary>Per-vCPU state Xen keeps (docs/pv-abi.md §4.1), beside the registers.</summary>
public sealed class Vcpu
{
    public const ulong DefaultPeriodNs = 10_000_000;

    public Vcpu(int id, ulong now)
    {
        Id = id;
        RunstateEntryTime = now;
    }

    public int Id { get; }
    public CpuState Cpu { get; } = new();

    public bool Initialised { get; set; }
    /// <summary>VPF_down.</summary>
    public bool Down { get; set; } = true;
    /// <summary>VPF_blocked (SCHEDOP_block or poll).</summary>
    public bool Blocked { get; set; }
    public bool Polling { get; set; }
    /// <summary>The single port a one-port poll waits for; null for "any port".</summary>
    public int? PollPort { get; set; }

    public bool Runnable => Initialised && !Down && !Blocked;

    /// <summary>When a woken vCPU gets onto its pCPU (Xen's wake latency); null when it is on it or not runnable.</summary>
    public ulong? StartsAt { get; set; }

    /// <summary>Runnable and on its pCPU: the simulator may interpret it.</summary>
    public bool OnPcpu => Runnable && StartsAt is null;

    // runstate (docs/pv-abi.md §2.3, §4.6)
    public RunState Runstate { get; private set; } = RunState.Offline;
    public ulong RunstateEntryTime { get; private set; }
    public ulong[] RunstateTime { get; } = new ulong[4];
    public ulong? RunstateArea { get; set; }
    public ulong? TimeArea { get; set; }

    public void SetRunstate(RunState next, ulong now)
    {
        if (next == Runstate) return;
        RunstateTime[(int)Runstate] += now - RunstateEntryTime;
        Runstate = next;
        RunstateEntryTime = now;
    }

    // timers (docs/pv-abi.md §6)
    public ulong PeriodNs { get; set; } = DefaultPeriodNs;
    public ulong PeriodicLastEvent { get; set; }
    public ulong? PeriodicDeadline { get; set; }
    public ulong? SingleshotDeadline { get; set; }
    public ulong? PollDeadline { get; set; }

    // traps and callbacks
    public TrapEntry[] Traps { get; } = new TrapEntry[256];
    public ulong EventCallback { get; set; }
    public ulong FailsafeCallback { get; set; }
    public ulong SyscallCallback { get; set; }
    public ulong KernelSs { get; set; }
    public ulong KernelSp { get; set; }
    public bool NmiPending { get; set; }
    /// <summary>An NMI was delivered and has not yet returned through iret.</summary>
    public bool InNmi { get; set; }
    public bool PinOverride { get; set; }

    // the PV kernel/user split (xen/arch/x86/pv/domain.c, toggle_guest_mode)
    /// <summary>TF_kernel_mode: the guest kernel runs; false while the guest's user mode runs.</summary>
    public bool KernelMode { get; set; } = true;
    /// <summary>guest_table: the kernel's L4, a machine address (CR3 while in kernel mode).</summary>
    public ulong GuestTable { get; set; }
    /// <summary>guest_table_user: the user L4 (NEW_USER_BASEPTR, ctrlreg[1]); 0 when none is set.</summary>
    public ulong GuestTableUser { get; set; }
    /// <summary>The GS base of the mode not running (MSR_SHADOW_GS_BASE): user GS in kernel mode, kernel GS in user mode.</summary>
    public ulong ShadowGsBase { get; set; }
    /// <summary>VGCF_syscall_disables_events: the syscall callback was registered with CALLBACKF_mask_events.</summary>
    public bool SyscallMasksEvents { get; set; }

    // descriptor tables (xen/arch/x86/pv/descriptor-tables.c)
    /// <summary>The frames of the guest's GDT (set_gdt); the first <see cref="GdtEntries"/> descriptors are the guest's.</summary>
    public ulong[] GdtFrames { get; } = new ulong[16];
    public int GdtEntries { get; set; }
    /// <summary>MMUEXT_SET_LDT: the LDT's linear address and entry count (0: none).</summary>
    public ulong LdtBase { get; set; }
    public uint LdtEntries { get; set; }
    /// <summary>
    /// The LDT's shadow mappings (pv_ldt_ptes): the frame Xen mapped for each of the LDT's 16 possible
    /// pages on first use, each holding a seg_desc type reference; null where nothing is mapped yet.
    /// </summary>
    public ulong?[] LdtShadow { get; } = new ulong?[16];

    /// <summary>The guest's virtual CR2 (arch.pv.ctrlreg[2]): set when Xen delivers a #PF, read by an emulated mov from CR2.</summary>
    public ulong GuestCr2 { get; set; }
    /// <summary>The guest's virtual CR0.TS (fpu_taskswitch, clts, mov to CR0).</summary>
    public bool VirtualTs { get; set; }
    /// <summary>The guest's CR4 (arch.pv.ctrlreg[4]): its own TSD/DE/FSGSBASE/OSXSAVE choice plus Xen's visible bits.</summary>
    public ulong GuestCr4 { get; set; } = PrivilegedOps.GuestCr4;
    /// <summary>arch.pv.dr7_emul: DR7's I/O-breakpoint enables, kept out of the hardware DR7.</summary>
    public ulong Dr7Emul { get; set; }
    /// <summary>arch.pv.iopl: the virtual IOPL (PHYSDEVOP_set_iopl), in rflags bit position.</summary>
    public ulong Iopl { get; set; }
    /// <summary>arch.pv.iobmp / iobmp_limit: the guest's I/O bitmap (PHYSDEVOP_set_iobitmap) and its size in ports.</summary>
    public ulong IoBitmap { get; set; }
    public uint IoBitmapLimit { get; set; }
    /// <summary>MSR values the guest wrote that Xen keeps per vCPU (MCG_STATUS, TSC_AUX), by index.</summary>
    public SortedDictionary<uint, ulong> StoredMsrs { get; } = new();

    /// <summary>Where this vCPU's vcpu_info lives, as a machine address; null for the dummy (id ≥ 32, unregistered).</summary>
    public ulong? VcpuInfo { get; set; }
    public bool VcpuInfoRegistered { get; set; }
}
