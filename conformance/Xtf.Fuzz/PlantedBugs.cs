using System.Buffers.Binary;
using Xtf.Abi;
using Xtf.Sim.Xen;

namespace Xtf.Fuzz;

/// <summary>
/// A deliberate defect the fuzzer's own test plants in the simulator, to prove the fuzzer finds and
/// shrinks real model errors. Planted from outside, through the simulator's
/// <see cref="IHypercallInterposer"/> seam (<see cref="PlantedBugs.Interposer"/>); the simulator
/// itself knows nothing of them. The default is <see cref="None"/>.
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

/// <summary>The interposers that plant each <see cref="PlantedBug"/>.</summary>
public static class PlantedBugs
{
    /// <summary>The interposer for <paramref name="bug"/>; null for <see cref="PlantedBug.None"/>.</summary>
    public static IHypercallInterposer? Interposer(PlantedBug bug) => bug switch
    {
        PlantedBug.None => null,
        PlantedBug.UnmaskReraisesUnmasked => new UnmaskReraisesUnmasked(),
        PlantedBug.InitialiseExistsBeforeCopy => new InitialiseExistsBeforeCopy(),
        PlantedBug.CloseLeavesPending => new CloseLeavesPending(),
        _ => throw new ArgumentOutOfRangeException(nameof(bug), bug, null),
    };

    /// <summary>
    /// The event_channel_op command of <paramref name="call"/> and the guest address of its
    /// argument, for event_channel_op and the compat form ({ u32 cmd; union } with cmds 0..9);
    /// false for any other hypercall or an unreadable compat argument.
    /// </summary>
    private static bool EvtchnCommand(HypervisorView hv, in HypercallEvent call, out int cmd, out ulong arg)
    {
        cmd = -1;
        arg = 0;
        if (call.Number == (ulong)Hypercall.EventChannelOp)
        {
            cmd = (int)call.A1;
            arg = call.A2;
            return true;
        }
        if (call.Number != (ulong)Hypercall.EventChannelOpCompat) return false;
        Span<byte> b = stackalloc byte[4];
        if (!hv.ReadGuest(call.Vcpu, call.A1, b)) return false;
        uint compat = BinaryPrimitives.ReadUInt32LittleEndian(b);
        if (compat > 9) return false;
        cmd = (int)compat;
        arg = call.A1 + 4;
        return true;
    }

    private static bool Pending(HypervisorView hv, int port) => (hv.PendingWord(port / 64) & (1UL << (port % 64))) != 0;

    /// <summary>
    /// After a successful unmask of a usable, pending port: raise its notify vCPU's selector, as
    /// unmask does only for a port that was masked. (Raising it again for a port that was masked
    /// changes nothing: the handler already set the selector bit.)
    /// </summary>
    private sealed class UnmaskReraisesUnmasked : IHypercallInterposer
    {
        public bool TryAnswer(HypervisorControl hv, in HypercallEvent call, out long rc)
        {
            rc = 0;
            return false;
        }

        public void AfterHandler(HypervisorControl hv, in HypercallEvent call)
        {
            if (call.Rc != 0 || !EvtchnCommand(hv, call, out int cmd, out ulong arg) || cmd != (int)EvtchnOp.Unmask) return;
            Span<byte> b = stackalloc byte[EvtchnUnmask.Layout.Size];
            if (!hv.ReadGuest(call.Vcpu, arg, b)) return;
            uint port = EvtchnUnmask.Read(b).Port;
            if (port >= hv.ValidPorts) return;
            var p = hv.Port((int)port);
            if (p.State <= PortState.Reserved || !Pending(hv, (int)port)) return;
            hv.RaiseSelector(p.NotifyVcpu, (int)port / 64);
        }
    }

    /// <summary>
    /// VCPUOP_initialise of an initialised vCPU is answered -EEXIST before the context is copied,
    /// after the checks that come first (the vCPU id, a vCPU beyond the legacy 32 without a
    /// registered vcpu_info).
    /// </summary>
    private sealed class InitialiseExistsBeforeCopy : IHypercallInterposer
    {
        public bool TryAnswer(HypervisorControl hv, in HypercallEvent call, out long rc)
        {
            rc = 0;
            if (call.Number != (ulong)Hypercall.VcpuOp || (int)call.A1 != (int)VcpuOp.Initialise) return false;
            uint id = (uint)call.A2;
            if (id >= hv.VcpuCount) return false;
            if (id >= PvLayout.LegacyMaxVcpus && !hv.VcpuInfoRegistered((int)id)) return false;
            if (!hv.Initialised((int)id)) return false;
            rc = -Errno.EEXIST;
            return true;
        }

        public void AfterHandler(HypervisorControl hv, in HypercallEvent call) { }
    }

    /// <summary>
    /// After an event-channel operation: every port it freed that was pending before gets its
    /// pending bit back (only evtchn_free clears a pending bit, so this undoes exactly that).
    /// </summary>
    private sealed class CloseLeavesPending : IHypercallInterposer
    {
        private const int Words = EventChannelTable.AbiMaxPorts / 64;
        private readonly ulong[] pendingBefore = new ulong[Words];

        public bool TryAnswer(HypervisorControl hv, in HypercallEvent call, out long rc)
        {
            rc = 0;
            if (call.Number is (ulong)Hypercall.EventChannelOp or (ulong)Hypercall.EventChannelOpCompat)
                for (int w = 0; w < Words; w++) pendingBefore[w] = hv.PendingWord(w);
            return false;
        }

        public void AfterHandler(HypervisorControl hv, in HypercallEvent call)
        {
            if (call.Number is not ((ulong)Hypercall.EventChannelOp or (ulong)Hypercall.EventChannelOpCompat)) return;
            for (int w = 0; w < Words; w++)
            {
                for (ulong cleared = pendingBefore[w] & ~hv.PendingWord(w); cleared != 0; cleared &= cleared - 1)
                {
                    int port = w * 64 + System.Numerics.BitOperations.TrailingZeroCount(cleared);
                    if (port < hv.ValidPorts && hv.Port(port).State == PortState.Free) hv.SetPendingBit(port, true);
                }
            }
        }
    }
}
