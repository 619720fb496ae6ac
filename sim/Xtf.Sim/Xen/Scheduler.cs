using System.Diagnostics;
using Xtf.Abi;

namespace Xtf.Sim.Xen;

/// <summary>
/// vCPU scheduling (xen/common/sched/core.c): sched_op, block and poll, wake, the runstate and its
/// area, context switches, watchdogs, set_timer_op. The model gives every vCPU its own pCPU.
/// Invariants: a polling vCPU is blocked; a vCPU waiting to get onto its pCPU
/// (<see cref="Vcpu.StartsAt"/>) is runnable in its runstate.
/// </summary>
public sealed class Scheduler
{
    public const int NrCpus = 256;              // CONFIG_NR_CPUS of Debian's build
    public const int MaxPollPorts = 128;
    public const ulong SecondNs = 1_000_000_000;

    /// <summary>
    /// Virtual time from vcpu_wake to the woken vCPU running on its pCPU (the wake IPI and its
    /// pCPU's schedule). Real Xen under QEMU TCG takes at least this long; without it the
    /// simulator could run a vCPU woken by VCPUOP_up before the waker's next instruction.
    /// </summary>
    public const ulong WakeLatencyNs = 10_000;

    private readonly Domain domain;
    private readonly VirtualClock clock;
    private readonly SimTrace trace;
    private readonly GuestMemory guest;
    private readonly VcpuInfoArea vcpuInfo;
    private readonly SystemTime time;
    // Set once by Connect: event channels and the domain's lifecycle also call into the scheduler.
    private EventChannels events = null!;
    private DomainLifecycle lifecycle = null!;

    public Scheduler(Domain domain, VirtualClock clock, SimTrace trace, GuestMemory guest, VcpuInfoArea vcpuInfo, SystemTime time)
    {
        this.domain = domain;
        this.clock = clock;
        this.trace = trace;
        this.guest = guest;
        this.vcpuInfo = vcpuInfo;
        this.time = time;
    }

    internal void Connect(EventChannels eventChannels, DomainLifecycle domainLifecycle)
    {
        Debug.Assert(events is null && lifecycle is null, "connected once");
        events = eventChannels;
        lifecycle = domainLifecycle;
    }

    /// <summary>Set by handlers that change who may run (block, down, shutdown, yield).</summary>
    public bool Reschedule { get; set; }

    // ------------------------------------------------------------ sched_op (xen/common/sched/core.c)

    public long? SchedOp(Vcpu v, int cmd, ulong arg)
    {
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
                if (!guest.TryRead(v, arg, out SchedShutdown s)) return -Errno.EFAULT;
                lifecycle.Shutdown(s.Reason & 0xFF);
                return 0;
            }

            case (int)Abi.SchedOp.Poll:
                return Poll(v, arg);

            case (int)Abi.SchedOp.RemoteShutdown:
            {
                if (!guest.TryRead(v, arg, out SchedRemoteShutdown r)) return -Errno.EFAULT;
                if (r.DomainId != domain.Id) return -Errno.ESRCH;          // by-id lookup: DOMID_SELF is not translated
                if (!domain.IsControlDomain) return -Errno.EPERM;
                lifecycle.Shutdown(r.Reason & 0xFF);
                return 0;
            }

            case (int)Abi.SchedOp.ShutdownCode:
            {
                if (!guest.TryRead(v, arg, out SchedShutdown s)) return -Errno.EFAULT;
                domain.LatchedShutdownCode ??= (int)(s.Reason & 0xFF);
                return 0;
            }

            case (int)Abi.SchedOp.Watchdog:
            {
                if (!guest.TryRead(v, arg, out SchedWatchdog w)) return -Errno.EFAULT;
                return Watchdog(w.Id, w.Timeout);
            }

            case (int)Abi.SchedOp.PinOverride:
            {
                if (!domain.IsHardwareDomain) return -Errno.EPERM;
                if (!guest.TryRead(v, arg, out SchedPinOverride pin)) return -Errno.EFAULT;
                int pcpu = pin.Pcpu;
                if (pcpu >= NrCpus) return -Errno.EINVAL;
                if (pcpu < 0)
                {
                    if (!v.PinOverride) return -Errno.EINVAL;
                    v.PinOverride = false;
                    return 0;
                }
                if (pcpu >= domain.Pcpus) return -Errno.EINVAL;
                if (v.PinOverride) return -Errno.EBUSY;
                v.PinOverride = true;
                return 0;
            }

