using System.Diagnostics;
using Xtf.Abi;
using Xtf.Sim.Builder;
using Xtf.Sim.Cpu;
using Xtf.Sim.Memory;

namespace Xtf.Sim.Xen;

/// <summary>
/// The hypervisor model: Xen 4.17's guest-visible behaviour for a 64-bit PV dom0, composed of
/// Xen's own subsystems (event channels, scheduling, vCPU operations, memory management, traps,
/// time, the domain's lifecycle, console and version). This type owns the hypercall entry and the
/// hypercall table; each handler keeps Xen's order of checks and names the Xen source it mirrors.
/// </summary>
public sealed class Hypervisor
{
    public const ulong HypervisorVirtStart = 0xFFFF_8000_0000_0000;
    public const ulong HypervisorVirtEnd = 0xFFFF_8800_0000_0000;
    private const uint MaxMulticallEntries = 4096;

    /// <summary>The first hypercall number Xen 4.17 x86 assigns nothing to (48 mca and 49 paging_domctl_cont are the last).</summary>
    public const ulong FirstUnassignedHypercall = 50;

    /// <summary>What a debug Xen writes into the argument registers of a hypercall (CONFIG_DEBUG, pv/hypercall.c).</summary>
    public const ulong ArgumentPoison = 0xDEAD_BEEF_DEAD_F00D;

    private bool inMulticall;
    private HypervisorView? view;
    private HypervisorControl? control;

    public Hypervisor(Domain domain, X86Interpreter interpreter, VirtualClock clock, SerialLog serial, SimTrace trace, string xenCommandLine,
        RunMeter? meter = null, MachineProfile? profile = null)
    {
        Domain = domain;
        Meter = meter ?? RunMeter.Unbudgeted();
        Clock = clock;
        Serial = serial;
        Trace = trace;
        Guest = new GuestMemory(domain.Memory, interpreter);
        VcpuInfo = new VcpuInfoArea(domain.Memory);
        Time = new SystemTime(clock, Guest, VcpuInfo);
        Scheduler = new Scheduler(domain, clock, trace, Guest, VcpuInfo, Time);
        Lifecycle = new DomainLifecycle(domain, serial, trace, Scheduler);
        Mmu = new Mmu(domain, Guest, interpreter) { Diagnostic = serial.Xen };
        Events = new EventChannels(domain, Guest, VcpuInfo, Scheduler, Mmu, trace);
        Scheduler.Connect(Events, Lifecycle);
        Vcpus = new VcpuOps(domain, clock, Guest, VcpuInfo, Scheduler, Events, Time, Lifecycle, Mmu);
        Cpuid = new GuestCpuid(profile ?? MachineProfile.For(512, 1, 1));
        PrivilegedOps = new PrivilegedOps(interpreter, VcpuInfo, trace, profile ?? MachineProfile.For(512, 1, 1), clock, domain);
        PrivilegedOps.Cr3Writer = Mmu.WriteCr3;
        Traps = new Traps(domain, Guest, VcpuInfo, Lifecycle, PrivilegedOps, new InvalidOps(Guest, Cpuid, trace), trace, serial);
        Descriptors = new DescriptorTables(domain, Guest, Mmu, interpreter);
        foreach (var v in domain.Vcpus)
        {
            if (v.GuestTable == 0) v.GuestTable = v.Cpu.Cr3;
            PrivilegedOps.InitVcpu(v);
        }
        Console = new SerialConsole(domain, Guest, serial, trace, Meter);
        Toolstack = new ToolstackOps(domain, Guest, serial);
        Version = new XenVersionOp(domain, Guest, xenCommandLine);
        MemoryOps = new MemoryOps(domain, Guest, (profile ?? MachineProfile.For(512, 1, 1)).MaxPage);
        Grants = new GrantTable(domain, Guest, Mmu, interpreter);
    }

    public Domain Domain { get; }
    public VirtualClock Clock { get; }
    public SerialLog Serial { get; }
    public SimTrace Trace { get; }
    /// <summary>The run's budget and limits: console output is charged here, and a passed limit stops the run.</summary>
    public RunMeter Meter { get; }
    public MachineMemory Memory => Domain.Memory;

