using System.Buffers.Binary;
using Xtf.Abi;
using Xtf.Sim.Cpu;
using VcpuInfoLayout = Xtf.Abi.VcpuInfo.Layout;

namespace Xtf.Sim.Xen;

/// <summary>
/// vcpu_op (xen/common/domain.c do_vcpu_op, xen/arch/x86/domain.c arch_do_vcpu_op): bringing vCPUs
/// up and down, their context, timers, and where their vcpu_info, runstate and time areas live.
/// Invariant: a vCPU is never up before it is initialised.
/// </summary>
public sealed class VcpuOps
{
    private const ulong StimeDeltaMax = 0x3FFF_FFFF_FFFF_FFFF;
    private const ulong MinPeriodNs = 1_000_000;

    private readonly Domain domain;
    private readonly VirtualClock clock;
    private readonly GuestMemory guest;
    private readonly VcpuInfoArea vcpuInfo;
    private readonly Scheduler scheduler;
    private readonly EventChannels events;
    private readonly SystemTime time;
    private readonly DomainLifecycle lifecycle;
    private readonly Mmu mmu;

    public VcpuOps(Domain domain, VirtualClock clock, GuestMemory guest, VcpuInfoArea vcpuInfo, Scheduler scheduler,
        EventChannels events, SystemTime time, DomainLifecycle lifecycle, Mmu mmu)
    {
        this.domain = domain;
        this.clock = clock;
        this.guest = guest;
        this.vcpuInfo = vcpuInfo;
        this.scheduler = scheduler;
        this.events = events;
        this.time = time;
        this.lifecycle = lifecycle;
        this.mmu = mmu;
    }

    // ------------------------------------------------------------ vcpu_op (xen/common/domain.c, xen/arch/x86/domain.c)

