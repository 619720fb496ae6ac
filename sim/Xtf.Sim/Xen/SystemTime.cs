using System.Buffers.Binary;
using Xtf.Abi;

namespace Xtf.Sim.Xen;

/// <summary>
/// Xen's system time as a guest sees it (xen/arch/x86/time.c): vcpu_info's vcpu_time_info and the
/// registered copy of it. The simulated TSC runs at 1 GHz (<see cref="VirtualClock.Tsc"/>).
/// </summary>
public sealed class SystemTime
{
    /// <summary>The simulated TSC runs at 1 GHz, so one tick is one nanosecond: (tsc &lt;&lt; 1) * 2^31 &gt;&gt; 32.</summary>
    public const uint TscToSystemMul = 0x8000_0000;
    public const sbyte TscShift = 1;

    private readonly VirtualClock clock;
    private readonly GuestMemory guest;
    private readonly VcpuInfoArea vcpuInfo;

    public SystemTime(VirtualClock clock, GuestMemory guest, VcpuInfoArea vcpuInfo)
    {
        this.clock = clock;
        this.guest = guest;
        this.vcpuInfo = vcpuInfo;
    }

    /// <summary>
    /// update_vcpu_system_time (xen/arch/x86/time.c): version made odd, the fields written, version
    /// made even again, so a guest reading under the seqlock sees a consistent snapshot.
    /// </summary>
    public void UpdateVcpuTime(Vcpu v)
    {
        var info = vcpuInfo.Of(v);
        var t = info.Slice(VcpuInfo.Layout.Time, VcpuTimeInfo.Layout.Size);
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(t[VcpuTimeInfo.Layout.Version..]);
        version = (version + 1) | 1;
        BinaryPrimitives.WriteUInt32LittleEndian(t[VcpuTimeInfo.Layout.Version..], version);
        BinaryPrimitives.WriteUInt64LittleEndian(t[VcpuTimeInfo.Layout.TscTimestamp..], clock.Tsc);
        BinaryPrimitives.WriteUInt64LittleEndian(t[VcpuTimeInfo.Layout.SystemTime..], clock.Now);
        BinaryPrimitives.WriteUInt32LittleEndian(t[VcpuTimeInfo.Layout.TscToSystemMul..], TscToSystemMul);
        t[VcpuTimeInfo.Layout.TscShift] = unchecked((byte)TscShift);
        BinaryPrimitives.WriteUInt32LittleEndian(t[VcpuTimeInfo.Layout.Version..], version + 1);
        vcpuInfo.NoteWrite(v);
        if (v.TimeArea is { } area) guest.CopyToGuest(v, area, t.ToArray());   // the registered copy; faults ignored
    }
}
