using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Vcpu;

/// <summary>
/// VCPUOP_get_runstate_info on another vCPU through its life (docs/pv-abi.md §4.6, docs/timing.md):
/// never initialised and initialised-but-down are offline with only time[offline] counting;
/// spinning after up is running; polling is blocked; a down while blocked leaves it blocked (Xen
/// only turns a runnable vCPU offline when it goes to sleep); woken by an event it runs again; a
/// down while running ends offline.
///
/// vCPU 1's transitions are stamped with the clock of the pCPU that makes them, and Xen does not
/// order the clocks of two pCPUs, so no check compares vCPU 1's state_entry_time with vCPU 0's
/// clock. The checks are what Xen keeps exact on any number of pCPUs: Xen adds the same amount to
/// one counter and to state_entry_time, and a query adds the time since state_entry_time (if
/// positive) to the current state's counter, so sum(time[]) = max(query time, state_entry_time)
/// - creation time, where the creation time is the entry time of the never-run vCPU. vCPU 0 stays
/// on pCPU 0 (so its clock is the query's clock), and each query lies between the clock readings
/// around it. Across queries state_entry_time and every stored counter (the returned one minus
/// what the query added) never decrease, and the counters of states vCPU 1 is not in stay put.
/// </summary>
public sealed class RunstateOther : XtfTest
{
    public override string Name => "vcpu-runstate-other";
    public override bool NeedsExactVcpus => true;
    public override string Title => "VCPUOP_get_runstate_info on a second vCPU's states";
    public override string Category => "vcpu";
    public override int Vcpus => 2;

    private const int S = VcpuRunstateInfo.Layout.Size;

