using Xtf.Sim.Cpu;
using Xtf.Sim.Xen;

namespace Xtf.Sim.Tests.Cpu;

/// <summary>
/// The Xen model over a <see cref="TestMachine"/>: one domain with <c>vcpus</c> vCPUs (vCPU 0 up
/// and running, the others never initialised), a shared_info frame, every frame owned by the
/// domain, one pCPU per vCPU. For focused tests of Hypervisor handlers without a dom0 build.
/// </summary>
internal sealed class ModelRig
{
    public const ulong SharedInfoMfn = 0xB00;

    public readonly TestMachine M = new();
    public readonly VirtualClock Clock = new();
    public readonly SimTrace Trace = new();
    public readonly SerialLog Serial;
    public readonly Domain Domain;
    public readonly Hypervisor Hv;

    public ModelRig(int vcpus = 1)
    {
        Serial = new SerialLog(Clock);
        var cpus = new List<Vcpu>();
        for (int i = 0; i < vcpus; i++)
        {
            var v = new Vcpu(i, Clock.Now) { VcpuInfo = (SharedInfoMfn << 12) + 64UL * (ulong)i };
            v.Cpu.CopyFrom(M.Cpu);
            cpus.Add(v);
        }
        var p2m = Xtf.Sim.Memory.PhysToMachineMap.FromRuns([(0, SharedInfoMfn), (SharedInfoMfn + 1, 0x1000 - SharedInfoMfn - 1)]);
        Domain = new Domain(0, M.Memory, SharedInfoMfn, cpus, p2m, vcpus);
        Hv = new Hypervisor(Domain, M.Interp, Clock, Serial, Trace, "");
        cpus[0].Initialised = true;
        cpus[0].Down = false;
        Hv.SwitchIn(cpus[0]);
    }

    public Vcpu this[int id] => Domain.Vcpus[id];

    /// <summary>A hypercall from <paramref name="v"/> as the guest makes it (syscall with rax = number).</summary>
    public long Hypercall(Vcpu v, Abi.Hypercall nr, ulong a1, ulong a2 = 0, ulong a3 = 0)
    {
        var c = v.Cpu;
        c[Reg.Rax] = (ulong)nr;
        c[Reg.Rdi] = a1;
        c[Reg.Rsi] = a2;
        c[Reg.Rdx] = a3;
        Hv.OnSyscall(v);
        return (long)c[Reg.Rax];
    }

    /// <summary>Runs <paramref name="v"/> with exceptions handed to the model, until the domain shuts down or the budget ends.</summary>
    public void RunGuest(Vcpu v, long budget = 10_000)
    {
        for (int exits = 0; exits < 100 && budget > 0 && !Domain.IsShuttingDown; exits++)
        {
            var e = M.Interp.Run(v.Cpu, budget);
            budget -= e.Executed;
            if (e.Kind == ExitKind.Exception) Hv.DeliverException(v, e);
            else if (e.Kind != ExitKind.Pause) break;
        }
    }
}
