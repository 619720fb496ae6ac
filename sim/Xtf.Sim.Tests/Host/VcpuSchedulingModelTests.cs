using Xtf.Abi;
using Xtf.Sim.Tests.Cpu;
using Xtf.Sim.Xen;

namespace Xtf.Sim.Tests.Host;

/// <summary>
/// The model's runstates with one pCPU per vCPU (as the real-Xen host has): a woken vCPU is
/// runnable for the wake latency, then running; VCPUOP_down leaves a blocked vCPU blocked;
/// VCPUOP_up does not wake a vCPU that still polls; a downed vCPU that is woken turns offline.
/// These are the transitions test-pv64-vcpu-runstate-other measured on real Xen.
/// </summary>
public sealed class VcpuSchedulingModelTests
{
    private static long VcpuOpCall(ModelRig rig, Abi.VcpuOp op, int target) =>
        rig.Hypercall(rig[0], Hypercall.VcpuOp, (ulong)op, (ulong)target);

    [Test]
    public void UpMakesAVcpuRunnableThenRunningAfterTheWakeLatency()
    {
        var rig = new ModelRig(2);
        var v1 = rig[1];
        v1.Initialised = true;
        ulong t0 = rig.Clock.Now;
        Assert.That(VcpuOpCall(rig, Abi.VcpuOp.Up, 1), Is.Zero);
        Assert.That(v1.Runstate, Is.EqualTo(RunState.Runnable));
        Assert.That(v1.OnPcpu, Is.False, "not interpreted before it reaches its pCPU");
        Assert.That(v1.StartsAt, Is.EqualTo(t0 + Scheduler.WakeLatencyNs));
        Assert.That(TimeVersion(rig, 1), Is.Zero, "vcpu_info.time untouched until the switch-in");

        rig.Hv.SwitchIn(v1);          // what SimMachine does when StartsAt passes
        Assert.That(v1.Runstate, Is.EqualTo(RunState.Running));
        Assert.That(v1.OnPcpu, Is.True);
        Assert.That(TimeVersion(rig, 1), Is.Not.Zero.And.Matches<uint>(x => x % 2 == 0), "time written on switch-in, version even");
    }

    [Test]
    public void DownAndUpOfAPollingVcpuKeepItBlockedUntilAnEventWakesIt()
    {
        var rig = new ModelRig(2);
        var v1 = rig[1];
        v1.Initialised = true;
        v1.Down = false;
        rig.Hv.SwitchIn(v1);
        Assert.That(rig.Hypercall(v1, Hypercall.SchedOp, (ulong)SchedOp.Block, 0), Is.Zero);
        Assert.That(v1.Blocked, Is.True);
        rig.Hv.SwitchOut(v1);         // the run loop switches out a vCPU that blocked itself
        Assert.That(v1.Runstate, Is.EqualTo(RunState.Blocked));

        Assert.That(VcpuOpCall(rig, Abi.VcpuOp.Down, 1), Is.Zero);
        Assert.That(v1.Runstate, Is.EqualTo(RunState.Blocked), "down: a blocked vCPU is not runnable, so it stays blocked");
        Assert.That(VcpuOpCall(rig, Abi.VcpuOp.Up, 1), Is.Zero);
        Assert.That(v1.Runstate, Is.EqualTo(RunState.Blocked), "up does not wake it");
        Assert.That(v1.StartsAt, Is.Null);

        rig.Hv.Wake(v1);              // an event for the domain
        Assert.That(v1.Runstate, Is.EqualTo(RunState.Runnable));
        Assert.That(VcpuOpCall(rig, Abi.VcpuOp.Down, 1), Is.Zero);
        Assert.That(v1.Runstate, Is.EqualTo(RunState.Offline), "downed before it reached its pCPU");
        Assert.That(v1.StartsAt, Is.Null);
    }

    [Test]
    public void AWokenVcpuThatIsStillDownTurnsOffline()
    {
        var rig = new ModelRig(2);
        var v1 = rig[1];
        v1.Initialised = true;
        v1.Down = false;
        rig.Hv.SwitchIn(v1);
        rig.Hypercall(v1, Hypercall.SchedOp, (ulong)SchedOp.Block, 0);
        rig.Hv.SwitchOut(v1);
        VcpuOpCall(rig, Abi.VcpuOp.Down, 1);
        rig.Hv.Wake(v1);
        Assert.That(v1.Runstate, Is.EqualTo(RunState.Offline));
        Assert.That(v1.OnPcpu, Is.False);
    }

    [Test]
    public void DownOfARunningVcpuSwitchesItOut()
    {
        var rig = new ModelRig(2);
        var v1 = rig[1];
        v1.Initialised = true;
        v1.Down = false;
        rig.Hv.SwitchIn(v1);
        Assert.That(v1.PeriodicDeadline, Is.Not.Null);
        Assert.That(VcpuOpCall(rig, Abi.VcpuOp.Down, 1), Is.Zero);
        Assert.That(v1.Runstate, Is.EqualTo(RunState.Offline));
        Assert.That(v1.PeriodicDeadline, Is.Null, "its periodic timer stops with it");
    }

    private static uint TimeVersion(ModelRig rig, int vcpu) =>
        rig.M.Memory.ReadU32((ModelRig.SharedInfoMfn << 12) + 64UL * (ulong)vcpu + (ulong)Abi.VcpuInfo.Layout.Time);
}
