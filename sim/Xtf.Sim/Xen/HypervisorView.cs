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

/// <summary>
/// Interposes on every hypercall, the entries of a multicall included (fault injection: the
/// fuzzer's test of itself). Off by default (<see cref="SimOptions.Interposer"/> is null). Unlike
/// an <see cref="IHypervisorObserver"/> it may change what the guest sees: answer a hypercall in
/// place of its handler, or change the event state once the handler has run.
/// </summary>
public interface IHypercallInterposer
{
    /// <summary>Before the handler: true answers the hypercall with <paramref name="rc"/> and the handler does not run.</summary>
    bool TryAnswer(HypervisorControl hv, in HypercallEvent call, out long rc);

    /// <summary>After the handler (or the answer), before the result is traced and returned (<see cref="HypercallEvent.Rc"/> set).</summary>
    void AfterHandler(HypervisorControl hv, in HypercallEvent call);
}

/// <summary>A read-only view of the hypervisor's state: event channels, the 2-level bits, vCPUs.</summary>
public class HypervisorView
{
    private protected readonly Hypervisor hv;

    internal HypervisorView(Hypervisor hypervisor) => hv = hypervisor;

    public int VcpuCount => hv.Domain.Vcpus.Count;
    public bool ShuttingDown => hv.Domain.IsShuttingDown;
    public bool FifoActive => hv.Events.Fifo.Active;

    /// <summary>Ports with storage (valid_evtchns).</summary>
    public int ValidPorts => hv.Events.Ports.ValidPorts;

    /// <summary>A copy of one port's bookkeeping.</summary>
    public Port Port(int port) => hv.Events.Ports[port];

    /// <summary>shared_info's evtchn_pending word <paramref name="word"/> (0..63).</summary>
    public ulong PendingWord(int word) => hv.Events.PendingWord(word);

    /// <summary>shared_info's evtchn_mask word <paramref name="word"/> (0..63).</summary>
    public ulong MaskWord(int word) => hv.Events.MaskWord(word);

    /// <summary>The vCPU's evtchn_pending_sel, wherever its vcpu_info lives now.</summary>
    public ulong PendingSel(int vcpu) => hv.VcpuInfo.PendingSel(hv.Domain.Vcpus[vcpu]);

    public bool UpcallPending(int vcpu) => hv.VcpuInfo.UpcallPending(hv.Domain.Vcpus[vcpu]);

    /// <summary>VCPUOP_is_up's answer (not VPF_down).</summary>
    public bool IsUp(int vcpu) => !hv.Domain.Vcpus[vcpu].Down;
    public bool Initialised(int vcpu) => hv.Domain.Vcpus[vcpu].Initialised;
    /// <summary>VCPUOP_register_vcpu_info has succeeded for the vCPU.</summary>
    public bool VcpuInfoRegistered(int vcpu) => hv.Domain.Vcpus[vcpu].VcpuInfoRegistered;
    public bool Blocked(int vcpu) => hv.Domain.Vcpus[vcpu].Blocked;
    public RunState Runstate(int vcpu) => hv.Domain.Vcpus[vcpu].Runstate;

    /// <summary>Reads guest memory through the vCPU's page tables (as copy_from_guest); false when it faults.</summary>
    public bool ReadGuest(int vcpu, ulong va, Span<byte> into) => hv.Guest.CopyFromGuest(hv.Domain.Vcpus[vcpu], va, into);

    public bool ReadGuestU64(int vcpu, ulong va, out ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        bool ok = ReadGuest(vcpu, va, b);
        value = ok ? BinaryPrimitives.ReadUInt64LittleEndian(b) : 0;
        return ok;
    }
}

/// <summary>
/// The narrow set of changes an <see cref="IHypercallInterposer"/> may make: the 2-level event
/// bits, through the hypervisor's own operations (so their side effects are Xen's).
/// </summary>
public sealed class HypervisorControl : HypervisorView
{
    internal HypervisorControl(Hypervisor hypervisor) : base(hypervisor) { }

    /// <summary>Sets or clears a port's bit in shared_info's evtchn_pending, nothing else (no selector, no upcall).</summary>
    public void SetPendingBit(int port, bool pending)
    {
        if (port < 0 || port >= EventChannelTable.AbiMaxPorts) throw new ArgumentOutOfRangeException(nameof(port));
        hv.Events.SetPendingBit(port, pending);
    }

    /// <summary>Sets the vCPU's evtchn_pending_sel bit <paramref name="word"/>; a 0→1 change marks events pending on it (vcpu_mark_events_pending).</summary>
    public void RaiseSelector(int vcpu, int word)
    {
        if (word < 0 || word >= 64) throw new ArgumentOutOfRangeException(nameof(word));
        hv.Events.MarkSelector(hv.Domain.Vcpus[vcpu], word);
    }
}
