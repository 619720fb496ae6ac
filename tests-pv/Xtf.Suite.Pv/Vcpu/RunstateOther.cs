using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Vcpu;

/// <summary>
/// VCPUOP_get_runstate_info on another vCPU through its life (docs/pv-abi.md §4.6): never initialised and
/// initialised-but-down are offline with only time[offline] counting; spinning after up is
/// running; polling is blocked; a down while blocked leaves it blocked (Xen only turns a
/// runnable vCPU offline when it goes to sleep); woken by an event it runs again; a down while
/// running ends offline. Every time[] counter is non-decreasing from query to query and the
/// entry time is never after the query.
/// </summary>
public sealed class RunstateOther : XtfTest
{
    public override string Name => "vcpu-runstate-other";
    public override string Title => "VCPUOP_get_runstate_info on a second vCPU's states";
    public override string Category => "vcpu";
    public override int Vcpus => 2;

    private const int S = VcpuRunstateInfo.Layout.Size;

    public override void Body(GuestProgram g)
    {
        var prev = g.Alloc(S, name: "rs_prev");
        var cur = g.Alloc(S, name: "rs_cur");
        Val T(GuestBuffer b, int i) => b.U64(VcpuRunstateInfo.Layout.Time + 8 * i);
        var state = cur.S32(VcpuRunstateInfo.Layout.State);
        var step = g.Var("step");
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

        // Query vCPU 1 into cur after copying the previous answer to prev; check monotonicity.
        void Query(string when)
        {
            g.MemCopy(prev.Ptr, cur.Ptr, S);
            g.ExpectEq(g.VcpuOp(VcpuOp.GetRunstateInfo, 1, cur.Ptr), 0, $"get_runstate_info(1) {when}");
            var now = PvClock.Now(g);
            g.Expect(cur.U64(VcpuRunstateInfo.Layout.StateEntryTime).ULe(now), $"state_entry_time not after the query {when}");
            for (int i = 0; i < 4; i++)
                g.Expect(T(cur, i).UGe(T(prev, i)), $"time[{i}] does not decrease {when}");
        }

        // Wait (with a bound) for vCPU 1 to reach a state, re-querying each time.
        void WaitState(RunState want, string when)
        {
            var ok = PvClock.WaitFor(g, () =>
            {
                g.VcpuOp(VcpuOp.GetRunstateInfo, 1, cur.Ptr);
                return state == (int)want;
            }, 2_000_000_000);
            g.Expect(ok == 1, $"vCPU 1 reaches state {want} {when}", "state %d", state);
            Query(when);
            g.ExpectEq(state, (int)want, $"state {when}");
        }

        Query("(never initialised)");
        g.ExpectEq(state, (int)RunState.Offline, "never-initialised vCPU is offline");
        g.ExpectEq(T(cur, 0) | T(cur, 1) | T(cur, 2), 0, "only time[offline] counts before the first run");
        g.Expect(T(cur, 3) > 0, "time[offline] counts from creation");

        var ctx = g.VcpuContext(1, ap);
        g.ExpectEq(g.VcpuOp(VcpuOp.Initialise, 1, ctx.Ptr), 0, "initialise(1)");
        PvClock.SpinFor(g, 2_000_000);
        Query("(initialised, not up)");
        g.ExpectEq(state, (int)RunState.Offline, "initialised but down is offline");
        g.Expect(T(cur, 3).UGt(T(prev, 3)), "time[offline] keeps growing");

        g.ExpectEq(g.VcpuOp(VcpuOp.Up, 1, 0), 0, "up(1)");
        g.Expect(g.WaitUntil(counter > 1000) == 1, "vCPU 1 spins");
        WaitState(RunState.Running, "(spinning)");
        g.Set(step, T(cur, 0));
        PvClock.SpinFor(g, 10_000_000);
        Query("(spinning, 10 ms later)");
        g.Expect(T(cur, 0).UGt(step), "time[running] grows while it spins");

        g.Set(pollNow, 1);
        WaitState(RunState.Blocked, "(polling)");
        g.Set(step, T(cur, 2));
        PvClock.SpinFor(g, 5_000_000);
        Query("(polling, 5 ms later)");
        g.Expect(T(cur, 2).UGt(step), "time[blocked] grows while it polls");

        g.ExpectEq(g.VcpuOp(VcpuOp.Down, 1, 0), 0, "down(1) while it is blocked");
        g.ExpectEq(g.VcpuOp(VcpuOp.IsUp, 1, 0), 0, "is_up(1) after down");
        PvClock.SpinFor(g, 5_000_000);
        Query("(blocked, then down)");
        // Real Xen: the runstate stays blocked (2); only a runnable vCPU is made offline when it
        // is put to sleep, and a blocked one is not runnable.
        g.ExpectEq(state, (int)RunState.Blocked, "a blocked vCPU that is downed stays blocked");

        g.ExpectEq(g.VcpuOp(VcpuOp.Up, 1, 0), 0, "up(1) while it still polls");
        PvClock.SpinFor(g, 5_000_000);
        Query("(up again, still polling)");
        g.ExpectEq(state, (int)RunState.Blocked, "up does not wake a vCPU that is still polling");
        g.ExpectEq(polled, 0, "the poll has not returned");

        // Any event of the domain ends the poll: an IPI bound to vCPU 0.
        var ipi = g.Alloc(EvtchnBindIpi.Layout.Size, name: "bind_ipi");
        g.ExpectEq(g.EvtchnOp(EvtchnOp.BindIpi, ipi.Ptr), 0, "EVTCHNOP_bind_ipi");
        var send = g.Alloc(EvtchnSend.Layout.Size, name: "send");
        g.Set(send.U32(EvtchnSend.Layout.Port), ipi.U32(EvtchnBindIpi.Layout.Port));
        g.ExpectEq(g.EvtchnOp(EvtchnOp.Send, send.Ptr), 0, "EVTCHNOP_send");
        g.Expect(PvClock.WaitFor(g, () => polled != 0, 2_000_000_000) == 1, "vCPU 1's poll returned");
        g.ExpectEq(polled, 1, "the poll returned 0");
        WaitState(RunState.Running, "(woken, spinning)");

        g.ExpectEq(g.VcpuOp(VcpuOp.Down, 1, 0), 0, "down(1) while it runs");
        WaitState(RunState.Offline, "(running, then down)");
        g.Set(step, T(cur, 3));
        PvClock.SpinFor(g, 5_000_000);
        Query("(down, 5 ms later)");
        g.Expect(T(cur, 3).UGt(step), "time[offline] grows while down");
        g.Print("runstate of vCPU 1: offline, running, blocked, running, offline\n");
        g.Success();
    }
}
