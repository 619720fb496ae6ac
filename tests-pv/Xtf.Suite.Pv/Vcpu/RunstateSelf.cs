using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Vcpu;

/// <summary>
/// VCPUOP_get_runstate_info on the calling vCPU (docs/pv-abi.md §4.6, §4.16, docs/timing.md): the
/// state is running and the entry time is not after the query; time[running] counts at least
/// the time from that entry to the query; each time[] counter never decreases across spinning, a yield and
/// a block; the sum of the counters grows exactly as system time does between two queries (it
/// is the query time minus the vCPU's creation time); a 10 ms spin adds to running/runnable
/// only; a real block (Xen switched the vCPU out, seen in time[blocked]) moves the entry time
/// forward. One pCPU: the guest's clock is Xen's NOW(), so these hold however long the host
/// holds the vCPU. An unwritable output buffer is -EFAULT; vCPU 1 does not exist here (-ENOENT).
/// </summary>
public sealed class RunstateSelf : XtfTest
{
    public override string Name => "vcpu-runstate-self";
    public override bool NeedsExactVcpus => true;
    public override string Title => "VCPUOP_get_runstate_info on the running vCPU";
    public override string Category => "vcpu";

    private const int S = VcpuRunstateInfo.Layout.Size;

    public override void Body(GuestProgram g)
    {
        var r1 = g.Alloc(S, name: "rs1");
        var r2 = g.Alloc(S, name: "rs2");
        Val T(GuestBuffer b, int i) => b.U64(VcpuRunstateInfo.Layout.Time + 8 * i);
        Val Sum(GuestBuffer b) => T(b, 0) + T(b, 1) + T(b, 2) + T(b, 3);
        Val Entry(GuestBuffer b) => b.U64(VcpuRunstateInfo.Layout.StateEntryTime);
        // The clock read just before and just after the query into r1 (A, B) and into r2 (C, D).
        var nowA = g.Var("now_a");
        var nowB = g.Var("now_b");
        var nowC = g.Var("now_c");
        var nowD = g.Var("now_d");

        // r1 (between A and B) and r2 (between C and D): every counter is non-decreasing, and
        // sum(time[]) = query time - creation time, so the sums differ by the time between the
        // two queries, which lies between C - B and D - A.
        void CheckMonotonic(string across)
        {
            for (int i = 0; i < 4; i++)
                g.Expect(T(r2, i).UGe(T(r1, i)), $"time[{i}] does not decrease across {across}");
            var grew = g.Var("sum_grew");
            g.Set(grew, Sum(r2) - Sum(r1));
            g.Expect(grew.UGe(nowC - nowB) & grew.ULe(nowD - nowA),
                $"sum of time[] grows exactly with system time across {across}");
        }

        void Query(GuestBuffer b, Val before, Val after, string what)
        {
            g.MemSet(b.Ptr, 0xff, S);
            g.Set(before, PvClock.Now(g));
            g.ExpectEq(g.VcpuOp(VcpuOp.GetRunstateInfo, 0, b.Ptr), 0, $"get_runstate_info(0) {what}");
            g.Set(after, PvClock.Now(g));
            g.ExpectEq(b.S32(VcpuRunstateInfo.Layout.State), (int)RunState.Running, $"state is running {what}");
            g.Expect(Entry(b).ULe(after), $"state_entry_time is not after the query {what}");
            g.Expect((T(b, 0) + Entry(b)).UGe(before), $"time[running] counts the time since state_entry_time {what}");
        }

        // The previous r2 becomes r1, with its clock readings.
        void Shift()
        {
            g.MemCopy(r1.Ptr, r2.Ptr, S);
            g.Set(nowA, nowC);
            g.Set(nowB, nowD);
        }

        Query(r1, nowA, nowB, "(first)");
        PvClock.SpinFor(g, 10_000_000);
        Query(r2, nowC, nowD, "(after spinning)");
        CheckMonotonic("10 ms of spinning");
        g.ExpectEq(T(r2, 2), T(r1, 2), "time[blocked] unchanged while it spins");
        g.ExpectEq(T(r2, 3), T(r1, 3), "time[offline] unchanged while it spins");
        g.Expect((T(r2, 0) + T(r2, 1) - T(r1, 0) - T(r1, 1)).UGe(nowC - nowB),
            "time[running] + time[runnable] grew by the 10 ms spin");

        Shift();
        g.ExpectEq(g.SchedOp(SchedOp.Yield, 0), 0, "SCHEDOP_yield");
        Query(r2, nowC, nowD, "(after a yield)");
        CheckMonotonic("a yield");

        Shift();
        g.ExpectEq(TimerEvents.SleepFor(g, 20_000_000, 0), 1, "SCHEDOP_poll switched the vCPU out (time[blocked] grew)");
        Query(r2, nowC, nowD, "(after blocking)");
        CheckMonotonic("a block");
        g.Expect(T(r2, (int)RunState.Blocked).UGt(T(r1, (int)RunState.Blocked)), "time[blocked] grew");
        g.Expect(Entry(r2).UGt(Entry(r1)), "state_entry_time moved forward: the vCPU was switched back in");

        // Faulting output buffers; -ENOENT for a vCPU that does not exist.
        g.ExpectEq(g.VcpuOp(VcpuOp.GetRunstateInfo, 0, 0x4000_0000), -Errno.EFAULT, "output to an unmapped address");
        g.ExpectEq(g.VcpuOp(VcpuOp.GetRunstateInfo, 0, 0x0000_8000_0000_0000), -Errno.EFAULT, "output to a non-canonical address");
        g.ExpectEq(g.VcpuOp(VcpuOp.GetRunstateInfo, 0, unchecked((long)0xFFFF_8000_0000_0000)), -Errno.EFAULT, "output into Xen's hole");
        g.ExpectEq(g.VcpuOp(VcpuOp.GetRunstateInfo, 0, Val.At(g.StartInfo, StartInfo.Layout.PtBase)), -Errno.EFAULT, "output to the read-only L4");
        g.ExpectEq(g.VcpuOp(VcpuOp.GetRunstateInfo, 1, r1.Ptr), -Errno.ENOENT, "get_runstate_info(1) with one vCPU");
        g.Print("runstate: running, counters monotonic\n");
        g.Success();
    }
}
