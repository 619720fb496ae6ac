using System.Buffers.Binary;
using Xtf.Abi;
using Xtf.Sim.Cpu;

namespace Xtf.Sim.Xen;

public sealed partial class Hypervisor
{
    private const ulong StimeDeltaMax = 0x3FFF_FFFF_FFFF_FFFF;
    private const ulong MinPeriodNs = 1_000_000;

    // ------------------------------------------------------------ vcpu_op (xen/common/domain.c, xen/arch/x86/domain.c)

    private long? VcpuOp(Vcpu caller, int cmd, uint vcpuid, ulong arg)
    {
        if (vcpuid >= Domain.Vcpus.Count) return -Errno.ENOENT;      // before the command is looked at
        var v = Domain.Vcpus[(int)vcpuid];
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
                if (Domain.Pcpus != 1 && !v.PinOverride) return -Errno.EINVAL;
                return WriteU64(caller, arg, 0) ? 0 : -Errno.EFAULT;
            }
            case (int)Abi.VcpuOp.RegisterVcpuTimeMemoryArea:
            {
                if (!ReadU64(caller, arg, out ulong area)) return -Errno.EFAULT;
                if (!AccessOk(area)) return -Errno.EFAULT;
                v.TimeArea = area;
                UpdateVcpuTime(v);                    // written at once (faults ignored)
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
                    if (v.Runnable && v.Runstate != RunState.Running) MakeRunnable(v);
                    Reschedule = true;
                }
                return 0;

            case (int)Abi.VcpuOp.Down:
                if (Domain.Vcpus.All(o => o == v || o.Down))
                {
                    DomainShutdown((uint)ShutdownReason.Poweroff);
                    return 0;
                }
                if (!v.Down)
                {
                    v.Down = true;
                    // vcpu_sleep_nosync: a running vCPU is descheduled (offline); a blocked one
                    // is not runnable and keeps its blocked runstate.
                    if (v.Runstate == RunState.Running) SwitchOut(v);
                    else if (v.Runstate == RunState.Runnable)
                    {
                        v.StartsAt = null;            // woken but not yet on its pCPU: straight to offline
                        v.SetRunstate(RunState.Offline, Clock.Now);
                    }
                    Reschedule = true;
                }
                return 0;

            case (int)Abi.VcpuOp.IsUp:
                return v.Down ? 0 : 1;

            case (int)Abi.VcpuOp.GetRunstateInfo:
            {
                var info = RunstateSnapshot(v);
                return CopyToGuest(caller, arg, info) ? 0 : -Errno.EFAULT;
            }

            case (int)Abi.VcpuOp.RegisterRunstateMemoryArea:
            {
                if (!ReadU64(caller, arg, out ulong area)) return -Errno.EFAULT;
                if (!AccessOk(area)) return -Errno.EFAULT;
                v.RunstateArea = area;
                CopyToGuest(caller, area, RunstateSnapshot(v));      // faults ignored
                return 0;
            }