            default:
                return -Errno.ENOSYS;
        }
    }

    /// <summary>sched_op_compat: yield and block as usual, shutdown takes the reason directly.</summary>
    public long? SchedOpCompat(Vcpu v, int cmd, ulong arg)
    {
        switch (cmd)
        {
            case (int)Abi.SchedOp.Yield: Reschedule = true; return 0;
            case (int)Abi.SchedOp.Block: Block(v); return 0;
            case (int)Abi.SchedOp.Shutdown: lifecycle.Shutdown((uint)(arg & 0xFF)); return 0;
            default: return -Errno.ENOSYS;
        }
    }

    private void Block(Vcpu v)
    {
        vcpuInfo.SetUpcallMask(v, false);       // always, even when it returns at once
        v.Blocked = true;
        if (vcpuInfo.UpcallPending(v)) v.Blocked = false;
        else Reschedule = true;                      // the run loop switches it out as blocked
    }

    private long Poll(Vcpu v, ulong arg)
    {
        if (!guest.TryRead(v, arg, out SchedPoll poll)) return -Errno.EFAULT;
        ulong ports = poll.Ports;
        uint count = poll.NrPorts;
        ulong timeout = poll.Timeout;
        if (count > MaxPollPorts) return -Errno.EINVAL;
        if (!GuestMemory.AccessOk(ports)) return -Errno.EFAULT;

        v.Blocked = true;
        v.Polling = true;
        v.PollPort = null;
        if (vcpuInfo.UpcallPending(v) && !vcpuInfo.UpcallMasked(v)) return EndPoll(v, 0);
        int single = -1;
        for (uint i = 0; i < count; i++)
        {
            if (!guest.ReadU32(v, ports + 4 * i, out uint port)) return EndPoll(v, -Errno.EFAULT);
            if (!events.Ports.IsUsable(port)) return EndPoll(v, -Errno.EINVAL);
            if (events.EvtchnPending((int)port)) return EndPoll(v, 0);
            single = (int)port;
        }
        if (count == 1) v.PollPort = single;
        if (timeout != 0) v.PollDeadline = timeout;   // a time in the past fires at once
        Reschedule = true;
        return 0;
    }

    private static long EndPoll(Vcpu v, long rc)
    {
        v.Blocked = false;
        v.Polling = false;
        v.PollPort = null;
        return rc;
    }

    /// <summary>Ends a poll (timer, event, upcall): the hypercall then returns 0.</summary>
    public void WakePoller(Vcpu v)
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
        else if (v.Runstate == RunState.Blocked) v.SetRunstate(RunState.Offline, clock.Now);
        Debug.Assert(!v.Polling, "a woken vCPU is not polling");
    }

    /// <summary>vcpu_wake of a runnable vCPU: runnable now, switched in after the wake latency (SimMachine).</summary>
    public void MakeRunnable(Vcpu v)
    {
        v.SetRunstate(RunState.Runnable, clock.Now);
        v.StartsAt = clock.Now + WakeLatencyNs;
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
        v.SetRunstate(RunState.Running, clock.Now);
        UpdateRunstateArea(v);
        time.UpdateVcpuTime(v);            // update_vcpu_system_time on the way into the guest
        PeriodicOnSwitchIn(v);
    }

    /// <summary>A vCPU leaves its pCPU: blocked if VPF_blocked, offline otherwise; its periodic timer stops.</summary>
    public void SwitchOut(Vcpu v)
    {
        v.StartsAt = null;
        v.SetRunstate(v.Blocked ? RunState.Blocked : RunState.Offline, clock.Now);
        UpdateRunstateArea(v);
        v.PeriodicDeadline = null;
    }

    /// <summary>Xen's periodic timer: checked when a vCPU is switched in (docs/pv-abi.md §6.1).</summary>
    private void PeriodicOnSwitchIn(Vcpu v)
    {
        if (v.PeriodNs == 0) return;
        if (clock.Now >= v.PeriodicLastEvent + v.PeriodNs)
        {
            v.PeriodicLastEvent = clock.Now;
            trace.Timer(v.Id, "periodic", clock.Now);
            events.SendVirq(v, Virq.Timer);
        }
        v.PeriodicDeadline = v.PeriodicLastEvent + v.PeriodNs;
    }

    // ------------------------------------------------------------ runstate (xen/common/sched/core.c, xen/arch/x86/domain.c)

    /// <summary>update_runstate_area (xen/arch/x86/domain.c): rewritten with the stored runstate on every context switch; faults ignored.</summary>
    public void UpdateRunstateArea(Vcpu v)
    {
        if (v.RunstateArea is { } area) guest.CopyToGuest(v, area, StoredRunstate(v));
    }

    /// <summary>v->runstate as Xen keeps it (xen/common/sched/core.c): the current state's time counted only up to state_entry_time.</summary>
    public byte[] StoredRunstate(Vcpu v) =>
        new VcpuRunstateInfo { State = (int)v.Runstate, StateEntryTime = v.RunstateEntryTime, Time = (ulong[])v.RunstateTime.Clone() }.ToBytes();

    /// <summary>vcpu_runstate_get: the time in the current state counts up to now.</summary>
    public byte[] RunstateSnapshot(Vcpu v)
    {
        var time = new ulong[VcpuRunstateInfo.TimeCount];
        for (int s = 0; s < time.Length; s++)
            time[s] = v.RunstateTime[s] + (s == (int)v.Runstate ? clock.Now - v.RunstateEntryTime : 0);
        return new VcpuRunstateInfo { State = (int)v.Runstate, StateEntryTime = v.RunstateEntryTime, Time = time }.ToBytes();
    }

    // ------------------------------------------------------------ watchdogs (xen/common/sched/core.c: domain_watchdog)

    private long Watchdog(uint id, uint timeoutSeconds)
    {
        var w = domain.Watchdogs;
        if (id > (uint)w.Length) return -Errno.EINVAL;
        if (id == 0)
        {
            for (int k = 0; k < w.Length; k++)
            {
                if (w[k] is not null) continue;
                w[k] = clock.Now + timeoutSeconds * SecondNs;
                return k + 1;
            }
            // Xen computes "id == NR ? -ENOSPC : id + 1" in uint32_t, so the guest sees -ENOSPC
            // zero-extended: 4294967268 (measured by test-pv64-sched-watchdog on real Xen).
            return (long)unchecked((uint)-Errno.ENOSPC);
        }
        int slot = (int)id - 1;
        if (w[slot] is null) return -Errno.EINVAL;
        w[slot] = timeoutSeconds == 0 ? null : clock.Now + timeoutSeconds * SecondNs;
        return 0;
    }

    // ------------------------------------------------------------ set_timer_op (xen/common/sched/core.c)

    public long SetTimerOp(Vcpu v, long timeout)
    {
        if (timeout == 0) v.SingleshotDeadline = null;
        else if (timeout < 0 || (ulong)timeout > clock.Now + (1UL << 50)) v.SingleshotDeadline = clock.Now + 100_000_000;
        else v.SingleshotDeadline = (ulong)timeout;
        return 0;
    }
}