    public GuestMemory Guest { get; }
    public VcpuInfoArea VcpuInfo { get; }
    public SystemTime Time { get; }
    public Scheduler Scheduler { get; }
    public DomainLifecycle Lifecycle { get; }
    public Mmu Mmu { get; }
    public EventChannels Events { get; }
    public VcpuOps Vcpus { get; }
    public Traps Traps { get; }
    /// <summary>Privileged-instruction emulation, debug registers, MSRs (docs/pv-abi.md §16).</summary>
    public PrivilegedOps PrivilegedOps { get; }
    /// <summary>The domain's CPUID as Xen answers it (forced emulation); plain cpuid runs natively (see <see cref="MachineProfile.CpuidFaulting"/>).</summary>
    public GuestCpuid Cpuid { get; }
    public DescriptorTables Descriptors { get; }
    public SerialConsole Console { get; }
    public ToolstackOps Toolstack { get; }
    public XenVersionOp Version { get; }
    public MemoryOps MemoryOps { get; }
    public GrantTable Grants { get; }

    /// <summary>Set by handlers that change who may run (block, down, shutdown, yield).</summary>
    public bool Reschedule
    {
        get => Scheduler.Reschedule;
        set => Scheduler.Reschedule = value;
    }

    /// <summary>Test hook (<see cref="SimOptions.ForeignHypercall"/>): results for unassigned numbers.</summary>
    public Func<ulong, ulong[], long?>? ForeignHypercall { get; init; }

    /// <summary>Test hook (<see cref="SimOptions.PoisonHypercallArguments"/>).</summary>
    public bool PoisonHypercallArguments { get; init; }

    /// <summary>Test hook (<see cref="SimOptions.LogHypercalls"/>): receives every hypercall, multicall entries included.</summary>
    public List<HypercallRecord>? HypercallLog { get; init; }

    /// <summary>Sees every guest hypercall (not the entries of a multicall, which are part of it); null: none.</summary>
    public IHypervisorObserver? Observer { get; init; }

    /// <summary>Interposes on every hypercall, multicall entries included (fault injection); null: none.</summary>
    public IHypercallInterposer? Interposer { get; init; }

    private HypervisorView View => view ??= new HypervisorView(this);
    private HypervisorControl Control => control ??= new HypervisorControl(this);

    // The entry points the run loop (SimMachine) and focused tests drive.

    public void SwitchIn(Vcpu v) => Scheduler.SwitchIn(v);
    public void SwitchOut(Vcpu v) => Scheduler.SwitchOut(v);
    public void Wake(Vcpu v) => Scheduler.Wake(v);
    public void DeliverException(Vcpu v, in VmExit e) => Traps.DeliverException(v, e);
    public void DeliverPendingUpcall(Vcpu v) => Traps.DeliverPendingUpcall(v);

    // ------------------------------------------------------------ hypercall entry (xen/arch/x86/pv/hypercall.c)

    /// <summary>A syscall from guest kernel mode: a hypercall with rax = number, args in rdi, rsi, rdx, r10, r8.</summary>
    public void OnSyscall(Vcpu v)
    {
        if (!v.KernelMode)
        {
            Traps.SyscallFromUser(v);      // from guest user mode, syscall enters the guest kernel, not Xen
            return;
        }
        var c = v.Cpu;
        c.Cs = 0xE033;   // lstar_enter saves FLAT_KERNEL_CS64/SS whatever selectors the guest had loaded
        c.Ss = 0xE02B;
        ulong nr = c[Reg.Rax];
        ulong a1 = c[Reg.Rdi], a2 = c[Reg.Rsi], a3 = c[Reg.Rdx], a4 = c[Reg.R10], a5 = c[Reg.R8];
        Observer?.BeforeHypercall(View, new HypercallEvent(v.Id, nr, a1, a2, a3, a4, a5, null));
        long? rc = Dispatch(v, nr, a1, a2, a3, a4, a5);
        Trace.Hypercall(v.Id, nr, a1, a2, a3, rc);
        Observer?.AfterHypercall(View, new HypercallEvent(v.Id, nr, a1, a2, a3, a4, a5, rc));
        HypercallLog?.Add(new HypercallRecord(v.Id, nr, [a1, a2, a3, a4, a5], rc));
        if (rc is { } value)
        {
            c[Reg.Rax] = unchecked((ulong)value);
            // A debug Xen clobbers the unused argument registers before the call and the used ones
            // after it (unless continued): on return, all five hold the poison.
            if (PoisonHypercallArguments)
                foreach (var r in (ReadOnlySpan<Reg>)[Reg.Rdi, Reg.Rsi, Reg.Rdx, Reg.R10, Reg.R8]) c[r] = ArgumentPoison;
        }
    }

