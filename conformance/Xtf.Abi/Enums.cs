namespace Xtf.Abi;

/// <summary>Hypercall numbers placed in <c>rax</c> (docs/pv-abi.md §1). Gaps (11, 43..47, ≥ 50) are not assigned.</summary>
public enum Hypercall
{
    SetTrapTable = 0,
    MmuUpdate = 1,
    SetGdt = 2,
    StackSwitch = 3,
    SetCallbacks = 4,
    FpuTaskswitch = 5,
    SchedOpCompat = 6,
    PlatformOp = 7,
    SetDebugreg = 8,
    GetDebugreg = 9,
    UpdateDescriptor = 10,
    MemoryOp = 12,
    Multicall = 13,
    UpdateVaMapping = 14,
    SetTimerOp = 15,
    EventChannelOpCompat = 16,
    XenVersion = 17,
    ConsoleIo = 18,
    PhysdevOpCompat = 19,
    GrantTableOp = 20,
    VmAssist = 21,
    UpdateVaMappingOtherdomain = 22,
    Iret = 23,
    VcpuOp = 24,
    SetSegmentBase = 25,
    MmuextOp = 26,
    XsmOp = 27,
    NmiOp = 28,
    SchedOp = 29,
    CallbackOp = 30,
    XenoprofOp = 31,
    EventChannelOp = 32,
    PhysdevOp = 33,
    HvmOp = 34,
    Sysctl = 35,
    Domctl = 36,
    KexecOp = 37,
    TmemOp = 38,
    ArgoOp = 39,
    XenpmuOp = 40,
    DmOp = 41,
    HypfsOp = 42,
    /// <summary>Architecture slot 0 on x86.</summary>
    Mca = 48,
    /// <summary>Architecture slot 1 on x86.</summary>
    PagingDomctlCont = 49,
}

/// <summary>Sub-commands of <see cref="Hypercall.SchedOp"/> (docs/pv-abi.md §5).</summary>
public enum SchedOp
{
    Yield = 0,
    Block = 1,
    Shutdown = 2,
    Poll = 3,
    RemoteShutdown = 4,
    ShutdownCode = 5,
    Watchdog = 6,
    PinOverride = 7,
}

/// <summary>Sub-commands of <see cref="Hypercall.VcpuOp"/> (docs/pv-abi.md §4; 11..13 are x86-only).</summary>
public enum VcpuOp
{
    Initialise = 0,
    Up = 1,
    Down = 2,
    IsUp = 3,
    GetRunstateInfo = 4,
    RegisterRunstateMemoryArea = 5,
    SetPeriodicTimer = 6,
    StopPeriodicTimer = 7,
    SetSingleshotTimer = 8,
    StopSingleshotTimer = 9,
    RegisterVcpuInfo = 10,
    SendNmi = 11,
    GetPhysid = 12,
    RegisterVcpuTimeMemoryArea = 13,
}

/// <summary>Sub-commands of <see cref="Hypercall.EventChannelOp"/> (docs/pv-abi.md §7.1).</summary>
public enum EvtchnOp
{
    BindInterdomain = 0,
    BindVirq = 1,
    BindPirq = 2,
    Close = 3,
    Send = 4,
    Status = 5,
    AllocUnbound = 6,
    BindIpi = 7,
    BindVcpu = 8,
    Unmask = 9,
    Reset = 10,
    InitControl = 11,
    ExpandArray = 12,
    SetPriority = 13,
    /// <summary>Continuation of <see cref="Reset"/>; meant to be internal but guests can issue it.</summary>
    ResetCont = 14,
}

/// <summary>Commands of <see cref="Hypercall.ConsoleIo"/> (docs/pv-abi.md §8).</summary>
public enum ConsoleIo
{
    Write = 0,
    Read = 1,
}

/// <summary>Commands of <see cref="Hypercall.XenVersion"/> (docs/pv-abi.md §9).</summary>
public enum XenVer
{
    Version = 0,
    Extraversion = 1,
    CompileInfo = 2,
    Capabilities = 3,
    Changeset = 4,
    PlatformParameters = 5,
    GetFeatures = 6,
    Pagesize = 7,
    GuestHandle = 8,
    Commandline = 9,
    BuildId = 10,
}

/// <summary>Shutdown codes carried by <c>sched_shutdown.reason</c> (docs/pv-abi.md §2.2). Xen stores any value truncated to 8 bits.</summary>
public enum ShutdownReason
{
    Poweroff = 0,
    Reboot = 1,
    Suspend = 2,
    Crash = 3,
    Watchdog = 4,
    SoftReset = 5,
}

/// <summary>Virtual IRQ numbers (docs/pv-abi.md §2.1). Numbers 5, 14 and 15 are unassigned but still bindable.</summary>
public enum Virq
{
    Timer = 0,
    Debug = 1,
    Console = 2,
    DomExc = 3,
    Tbuf = 4,
    Debugger = 6,
    Xenoprof = 7,
    ConRing = 8,
    PcpuState = 9,
    MemEvent = 10,
    Argo = 11,
    Enomem = 12,
    Xenpmu = 13,
    /// <summary>Architecture VIRQ 0, which x86 uses for machine-check notifications.</summary>
    Mca = 16,
    Arch1 = 17,
    Arch2 = 18,
    Arch3 = 19,
    Arch4 = 20,
    Arch5 = 21,
    Arch6 = 22,
    Arch7 = 23,
}

/// <summary>Binding class of VIRQ numbers as Xen enforces it (docs/pv-abi.md §2.1).</summary>
public static class VirqClass
{
    /// <summary>NR_VIRQS: valid VIRQ numbers are 0..23.</summary>
    public const int Count = 24;

