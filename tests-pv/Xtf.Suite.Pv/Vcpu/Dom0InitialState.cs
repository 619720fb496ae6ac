using Xtf.Abi;
using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Pv.Vcpu;

/// <summary>
/// What dom0's vCPUs look like at entry (docs/dom0.md §2.10, §2.12, §2.13): vCPU 0 runs in kernel
/// mode with cs 0xe033, ss 0xe02b and null data selectors, IF set; a CR3 read (emulated by Xen)
/// gives the machine address of the L4 at pt_base; CR0 has PE and PG and not TS; CR4 has PAE.
/// vCPU 1 exists, is down and has never run (runstate offline with no running time, an
/// all-zero time record); vCPU 2 does not exist. shared_info: every vcpu_info slot has its
/// upcall mask set and nothing pending, vCPU 0's time is filled (even version), the event
/// arrays are empty, the wallclock version is even and the arch fields are 0.
/// </summary>
public sealed class Dom0InitialState : XtfTest
{
    public override string Name => "vcpu-dom0-initial-state";
    public override bool NeedsExactVcpus => true;
    public override string Title => "dom0 vCPU and shared_info state at entry";
    public override string Category => "vcpu";
    public override int Vcpus => 2;

    public override void Body(GuestProgram g)
    {
        var a = g.Asm;
        Val Read(Action<Iced.Intel.Assembler> load, string name)
        {
            var v = g.Var(name);
            a.xor(eax, eax);
            load(a);
            a.mov(__qword_ptr[(long)v.Address], rax);
            return v;
        }
        var cs = Read(x => x.mov(ax, Iced.Intel.AssemblerRegisters.cs), "cs");
        var ss = Read(x => x.mov(ax, Iced.Intel.AssemblerRegisters.ss), "ss");
        var ds = Read(x => x.mov(ax, Iced.Intel.AssemblerRegisters.ds), "ds");
        var es = Read(x => x.mov(ax, Iced.Intel.AssemblerRegisters.es), "es");
        var fs = Read(x => x.mov(ax, Iced.Intel.AssemblerRegisters.fs), "fs");
        var gs = Read(x => x.mov(ax, Iced.Intel.AssemblerRegisters.gs), "gs");
        var flags = Read(x => { x.pushfq(); x.pop(rax); }, "rflags");
        g.Print("selectors: cs %x ss %x ds %x es %x fs %x gs %x\n", cs, ss, ds, es, fs, gs);
        g.ExpectEq(cs, PvLayout.FlatKernelCs, "cs");
        g.ExpectEq(ss, PvLayout.FlatKernelSs, "ss");
        g.ExpectEq(ds | es | fs | gs, 0, "ds, es, fs and gs are null");
        g.ExpectEq(flags & 0x202, 0x202, "rflags shows IF and the reserved bit 1");

        // Privileged reads are emulated by Xen for the guest kernel.
        var cr3 = Read(x => x.mov(rax, Iced.Intel.AssemblerRegisters.cr3), "cr3");
        var cr0 = Read(x => x.mov(rax, Iced.Intel.AssemblerRegisters.cr0), "cr0");
        var cr4 = Read(x => x.mov(rax, Iced.Intel.AssemblerRegisters.cr4), "cr4");
        g.ExpectEq(cr3, g.CurrentCr3(), "CR3 = machine address of the L4 at pt_base");
        g.ExpectEq(cr0 & 0x8000_0001, 0x8000_0001, "CR0.PE and CR0.PG set");
        g.ExpectEq(cr0 & 8, 0, "CR0.TS clear");
        g.ExpectEq(cr4 & 0x20, 0x20, "CR4.PAE set");

        // vCPUs.
        g.ExpectEq(g.VcpuOp(VcpuOp.IsUp, 0, 0), 1, "vCPU 0 is up");
        g.ExpectEq(g.VcpuOp(VcpuOp.IsUp, 1, 0), 0, "vCPU 1 is down");
        g.ExpectEq(g.VcpuOp(VcpuOp.IsUp, 2, 0), -Errno.ENOENT, "vCPU 2 does not exist (max_vcpus = 2)");
        var rs = g.Alloc(VcpuRunstateInfo.Layout.Size, name: "rs");
        g.ExpectEq(g.VcpuOp(VcpuOp.GetRunstateInfo, 1, rs.Ptr), 0, "get_runstate_info(1)");
        g.ExpectEq(rs.S32(VcpuRunstateInfo.Layout.State), (int)RunState.Offline, "vCPU 1 is offline");
        g.ExpectEq(rs.U64(VcpuRunstateInfo.Layout.Time), 0, "vCPU 1 never ran");

        // shared_info at entry.
        var si = g.SharedInfo;
        var i = g.Var("i");
        var bad = g.Var("bad");
        g.Set(bad, 0);
        g.For(i, 0, PvLayout.LegacyMaxVcpus, () =>
        {
            var slot = si.Ptr + i * VcpuInfo.Layout.Size;
            g.If(Val.At(slot, VcpuInfo.Layout.EvtchnUpcallMask, 1) != 1, () => g.Set(bad, bad + 1));
            g.If(Val.At(slot, VcpuInfo.Layout.EvtchnUpcallPending, 1) != 0, () => g.Set(bad, bad + 1));
            g.If(Val.At(slot, VcpuInfo.Layout.EvtchnPendingSel) != 0, () => g.Set(bad, bad + 1));
        });
        g.ExpectEq(bad, 0, "all 32 vcpu_info slots masked with nothing pending");
        var t0 = VcpuInfo.Layout.Time;
        g.Expect((si.U32(t0) != 0) & si.U32(t0).NoBits(1), "vCPU 0's time version non-zero and even");
        g.Expect(si.U32(t0 + VcpuTimeInfo.Layout.TscToSystemMul) != 0, "vCPU 0's tsc_to_system_mul non-zero");
        var t1 = VcpuInfo.Layout.Size + VcpuInfo.Layout.Time;
        g.ExpectEq(si.U64(t1) | si.U64(t1 + 8) | si.U64(t1 + 16) | si.U64(t1 + 24), 0, "vCPU 1's time record is all zero (never scheduled)");
        var orAll = g.Var("or_all");
        g.Set(orAll, 0);
        g.For(i, 0, 2 * SharedInfo.EvtchnWords, () => g.Set(orAll, orAll | Val.At(si.Ptr + (i << 3), SharedInfo.Layout.EvtchnPending)));
        g.ExpectEq(orAll, 0, "evtchn_pending and evtchn_mask are all zero");
        var wc = si.U32(SharedInfo.Layout.WcVersion);
        g.Expect((wc != 0) & wc.NoBits(1), "wc_version non-zero and even");
        g.ExpectEq(si.U64(SharedInfo.Layout.ArchMaxPfn) | si.U64(SharedInfo.Layout.ArchPfnToMfnFrameListList)
            | si.U64(SharedInfo.Layout.ArchNmiReason) | si.U64(SharedInfo.Layout.ArchP2mCr3)
            | si.U64(SharedInfo.Layout.ArchP2mVaddr) | si.U64(SharedInfo.Layout.ArchP2mGeneration), 0, "arch_shared_info is all zero");
        g.Success();
    }
}
