using System.Numerics;
using Xtf.Abi;
using Xtf.Sim.Xen;

namespace Xtf.Fuzz;

/// <summary>One broken invariant of the simulator's own state, at a global step index (-1: before the first case).</summary>
public sealed record InternalViolation(string Rule, int StepIndex, string Detail);

/// <summary>
/// The simulator's own state, checked around every hypercall of a script-kernel batch. Each rule
/// is something Xen 4.17 guarantees when a hypercall returns, whatever the guest did to its own
/// bits before (the script kernel clears selectors, upcall flags, mask and pending bits itself, so
/// the bit rules are about what changed during the hypercall, not about the words as they stand):
/// <list type="number">
/// <item>Port table: port 0 stays reserved; every bound port's notify vCPU exists; both ends of a
/// loopback interdomain channel point at each other; unbound ports name a remote domain.</item>
/// <item>Port status vs bits: closing a port clears its pending bit and leaves its mask bit
/// (evtchn_free's clear_pending; the model and <c>--host both</c> records agree); so no free port
/// is pending after a hypercall unless it was free and pending before it. No hypercall sets a
/// mask bit (2-level: only the guest masks).</item>
/// <item>Selectors: a selector bit the hypercall set (0→1) names a word with a pending unmasked
/// port, and that vCPU's evtchn_upcall_pending is set (evtchn_2l_set_pending and unmask only set
/// the selector for such a port; vcpu_mark_events_pending follows a 0→1 selector). Exempt:
/// a successful VCPUOP_register_vcpu_info (Xen marks every selector bit on purpose) and
/// multicall (an entry may close what an earlier one raised).</item>
/// <item>vCPUs: runstate running or runnable ⇒ is_up; offline ⇒ not is_up; blocked ⇒ VPF_blocked.
/// A vCPU downed while blocked stays RUNSTATE_blocked in Xen (vcpu_sleep_nosync only moves a
/// runnable vCPU to offline), so "not is_up ⇒ offline" holds only for vCPUs not blocked.</item>
/// </list>
/// The step a violation belongs to is the script kernel's step counter, read from guest memory
/// (the kernel's reset between cases counts as the previous case's last step).
/// </summary>
public sealed class HypervisorInvariants(ulong indexAddress, ulong resetArgument) : IHypervisorObserver
{
    private const int Words = EventChannelTable.AbiMaxPorts / 64;
    private const int MaxViolations = 64;

    private readonly ulong[] pendingBefore = new ulong[Words];
    private readonly ulong[] maskBefore = new ulong[Words];
    private readonly ulong[] freePendingBefore = new ulong[Words];
    private ulong[] selBefore = [];
    private bool started;

    public List<InternalViolation> Violations { get; } = [];

    public void BeforeHypercall(HypervisorView view, in HypercallEvent call)
    {
        if (selBefore.Length != view.VcpuCount) selBefore = new ulong[view.VcpuCount];
        for (int v = 0; v < view.VcpuCount; v++) selBefore[v] = view.PendingSel(v);
        for (int w = 0; w < Words; w++)
        {
            pendingBefore[w] = view.PendingWord(w);
            maskBefore[w] = view.MaskWord(w);
            // Free ports that were already pending (the guest can set its own bits): not Xen's doing.
            ulong free = 0;
            for (ulong bits = pendingBefore[w]; bits != 0; bits &= bits - 1)
            {
                int port = w * 64 + BitOperations.TrailingZeroCount(bits);
                if (port >= view.ValidPorts || view.Port(port).State == PortState.Free) free |= 1UL << (port & 63);
            }
            freePendingBefore[w] = free;
        }
    }

