using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Vcpu;

/// <summary>
/// VCPUOP_get_runstate_info on the calling vCPU (docs/pv-abi.md §4.6, §4.16): state is running, the
/// entry time is not in the future, each time[] counter never decreases across spinning, a
/// yield and a 5 ms block, the blocked counter grows across a block, and the sum of the counters
/// grows exactly as system time does between two queries (within 1 ms). An unwritable output
/// buffer is -EFAULT; vCPU 1 does not exist here (-ENOENT).
/// </summary>
public sealed class RunstateSelf : XtfTest
{
    public override string Name => "vcpu-runstate-self";
    public override string Title => "VCPUOP_get_runstate_info on the running vCPU";
    public override string Category => "vcpu";

    private const int S = VcpuRunstateInfo.Layout.Size;

    public override void Body(GuestProgram g)
    {
        var r1 = g.Alloc(S, name: "rs1");
        var r2 = g.Alloc(S, name: "rs2");
        Val T(GuestBuffer b, int i) => b.U64(VcpuRunstateInfo.Layout.Time + 8 * i);
        Val Sum(GuestBuffer b) => T(b, 0) + T(b, 1) + T(b, 2) + T(b, 3);
        var nowA = g.Var("now_a");
        var nowB = g.Var("now_b");
        var nowC = g.Var("now_c");
        var nowD = g.Var("now_d");

        void CheckMonotonic(string after)
        {
            for (int i = 0; i < 4; i++)
                g.Expect(T(r2, i).UGe(T(r1, i)), $"time[{i}] does not decrease across {after}");
            g.Expect(Sum(r2).UGt(Sum(r1)), $"the sum of time[] grows across {after}");
        }

        void Query(GuestBuffer b, Val before, Val after, string what)
        {
            g.MemSet(b.Ptr, 0xff, S);
            g.Set(before, PvClock.Now(g));
            g.ExpectEq(g.VcpuOp(VcpuOp.GetRunstateInfo, 0, b.Ptr), 0, $"get_runstate_info(0) {what}");
            g.Set(after, PvClock.Now(g));
            g.ExpectEq(b.S32(VcpuRunstateInfo.Layout.State), (int)RunState.Running, $"state is running {what}");
            g.Expect(b.U64(VcpuRunstateInfo.Layout.StateEntryTime).ULe(after), $"state_entry_time is not after the query {what}");
        }

        Query(r1, nowA, nowB, "(first)");
        g.Expect(T(r1, 0) > 0, "time[running] is non-zero");
        PvClock.SpinFor(g, 10_000_000);
        Query(r2, nowC, nowD, "(after spinning)");
        CheckMonotonic("10 ms of spinning");
        g.Expect(T(r2, 0).UGe(T(r1, 0) + 10_000_000 - 1_000_000), "time[running] grew by the 10 ms spin");
        // sum(time[]) = query time - creation time, so the sums differ by the time between the
        // two queries, which lies between now_c - now_b and now_d - now_a.
        var grew = g.Var("sum_grew");
        g.Set(grew, Sum(r2) - Sum(r1));
        g.Expect(grew.UGe(nowC - nowB - 1_000_000) & grew.ULe(nowD - nowA + 1_000_000),
            "sum of time[] grows with system time between the queries");

        g.MemCopy(r1.Ptr, r2.Ptr, S);
        g.ExpectEq(g.SchedOp(SchedOp.Yield, 0), 0, "SCHEDOP_yield");
        Query(r2, nowC, nowD, "(after a yield)");
        CheckMonotonic("a yield");

        g.MemCopy(r1.Ptr, r2.Ptr, S);
        g.ExpectEq(TimerEvents.BlockFor(g, 20_000_000), 0, "SCHEDOP_poll for 20 ms (blocks)");
        Query(r2, nowC, nowD, "(after blocking)");
        CheckMonotonic("a 20 ms block");
        g.Expect(T(r2, (int)RunState.Blocked).UGt(T(r1, (int)RunState.Blocked)), "time[blocked] grew");
        g.Expect(r2.U64(VcpuRunstateInfo.Layout.StateEntryTime).UGt(r1.U64(VcpuRunstateInfo.Layout.StateEntryTime)),
            "state_entry_time moved forward: the vCPU was switched back in");

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