    /// <summary>Runs one hypercall; null when the handler set the registers itself (iret) or never returns.</summary>
    private long? Dispatch(Vcpu v, ulong nr, ulong a1, ulong a2, ulong a3, ulong a4, ulong a5)
    {
        Mmu.CurrentVcpu = v.Id;
        if (Interposer is not { } interposer) return Handle(v, nr, a1, a2, a3, a4, a5);
        var call = new HypercallEvent(v.Id, nr, a1, a2, a3, a4, a5, null);
        long? rc = interposer.TryAnswer(Control, call, out long answer) ? answer : Handle(v, nr, a1, a2, a3, a4, a5);
        interposer.AfterHandler(Control, call with { Rc = rc });
        return rc;
    }

    /// <summary>The hypercall table (pv/hypercall.c's pv_hypercall_table): the handler for each number.</summary>
    private long? Handle(Vcpu v, ulong nr, ulong a1, ulong a2, ulong a3, ulong a4, ulong a5) => nr switch
    {
        (ulong)Hypercall.SetTrapTable => Traps.SetTrapTable(v, a1),
        (ulong)Hypercall.MmuUpdate => Mmu.MmuUpdate(v, a1, (uint)a2, a3, (uint)a4),
        (ulong)Hypercall.SetGdt => Descriptors.SetGdt(v, a1, (uint)a2),
        (ulong)Hypercall.StackSwitch => DescriptorTables.StackSwitch(v, a1, a2),
        (ulong)Hypercall.SetCallbacks => Traps.SetCallbacks(v, a1, a2, a3),
        (ulong)Hypercall.FpuTaskswitch => PrivilegedOps.FpuTaskswitch(v, (int)a1),
        (ulong)Hypercall.SetDebugreg => PrivilegedOps.Debug.SetDebugreg(v, (int)a1, a2),
        (ulong)Hypercall.GetDebugreg => PrivilegedOps.Debug.GetDebugreg(v, (int)a1),
        (ulong)Hypercall.SchedOpCompat => Scheduler.SchedOpCompat(v, (int)a1, a2),
        (ulong)Hypercall.MemoryOp => MemoryOps.MemoryOp(v, a1, a2),
        (ulong)Hypercall.Multicall => Multicall(v, a1, (uint)a2),
        (ulong)Hypercall.UpdateVaMapping => Mmu.UpdateVaMapping(v, a1, a2, a3),
        (ulong)Hypercall.UpdateVaMappingOtherdomain => Mmu.UpdateVaMappingOtherdomain(v, a1, a2, a3, (ushort)a4),
        (ulong)Hypercall.SetTimerOp => Scheduler.SetTimerOp(v, unchecked((long)a1)),
        (ulong)Hypercall.EventChannelOpCompat => Events.EventChannelOpCompat(v, a1),
        (ulong)Hypercall.XenVersion => Version.XenVersion(v, (int)a1, a2),
        (ulong)Hypercall.ConsoleIo => Console.ConsoleIo(v, (uint)a1, (uint)a2, a3),
        (ulong)Hypercall.GrantTableOp => Grants.GrantTableOp(v, a1, a2, a3),
        (ulong)Hypercall.VmAssist => Lifecycle.VmAssist((uint)a1, (uint)a2),
        (ulong)Hypercall.UpdateDescriptor => Descriptors.UpdateDescriptor(v, a1, a2),
        (ulong)Hypercall.Iret => Traps.Iret(v),
        (ulong)Hypercall.VcpuOp => Vcpus.VcpuOp(v, (int)a1, (uint)a2, a3),
        (ulong)Hypercall.SetSegmentBase => Descriptors.SetSegmentBase(v, (uint)a1, a2),
        (ulong)Hypercall.MmuextOp => Mmu.MmuextOp(v, a1, (uint)a2, a3, (uint)a4),
        (ulong)Hypercall.SchedOp => Scheduler.SchedOp(v, (int)a1, a2),
        (ulong)Hypercall.CallbackOp => Traps.CallbackOp(v, (int)a1, a2),
        (ulong)Hypercall.EventChannelOp => Events.EventChannelOp(v, (int)a1, a2),
        (ulong)Hypercall.PhysdevOp when PrivilegedOps.Physdev is { } physdev => physdev.PhysdevOp(v, (int)a1, a2),
        (ulong)Hypercall.PlatformOp => Toolstack.PlatformOp(v, a1),
        (ulong)Hypercall.NmiOp => Toolstack.NmiOp(v, a1, a2),
        (ulong)Hypercall.XenoprofOp => Toolstack.XenoprofOp(a1),
        (ulong)Hypercall.HvmOp => ToolstackOps.HvmOp(a1),
        (ulong)Hypercall.Sysctl => Toolstack.Sysctl(v, a1),
        (ulong)Hypercall.Domctl => Toolstack.Domctl(v, a1),
        (ulong)Hypercall.KexecOp => ToolstackOps.KexecOp(a1),
        (ulong)Hypercall.XenpmuOp => -Errno.EOPNOTSUPP,          // vPMU is off by default (xen/arch/x86/cpu/vpmu.c)
        (ulong)Hypercall.DmOp => Toolstack.DmOp(a1, a2),
        (ulong)Hypercall.HypfsOp => ToolstackOps.HypfsOp(a1, a2, a3, a4, a5),
        (ulong)Hypercall.Mca => Toolstack.Mca(v, a1),
        (ulong)Hypercall.PagingDomctlCont => -Errno.EOPNOTSUPP,   // dom0 has no paging assistance (measured)
        // xsm_op (the dummy XSM), tmem_op (gone since 4.13), argo_op (not enabled), number 11 and 43–47 (unused): -ENOSYS below.
        >= FirstUnassignedHypercall when ForeignHypercall is { } foreign => foreign(nr, [a1, a2, a3, a4, a5]) ?? -Errno.ENOSYS,
        _ => -Errno.ENOSYS,
    };