    public long? VcpuOp(Vcpu caller, int cmd, uint vcpuid, ulong arg)
    {
        if (vcpuid >= domain.Vcpus.Count) return -Errno.ENOENT;      // before the command is looked at
        var v = domain.Vcpus[(int)vcpuid];
        switch (cmd)
        {
            // x86-specific commands first (xen/arch/x86/domain.c: arch_do_vcpu_op)
            case (int)Abi.VcpuOp.SendNmi:
                if (arg != 0) return -Errno.EINVAL;
                v.NmiPending = true;                  // delivered on the target's next return to the guest
                return 0;
            case (int)Abi.VcpuOp.GetPhysid:
            {
                // Only a hardware domain whose vCPU is pinned to one pCPU: with one pCPU, dom0's
                // affinity is that CPU (measured: rc 0, phys_id 0); with two, -EINVAL.
                // SCHEDOP_pin_override also pins it (found by xtf fuzz --host both: after pin_override(0 or 1),
                // real Xen returns 0 and phys_id 0 for vCPU 0, which Xen derives from the vCPU id).
                if (domain.Pcpus != 1 && !v.PinOverride) return -Errno.EINVAL;
                return guest.WriteU64(caller, arg + (ulong)VcpuGetPhysid.Layout.PhysId, 0) ? 0 : -Errno.EFAULT;
            }
            case (int)Abi.VcpuOp.RegisterVcpuTimeMemoryArea:
            {
                if (!guest.TryRead(caller, arg, out VcpuRegisterTimeMemoryArea t)) return -Errno.EFAULT;
                if (!GuestMemory.AccessOk(t.Addr)) return -Errno.EFAULT;
                v.TimeArea = t.Addr;
                time.UpdateVcpuTime(v);                    // written at once (faults ignored)
                return 0;
            }

            case (int)Abi.VcpuOp.Initialise:
                return Initialise(caller, v, arg);

            case (int)Abi.VcpuOp.Up:
                if (!v.Initialised) return -Errno.EINVAL;
                if (v.Down)
                {
                    v.Down = false;
                    // vcpu_wake: a vCPU still blocked (in a poll) stays blocked.
                    if (v.Runnable && v.Runstate != RunState.Running) scheduler.MakeRunnable(v);
                    scheduler.Reschedule = true;
                }
                return 0;

            case (int)Abi.VcpuOp.Down:
                if (domain.Vcpus.All(o => o == v || o.Down))
                {
                    lifecycle.Shutdown((uint)ShutdownReason.Poweroff);
                    return 0;
                }
                if (!v.Down)
                {
                    v.Down = true;
                    // vcpu_sleep_nosync: a running vCPU is descheduled (offline); a blocked one
                    // is not runnable and keeps its blocked runstate.
                    if (v.Runstate == RunState.Running) scheduler.SwitchOut(v);
                    else if (v.Runstate == RunState.Runnable)
                    {
                        v.StartsAt = null;            // woken but not yet on its pCPU: straight to offline
                        v.SetRunstate(RunState.Offline, clock.Now);
                    }
                    scheduler.Reschedule = true;
                }
                return 0;

            case (int)Abi.VcpuOp.IsUp:
                return v.Down ? 0 : 1;

            case (int)Abi.VcpuOp.GetRunstateInfo:
                return guest.CopyToGuest(caller, arg, scheduler.RunstateSnapshot(v)) ? 0 : -Errno.EFAULT;

            case (int)Abi.VcpuOp.RegisterRunstateMemoryArea:
            {
                if (!guest.TryRead(caller, arg, out VcpuRegisterRunstateMemoryArea r)) return -Errno.EFAULT;
                if (!GuestMemory.AccessOk(r.Addr)) return -Errno.EFAULT;
                v.RunstateArea = r.Addr;
                // common_vcpu_op (xen/common/domain.c): the caller's stored runstate, another vCPU's snapshot; faults ignored.
                guest.CopyToGuest(caller, r.Addr, v == caller ? scheduler.StoredRunstate(v) : scheduler.RunstateSnapshot(v));
                return 0;
            }

            case (int)Abi.VcpuOp.SetPeriodicTimer:
            {
                if (!guest.TryRead(caller, arg, out VcpuSetPeriodicTimer t)) return -Errno.EFAULT;
                ulong period = t.PeriodNs;
                if (period < MinPeriodNs || period > StimeDeltaMax) return -Errno.EINVAL;
                v.PeriodNs = period;
                v.PeriodicDeadline = null;
                if (clock.Now >= v.PeriodicLastEvent + period)
                {
                    v.PeriodicLastEvent = clock.Now;
                    events.SendVirq(v, Virq.Timer);
                }
                v.PeriodicDeadline = v.PeriodicLastEvent + period;
                return 0;
            }
            case (int)Abi.VcpuOp.StopPeriodicTimer:
                v.PeriodNs = 0;
                v.PeriodicDeadline = null;
                return 0;

            case (int)Abi.VcpuOp.SetSingleshotTimer:
            {
                if (v != caller) return -Errno.EINVAL;
                if (!guest.TryRead(caller, arg, out VcpuSetSingleshotTimer t)) return -Errno.EFAULT;
                ulong deadline = t.TimeoutAbsNs;
                if (deadline < clock.Now)
                {
                    v.SingleshotDeadline = null;
                    events.SendVirq(v, Virq.Timer);           // 4.17.3+: a past deadline fires now, never -ETIME
                }
                else v.SingleshotDeadline = deadline;
                return 0;
            }
            case (int)Abi.VcpuOp.StopSingleshotTimer:
                if (v != caller) return -Errno.EINVAL;
                v.SingleshotDeadline = null;
                return 0;

            case (int)Abi.VcpuOp.RegisterVcpuInfo:
                return RegisterVcpuInfo(caller, v, arg);

            default:
                return -Errno.ENOSYS;
        }
    }

