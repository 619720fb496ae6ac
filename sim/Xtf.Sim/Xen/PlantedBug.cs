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
    /// EVTCHNOP_close of one end of a loopback interdomain pair leaves the other end bound to the
    /// freed port (Xen makes it unbound). The return code and the bits stay right: only the
    /// simulator's own port table is wrong, which the fuzzer's internal invariant checker sees.
    /// </summary>
    CloseLeavesPeerBound,
}

public sealed partial class Hypervisor
{
    /// <summary>The planted defect, if any (fault injection for the fuzzer's test).</summary>
    public PlantedBug PlantedBug { get; init; }
}
