using System.Buffers.Binary;
using Xtf.Abi;

namespace Xtf.Sim.Xen;

public sealed partial class Hypervisor
{
    /// <summary>The simulated TSC runs at 1 GHz, so one tick is one nanosecond: (tsc &lt;&lt; 1) * 2^31 &gt;&gt; 32.</summary>
    public const uint TscToSystemMul = 0x8000_0000;
    public const sbyte TscShift = 1;

    /// <summary>
    /// update_vcpu_system_time (xen/arch/x86/time.c): version made odd, the fields written, version
    /// made even again, so a guest reading under the seqlock sees a consistent snapshot.
    /// </summary>
    public void UpdateVcpuTime(Vcpu v)
    {
        var info = VcpuInfo(v);
        var t = info.Slice(Abi.VcpuInfo.Layout.Time, VcpuTimeInfo.Layout.Size);
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(t[VcpuTimeInfo.Layout.Version..]);
        version = (version + 1) | 1;
        BinaryPrimitives.WriteUInt32LittleEndian(t[VcpuTimeInfo.Layout.Version..], version);
        BinaryPrimitives.WriteUInt64LittleEndian(t[VcpuTimeInfo.Layout.TscTimestamp..], Clock.Tsc);
        BinaryPrimitives.WriteUInt64LittleEndian(t[VcpuTimeInfo.Layout.SystemTime..], Clock.Now);
        BinaryPrimitives.WriteUInt32LittleEndian(t[VcpuTimeInfo.Layout.TscToSystemMul..], TscToSystemMul);
        t[VcpuTimeInfo.Layout.TscShift] = unchecked((byte)TscShift);
        BinaryPrimitives.WriteUInt32LittleEndian(t[VcpuTimeInfo.Layout.Version..], version + 1);
        NoteVcpuInfoWrite(v);
        if (v.TimeArea is { } area) CopyToGuest(v, area, t.ToArray());   // the registered copy; faults ignored
    }
}
