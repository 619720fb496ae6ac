using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Hvm.Hypercalls;

/// <summary>
/// VCPUOP and SCHEDOP from an HVM guest (hvm/hypercall.c lets both through): is_up, runstate, the timers,
/// the physical id (dom0 only), and the sub-ops that differ from PV; yield and an unknown SCHEDOP.
/// </summary>
public sealed class VcpuAndSched : XtfTest
{
    public override string Name => "vcpu-sched";
    public override string Title => "VCPUOP and SCHEDOP from a PVH dom0";
    public override string Category => "hvm_hypercall";
    public override Environments Environments => Environments.Hvm64;

    public override void Body(GuestProgram g)
    {
        var buf = g.Alloc(64, 8, "buf");
        g.ExpectEq(g.VcpuOp(VcpuOp.IsUp, 0, 0), 1, "is_up(0)");
        g.Print("is_up(1): %e\n", g.VcpuOp(VcpuOp.IsUp, 1, 0));
        g.Print("is_up(4096): %e\n", g.VcpuOp(VcpuOp.IsUp, 4096, 0));
        g.ExpectEq(g.VcpuOp(VcpuOp.GetRunstateInfo, 0, buf.Ptr), 0, "get_runstate_info(0)");
        g.ExpectEq(buf.U32(0), 0, "runstate: running");
        foreach (var op in new[] { VcpuOp.SetPeriodicTimer, VcpuOp.StopPeriodicTimer, VcpuOp.StopSingleshotTimer,
                     VcpuOp.GetPhysid, VcpuOp.Initialise, VcpuOp.Up, VcpuOp.SendNmi, VcpuOp.RegisterRunstateMemoryArea })
        {
            g.Set(buf.U64(0), 0);
            g.Set(buf.U64(8), 0);
            g.Print($"vcpu_op {op}: %e\n", g.VcpuOp(op, 0, buf.Ptr));
        }
        g.Print("vcpu_op 99: %e\n", g.VcpuOp((VcpuOp)99, 0, buf.Ptr));
        g.ExpectEq(g.SchedOp(SchedOp.Yield, 0), 0, "SCHEDOP_yield");
        g.Print("sched_op 99: %e\n", g.SchedOp((SchedOp)99, 0));
        g.Success();
    }
}
