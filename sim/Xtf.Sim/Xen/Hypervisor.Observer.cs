using System.Buffers.Binary;
using Xtf.Abi;

namespace Xtf.Sim.Xen;

/// <summary>One guest hypercall as the observer sees it: who made it, its number and arguments, and (after) its result.</summary>
public readonly record struct HypercallEvent(int Vcpu, ulong Number, ulong A1, ulong A2, ulong A3, ulong A4, ulong A5, long? Rc);

/// <summary>
/// Watches the simulator's own state around every guest hypercall (the fuzzer's invariant
/// checker). Off by default (<see cref="SimOptions.Observer"/> is null); an observer only reads.
/// </summary>
public interface IHypervisorObserver
{
    /// <summary>Just before the hypercall is dispatched (<see cref="HypercallEvent.Rc"/> is null).</summary>
    void BeforeHypercall(HypervisorView view, in HypercallEvent call);

    /// <summary>Right after the hypercall returned, before the guest runs again.</summary>
    void AfterHypercall(HypervisorView view, in HypercallEvent call);
}

/// <summary>A read-only view of the hypervisor's state: event channels, the 2-level bits, vCPUs.</summary>
public sealed class HypervisorView
{
    private readonly Hypervisor hv;

    internal HypervisorView(Hypervisor hypervisor) => hv = hypervisor;

    public int VcpuCount => hv.Domain.Vcpus.Count;
    public bool ShuttingDown => hv.Domain.IsShuttingDown;
    public bool FifoActive => hv.FifoActive;

    /// <summary>Ports with storage (valid_evtchns).</summary>
    public int ValidPorts => hv.Domain.Evtchn.ValidPorts;

    /// <summary>A copy of one port's bookkeeping.</summary>
    public Port Port(int port) => hv.Domain.Evtchn[port];

    /// <summary>shared_info's evtchn_pending word <paramref name="word"/> (0..63).</summary>
    public ulong PendingWord(int word) => hv.Memory.ReadU64(hv.Domain.SharedInfo + (ulong)SharedInfo.Layout.EvtchnPending + (ulong)(8 * word));

    /// <summary>shared_info's evtchn_mask word <paramref name="word"/> (0..63).</summary>
    public ulong MaskWord(int word) => hv.Memory.ReadU64(hv.Domain.SharedInfo + (ulong)SharedInfo.Layout.EvtchnMask + (ulong)(8 * word));

    /// <summary>The vCPU's evtchn_pending_sel, wherever its vcpu_info lives now.</summary>
    public ulong PendingSel(int vcpu) => hv.PendingSelOf(hv.Domain.Vcpus[vcpu]);

    public bool UpcallPending(int vcpu) => hv.UpcallPending(hv.Domain.Vcpus[vcpu]);

    /// <summary>VCPUOP_is_up's answer (not VPF_down).</summary>
    public bool IsUp(int vcpu) => !hv.Domain.Vcpus[vcpu].Down;
    public bool Initialised(int vcpu) => hv.Domain.Vcpus[vcpu].Initialised;
    public bool Blocked(int vcpu) => hv.Domain.Vcpus[vcpu].Blocked;
    public RunState Runstate(int vcpu) => hv.Domain.Vcpus[vcpu].Runstate;

    /// <summary>Reads guest memory through the vCPU's page tables (as copy_from_guest); false when it faults.</summary>
    public bool ReadGuest(int vcpu, ulong va, Span<byte> into) => hv.CopyFromGuest(hv.Domain.Vcpus[vcpu], va, into);

    public bool ReadGuestU64(int vcpu, ulong va, out ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        bool ok = ReadGuest(vcpu, va, b);
        value = ok ? BinaryPrimitives.ReadUInt64LittleEndian(b) : 0;
        return ok;
    }
}

public sealed partial class Hypervisor
{
    private HypervisorView? view;

    /// <summary>Sees every guest hypercall (not the entries of a multicall, which are part of it); null: none.</summary>
    public IHypervisorObserver? Observer { get; init; }

    internal ulong PendingSelOf(Vcpu v) => PendingSel(v);

    private HypervisorView View => view ??= new HypervisorView(this);
}