    /// <summary>
    /// True for the VIRQs that are bound per vCPU (timer, debug, xenoprof, xenpmu). Every other number,
    /// assigned or not, is global; numbers outside 0..23 are not VIRQs at all and also yield false.
    /// </summary>
    public static bool IsPerVcpu(int virq) =>
        virq is (int)Virq.Timer or (int)Virq.Debug or (int)Virq.Xenoprof or (int)Virq.Xenpmu;

    /// <summary>True for numbers in 0..23 that are not per-vCPU.</summary>
    public static bool IsGlobal(int virq) => virq is >= 0 and < Count && !IsPerVcpu(virq);
}

/// <summary>vCPU run states (docs/pv-abi.md §2.3).</summary>
public enum RunState
{
    Running = 0,
    Runnable = 1,
    Blocked = 2,
    Offline = 3,
}

/// <summary>Public port status codes returned by EVTCHNOP_status (docs/pv-abi.md §2.7).</summary>
public enum EvtchnStatus
{
    Closed = 0,
    Unbound = 1,
    Interdomain = 2,
    Pirq = 3,
    Virq = 4,
    Ipi = 5,
}

/// <summary>Bits of <c>vcpu_guest_context.flags</c> (docs/pv-abi.md §2.4); the field itself is 64 bits wide.</summary>
[Flags]
public enum VgcfFlags
{
    None = 0,
    I387Valid = 0x001,
    InKernel = 0x004,
    FailsafeDisablesEvents = 0x008,
    SyscallDisablesEvents = 0x010,
    Online = 0x020,
    InSyscall = 0x100,
}

/// <summary>Bits of <c>start_info.flags</c> (docs/pv-abi.md §2.5).</summary>
[Flags]
public enum SifFlags : uint
{
    None = 0,
    Privileged = 0x01,
    InitDomain = 0x02,
    MultibootMod = 0x04,
    ModStartPfn = 0x08,
    VirtP2m4Tools = 0x10,
    /// <summary>Power-management bits handed to dom0 (bits 8..15).</summary>
    PmMask = 0xFF00,
}

/// <summary>VM-assist type numbers for <see cref="Hypercall.VmAssist"/> (docs/pv-abi.md §2.6); bit n of the vm_assist mask.</summary>
public enum VmAssistType
{
    FourGbSegments = 0,
    FourGbSegmentsNotify = 1,
    WritablePagetables = 2,
    PaeExtendedCr3 = 3,
    ArchitecturalIopl = 4,
    RunstateUpdateFlag = 5,
    M2pStrict = 32,
}

/// <summary>Bit numbers in XENVER_get_features submap 0 (docs/pv-abi.md §9).</summary>
public enum XenFeature
{
    WritablePageTables = 0,
    WritableDescriptorTables = 1,
    AutoTranslatedPhysmap = 2,
    SupervisorModeKernel = 3,
    PaePgdirAbove4gb = 4,
    MmuPtUpdatePreserveAd = 5,
    HighmemAssist = 6,
    GnttabMapAvailBits = 7,
    HvmCallbackVector = 8,
    HvmSafePvclock = 9,
    HvmPirqs = 10,
    Dom0 = 11,
    GrantMapIdentity = 12,
    MemoryOpVnodeSupported = 13,
    ArmSmcccSupported = 14,
    LinuxRsdpUnrestricted = 15,
    NotDirectMapped = 16,
    DirectMapped = 17,
}

/// <summary>Command in the low two bits of <c>mmu_update.ptr</c>.</summary>
public enum MmuUpdateCmd
{
    NormalPtUpdate = 0,
    MachphysUpdate = 1,
    PtUpdatePreserveAd = 2,
}

/// <summary>MMUEXT_* commands of <see cref="Hypercall.MmuextOp"/> (public xen.h).</summary>
public enum MmuextCmd : uint
{
    PinL1Table = 0,
    PinL2Table = 1,
    PinL3Table = 2,
    PinL4Table = 3,
    UnpinTable = 4,
    NewBaseptr = 5,
    TlbFlushLocal = 6,
    InvlpgLocal = 7,
    TlbFlushMulti = 8,
    InvlpgMulti = 9,
    TlbFlushAll = 10,
    InvlpgAll = 11,
    FlushCache = 12,
    SetLdt = 13,
    NewUserBaseptr = 15,
    ClearPage = 16,
    CopyPage = 17,
    MarkSuper = 18,
    UnmarkSuper = 19,
    FlushCacheGlobal = 20,
}

/// <summary>XENMEM_* sub-commands of <see cref="Hypercall.MemoryOp"/> used by the suite (numbers as in Xen's public memory.h).</summary>
public enum MemoryOp
{
    IncreaseReservation = 0,
    DecreaseReservation = 1,
    MaximumRamPage = 2,
    CurrentReservation = 3,
    MaximumReservation = 4,
    PopulatePhysmap = 6,
    AddToPhysmap = 7,
    MemoryMap = 9,
    MachineMemoryMap = 10,
    Exchange = 11,
    MaximumGpfn = 14,
}

/// <summary>Bits of <c>vcpu_set_singleshot_timer.flags</c> (docs/pv-abi.md §4.9).</summary>
[Flags]
public enum VcpuSshotTmr : uint
{
    None = 0,
    /// <summary>Ask for -ETIME on a past deadline. Ignored from Xen 4.17.3 on.</summary>
    Future = 1,
}

/// <summary>Bits of <c>trap_info.flags</c> (docs/pv-abi.md §3.6).</summary>
[Flags]
public enum TrapInfoFlags : byte
{
    None = 0,
    /// <summary>Mask covering the descriptor privilege level (0..3) allowed to raise the vector with INT n.</summary>
    DplMask = 0x03,
    /// <summary>Set the vCPU's event upcall mask on entry, as an interrupt gate clears IF.</summary>
    MaskEvents = 0x04,
}
