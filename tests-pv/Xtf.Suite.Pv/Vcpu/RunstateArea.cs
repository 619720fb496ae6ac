using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Vcpu;

/// <summary>
/// VCPUOP_register_runstate_memory_area (docs/pv-abi.md §4.7, §2.3, docs/timing.md): the area is
/// written at once (for the caller: its stored runstate, the same state and entry time
/// get_runstate_info reports, and the same bytes when registered again without a switch), and rewritten when the vCPU is switched back in after blocking,
/// also with VMASST_TYPE_runstate_update_flag enabled (bit 63 of state_entry_time clear when
/// seen from the vCPU itself). After each block the area holds the runstate Xen stored at the
/// switch-in: the entry time and the non-running counters equal get_runstate_info's, and
/// time[blocked] grew. Each block is one Xen really made (time[blocked] grew; the poll is
/// repeated if the host held the vCPU past its timeout, see TimerEvents.SleepFor), so no check
/// depends on the host's speed. Registering for a never-initialised vCPU writes its offline
/// snapshot (vCPU 0 stays on pCPU 0, the clock vCPU 1's creation time came from).
/// A non-canonical address, an address in Xen's hole or an unreadable argument is -EFAULT; 0,
/// an unmapped address and the first address above the hole are accepted, and a later switch
/// leaves the old area alone.
/// </summary>
public sealed class RunstateArea : XtfTest
{
    public override string Name => "vcpu-runstate-area";
    public override bool NeedsExactVcpus => true;
    public override string Title => "VCPUOP_register_runstate_memory_area: written now and on switches";
    public override string Category => "vcpu";
    public override int Vcpus => 2;

    private const int S = VcpuRunstateInfo.Layout.Size;