            case (int)Abi.VcpuOp.SetPeriodicTimer:
            {
                if (!ReadU64(caller, arg, out ulong period)) return -Errno.EFAULT;
                if (period < MinPeriodNs || period > StimeDeltaMax) return -Errno.EINVAL;
                v.PeriodNs = period;
                v.PeriodicDeadline = null;
                if (Clock.Now >= v.PeriodicLastEvent + period)
                {
                    v.PeriodicLastEvent = Clock.Now;
                    SendVirq(v, Virq.Timer);
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
                Span<byte> t = stackalloc byte[VcpuSetSingleshotTimer.Layout.Size];
                if (!CopyFromGuest(caller, arg, t)) return -Errno.EFAULT;
                ulong deadline = BinaryPrimitives.ReadUInt64LittleEndian(t);
                if (deadline < Clock.Now)
                {
                    v.SingleshotDeadline = null;
                    SendVirq(v, Virq.Timer);           // 4.17.3+: a past deadline fires now, never -ETIME
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

    /// <summary>update_runstate_area (xen/arch/x86/domain.c): rewritten on every context switch; faults ignored.</summary>
    public void UpdateRunstateArea(Vcpu v)
    {
        if (v.RunstateArea is { } area) CopyToGuest(v, area, RunstateSnapshot(v));
    }

    private byte[] RunstateSnapshot(Vcpu v)
    {
        var b = new byte[VcpuRunstateInfo.Layout.Size];
        BinaryPrimitives.WriteInt32LittleEndian(b, (int)v.Runstate);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(VcpuRunstateInfo.Layout.StateEntryTime), v.RunstateEntryTime);
        for (int s = 0; s < 4; s++)
        {
            ulong t = v.RunstateTime[s] + (s == (int)v.Runstate ? Clock.Now - v.RunstateEntryTime : 0);
            BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(VcpuRunstateInfo.Layout.Time + 8 * s), t);
        }
        return b;
    }

    /// <summary>VCPUOP_initialise: arch_set_info_guest's checks in Xen's order (spec §4.2).</summary>
    private long Initialise(Vcpu caller, Vcpu v, ulong arg)
    {
        if (v.Id >= PvLayoutLegacyMaxVcpus && !v.VcpuInfoRegistered) return -Errno.EINVAL;
        var ctx = new byte[VcpuGuestContext.Layout.Size];
        if (!CopyFromGuest(caller, arg, ctx)) return -Errno.EFAULT;
        if (v.Initialised) return -Errno.EEXIST;

        ulong Q(int off) => BinaryPrimitives.ReadUInt64LittleEndian(ctx.AsSpan(off));
        int regs = VcpuGuestContext.Layout.UserRegs;
        ulong flags = Q(VcpuGuestContext.Layout.Flags);
        ulong ldtBase = Q(VcpuGuestContext.Layout.LdtBase), ldtEnts = Q(VcpuGuestContext.Layout.LdtEnts);
        if (!IsCanonical(Q(regs + CpuUserRegs.Layout.Rip)) || !IsCanonical(Q(regs + CpuUserRegs.Layout.Rsp))
            || !IsCanonical(Q(VcpuGuestContext.Layout.KernelSp)) || !IsCanonical(Q(VcpuGuestContext.Layout.FsBase))
            || !IsCanonical(Q(VcpuGuestContext.Layout.GsBaseKernel)) || !IsCanonical(Q(VcpuGuestContext.Layout.GsBaseUser))
            || !IsCanonical(Q(VcpuGuestContext.Layout.EventCallbackEip)) || !IsCanonical(Q(VcpuGuestContext.Layout.SyscallCallbackEip))
            || !IsCanonical(Q(VcpuGuestContext.Layout.FailsafeCallbackEip)) || (ldtEnts != 0 && !IsCanonical(ldtBase)))
            return -Errno.EINVAL;
        for (int i = 0; i < 256; i++)
            if (!IsCanonical(Q(VcpuGuestContext.Layout.TrapCtxt + 16 * i + TrapInfo.Layout.Address))) return -Errno.EINVAL;
        if (!AccessOk(ldtBase)) return -Errno.EINVAL;
        if ((ldtBase & 0xFFF) != 0 || ldtEnts > 8192) return -Errno.EINVAL;
        if (v.Id == 0 && (Q(VcpuGuestContext.Layout.VmAssist) & ~VmAssistValidMask) != 0) return -Errno.EINVAL;
        // Xen keeps the GDT frame and entry counts in 32 bits: gdt_ents = 2^63 wraps to 0 frames
        // and 0 entries and is accepted (measured by test-pv64-vcpu-initialise-descriptors).
        ulong gdtEnts64 = Q(VcpuGuestContext.Layout.GdtEnts);
        uint gdtFrames = (uint)((gdtEnts64 + 511) / 512);
        uint gdtEnts = (uint)gdtEnts64;
        if (gdtFrames > 16) return -Errno.EINVAL;
        ulong cr1 = Q(VcpuGuestContext.Layout.Ctrlreg + 8), cr3 = Q(VcpuGuestContext.Layout.Ctrlreg + 24);
        if ((flags & (ulong)VgcfFlags.InKernel) == 0 && cr1 == 0) return -Errno.EINVAL;
        if (gdtEnts > 7168) return -Errno.EINVAL;
        for (int i = 0; i < gdtFrames; i++)
            if (!CanBeTyped(Q(VcpuGuestContext.Layout.GdtFrames + 8 * i), level: 0)) return -Errno.EINVAL;
        if (!Domain.M2p.ContainsKey(cr3 >> 12)) return -Errno.EINVAL;
        if (!CanBeTyped(cr3 >> 12, level: 4)) return -Errno.EINVAL;
        if (cr1 != 0 && (!Domain.M2p.ContainsKey(cr1 >> 12) || !CanBeTyped(cr1 >> 12, level: 4))) return -Errno.EINVAL;

        // Load the context (normalisations of spec §4.2).
        var c = v.Cpu;
        int[] order = [CpuUserRegs.Layout.Rax, CpuUserRegs.Layout.Rcx, CpuUserRegs.Layout.Rdx, CpuUserRegs.Layout.Rbx,
            CpuUserRegs.Layout.Rsp, CpuUserRegs.Layout.Rbp, CpuUserRegs.Layout.Rsi, CpuUserRegs.Layout.Rdi,
            CpuUserRegs.Layout.R8, CpuUserRegs.Layout.R9, CpuUserRegs.Layout.R10, CpuUserRegs.Layout.R11,
            CpuUserRegs.Layout.R12, CpuUserRegs.Layout.R13, CpuUserRegs.Layout.R14, CpuUserRegs.Layout.R15];
        for (int r = 0; r < 16; r++) c[(Reg)r] = Q(regs + order[r]);
        c.Rip = Q(regs + CpuUserRegs.Layout.Rip);
        c.Rflags = (Q(regs + CpuUserRegs.Layout.Rflags) & ~FlagIopl) | FlagIf | 2;
        c.Cs = (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(ctx.AsSpan(regs + CpuUserRegs.Layout.Cs)) | 3);
        c.Ss = (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(ctx.AsSpan(regs + CpuUserRegs.Layout.Ss)) | 3);
        c.Ds = BinaryPrimitives.ReadUInt16LittleEndian(ctx.AsSpan(regs + CpuUserRegs.Layout.Ds));
        c.Es = BinaryPrimitives.ReadUInt16LittleEndian(ctx.AsSpan(regs + CpuUserRegs.Layout.Es));
        c.Fs = BinaryPrimitives.ReadUInt16LittleEndian(ctx.AsSpan(regs + CpuUserRegs.Layout.Fs));
        c.Gs = BinaryPrimitives.ReadUInt16LittleEndian(ctx.AsSpan(regs + CpuUserRegs.Layout.Gs));
        c.FsBase = Q(VcpuGuestContext.Layout.FsBase);
        c.GsBase = Q(VcpuGuestContext.Layout.GsBaseKernel);
        c.Cr3 = cr3;
        c.Cpl = 3;
        for (int i = 0; i < 256; i++)
        {
            int t = VcpuGuestContext.Layout.TrapCtxt + 16 * i;
            ulong address = Q(t + TrapInfo.Layout.Address);
            ushort cs = (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(ctx.AsSpan(t + TrapInfo.Layout.Cs)) | 3);
            v.Traps[i] = address == 0 ? default : new TrapEntry(ctx[t + TrapInfo.Layout.Flags], cs, address);
        }
        v.KernelSs = Q(VcpuGuestContext.Layout.KernelSs) | 3;
        v.KernelSp = Q(VcpuGuestContext.Layout.KernelSp);
        v.EventCallback = Q(VcpuGuestContext.Layout.EventCallbackEip);
        v.FailsafeCallback = Q(VcpuGuestContext.Layout.FailsafeCallbackEip);
        v.SyscallCallback = Q(VcpuGuestContext.Layout.SyscallCallbackEip);
        v.Initialised = true;
        if ((flags & (ulong)VgcfFlags.Online) != 0) v.Down = false;    // cleared without waking it
        return 0;
    }

    private const int PvLayoutLegacyMaxVcpus = 32;

    /// <summary>
    /// get_page_type: a frame can take a special type (a descriptor table when <paramref name="level"/>
    /// is 0, a page table of that level otherwise) only if the domain owns it and no writable
    /// mapping of it exists; a frame already typed as that page-table level qualifies.
    /// </summary>
    private bool CanBeTyped(ulong mfn, int level)
    {
        if (!Domain.M2p.ContainsKey(mfn)) return false;
        if (PageTableFrames.TryGetValue(mfn, out int existing)) return existing == level;
        return !IsMappedWritable(mfn);
    }

    /// <summary>VCPUOP_register_vcpu_info (spec §4.11).</summary>
    private long RegisterVcpuInfo(Vcpu caller, Vcpu v, ulong arg)
    {
        Span<byte> a = stackalloc byte[VcpuRegisterVcpuInfo.Layout.Size];
        if (!CopyFromGuest(caller, arg, a)) return -Errno.EFAULT;
        ulong mfn = BinaryPrimitives.ReadUInt64LittleEndian(a[VcpuRegisterVcpuInfo.Layout.Mfn..]);
        uint offset = BinaryPrimitives.ReadUInt32LittleEndian(a[VcpuRegisterVcpuInfo.Layout.Offset..]);
        if (offset > 4096 - 64 || offset % 8 != 0) return -Errno.ENXIO;
        if (v.VcpuInfoRegistered) return -Errno.EINVAL;
        if (v != caller && !v.Down) return -Errno.EINVAL;
        if (!Domain.M2p.ContainsKey(mfn) || IsPageTableFrame(mfn)) return -Errno.EINVAL;

        var old = VcpuInfo(v).ToArray();
        bool hadSlot = v.VcpuInfo is not null;
        ulong ma = (mfn << 12) + offset;
        v.VcpuInfo = ma;
        v.VcpuInfoRegistered = true;
        var fresh = Memory.Span(ma, 64);
        if (hadSlot) old.CopyTo(fresh);
        else
        {
            fresh.Clear();
            fresh[VcpuInfoLayout.UpcallMask] = 1;
        }
        BinaryPrimitives.WriteUInt64LittleEndian(fresh[VcpuInfoLayout.PendingSel..], ulong.MaxValue);
        Memory.NoteWrite(mfn);
        MarkEventsPending(v);      // a deliberate spurious event
        SetUpcallPending(v, true);
        return 0;
    }
}