    /// <summary>VCPUOP_initialise: arch_set_info_guest's checks in Xen's order (docs/pv-abi.md §4.2).</summary>
    private long Initialise(Vcpu caller, Vcpu v, ulong arg)
    {
        if (v.Id >= PvLayout.LegacyMaxVcpus && !v.VcpuInfoRegistered) return -Errno.EINVAL;
        var raw = new byte[VcpuGuestContext.Layout.Size];
        if (!guest.CopyFromGuest(caller, arg, raw)) return -Errno.EFAULT;
        if (v.Initialised) return -Errno.EEXIST;
        var ctx = VcpuGuestContext.Read(raw);
        var regs = ctx.UserRegs;

        static bool IsCanonical(ulong va) => GuestMemory.IsCanonical(va);
        ulong flags = ctx.Flags;
        ulong ldtBase = ctx.LdtBase, ldtEnts = ctx.LdtEnts;
        if (!IsCanonical(regs.Rip) || !IsCanonical(regs.Rsp)
            || !IsCanonical(ctx.KernelSp) || !IsCanonical(ctx.FsBase)
            || !IsCanonical(ctx.GsBaseKernel) || !IsCanonical(ctx.GsBaseUser)
            || !IsCanonical(ctx.EventCallbackEip) || !IsCanonical(ctx.SyscallCallbackEip)
            || !IsCanonical(ctx.FailsafeCallbackEip) || (ldtEnts != 0 && !IsCanonical(ldtBase)))
            return -Errno.EINVAL;
        foreach (var trap in ctx.TrapCtxt)
            if (!IsCanonical(trap.Address)) return -Errno.EINVAL;
        if (!GuestMemory.AccessOk(ldtBase)) return -Errno.EINVAL;
        if ((ldtBase & 0xFFF) != 0 || ldtEnts > 8192) return -Errno.EINVAL;
        if (v.Id == 0 && (ctx.VmAssist & ~DomainLifecycle.VmAssistValidMask) != 0) return -Errno.EINVAL;
        // Xen keeps the GDT frame and entry counts in 32 bits: gdt_ents = 2^63 wraps to 0 frames
        // and 0 entries and is accepted (measured by test-pv64-vcpu-initialise-descriptors).
        ulong gdtEnts64 = ctx.GdtEnts;
        uint gdtFrames = (uint)((gdtEnts64 + 511) / 512);
        uint gdtEnts = (uint)gdtEnts64;
        if (gdtFrames > VcpuGuestContext.GdtFramesCount) return -Errno.EINVAL;
        ulong cr1 = ctx.Ctrlreg[1], cr3 = ctx.Ctrlreg[3];
        if ((flags & (ulong)VgcfFlags.InKernel) == 0 && cr1 == 0) return -Errno.EINVAL;
        if (gdtEnts > 7168) return -Errno.EINVAL;
        for (int i = 0; i < gdtFrames; i++)
            if (!mmu.CanBeTyped(ctx.GdtFrames[i], level: 0)) return -Errno.EINVAL;
        if (!mmu.GetPage(cr3 >> 12)) return -Errno.EINVAL;
        if (!mmu.CanBeTyped(cr3 >> 12, level: 4)) return -Errno.EINVAL;
        if (cr1 != 0 && !mmu.CanBeTyped(cr1 >> 12, level: 4)) return -Errno.EINVAL;
        // The base pointers take their L4 type references (arch_set_info_guest: get_page_type_preemptible).
        long tables = mmu.SetGuestTables(v, cr3 >> 12, cr1 >> 12);
        if (tables != 0) return tables;

        // Load the context (normalisations of docs/pv-abi.md §4.2).
        var c = v.Cpu;
        c[Reg.Rax] = regs.Rax; c[Reg.Rcx] = regs.Rcx; c[Reg.Rdx] = regs.Rdx; c[Reg.Rbx] = regs.Rbx;
        c[Reg.Rsp] = regs.Rsp; c[Reg.Rbp] = regs.Rbp; c[Reg.Rsi] = regs.Rsi; c[Reg.Rdi] = regs.Rdi;
        c[Reg.R8] = regs.R8; c[Reg.R9] = regs.R9; c[Reg.R10] = regs.R10; c[Reg.R11] = regs.R11;
        c[Reg.R12] = regs.R12; c[Reg.R13] = regs.R13; c[Reg.R14] = regs.R14; c[Reg.R15] = regs.R15;
        c.Rip = regs.Rip;
        c.Rflags = (regs.Rflags & ~Traps.FlagIopl) | Traps.FlagIf | 2;
        c.Cs = (ushort)(regs.Cs | 3);
        c.Ss = (ushort)(regs.Ss | 3);
        c.Ds = regs.Ds;
        c.Es = regs.Es;
        c.Fs = regs.Fs;
        c.Gs = regs.Gs;
        c.FsBase = ctx.FsBase;
        c.GsBase = ctx.GsBaseKernel;
        v.GuestTable = cr3 & ~0xFFFUL;
        v.GuestTableUser = cr1 & ~0xFFFUL;
        v.KernelMode = (flags & (ulong)VgcfFlags.InKernel) != 0;
        v.ShadowGsBase = v.KernelMode ? ctx.GsBaseUser : ctx.GsBaseKernel;
        c.Cr3 = v.KernelMode ? v.GuestTable : v.GuestTableUser;
        if (!v.KernelMode) c.GsBase = ctx.GsBaseUser;
        c.Cpl = 3;
        for (int i = 0; i < VcpuGuestContext.TrapCtxtCount; i++)
        {
            var t = ctx.TrapCtxt[i];
            v.Traps[i] = t.Address == 0 ? default : new TrapEntry(t.Flags, (ushort)(t.Cs | 3), t.Address);
        }
        v.KernelSs = ctx.KernelSs | 3;
        v.KernelSp = ctx.KernelSp;
        v.EventCallback = ctx.EventCallbackEip;
        v.FailsafeCallback = ctx.FailsafeCallbackEip;
        v.SyscallCallback = ctx.SyscallCallbackEip;
        v.Initialised = true;
        if ((flags & (ulong)VgcfFlags.Online) != 0) v.Down = false;    // cleared without waking it
        return 0;
    }

