using System.Buffers.Binary;
using Xtf.Sim.Memory;
using Layout = Xtf.Abi.VcpuInfo.Layout;

namespace Xtf.Sim.Xen;

/// <summary>
/// Each vCPU's vcpu_info (the vcpu_info() accessors of xen/include/xen/shared.h): in shared_info
/// for vCPUs below 32 or where VCPUOP_register_vcpu_info put it, else Xen's dummy, which no guest
/// can see. Every write notes the frame, so cached decodes of it are dropped.
/// </summary>
public sealed class VcpuInfoArea
{
    private readonly MachineMemory memory;
    /// <summary>dummy_vcpu_info, one per vCPU without a slot; bounded by the domain's vCPU count.</summary>
    private readonly Dictionary<int, byte[]> dummies = new();

    public VcpuInfoArea(MachineMemory memory) => this.memory = memory;

    public Span<byte> Of(Vcpu v)
    {
        if (v.VcpuInfo is { } ma) return memory.Span(ma, Layout.Size);
        if (!dummies.TryGetValue(v.Id, out var dummy)) dummies[v.Id] = dummy = new byte[Layout.Size];
        return dummy;
    }

    public void NoteWrite(Vcpu v)
    {
        if (v.VcpuInfo is { } ma) memory.NoteWrite(ma >> 12);
    }

    public bool UpcallPending(Vcpu v) => Of(v)[Layout.EvtchnUpcallPending] != 0;
    public bool UpcallMasked(Vcpu v) => Of(v)[Layout.EvtchnUpcallMask] != 0;

    public void SetUpcallMask(Vcpu v, bool masked)
    {
        Of(v)[Layout.EvtchnUpcallMask] = masked ? (byte)1 : (byte)0;
        NoteWrite(v);
    }

    public void SetUpcallPending(Vcpu v, bool pending)
    {
        Of(v)[Layout.EvtchnUpcallPending] = pending ? (byte)1 : (byte)0;
        NoteWrite(v);
    }

    public ulong PendingSel(Vcpu v) => BinaryPrimitives.ReadUInt64LittleEndian(Of(v)[Layout.EvtchnPendingSel..]);

    public void SetPendingSel(Vcpu v, ulong sel)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(Of(v)[Layout.EvtchnPendingSel..], sel);
        NoteWrite(v);
    }

    /// <summary>arch.cr2: where Xen shows a #PF's address to the guest.</summary>
    public void SetCr2(Vcpu v, ulong cr2)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(Of(v)[Layout.ArchCr2..], cr2);
        NoteWrite(v);
    }
}
