using System.Buffers.Binary;
using Xtf.Abi;
using Xtf.Sim.Cpu;

namespace Xtf.Sim.Xen;

/// <summary>
/// Traps, callbacks and their delivery to a 64-bit PV guest (xen/arch/x86/pv/traps.c,
/// pv/callback.c, pv/iret.c, traps.c, x86_64/entry.S): the virtual IDT, the callback entry points,
/// iret, and the bounce frame that enters the guest's handler for an exception, an NMI or an event
/// upcall. Privileged instructions are emulated by <see cref="PrivilegedOps"/> before a #GP(0) is
/// delivered, and forced-emulation CPUID by <see cref="InvalidOps"/> before a #UD.
/// </summary>
public sealed class Traps
{
    internal const ulong FlagIf = 1UL << 9, FlagTf = 1UL << 8, FlagNt = 1UL << 14, FlagRf = 1UL << 16,
        FlagVm = 1UL << 17, FlagAc = 1UL << 18, FlagIopl = 3UL << 12;
    private const ushort KernelCs = 0xE033, KernelSs = 0xE02B;
    /// <summary>trap_info entries one set_trap_table reads before it stops (Xen would preempt and continue).</summary>
    private const int MaxTrapInfoEntries = 4096;

    private readonly Domain domain;
    private readonly GuestMemory guest;
    private readonly VcpuInfoArea vcpuInfo;
    private readonly DomainLifecycle lifecycle;
    private readonly PrivilegedOps privilegedOps;
    private readonly InvalidOps invalidOps;
    private readonly SimTrace trace;
    private readonly SerialLog serial;

    public Traps(Domain domain, GuestMemory guest, VcpuInfoArea vcpuInfo, DomainLifecycle lifecycle, PrivilegedOps privilegedOps, InvalidOps invalidOps, SimTrace trace, SerialLog serial)
    {
        this.domain = domain;
        this.guest = guest;
        this.vcpuInfo = vcpuInfo;
        this.lifecycle = lifecycle;
        this.privilegedOps = privilegedOps;
        this.invalidOps = invalidOps;
        this.trace = trace;
        this.serial = serial;
    }

    // ------------------------------------------------------------ set_trap_table (xen/arch/x86/pv/callback.c)

    public long SetTrapTable(Vcpu v, ulong traps)
    {
        if (traps == 0)
        {
            Array.Clear(v.Traps);
            return 0;
        }
        // Decoded in place at TrapInfo's layout offsets: no record per entry on the boot path.
        Span<byte> e = stackalloc byte[TrapInfo.Layout.Size];
        for (int i = 0; i < MaxTrapInfoEntries; i++)
        {
            if (!guest.CopyFromGuest(v, traps, e)) return -Errno.EFAULT;
            ulong address = BinaryPrimitives.ReadUInt64LittleEndian(e[TrapInfo.Layout.Address..]);
            if (address == 0) break;
            if (!GuestMemory.IsCanonical(address)) return -Errno.EINVAL;
            ushort cs = BinaryPrimitives.ReadUInt16LittleEndian(e[TrapInfo.Layout.Cs..]);
            if ((cs & 3) == 0) cs |= 3;    // 64-bit PV kernels run in ring 3
            v.Traps[e[TrapInfo.Layout.Vector]] = new TrapEntry(e[TrapInfo.Layout.Flags], cs, address);
            traps += (ulong)TrapInfo.Layout.Size;
        }
        return 0;
    }

    // ------------------------------------------------------------ set_callbacks / callback_op (xen/arch/x86/pv/callback.c)

    public long SetCallbacks(Vcpu v, ulong eventAddress, ulong failsafeAddress, ulong syscallAddress)
    {
        if (GuestMemory.IsCanonical(eventAddress)) v.EventCallback = eventAddress;
        if (GuestMemory.IsCanonical(failsafeAddress)) v.FailsafeCallback = failsafeAddress;
        if (GuestMemory.IsCanonical(syscallAddress)) v.SyscallCallback = syscallAddress;
        return 0;
    }