    /// <summary>VCPUOP_register_vcpu_info (docs/pv-abi.md §4.11).</summary>
    private long RegisterVcpuInfo(Vcpu caller, Vcpu v, ulong arg)
    {
        if (!guest.TryRead(caller, arg, out VcpuRegisterVcpuInfo args)) return -Errno.EFAULT;
        ulong mfn = args.Mfn;
        uint offset = args.Offset;
        if (offset > 4096 - VcpuInfoLayout.Size || offset % 8 != 0) return -Errno.ENXIO;
        if (v.VcpuInfoRegistered) return -Errno.EINVAL;
        if (v != caller && !v.Down) return -Errno.EINVAL;
        if (!mmu.GetPage(mfn) || mmu.IsPageTableFrame(mfn)) return -Errno.EINVAL;

        var old = vcpuInfo.Of(v).ToArray();
        bool hadSlot = v.VcpuInfo is not null;
        ulong ma = (mfn << 12) + offset;
        v.VcpuInfo = ma;
        v.VcpuInfoRegistered = true;
        var fresh = domain.Memory.Span(ma, VcpuInfoLayout.Size);
        if (hadSlot) old.CopyTo(fresh);
        else
        {
            fresh.Clear();
            fresh[VcpuInfoLayout.EvtchnUpcallMask] = 1;
        }
        BinaryPrimitives.WriteUInt64LittleEndian(fresh[VcpuInfoLayout.EvtchnPendingSel..], ulong.MaxValue);
        domain.Memory.NoteWrite(mfn);
        events.MarkEventsPending(v);      // a deliberate spurious event
        vcpuInfo.SetUpcallPending(v, true);
        return 0;
    }
}