    public override void Body(GuestProgram g)
    {
        var area = g.Alloc(S, 64, "runstate_area");
        var area1 = g.Alloc(S, 64, "runstate_area_vcpu1");
        var info = g.Alloc(S, name: "runstate_info");
        var arg = g.Alloc(VcpuRegisterRunstateMemoryArea.Layout.Size, name: "area_arg");
        Val T(GuestBuffer b, int i) => b.U64(VcpuRunstateInfo.Layout.Time + 8 * i);
        var entry = area.U64(VcpuRunstateInfo.Layout.StateEntryTime);
        var areaState = area.S32(VcpuRunstateInfo.Layout.State);
        Val Register(Val vcpu, Val address)
        {
            g.Set(arg.U64(VcpuRegisterRunstateMemoryArea.Layout.Addr), address);
            return g.VcpuOp(VcpuOp.RegisterRunstateMemoryArea, vcpu, arg.Ptr);
        }

        PvClock.StayOnPcpu0(g);

        // Written immediately: the caller's stored runstate.
        g.MemSet(area.Ptr, 0xff, S);
        g.ExpectEq(Register(0, area.Ptr), 0, "register the area for vCPU 0");
        g.ExpectEq(g.VcpuOp(VcpuOp.GetRunstateInfo, 0, info.Ptr), 0, "get_runstate_info(0)");
        g.ExpectEq(areaState, (int)RunState.Running, "area.state = running at once");
        g.ExpectEq(entry, info.U64(VcpuRunstateInfo.Layout.StateEntryTime), "area.state_entry_time = get_runstate_info's");
        for (int i = 0; i < 4; i++)
            g.Expect(T(area, i).ULe(T(info, i)), $"area.time[{i}] is not ahead of get_runstate_info's");
        g.ExpectEq(T(area, 1) + T(area, 2) + T(area, 3), T(info, 1) + T(info, 2) + T(info, 3),
            "the non-running counters agree");

        // The stored runstate, not a snapshot: registering again 1 ms later, with no transition
        // in between (the same entry time), writes the same bytes; time[running] has not been
        // brought up to the registration.
        var again = g.Alloc(S, 64, "runstate_area_again");
        g.MemSet(again.Ptr, 0xff, S);
        PvClock.SpinFor(g, 1_000_000);
        g.ExpectEq(Register(0, again.Ptr), 0, "register a second area for vCPU 0");
        g.If(again.U64(VcpuRunstateInfo.Layout.StateEntryTime) == entry, () =>
            g.ExpectEq(g.MemCmp(again.Ptr, area.Ptr, S), 0, "a registration 1 ms later writes the same stored runstate"));
        g.ExpectEq(Register(0, area.Ptr), 0, "register the first area again");

        // Rewritten when the vCPU comes back from a block Xen really made: the area then holds
        // the runstate stored at the switch-in, which get_runstate_info still reports (only
        // time[running] has grown since).
        var oldEntry = g.Var("old_entry");
        var oldBlocked = g.Var("old_blocked");
        void Sleep(string what)
        {
            g.Set(oldEntry, entry);
            g.Set(oldBlocked, T(area, 2));
            g.ExpectEq(TimerEvents.SleepFor(g, 20_000_000, 0), 1, $"{what}: Xen switched vCPU 0 out (time[blocked] grew)");
            g.ExpectEq(g.VcpuOp(VcpuOp.GetRunstateInfo, 0, info.Ptr), 0, $"{what}: get_runstate_info(0)");
        }
        void Rewritten(string what)
        {
            g.ExpectEq(areaState, (int)RunState.Running, $"{what}: area.state is running");
            g.Expect(entry.UGt(oldEntry), $"{what}: area.state_entry_time moved forward");
            g.Expect(T(area, 2).UGt(oldBlocked), $"{what}: area.time[blocked] grew");
            g.ExpectEq(entry, info.U64(VcpuRunstateInfo.Layout.StateEntryTime), $"{what}: area.state_entry_time = get_runstate_info's");
            for (int i = 1; i < 4; i++)
                g.ExpectEq(T(area, i), T(info, i), $"{what}: area.time[{i}] = get_runstate_info's");
            g.Expect(T(area, 0).ULe(T(info, 0)), $"{what}: area.time[0] is not ahead of get_runstate_info's");
        }

        Sleep("block 20 ms");
        Rewritten("after the block");
        g.ExpectEq(entry >> 63, 0, "XEN_RUNSTATE_UPDATE clear without the vm_assist");

        // With VMASST_TYPE_runstate_update_flag Xen brackets its update with bit 63; the vCPU
        // only ever looks while it runs, so it sees the bit clear.
        g.ExpectEq(g.Hypercall(Hypercall.VmAssist, 0, (long)VmAssistType.RunstateUpdateFlag), 0, "enable runstate_update_flag");
        Sleep("block 20 ms again");
        g.ExpectEq(entry >> 63, 0, "bit 63 clear with runstate_update_flag");
        Rewritten("with runstate_update_flag");

        // Bad addresses.
        g.ExpectEq(Register(0, 0x0000_8000_0000_0000), -Errno.EFAULT, "area at a non-canonical address");
        g.ExpectEq(Register(0, unchecked((long)0xFFFF_8000_0000_0000)), -Errno.EFAULT, "area at the start of Xen's hole");
        g.ExpectEq(Register(0, unchecked((long)0xFFFF_87FF_FFFF_FFC0)), -Errno.EFAULT, "area at the end of Xen's hole");
        g.ExpectEq(g.VcpuOp(VcpuOp.RegisterRunstateMemoryArea, 0, 0x4000_0000), -Errno.EFAULT, "argument at an unmapped address");
        g.ExpectEq(Register(2, area.Ptr), -Errno.ENOENT, "vCPU 2");
        // The failures above did not replace the area.
        Sleep("block after refused registrations");
        Rewritten("the area is still maintained after refused registrations");

        // Accepted: unwritable places just lose the updates; the old area is no longer written.
        g.ExpectEq(Register(0, unchecked((long)0xFFFF_8800_0000_0000)), 0, "area at the first address above the hole (not mapped)");
        g.ExpectEq(Register(0, 0x4000_0000), 0, "area at an unmapped address");
        // docs/pv-abi.md §4.7 calls 0 an "unregister"; in this dom0 VA 0 is mapped, so Xen's copies land
        // at 0, which is harmless here.
        g.ExpectEq(Register(0, 0), 0, "area at 0");
        g.MemSet(area.Ptr, 0xa5, S);
        g.ExpectEq(TimerEvents.SleepFor(g, 20_000_000, 0), 1, "block with the area moved: Xen switched vCPU 0 out");
        g.ExpectEq(area.U64(0), unchecked((long)0xa5a5a5a5a5a5a5a5), "the old area is left alone");

        // Another vCPU: the area receives its current snapshot (offline, only time[3]).
        g.MemSet(area1.Ptr, 0xff, S);
        g.ExpectEq(Register(1, area1.Ptr), 0, "register an area for the never-initialised vCPU 1");
        g.ExpectEq(area1.S32(VcpuRunstateInfo.Layout.State), (int)RunState.Offline, "vCPU 1's area: offline");
        g.ExpectEq(T(area1, 0) | T(area1, 1) | T(area1, 2), 0, "vCPU 1's area: no running/runnable/blocked time");
        g.Expect(T(area1, 3) > 0, "vCPU 1's area: offline time");
        g.Print("runstate area: written at registration and on switches\n");
        g.Success();
    }
}
