using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Vcpu;

// TEMPORARY probe: prints what real Xen answers. Deleted before hand-off.
public sealed class ProbeA : XtfTest
{
    public override string Name => "zprobe-a";
    public override string Title => "probe A";
    public override int Vcpus => 2;

    public override void Body(GuestProgram g)
    {
        const long NonCanon = 0x0000_8000_0000_0000;
        const long Hole = unchecked((long)0xFFFF_8000_0000_0000);
        void P(string what, Val rc) => g.Print(what + ": %e\n", rc);

        P("isup vcpuid 1<<32", g.VcpuOp(VcpuOp.IsUp, 1L << 32, 0));
        P("isup vcpuid 0xffffffff", g.VcpuOp(VcpuOp.IsUp, 0xffffffffL, 0));
        P("cmd (1<<32)|3 vcpu0", g.Hypercall(Hypercall.VcpuOp, (1L << 32) | 3, 0, 0));
        P("cmd -1 vcpu0", g.Hypercall(Hypercall.VcpuOp, -1, 0, 0));
        P("cmd 14 vcpu0", g.Hypercall(Hypercall.VcpuOp, 14, 0, 0));
        P("cmd 14 vcpu2", g.Hypercall(Hypercall.VcpuOp, 14, 2, 0));
        var phys = g.Alloc(8);
        P("get_physid 0", g.VcpuOp(VcpuOp.GetPhysid, 0, phys.Ptr));
        g.Print("physid %x\n", phys.U64());
        P("get_physid 1", g.VcpuOp(VcpuOp.GetPhysid, 1, phys.Ptr));
        P("get_physid 0 null", g.VcpuOp(VcpuOp.GetPhysid, 0, 0));
        P("send_nmi 1 nonnull", g.VcpuOp(VcpuOp.SendNmi, 1, phys.Ptr));

        // shared_info at entry
        var si = g.SharedInfo;
        g.Print("wc_version %u sec_hi %u\n", si.U32(SharedInfo.Layout.WcVersion), si.U32(SharedInfo.Layout.WcSecHi));
        g.Print("vcpu1 time version %u sys %x mul %x\n", si.U32(64 + 32), si.U64(64 + 48), si.U32(64 + 56));
        g.Print("vcpu1 mask %u pending %u sel %x\n", si.U8(65), si.U8(64), si.U64(72));
        g.Print("vcpu31 mask %u\n", si.U8(64 * 31 + 1));
        g.Print("time pad0 %x pad1 %x flags %x\n", si.U32(36), si.U16(62), si.U8(61));
        g.Print("arch max_pfn %x fll %x nmi %x p2mcr3 %x vaddr %x gen %x\n", si.U64(3088), si.U64(3096), si.U64(3104), si.U64(3112), si.U64(3120), si.U64(3128));
        var w = g.Var("w"); var orw = g.Var("orw");
        g.Set(orw, 0);
        g.For(w, 0, 128, () => g.Set(orw, orw | Val.At(si.Ptr + (w << 3), 2048)));
        g.Print("pending/mask or: %x\n", orw);

        // runstate of vCPU 1 never initialised
        var rs = g.Alloc(48);
        P("runstate 1", g.VcpuOp(VcpuOp.GetRunstateInfo, 1, rs.Ptr));
        g.Print("state %d t0 %u t1 %u t2 %u t3>0 %u\n", rs.S32(0), rs.U64(16), rs.U64(24), rs.U64(32), rs.U64(40) >> 20);
        P("runstate 0", g.VcpuOp(VcpuOp.GetRunstateInfo, 0, rs.Ptr));
        g.Print("state %d t1 %u t2 %u t3 %u\n", rs.S32(0), rs.U64(24), rs.U64(32), rs.U64(40));
        P("runstate bad ptr", g.VcpuOp(VcpuOp.GetRunstateInfo, 0, 0x40000000));
        P("runstate nc ptr", g.VcpuOp(VcpuOp.GetRunstateInfo, 0, NonCanon));

        var area = g.Alloc(8);
        foreach (var (n, addr) in new[] { ("nc", NonCanon), ("hole", Hole), ("zero", 0L), ("unmapped", 0x40000000L), ("holeend", unchecked((long)0xFFFF_8800_0000_0000)) })
        {
            g.Set(area.U64(), addr);
            P("runstate area " + n, g.VcpuOp(VcpuOp.RegisterRunstateMemoryArea, 0, area.Ptr));
            P("time area " + n, g.VcpuOp(VcpuOp.RegisterVcpuTimeMemoryArea, 0, area.Ptr));
        }
        P("runstate area argptr bad", g.VcpuOp(VcpuOp.RegisterRunstateMemoryArea, 0, 0x40000000));
        P("time area argptr bad", g.VcpuOp(VcpuOp.RegisterVcpuTimeMemoryArea, 0, 0x40000000));
        P("runstate area vcpu1 zero", g.VcpuOp(VcpuOp.RegisterRunstateMemoryArea, 1, area.Ptr));

        P("periodic 999999", TimerEvents.SetPeriodic(g, 0, 999_999));
        P("periodic 1000000", TimerEvents.SetPeriodic(g, 0, 1_000_000));
        P("periodic 0x3fff..", TimerEvents.SetPeriodic(g, 0, 0x3FFF_FFFF_FFFF_FFFF));
        P("periodic 0x4000..", TimerEvents.SetPeriodic(g, 0, 0x4000_0000_0000_0000));
        P("periodic -1", TimerEvents.SetPeriodic(g, 0, -1));
        P("periodic 0", TimerEvents.SetPeriodic(g, 0, 0));
        P("periodic bad ptr", g.VcpuOp(VcpuOp.SetPeriodicTimer, 0, 0x40000000));
        P("periodic vcpu1", TimerEvents.SetPeriodic(g, 1, 10_000_000));
        P("stop periodic vcpu1", g.VcpuOp(VcpuOp.StopPeriodicTimer, 1, 0));
        P("stop periodic vcpu0 badptr", g.VcpuOp(VcpuOp.StopPeriodicTimer, 0, 0x40000000));
        P("sshot vcpu1", TimerEvents.SetSingleshot(g, 1, 0));
        P("sshot vcpu1 badptr", g.VcpuOp(VcpuOp.SetSingleshotTimer, 1, 0x40000000));
        P("sshot vcpu0 badptr", g.VcpuOp(VcpuOp.SetSingleshotTimer, 0, 0x40000000));
        P("stop sshot vcpu1", g.VcpuOp(VcpuOp.StopSingleshotTimer, 1, 0));
        P("stop sshot vcpu0", g.VcpuOp(VcpuOp.StopSingleshotTimer, 0, 0x40000000));
        var port = TimerEvents.BindVirq(g, Virq.Timer, 0);
        g.Print("timer port %u\n", port);
        P("stop periodic", g.VcpuOp(VcpuOp.StopPeriodicTimer, 0, 0));
        g.Print("pending before %u\n", TimerEvents.TakePending(g, port));
        P("sshot past future", TimerEvents.SetSingleshot(g, 0, 1, 1));
        g.Print("pending after %u\n", TimerEvents.TakePending(g, port));
        P("sshot zero", TimerEvents.SetSingleshot(g, 0, 0, 0));
        g.Print("pending after %u\n", TimerEvents.TakePending(g, port));
        P("set_timer_op 1", TimerEvents.SetTimerOp(g, 1));
        g.Print("pending after %u\n", TimerEvents.TakePending(g, port));
        P("set_timer_op -1", TimerEvents.SetTimerOp(g, -1));
        g.Print("pending after %u\n", TimerEvents.TakePending(g, port));
        P("set_timer_op 0", TimerEvents.SetTimerOp(g, 0));

        // register_vcpu_info checks
        var rvi = g.Alloc(16);
        var page = g.Page("vi_page");
        var mfnList = Val.At(g.StartInfo, StartInfo.Layout.MfnList);
        var ptBase = Val.At(g.StartInfo, StartInfo.Layout.PtBase);
        var pageMfn = g.Var("page_mfn");
        g.Set(pageMfn, Val.At(mfnList + ((page.Ptr >> 12) << 3)));
        void R(string n, Val mfn, Val off, int vcpu = 0)
        {
            g.Set(rvi.U64(0), mfn);
            g.Set(rvi.U32(8), off);
            P("rvi " + n, g.VcpuOp(VcpuOp.RegisterVcpuInfo, vcpu, rvi.Ptr));
        }
        R("off 4033 bad mfn", 0, 4033);
        R("off 4 bad mfn", 0, 4);
        R("off 4040", pageMfn, 4040);
        R("off 4036", pageMfn, 4036);
        R("mfn 0", 0, 64);
        R("mfn huge", 1L << 40, 64);
        R("mfn -1", -1, 64);
        R("pt_base", Val.At(mfnList + ((ptBase >> 12) << 3)), 64);
        P("rvi argptr bad", g.VcpuOp(VcpuOp.RegisterVcpuInfo, 0, 0x40000000));
        g.Success();
    }
}
