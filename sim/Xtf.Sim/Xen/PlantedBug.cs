namespace Xtf.Sim.Xen;

/// <summary>
/// A deliberate defect the fuzzer's own test switches on, to prove the fuzzer finds and shrinks
/// real model errors. Never set outside that test: the default is <see cref="None"/>.
/// </summary>
public enum PlantedBug
{
    None = 0,
    /// <summary>EVTCHNOP_unmask raises the selector for a pending port even when it was not masked.</summary>
    UnmaskReraisesUnmasked,
    /// <summary>VCPUOP_initialise checks "already initialised" (-EEXIST) before copying the context (-EFAULT).</summary>
    InitialiseExistsBeforeCopy,
    /// <summary>
    /// EVTCHNOP_close frees a port but leaves its pending bit set (Xen's evtchn_free clears it).
    /// The return code stays right; the fuzzer's internal invariant checker sees a free port pending.
    /// </summary>
    CloseLeavesPending,
}

public sealed partial class Hypervisor
{
    /// <summary>The planted defect, if any (fault injection for the fuzzer's test).</summary>
    public PlantedBug PlantedBug { get; init; }
}