    public override void Body(GuestProgram g)
    {
        var prev = g.Alloc(S, name: "rs_prev");
        var cur = g.Alloc(S, name: "rs_cur");
        var probe = g.Alloc(S, name: "rs_probe");
        Val T(GuestBuffer b, int i) => b.U64(VcpuRunstateInfo.Layout.Time + 8 * i);
        Val Sum(GuestBuffer b) => T(b, 0) + T(b, 1) + T(b, 2) + T(b, 3);
        Val Entry(GuestBuffer b) => b.U64(VcpuRunstateInfo.Layout.StateEntryTime);
        var state = cur.S32(VcpuRunstateInfo.Layout.State);
        var creation = g.Var("vcpu1_created");
        var before = g.Var("query_before");
        var after = g.Var("query_after");
        var afterPrev = g.Var("prev_query_after");
        var counter = g.Var("ap_counter");
        var pollNow = g.Var("ap_poll_now");
        var polled = g.Var("ap_polled");

        var ap = g.Function("ap_entry", () =>
        {
            g.While(pollNow == 0, () => g.AtomicAdd(counter, 1));
            // Block with no ports and no timeout: any event of the domain wakes the poller.
            g.Set(polled, TimerEvents.PollUntil(g, 0, 0, 0) + 1);
            g.While(Val.Const(1) == 1, () => g.AtomicAdd(counter, 1));
        });

        // Counter i as Xen stores it: the query added max(0, now - state_entry_time) to the
        // current state's counter only, and sum + creation - state_entry_time is that amount.
        Val Stored(GuestBuffer b, int i)
        {
            var v = g.Var($"stored_{i}");
            g.Set(v, T(b, i));
            g.If(b.S32(VcpuRunstateInfo.Layout.State) == i, () => g.Set(v, v - (Sum(b) + creation - Entry(b))));
            return v;
        }

        // Query vCPU 1 into cur (the previous answer moves to prev) and check what Xen keeps exact.
        void Query(string when, bool first = false)
        {
            g.MemCopy(prev.Ptr, cur.Ptr, S);
            g.Set(afterPrev, after);
            g.Set(before, PvClock.Now(g));
            g.ExpectEq(g.VcpuOp(VcpuOp.GetRunstateInfo, 1, cur.Ptr), 0, $"get_runstate_info(1) {when}");
            g.Set(after, PvClock.Now(g));
            if (first) g.Set(creation, Entry(cur));
            var top = g.Var("sum_plus_creation");
            g.Set(top, Sum(cur) + creation);
            g.Expect(Entry(cur).UGe(creation), $"state_entry_time is not before vCPU 1's creation {when}");
            g.Expect(top.UGe(before) & top.UGe(Entry(cur)),
                $"sum(time[]) + creation reaches the query and state_entry_time {when}");
            g.Expect(top.ULe(PvClock.Max(g, after, Entry(cur))),
                $"sum(time[]) + creation is not past both the query and state_entry_time {when}");
            if (first) return;
            g.Expect(Entry(cur).UGe(Entry(prev)), $"state_entry_time does not decrease {when}");
            for (int i = 0; i < 4; i++)
                g.Expect(Stored(cur, i).UGe(Stored(prev, i)), $"stored time[{i}] does not decrease {when}");
        }

        // The counters of the states vCPU 1 was not in since the previous query stay put.
        void Unchanged(string when, params RunState[] states)
        {
            foreach (var s in states)
                g.ExpectEq(T(cur, (int)s), T(prev, (int)s), $"time[{(int)s}] unchanged {when}");
        }

        // The time between the two queries went to the counters of the states it was in:
        // their growth plus the later of the previous query and entry time reaches this query.
        void Carried(string when, params RunState[] states)
        {
            Val grew = Val.Const(0);
            foreach (var s in states) grew = grew + T(cur, (int)s) - T(prev, (int)s);
            g.Expect((grew + PvClock.Max(g, afterPrev, Entry(prev))).UGe(before), $"the time between the queries went to {string.Join("/", states)} {when}");
        }

        // Wait for vCPU 1 to reach a state (polling into a scratch buffer), then query it.
        void WaitState(RunState want, string when)
        {
            var ok = PvClock.WaitFor(g, () =>
            {
                g.VcpuOp(VcpuOp.GetRunstateInfo, 1, probe.Ptr);
                return probe.S32(VcpuRunstateInfo.Layout.State) == (int)want;
            });
            g.Expect(ok == 1, $"vCPU 1 reaches state {want} {when}", "state %d", probe.S32(VcpuRunstateInfo.Layout.State));
            Query(when);
            g.ExpectEq(state, (int)want, $"state {when}");
        }

        PvClock.StayOnPcpu0(g);
        Query("(never initialised)", first: true);
        g.ExpectEq(state, (int)RunState.Offline, "never-initialised vCPU is offline");
        g.ExpectEq(T(cur, 0) | T(cur, 1) | T(cur, 2), 0, "only time[offline] counts before the first run");

        var ctx = g.VcpuContext(1, ap);
        g.ExpectEq(g.VcpuOp(VcpuOp.Initialise, 1, ctx.Ptr), 0, "initialise(1)");
        PvClock.SpinFor(g, 2_000_000);
        Query("(initialised, not up)");
        g.ExpectEq(state, (int)RunState.Offline, "initialised but down is offline");
        g.ExpectEq(Entry(cur), creation, "no transition yet: state_entry_time is still the creation time");
        // Both queries extrapolate from the creation time with pCPU 0's clock, 2 ms apart.
        g.Expect(T(cur, 3).UGt(T(prev, 3)), "time[offline] keeps growing");

        g.ExpectEq(g.VcpuOp(VcpuOp.Up, 1, 0), 0, "up(1)");
        g.Expect(PvClock.WaitFor(g, () => counter > 1000) == 1, "vCPU 1 spins");
        WaitState(RunState.Running, "(spinning)");
        PvClock.SpinFor(g, 10_000_000);
        Query("(spinning, 10 ms later)");
        g.ExpectEq(state, (int)RunState.Running, "still running");
        Unchanged("while it spins", RunState.Blocked, RunState.Offline);
        Carried("while it spins", RunState.Running, RunState.Runnable);

        g.Set(pollNow, 1);
        WaitState(RunState.Blocked, "(polling)");
        PvClock.SpinFor(g, 5_000_000);
        Query("(polling, 5 ms later)");
        g.ExpectEq(state, (int)RunState.Blocked, "still blocked");
        Unchanged("while it polls", RunState.Running, RunState.Runnable, RunState.Offline);
        Carried("while it polls", RunState.Blocked);

        g.ExpectEq(g.VcpuOp(VcpuOp.Down, 1, 0), 0, "down(1) while it is blocked");
        g.ExpectEq(g.VcpuOp(VcpuOp.IsUp, 1, 0), 0, "is_up(1) after down");
        PvClock.SpinFor(g, 5_000_000);
        Query("(blocked, then down)");
        // Real Xen: the runstate stays blocked (2); only a runnable vCPU is made offline when it
        // is put to sleep, and a blocked one is not runnable.
        g.ExpectEq(state, (int)RunState.Blocked, "a blocked vCPU that is downed stays blocked");
        Unchanged("after a down while blocked", RunState.Running, RunState.Runnable, RunState.Offline);

        g.ExpectEq(g.VcpuOp(VcpuOp.Up, 1, 0), 0, "up(1) while it still polls");
        PvClock.SpinFor(g, 5_000_000);
        Query("(up again, still polling)");
        g.ExpectEq(state, (int)RunState.Blocked, "up does not wake a vCPU that is still polling");
        g.ExpectEq(polled, 0, "the poll has not returned");
        Unchanged("after an up while polling", RunState.Running, RunState.Runnable, RunState.Offline);

        // Any event of the domain ends the poll: an IPI bound to vCPU 0.
        var ipi = g.Alloc(EvtchnBindIpi.Layout.Size, name: "bind_ipi");
        g.ExpectEq(g.EvtchnOp(EvtchnOp.BindIpi, ipi.Ptr), 0, "EVTCHNOP_bind_ipi");
        var send = g.Alloc(EvtchnSend.Layout.Size, name: "send");
        g.Set(send.U32(EvtchnSend.Layout.Port), ipi.U32(EvtchnBindIpi.Layout.Port));
        g.ExpectEq(g.EvtchnOp(EvtchnOp.Send, send.Ptr), 0, "EVTCHNOP_send");
        g.Expect(PvClock.WaitFor(g, () => polled != 0) == 1, "vCPU 1's poll returned");
        g.ExpectEq(polled, 1, "the poll returned 0");
        WaitState(RunState.Running, "(woken, spinning)");

        g.ExpectEq(g.VcpuOp(VcpuOp.Down, 1, 0), 0, "down(1) while it runs");
        WaitState(RunState.Offline, "(running, then down)");
        PvClock.SpinFor(g, 5_000_000);
        Query("(down, 5 ms later)");
        g.ExpectEq(state, (int)RunState.Offline, "still offline");
        Unchanged("while it is down", RunState.Running, RunState.Runnable, RunState.Blocked);
        Carried("while it is down", RunState.Offline);
        g.Print("runstate of vCPU 1: offline, running, blocked, running, offline\n");
        g.Success();
    }
}