    public long CallbackOp(Vcpu v, int cmd, ulong arg)
    {
        switch (cmd)
        {
            case 0:   // CALLBACKOP_register
            {
                if (!guest.TryRead(v, arg, out CallbackRegister r)) return -Errno.EFAULT;
                ulong address = r.Address;
                if (!GuestMemory.IsCanonical(address)) return -Errno.EINVAL;
                switch (r.Type)
                {
                    case 0: v.EventCallback = address; return 0;
                    case 1: v.FailsafeCallback = address; return 0;
                    case 2:
                        v.SyscallCallback = address;
                        v.SyscallMasksEvents = (r.Flags & 1) != 0;   // CALLBACKF_mask_events
                        return 0;
                    case 4: v.Traps[2] = new TrapEntry(0, KernelCs, address); return 0;   // nmi
                    case 5 or 7: return 0;   // sysenter, syscall32: recorded by Xen, unused here
                    default: return -Errno.ENOSYS;
                }
            }
            case 1:   // CALLBACKOP_unregister
            {
                if (!guest.TryRead(v, arg, out CallbackUnregister u)) return -Errno.EFAULT;
                return u.Type switch
                {
                    0 or 1 or 2 or 5 or 7 => -Errno.EINVAL,
                    4 => UnregisterNmi(v),
                    _ => -Errno.ENOSYS,
                };
            }
            default:
                return -Errno.ENOSYS;
        }
    }

    private static long UnregisterNmi(Vcpu v)
    {
        v.Traps[2] = default;
        return 0;
    }

    // ------------------------------------------------------------ iret (xen/arch/x86/pv/iret.c)

    public long? Iret(Vcpu v)
    {
        var c = v.Cpu;
        if (!guest.TryRead(v, c[Reg.Rsp], out IretContext frame))
        {
            lifecycle.Crash(v, "iret: cannot read the frame");
            return null;
        }
        ulong rax = frame.Rax, r11 = frame.R11, rcx = frame.Rcx, flags = frame.Flags, rip = frame.Rip, cs = frame.Cs,
            rflags = frame.Rflags, rsp = frame.Rsp, ss = frame.Ss;
        if ((cs & 3) == 3)
        {
            // Returning to user mode: only with user page tables (NEW_USER_BASEPTR or ctrlreg[1]).
            if (v.GuestTableUser == 0)
            {
                serial.Xen($"d{domain.Id}v{v.Id} Guest switching to user mode with no user page tables");
                lifecycle.Crash(v, "iret to user mode with no user page tables");
                return null;
            }
            ToggleGuestMode(v);
        }
        c.Rip = rip;
        c.Cs = (ushort)(cs | 3);
        c.Rflags = (rflags & ~(FlagIopl | FlagVm)) | FlagIf;
        c[Reg.Rsp] = rsp;
        c.Ss = (ushort)(ss | 3);
        if ((flags & IretContext.InSyscall) == 0)
        {
            c[Reg.R11] = r11;
            c[Reg.Rcx] = rcx;
        }
        vcpuInfo.SetUpcallMask(v, (rflags & FlagIf) == 0);
        c[Reg.Rax] = rax;
        v.InNmi = false;                       // iret ends NMI delivery (async_exception_cleanup)
        return null;
    }

    // ------------------------------------------------------------ exceptions (xen/arch/x86/traps.c, x86_64/entry.S)

