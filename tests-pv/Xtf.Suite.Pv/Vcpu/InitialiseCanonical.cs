using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Vcpu;

/// <summary>
/// VCPUOP_initialise address checks (docs/pv-abi.md §4.2 rows 6-8): each of rip, rsp, kernel_sp, fs_base,
/// gs_base_kernel, gs_base_user and the three callbacks non-canonical, ldt_base non-canonical
/// with and without entries, ldt_base in Xen's hole, and a non-canonical trap_ctxt address
/// (first, middle, last entry) are each -EINVAL; none of them initialises the vCPU. Canonical
/// values at the edges (the top of the lower half, the hole's first and last address for the
/// segment bases, ldt_base at the end of the hole) are accepted and the vCPU then runs.
/// </summary>
public sealed class InitialiseCanonical : XtfTest
{
    public override string Name => "vcpu-initialise-canonical";
    public override bool NeedsExactVcpus => true;
    public override string Title => "VCPUOP_initialise: non-canonical addresses are EINVAL";
    public override string Category => "vcpu";
    public override int Vcpus => 2;

    private const long LowEdge = 0x0000_8000_0000_0000;                  // first non-canonical
    private const long HighEdge = unchecked((long)0xFFFF_7FFF_FFFF_FFFF); // last non-canonical
    private const long XenHole = unchecked((long)0xFFFF_8000_0000_0000);
    private const long HoleEnd = unchecked((long)0xFFFF_8800_0000_0000);

    public override void Body(GuestProgram g)
    {
        var ran = g.Var("ap_ran");
        var ap = g.Function("ap_entry", () =>
        {
            g.Set(ran, 1);
            g.DownSelf(1);
            g.Spin();
        });
        var b = new ContextBench(g, 1, ap);
        int regs = 0;
        (string Name, Val Field)[] fields =
        [
            ("user_regs.rip", b.Reg(regs + CpuUserRegs.Layout.Rip)),
            ("user_regs.rsp", b.Reg(regs + CpuUserRegs.Layout.Rsp)),
            ("kernel_sp", b.U64(VcpuGuestContext.Layout.KernelSp)),
            ("fs_base", b.U64(VcpuGuestContext.Layout.FsBase)),
            ("gs_base_kernel", b.U64(VcpuGuestContext.Layout.GsBaseKernel)),
            ("gs_base_user", b.U64(VcpuGuestContext.Layout.GsBaseUser)),
            ("event_callback_eip", b.U64(VcpuGuestContext.Layout.EventCallbackEip)),
            ("syscall_callback_eip", b.U64(VcpuGuestContext.Layout.SyscallCallbackEip)),
            ("failsafe_callback_eip", b.U64(VcpuGuestContext.Layout.FailsafeCallbackEip)),
        ];
        foreach (var (name, field) in fields)
        {
            b.Expect($"{name} = 0x0000800000000000", () => g.Set(field, LowEdge));
            b.Expect($"{name} = 0xffff7fffffffffff", () => g.Set(field, HighEdge));
        }

        var ldtBase = b.U64(VcpuGuestContext.Layout.LdtBase);
        var ldtEnts = b.U64(VcpuGuestContext.Layout.LdtEnts);
        b.Expect("ldt_base non-canonical with ldt_ents = 1", () => { g.Set(ldtBase, LowEdge); g.Set(ldtEnts, 1); });
        b.Expect("ldt_base non-canonical with ldt_ents = 0 (the guest-address test still applies)", () => g.Set(ldtBase, LowEdge));
        b.Expect("ldt_base at the start of Xen's hole", () => g.Set(ldtBase, XenHole));
        b.Expect("ldt_base just below the end of Xen's hole", () => g.Set(ldtBase, HoleEnd - 0x1000));
        foreach (int v in new[] { 0, 2, 128, 255 })
            b.Expect($"trap_ctxt[{v}].address non-canonical", () => g.Set(b.TrapAddress(v), LowEdge));

        g.ExpectEq(g.VcpuOp(VcpuOp.Up, 1, 0), -Errno.EINVAL, "up(1): no failed initialise left vCPU 1 initialised");

        // Canonical edges pass: segment bases only need to be canonical (the hole is fine there),
        // ldt_base only needs the guest-address test when it has no entries.
        var rc = b.Try(() =>
        {
            g.Set(b.U64(VcpuGuestContext.Layout.FsBase), XenHole);
            g.Set(b.U64(VcpuGuestContext.Layout.GsBaseKernel), 0x0000_7FFF_FFFF_FFFF);
            g.Set(b.U64(VcpuGuestContext.Layout.GsBaseUser), -1);
            g.Set(b.U64(VcpuGuestContext.Layout.SyscallCallbackEip), 0x0000_7FFF_FFFF_F000);
            g.Set(b.U64(VcpuGuestContext.Layout.FailsafeCallbackEip), unchecked((long)0xFFFF_8000_0000_0000));
            g.Set(b.TrapAddress(255), unchecked((long)0xFFFF_FFFF_FFFF_F000));
            g.Set(ldtBase, HoleEnd);
        });
        g.ExpectEq(rc, 0, "initialise(1) with canonical edge values");
        g.ExpectEq(g.VcpuOp(VcpuOp.Up, 1, 0), 0, "up(1)");
        g.Expect(PvClock.WaitFor(g, () => ran == 1) == 1, "vCPU 1 ran from the accepted context");
        g.Print("initialise: %u non-canonical cases refused\n", fields.Length * 2 + 8);
        g.Success();
    }
}
