using System.Buffers.Binary;
using Xtf.Abi;

namespace Xtf.Sim.Xen;

public sealed partial class Hypervisor
{
    public const int NrCpus = 256;              // CONFIG_NR_CPUS of Debian's build
    public const int MaxPollPorts = 128;
    public const ulong SecondNs = 1_000_000_000;

    // ------------------------------------------------------------ sched_op (xen/common/sched/core.c)

    private long? SchedOp(Vcpu v, int cmd, ulong arg)
    {
        Span<byte> b = stackalloc byte[SchedPoll.Layout.Size];
        switch (cmd)
        {
            case (int)Abi.SchedOp.Yield:
                Reschedule = true;
                return 0;

            case (int)Abi.SchedOp.Block:
                Block(v);
                return 0;

            case (int)Abi.SchedOp.Shutdown:
            {
                if (!CopyFromGuest(v, arg, b[..4])) return -Errno.EFAULT;
                DomainShutdown(BinaryPrimitives.ReadUInt32LittleEndian(b) & 0xFF);
                return 0;
            }

            case (int)Abi.SchedOp.Poll:
                return Poll(v, arg);

            case (int)Abi.SchedOp.RemoteShutdown:
            {
                if (!CopyFromGuest(v, arg, b[..SchedRemoteShutdown.Layout.Size])) return -Errno.EFAULT;
                ushort domid = BinaryPrimitives.ReadUInt16LittleEndian(b[SchedRemoteShutdown.Layout.DomainId..]);
                uint reason = BinaryPrimitives.ReadUInt32LittleEndian(b[SchedRemoteShutdown.Layout.Reason..]);
                if (domid != Domain.Id) return -Errno.ESRCH;          // by-id lookup: DOMID_SELF is not translated
                if (!Domain.IsControlDomain) return -Errno.EPERM;
                DomainShutdown(reason & 0xFF);
                return 0;
            }

            case (int)Abi.SchedOp.ShutdownCode:
            {
                if (!CopyFromGuest(v, arg, b[..4])) return -Errno.EFAULT;
                Domain.LatchedShutdownCode ??= (int)(BinaryPrimitives.ReadUInt32LittleEndian(b) & 0xFF);
                return 0;
            }

            case (int)Abi.SchedOp.Watchdog:
            {
                if (!CopyFromGuest(v, arg, b[..SchedWatchdog.Layout.Size])) return -Errno.EFAULT;
                uint id = BinaryPrimitives.ReadUInt32LittleEndian(b[SchedWatchdog.Layout.Id..]);
                uint timeout = BinaryPrimitives.ReadUInt32LittleEndian(b[SchedWatchdog.Layout.Timeout..]);
                return Watchdog(id, timeout);
            }

            case (int)Abi.SchedOp.PinOverride:
            {
                if (!Domain.IsHardwareDomain) return -Errno.EPERM;
                if (!CopyFromGuest(v, arg, b[..4])) return -Errno.EFAULT;
                int pcpu = BinaryPrimitives.ReadInt32LittleEndian(b);
                if (pcpu >= NrCpus) return -Errno.EINVAL;
                if (pcpu < 0)
                {
                    if (!v.PinOverride) return -Errno.EINVAL;
                    v.PinOverride = false;
                    return 0;
                }
                if (pcpu >= Domain.Pcpus) return -Errno.EINVAL;
                if (v.PinOverride) return -Errno.EBUSY;
                v.PinOverride = true;
                return 0;
            }

            default:
                return -Errno.ENOSYS;
        }
    }

    /// <summary>sched_op_compat: yield and block as usual, shutdown takes the reason directly.</summary>
    private long? SchedOpCompat(Vcpu v, int cmd, ulong arg)
    {
        switch (cmd)
        {
            case (int)Abi.SchedOp.Yield: Reschedule = true; return 0;
            case (int)Abi.SchedOp.Block: Block(v); return 0;
            case (int)Abi.SchedOp.Shutdown: DomainShutdown((uint)(arg & 0xFF)); return 0;
            default: return -Errno.ENOSYS;
        }
    }

