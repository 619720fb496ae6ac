using Xtf.Abi;

namespace Xtf.Sim.Xen;

/// <summary>Xen's internal port states (docs/pv-abi.md §2.7).</summary>
public enum PortState { Free = 0, Reserved = 1, Unbound = 2, Interdomain = 3, Pirq = 4, Virq = 5, Ipi = 6 }

/// <summary>One event-channel port's bookkeeping (pending and mask bits live in shared_info).</summary>
public struct Port
{
    public PortState State;
    public int NotifyVcpu;
    public ushort RemoteDomain;
    public int RemotePort;
    public int Virq;
    public int Pirq;
}

/// <summary>
/// A domain's event channels under the 2-level ABI (xen/common/event_channel.c): ports in buckets
/// of 64, port 0 reserved, lowest-free allocation, storage never shrunk.
/// </summary>
public sealed class EventChannelTable
{
    public const int BucketSize = 64;
    /// <summary>2-level ABI limit for a 64-bit guest: 64 × 64 ports.</summary>
    public const int AbiMaxPorts = 4096;

    /// <summary>Port storage in buckets of <see cref="BucketSize"/>, made on first use (never moved, so refs stay valid).</summary>
    private readonly Port[]?[] buckets = new Port[]?[AbiMaxPorts / BucketSize];

    public EventChannelTable(int maxPort)
    {
        MaxPort = Math.Min(maxPort, AbiMaxPorts - 1);
        this[0].State = PortState.Reserved;
        ValidPorts = BucketSize;
    }

    /// <summary>Highest port this domain may allocate (dom0: unlimited, so the ABI's 4095).</summary>
    public int MaxPort { get; }

    /// <summary>valid_evtchns: ports with storage; a multiple of 64 that never decreases.</summary>
    public int ValidPorts { get; private set; }

    public ref Port this[int port] => ref (buckets[port / BucketSize] ??= new Port[BucketSize])[port % BucketSize];

    public bool IsValid(long port) => port >= 0 && port < ValidPorts;

    /// <summary>Usable: allocated by the guest (state above RESERVED).</summary>
    public bool IsUsable(long port) => IsValid(port) && this[(int)port].State > PortState.Reserved;

    /// <summary>get_free_port: the lowest free port, growing storage bucket by bucket; -ENOSPC when none.</summary>
    public int Allocate()
    {
        for (int p = 1; p <= MaxPort; p++)
        {
            if (p >= ValidPorts)
            {
                ValidPorts += BucketSize;   // storage for the next bucket
                return p;
            }
            if (this[p].State == PortState.Free) return p;
        }
        return -Errno.ENOSPC;
    }

    public IEnumerable<int> InUse()
    {
        for (int p = 1; p < ValidPorts; p++)
            if (this[p].State > PortState.Reserved) yield return p;
    }
}