    public void AfterHypercall(HypervisorView view, in HypercallEvent call)
    {
        if (Violations.Count >= MaxViolations) return;
        bool evtchnOp = call.Number is (ulong)Hypercall.EventChannelOp or (ulong)Hypercall.EventChannelOpCompat or (ulong)Hypercall.Multicall;
        if (call.Number == (ulong)Hypercall.EventChannelOp && call.A1 == (ulong)EvtchnOp.Reset) started = true;
        int step = started && view.ReadGuestU64(call.Vcpu, indexAddress, out ulong index) ? (int)index : -1;
        // The kernel's own reset before a case cleans up after the previous case: what breaks there is that case's.
        if (call.Number == (ulong)Hypercall.EventChannelOp && call.A1 == (ulong)EvtchnOp.Reset && call.A2 == resetArgument && step >= 0) step--;
        var made = call;
        void Fail(string rule, string detail) => Violations.Add(new InternalViolation(rule, step, $"{Describe(made)}: {detail}"));

        // 1. The port table (only event-channel hypercalls change it; the boot's 4095 allocations are not scanned).
        if (evtchnOp && started)
        {
            if (view.Port(0).State != PortState.Reserved) Fail("port 0 not reserved", $"state {view.Port(0).State}");
            for (int p = 1; p < view.ValidPorts; p++)
            {
                var port = view.Port(p);
                if (port.State is PortState.Free or PortState.Reserved) continue;
                if (port.NotifyVcpu < 0 || port.NotifyVcpu >= view.VcpuCount)
                    Fail("bound port notifies a vCPU that does not exist", $"port {p} ({port.State}) notify vCPU {port.NotifyVcpu}");
                if (port.State == PortState.Interdomain)
                {
                    var peer = port.RemotePort > 0 && port.RemotePort < view.ValidPorts ? view.Port(port.RemotePort) : default;
                    if (peer.State != PortState.Interdomain || peer.RemotePort != p)
                        Fail("interdomain port's peer does not point back", $"port {p} -> {port.RemotePort} ({peer.State}, -> {peer.RemotePort})");
                }
            }
        }

        // 2. Status vs bits.
        for (int w = 0; w < Words; w++)
        {
            ulong pending = view.PendingWord(w), mask = view.MaskWord(w);
            for (ulong bits = pending & ~freePendingBefore[w]; bits != 0; bits &= bits - 1)
            {
                int p = w * 64 + BitOperations.TrailingZeroCount(bits);
                if (p >= view.ValidPorts || view.Port(p).State == PortState.Free)
                    Fail("free port left pending", $"port {p} is free (closed) with its pending bit set");
            }
            if ((mask & ~maskBefore[w]) != 0)
                Fail("hypercall set a mask bit", $"mask word {w:x}: {maskBefore[w]:x} -> {mask:x}");
        }

        // 3. Selectors and upcall_pending.
        bool exempt = call.Number == (ulong)Hypercall.Multicall ||
                      (call.Number == (ulong)Hypercall.VcpuOp && call.A1 == (ulong)VcpuOp.RegisterVcpuInfo && call.Rc == 0);
        if (!exempt && !view.FifoActive)
        {
            for (int v = 0; v < view.VcpuCount && v < selBefore.Length; v++)
            {
                ulong sel = view.PendingSel(v);
                ulong raised = sel & ~selBefore[v];
                if (raised == 0) continue;
                for (ulong bits = raised; bits != 0; bits &= bits - 1)
                {
                    int w = BitOperations.TrailingZeroCount(bits);
                    if ((view.PendingWord(w) & ~view.MaskWord(w)) == 0)
                        Fail("selector without a pending unmasked port", $"vCPU {v} selector bit {w} raised; pending {view.PendingWord(w):x} mask {view.MaskWord(w):x}");
                }
                if (!view.UpcallPending(v))
                    Fail("selector raised without upcall_pending", $"vCPU {v} selector {selBefore[v]:x} -> {sel:x}, evtchn_upcall_pending 0");
            }
        }

        // 4. vCPUs: is_up and the runstate.
        if (!view.ShuttingDown)
        {
            for (int v = 0; v < view.VcpuCount; v++)
            {
                bool up = view.IsUp(v);
                var rs = view.Runstate(v);
                bool ok = rs switch
                {
                    RunState.Running or RunState.Runnable => up && view.Initialised(v),
                    RunState.Offline => !up,
                    RunState.Blocked => view.Blocked(v),
                    _ => false,
                };
                if (!ok) Fail("is_up disagrees with the runstate", $"vCPU {v} is_up {(up ? 1 : 0)}, runstate {rs}, blocked {(view.Blocked(v) ? 1 : 0)}");
            }
        }
    }

    private static string Describe(in HypercallEvent c) => $"hypercall {c.Number}({c.A1:x}, {c.A2:x}) = {(c.Rc is { } rc ? rc.ToString() : "-")}";
}