    private void Block(Vcpu v)
    {
        SetUpcallMask(v, false);       // always, even when it returns at once
        v.Blocked = true;
        if (UpcallPending(v)) v.Blocked = false;
        else Reschedule = true;                      // the run loop switches it out as blocked
    }

    private long Poll(Vcpu v, ulong arg)
    {
        Span<byte> b = stackalloc byte[SchedPoll.Layout.Size];
        if (!CopyFromGuest(v, arg, b)) return -Errno.EFAULT;
        ulong ports = BinaryPrimitives.ReadUInt64LittleEndian(b[SchedPoll.Layout.Ports..]);
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(b[SchedPoll.Layout.NrPorts..]);
        ulong timeout = BinaryPrimitives.ReadUInt64LittleEndian(b[SchedPoll.Layout.Timeout..]);
        if (count > MaxPollPorts) return -Errno.EINVAL;
        if (!AccessOk(ports)) return -Errno.EFAULT;

        v.Blocked = true;
        v.Polling = true;
        v.PollPort = null;
        if (UpcallPending(v) && !UpcallMasked(v)) return EndPoll(v, 0);
        int single = -1;
        for (uint i = 0; i < count; i++)
        {
            if (!ReadU32(v, ports + 4 * i, out uint port)) return EndPoll(v, -Errno.EFAULT);
            if (!Domain.Evtchn.IsUsable(port)) return EndPoll(v, -Errno.EINVAL);
            if (EvtchnPending((int)port)) return EndPoll(v, 0);
            single = (int)port;
        }
        if (count == 1) v.PollPort = single;
        if (timeout != 0) v.PollDeadline = timeout;   // a time in the past fires at once
        Reschedule = true;
        return 0;
    }

    private long EndPoll(Vcpu v, long rc)
    {
        v.Blocked = false;
        v.Polling = false;
        v.PollPort = null;
        return rc;
    }

    /// <summary>Ends a poll (timer, event, upcall): the hypercall then returns 0.</summary>
    private void WakePoller(Vcpu v)
    {
        v.Polling = false;
        v.PollPort = null;
        Wake(v);
    }

    /// <summary>
    /// vcpu_wake (xen/common/sched/core.c): a vCPU that becomes runnable is switched in on its
    /// own pCPU; one still down that was blocked turns offline without a context switch.
    /// </summary>
    public void Wake(Vcpu v)
    {
        if (!v.Blocked) return;
        v.Blocked = false;
        if (v.Runnable) MakeRunnable(v);
        else if (v.Runstate == RunState.Blocked) v.SetRunstate(RunState.Offline, Clock.Now);
    }

    /// <summary>
    /// Virtual time from vcpu_wake to the woken vCPU running on its pCPU (the wake IPI and its
    /// pCPU's schedule). Real Xen under QEMU TCG takes at least this long; without it the
    /// simulator could run a vCPU woken by VCPUOP_up before the waker's next instruction.
    /// </summary>
    public const ulong WakeLatencyNs = 10_000;

    /// <summary>vcpu_wake of a runnable vCPU: runnable now, switched in after the wake latency (SimMachine).</summary>
    private void MakeRunnable(Vcpu v)
    {
        v.SetRunstate(RunState.Runnable, Clock.Now);
        v.StartsAt = Clock.Now + WakeLatencyNs;
    }

    // ------------------------------------------------------------ context switches (xen/common/sched/core.c, xen/arch/x86/domain.c)
    //
    // The model gives every vCPU its own pCPU, as the real-Xen host does (QEMU -smp = dom0's
    // vCPUs, an idle pCPU for each): a woken vCPU is running after the wake latency. The
    // simulator's seeded interleaving of vCPUs on the one interpreter is not a Xen context
    // switch and is invisible to the guest (no runstate, runstate-area or time update).

    /// <summary>A vCPU goes onto its pCPU: runstate running, runstate area and vcpu_info.time rewritten, periodic timer checked.</summary>
    public void SwitchIn(Vcpu v)
    {
        v.StartsAt = null;
        v.SetRunstate(RunState.Running, Clock.Now);
        UpdateRunstateArea(v);
        UpdateVcpuTime(v);                 // update_vcpu_system_time on the way into the guest
        PeriodicOnSwitchIn(v);
    }