    /// <summary>Delivers a fault or trap the CPU raised to the guest's handler, or crashes the domain.</summary>
    public void DeliverException(Vcpu v, in VmExit e)
    {
        var c = v.Cpu;
        uint error = e.ErrorCode;
        bool hasError = e.HasErrorCode;
        int vector = e.Vector;

        if (e.SoftwareInterrupt)
        {
            // int $n: allowed when the guest's trap gate DPL admits a kernel-mode caller.
            var gate = v.Traps[vector];
            if (gate.Address == 0 || (gate.Flags & 3) < (v.KernelMode ? 1 : 3))   // permit_softint
            {
                vector = 13;   // #GP with the IDT-vector error code, rip back at the int instruction
                hasError = true;
                error = (uint)((e.Vector << 3) | 2);
                c.Rip -= 2;
            }
        }
        else if (vector == 13 && hasError && error == 0 && privilegedOps.Emulate(v, out var follow))
        {
            // do_general_protection: Xen emulates what it can before injecting #GP(0)
            if (follow is { } next) DeliverException(v, next);
            return;
        }
        else if (vector == 6 && invalidOps.Emulate(v, out var inject))
        {
            // do_invalid_op (xen/arch/x86/traps.c): forced emulation first; the #UD only when it declines.
            if (inject is { } afterUd) DeliverException(v, afterUd);
            return;
        }
        if (vector == 7 && !e.SoftwareInterrupt && v.VirtualTs)
            privilegedOps.FpuTaskswitch(v, 0);   // do_device_not_available: the #NM consumes the guest's CR0.TS
        if (vector == 1 && !e.SoftwareInterrupt)
        {
            // do_debug: the status bits of this #DB go into the guest's DR6 before it is injected.
            privilegedOps.Debug.MergeDr6(v, c.PendingDr6);
            c.PendingDr6 = 0;
        }
        if (vector == 14)
        {
            if (v.KernelMode) error &= ~4u;   // Xen shows a kernel-mode fault without the user bit (measured)
            v.GuestCr2 = e.Cr2;
            vcpuInfo.SetCr2(v, e.Cr2);
        }
        trace.Exception(v.Id, vector, hasError ? error : null, c.Rip, e.Detail);

        var trap = v.Traps[vector];
        if (trap.Address == 0)
        {
            serial.Xen($"d{domain.Id}v{v.Id} Unhandled: vec {vector}, {VectorName(vector)}[{(hasError ? error : 0xFFFFFFFF):x4}]");
            lifecycle.Crash(v, null);
            return;
        }
        bool fault = vector is not (3 or 4) && !e.SoftwareInterrupt;
        if (!BounceFrame(v, c.Rip, hasError ? error : null, fault, trap.Cs, trap.Address, (trap.Flags & 4) != 0))
            lifecycle.Crash(v, "create_bounce_frame: cannot write the guest stack");
    }

    /// <summary>
    /// Builds Xen's PV bounce frame below the 16-byte-aligned kernel rsp and enters the handler:
    /// rcx, r11, [error], rip, cs|(mask&lt;&lt;32) with RPL cleared, rflags (IF = !mask, RF on a fault), rsp, ss.
    /// </summary>
    private bool BounceFrame(Vcpu v, ulong rip, uint? error, bool fault, ushort handlerCs, ulong handler, bool maskEvents)
    {
        var c = v.Cpu;
        bool mask = vcpuInfo.UpcallMasked(v);
        ulong rflags = c.Rflags & ~(FlagIf | FlagIopl);
        if (!mask) rflags |= FlagIf;
        if (fault) rflags |= FlagRf;
        ulong userRsp = c[Reg.Rsp];
        ulong stack;
        ulong cs;
        if (v.KernelMode)
        {
            stack = userRsp;                                  // in kernel context: the frame goes on the current stack
            cs = (ulong)(uint)(c.Cs & 0xFFFC);                // RPL 0 tells the guest it was in kernel mode
        }
        else
        {
            ToggleGuestMode(v);                               // from user mode: to the registered kernel stack
            stack = v.KernelSp;
            cs = c.Cs;
        }
        cs |= (mask ? 1UL : 0UL) << 32;
        ulong ss = c.Ss;
        ulong[] words = error is { } err
            ? [c[Reg.Rcx], c[Reg.R11], err, rip, cs, rflags, userRsp, ss]
            : [c[Reg.Rcx], c[Reg.R11], rip, cs, rflags, userRsp, ss];
        ulong sp = (stack & ~15UL) - (ulong)(8 * words.Length);
        Span<byte> frame = stackalloc byte[8 * 8];
        for (int i = 0; i < words.Length; i++) BinaryPrimitives.WriteUInt64LittleEndian(frame[(8 * i)..], words[i]);
        if (!guest.CopyToGuest(v, sp, frame[..(8 * words.Length)])) return false;

        c[Reg.Rsp] = sp;
        c.Rip = handler;
        c.Cs = (ushort)(handlerCs | 3);
        c.Ss = KernelSs;
        c.Rflags = (c.Rflags & ~(FlagTf | FlagNt | FlagRf | FlagAc | FlagVm)) | FlagIf;
        if (maskEvents) vcpuInfo.SetUpcallMask(v, true);
        return true;
    }

