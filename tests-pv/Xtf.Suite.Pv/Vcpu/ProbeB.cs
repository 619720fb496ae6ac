using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Vcpu;

// TEMPORARY probe: prints what real Xen answers. Deleted before hand-off.
public sealed class ProbeB : XtfTest
{
    public override string Name => "zprobe-b";
    public override string Title => "probe B";
    public override int Vcpus => 2;

    public override void Body(GuestProgram g)
    {
        const long NonCanon = 0x0000_8000_0000_0000;
        const long Hole = unchecked((long)0xFFFF_8000_0000_0000);
        void P(string what, Val rc) => g.Print(what + ": %e\n", rc);
        var ran = g.Var("ran");
        var entry = g.Function("ap", () => { g.Set(ran, 1); g.DownSelf(1); g.Spin(); });
        var ctx = g.VcpuContext(1, entry);
        int L = VcpuGuestContext.Layout.Size;
        var saved = g.Alloc(L, 16, "saved");
        g.MemCopy(saved.Ptr, ctx.Ptr, L);
        int R = VcpuGuestContext.Layout.UserRegs;
        var data = g.Page("datapage");
        var mfnList = Val.At(g.StartInfo, StartInfo.Layout.MfnList);
        var dataMfn = Val.At(mfnList + ((data.Ptr >> 12) << 3));

        void V(string n, Action<GuestBuffer> change)
        {
            g.MemCopy(ctx.Ptr, saved.Ptr, L);
            change(ctx);
            P(n, g.VcpuOp(VcpuOp.Initialise, 1, ctx.Ptr));
        }
        P("init null", g.VcpuOp(VcpuOp.Initialise, 1, 0));
        P("init unmapped", g.VcpuOp(VcpuOp.Initialise, 1, 0x40000000));
        P("init nc", g.VcpuOp(VcpuOp.Initialise, 1, NonCanon));
        P("init 0 null", g.VcpuOp(VcpuOp.Initialise, 0, 0));
        P("init 0 good", g.VcpuOp(VcpuOp.Initialise, 0, ctx.Ptr));
        V("rip", c => g.Set(c.U64(R + CpuUserRegs.Layout.Rip), NonCanon));
        V("rsp", c => g.Set(c.U64(R + CpuUserRegs.Layout.Rsp), NonCanon));
        V("kernel_sp", c => g.Set(c.U64(VcpuGuestContext.Layout.KernelSp), NonCanon));
        V("fs_base", c => g.Set(c.U64(VcpuGuestContext.Layout.FsBase), NonCanon));
        V("gs_k", c => g.Set(c.U64(VcpuGuestContext.Layout.GsBaseKernel), NonCanon));
        V("gs_u", c => g.Set(c.U64(VcpuGuestContext.Layout.GsBaseUser), NonCanon));
        V("event", c => g.Set(c.U64(VcpuGuestContext.Layout.EventCallbackEip), NonCanon));
        V("syscall", c => g.Set(c.U64(VcpuGuestContext.Layout.SyscallCallbackEip), NonCanon));
        V("failsafe", c => g.Set(c.U64(VcpuGuestContext.Layout.FailsafeCallbackEip), NonCanon));
        V("ldt nc ents1", c => { g.Set(c.U64(VcpuGuestContext.Layout.LdtBase), NonCanon); g.Set(c.U64(VcpuGuestContext.Layout.LdtEnts), 1); });
        V("ldt nc ents0", c => g.Set(c.U64(VcpuGuestContext.Layout.LdtBase), NonCanon));
        V("ldt hole ents0", c => g.Set(c.U64(VcpuGuestContext.Layout.LdtBase), Hole));
        V("trap0", c => g.Set(c.U64(VcpuGuestContext.Layout.TrapCtxt + 8), NonCanon));
        V("trap255", c => g.Set(c.U64(VcpuGuestContext.Layout.TrapCtxt + 255 * 16 + 8), NonCanon));
        V("ldt unaligned", c => g.Set(c.U64(VcpuGuestContext.Layout.LdtBase), 0x1008));
        V("ldt ents 8193", c => g.Set(c.U64(VcpuGuestContext.Layout.LdtEnts), 8193));
        V("gdt 8193", c => g.Set(c.U64(VcpuGuestContext.Layout.GdtEnts), 8193));
        V("gdt 7169", c => g.Set(c.U64(VcpuGuestContext.Layout.GdtEnts), 7169));
        V("gdt 512 frame0 0", c => g.Set(c.U64(VcpuGuestContext.Layout.GdtEnts), 512));
        V("gdt 1 frame0 data", c => { g.Set(c.U64(VcpuGuestContext.Layout.GdtEnts), 1); g.Set(c.U64(VcpuGuestContext.Layout.GdtFrames), dataMfn); });
        V("user no cr1", c => g.Set(c.U64(VcpuGuestContext.Layout.Flags), 0));
        V("user cr1 0 mfn", c => { g.Set(c.U64(VcpuGuestContext.Layout.Flags), 0); g.Set(c.U64(VcpuGuestContext.Layout.Ctrlreg + 8), 0x1000); });
        V("cr3 0", c => g.Set(c.U64(VcpuGuestContext.Layout.Ctrlreg + 24), 0));
        V("cr3 huge", c => g.Set(c.U64(VcpuGuestContext.Layout.Ctrlreg + 24), 1L << 51));
        V("cr3 data", c => g.Set(c.U64(VcpuGuestContext.Layout.Ctrlreg + 24), dataMfn << 12));
        V("cr1 data in kernel", c => g.Set(c.U64(VcpuGuestContext.Layout.Ctrlreg + 8), dataMfn << 12));
        V("cr1 0mfn in kernel", c => g.Set(c.U64(VcpuGuestContext.Layout.Ctrlreg + 8), 0x1000));
        V("ldt 8192 at data", c => { g.Set(c.U64(VcpuGuestContext.Layout.LdtEnts), 8192); g.Set(c.U64(VcpuGuestContext.Layout.LdtBase), data.Ptr); g.Set(c.U64(VcpuGuestContext.Layout.Ctrlreg + 24), 0); });
        V("gdt 16 frames mfn0", c => { g.Set(c.U64(VcpuGuestContext.Layout.GdtEnts), 8192); });
        V("gdt 8192 frames", c => { g.Set(c.U64(VcpuGuestContext.Layout.GdtEnts), 8192); g.Set(c.U64(VcpuGuestContext.Layout.Ctrlreg + 24), 0); });
        V("trap1 nc + cr3 0", c => { g.Set(c.U64(VcpuGuestContext.Layout.TrapCtxt + 16 + 8), NonCanon); g.Set(c.U64(VcpuGuestContext.Layout.Ctrlreg + 24), 0); });
        V("cr3 = pt_base-1 page (L1)", c => g.Set(c.U64(VcpuGuestContext.Layout.Ctrlreg + 24), Val.At(mfnList + (((Val.At(g.StartInfo, StartInfo.Layout.PtBase) >> 12) + 1) << 3)) << 12));
        V("vm_assist all", c => g.Set(c.U64(VcpuGuestContext.Layout.VmAssist), -1));
        P("isup1", g.VcpuOp(VcpuOp.IsUp, 1, 0));
        V("again", c => { });
        P("up1", g.VcpuOp(VcpuOp.Up, 1, 0));
        g.Print("wait %u\n", g.WaitUntil(ran == 1));
        g.Success();
    }
}