    /// <summary>A vCPU leaves its pCPU: blocked if VPF_blocked, offline otherwise; its periodic timer stops.</summary>
    public void SwitchOut(Vcpu v)
    {
        v.StartsAt = null;
        v.SetRunstate(v.Blocked ? RunState.Blocked : RunState.Offline, Clock.Now);
        UpdateRunstateArea(v);
        v.PeriodicDeadline = null;
    }

    /// <summary>Xen's periodic timer: checked when a vCPU is switched in (spec §6.1).</summary>
    private void PeriodicOnSwitchIn(Vcpu v)
    {
        if (v.PeriodNs == 0) return;
        if (Clock.Now >= v.PeriodicLastEvent + v.PeriodNs)
        {
            v.PeriodicLastEvent = Clock.Now;
            Trace.Timer(v.Id, "periodic", Clock.Now);
            SendVirq(v, Virq.Timer);
        }
        v.PeriodicDeadline = v.PeriodicLastEvent + v.PeriodNs;
    }

    private long Watchdog(uint id, uint timeoutSeconds)
    {
        var w = Domain.Watchdogs;
        if (id > (uint)w.Length) return -Errno.EINVAL;
        if (id == 0)
        {
            for (int k = 0; k < w.Length; k++)
            {
                if (w[k] is not null) continue;
                w[k] = Clock.Now + timeoutSeconds * SecondNs;
                return k + 1;
            }
            // Xen computes "id == NR ? -ENOSPC : id + 1" in uint32_t, so the guest sees -ENOSPC
            // zero-extended: 4294967268 (measured by test-pv64-sched-watchdog on real Xen).
            return (long)unchecked((uint)-Errno.ENOSPC);
        }
        int slot = (int)id - 1;
        if (w[slot] is null) return -Errno.EINVAL;
        w[slot] = timeoutSeconds == 0 ? null : Clock.Now + timeoutSeconds * SecondNs;
        return 0;
    }

    // ------------------------------------------------------------ set_timer_op (xen/common/sched/core.c)

    private long SetTimerOp(Vcpu v, long timeout)
    {
        if (timeout == 0) v.SingleshotDeadline = null;
        else if (timeout < 0 || (ulong)timeout > Clock.Now + (1UL << 50)) v.SingleshotDeadline = Clock.Now + 100_000_000;
        else v.SingleshotDeadline = (ulong)timeout;
        return 0;
    }

    // ------------------------------------------------------------ shutdown (xen/common/domain.c, xen/common/shutdown.c)

    /// <summary>domain_shutdown for the hardware domain: the latched code wins, then Xen halts or reboots the host.</summary>
    public void DomainShutdown(uint reason)
    {
        Domain.LatchedShutdownCode ??= (int)reason;
        int code = Domain.LatchedShutdownCode.Value;
        if (Domain.IsShuttingDown) return;
        Domain.IsShuttingDown = true;
        Domain.ShutdownReason = code;
        Reschedule = true;
        Trace.Shutdown(code);
        Serial.Xen(code switch
        {
            0 => "Hardware Dom0 halted: halting machine",
            1 => "Hardware Dom0 shutdown: rebooting machine",
            3 => "Hardware Dom0 crashed: 'noreboot' set - not rebooting.",
            4 => "Hardware Dom0 shutdown: watchdog rebooting machine",
            5 => "Hardware domain 0 did unsupported soft reset, rebooting.",
            _ => $"Hardware Dom0 shutdown (unknown reason {code}): 'noreboot' set - not rebooting.",
        });
    }

    /// <summary>domain_crash: Xen reports the crash, then shuts the domain down with SHUTDOWN_crash.</summary>
    public void CrashDomain(Vcpu v, string? why)
    {
        if (Domain.IsShuttingDown) return;
        Domain.Crashed = true;
        if (why is not null) Serial.Xen($"d{Domain.Id}v{v.Id} {why}");
        Serial.Xen($"Domain {Domain.Id} (vcpu#{v.Id}) crashed on cpu#0:");
        DomainShutdown((uint)ShutdownReason.Crash);
    }
}