    // ------------------------------------------------------------ multicall (xen/common/multicall.c)

    private long? Multicall(Vcpu v, ulong list, uint count)
    {
        if (inMulticall) return -Errno.EINVAL;   // re-entry is refused
        inMulticall = true;
        try
        {
            for (uint i = 0; i < count && i < MaxMulticallEntries; i++)
            {
                ulong at = list + i * (ulong)MulticallEntry.Layout.Size;
                if (!Guest.TryRead(v, at, out MulticallEntry entry)) return -Errno.EFAULT;
                Debug.Assert(entry.Args.Length >= 5);
                ulong op = entry.Op;
                ulong a1 = entry.Args[0], a2 = entry.Args[1], a3 = entry.Args[2], a4 = entry.Args[3], a5 = entry.Args[4];
                long? result = Dispatch(v, op, a1, a2, a3, a4, a5);
                if (op == (ulong)Hypercall.Iret)
                {
                    // arch_do_multicall_call: iret ends the multicall (mc_exit); the guest resumes
                    // where the iret frame says, with the registers it restored.
                    Trace.Hypercall(v.Id, op, a1, a2, a3, result);
                    HypercallLog?.Add(new HypercallRecord(v.Id, op, [a1, a2, a3, a4, a5], result));
                    return null;
                }
                Trace.Hypercall(v.Id, op, a1, a2, a3, result);
                HypercallLog?.Add(new HypercallRecord(v.Id, op, [a1, a2, a3, a4, a5], result));
                if (!Guest.WriteU64(v, at + (ulong)MulticallEntry.Layout.Result, unchecked((ulong)(result ?? 0)))) return -Errno.EFAULT;
                // Xen may preempt a multicall between entries; the model stops there once the run must end.
                if (Domain.IsShuttingDown || v.Blocked || Meter.MustStop) break;
            }
            return 0;
        }
        finally
        {
            inMulticall = false;
        }
    }
}

/// <summary>One hypercall as the guest made it: vCPU, number, the five argument registers, and the result (null: none, as iret).</summary>
public sealed record HypercallRecord(int Vcpu, ulong Number, ulong[] Args, long? Result);