    /// <summary>
    /// toggle_guest_mode (xen/arch/x86/pv/domain.c): between guest kernel and user mode, swapping
    /// the GS bases (swapgs) and the page tables (guest_table, guest_table_user).
    /// </summary>
    public void ToggleGuestMode(Vcpu v)
    {
        var c = v.Cpu;
        v.KernelMode = !v.KernelMode;
        (c.GsBase, v.ShadowGsBase) = (v.ShadowGsBase, c.GsBase);
        c.Cr3 = v.KernelMode ? v.GuestTable : v.GuestTableUser;
        trace.Mode(v.Id, v.KernelMode ? "to kernel mode" : "to user mode", c.Rip);
    }

    /// <summary>
    /// syscall from guest user mode (x86_64/entry.S, lstar_enter then switch_to_kernel): a bounce
    /// to the syscall callback on the kernel stack, the saved frame holding the user rip (rcx) and
    /// rflags (r11) with Xen's flat selectors; events masked if the callback asked for it.
    /// </summary>
    public void SyscallFromUser(Vcpu v)
    {
        var c = v.Cpu;
        c.Cs = 0xE033;                                        // FLAT_KERNEL_CS64, FLAT_KERNEL_SS as lstar_enter saves them
        c.Ss = KernelSs;
        c.Rflags = c[Reg.R11];
        if (v.SyscallCallback == 0)
        {
            lifecycle.Crash(v, "syscall from user mode with no syscall callback");
            return;
        }
        trace.Mode(v.Id, "syscall from user mode", c.Rip);
        if (!BounceFrame(v, c.Rip, null, fault: false, KernelCs, v.SyscallCallback, v.SyscallMasksEvents))
        {
            lifecycle.Crash(v, "syscall: cannot write the guest stack");
            return;
        }
        c.Rflags &= ~CpuState.FlagDf;
    }

    /// <summary>
    /// On return to the guest: a pending NMI first, through trap 2 (dropped when no handler is
    /// registered; held while an earlier NMI has not returned through iret), then an event upcall
    /// if one is pending and not masked (docs/pv-abi.md §7.10).
    /// </summary>
    public void DeliverPendingUpcall(Vcpu v)
    {
        if (v.NmiPending && v.Initialised && !v.InNmi && !domain.IsShuttingDown)
        {
            v.NmiPending = false;
            var nmi = v.Traps[2];
            if (nmi.Address != 0)
            {
                trace.Exception(v.Id, 2, null, v.Cpu.Rip, "nmi");
                if (!BounceFrame(v, v.Cpu.Rip, null, fault: false, nmi.Cs, nmi.Address, (nmi.Flags & 4) != 0))
                {
                    lifecycle.Crash(v, "NMI: cannot write the guest stack");
                    return;
                }
                v.InNmi = true;
                return;
            }
            // pv_inject_event (xen/arch/x86/pv/traps.c): no handler for the NMI: a warning, and it is dropped.
            serial.Xen($"d{domain.Id}v{v.Id} Unhandled: vec 2, {VectorName(2)}[ffffffff]");
        }
        if (domain.IsShuttingDown || !vcpuInfo.UpcallPending(v) || vcpuInfo.UpcallMasked(v)) return;
        if (v.EventCallback == 0)
        {
            lifecycle.Crash(v, "event upcall with no event callback registered");
            return;
        }
        trace.Upcall(v.Id, v.Cpu.Rip);
        if (!BounceFrame(v, v.Cpu.Rip, null, fault: false, KernelCs, v.EventCallback, maskEvents: true))
            lifecycle.Crash(v, "event upcall: cannot write the guest stack");
    }

    private static string VectorName(int vector) => vector switch
    {
        0 => "#DE", 1 => "#DB", 2 => "NMI", 3 => "#BP", 4 => "#OF", 5 => "#BR", 6 => "#UD", 7 => "#NM", 8 => "#DF",
        10 => "#TS", 11 => "#NP", 12 => "#SS", 13 => "#GP", 14 => "#PF", 16 => "#MF", 17 => "#AC", 18 => "#MC",
        19 => "#XM", 20 => "#VE", 21 => "#CP", _ => $"#{vector}",
    };
}
