using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Vcpu;

/// <summary>
/// The x86 commands VCPUOP_send_nmi and VCPUOP_get_physid (docs/pv-abi.md §4.12-4.13). send_nmi with a
/// non-NULL argument is -EINVAL; with NULL it returns 0 and the NMI enters trap_ctxt[2] before
/// the call returns (events stay masked: NMIs ignore the upcall mask). An NMI sent to a
/// never-initialised vCPU stays pending and is delivered when it first runs; one sent to a
/// running vCPU arrives. With the NMI callback unregistered (CALLBACKOP_unregister) an NMI is
/// dropped, not kept for later. get_physid is -EINVAL for dom0 here (its vCPUs are not pinned
/// 1:1; real Xen 4.17.7 answers -EINVAL for vCPU 0, vCPU 1 and a NULL buffer alike) and writes
/// nothing. Bad vCPU ids are -ENOENT.
/// </summary>
public sealed class SendNmiPhysid : XtfTest
{
    public override string Name => "vcpu-send-nmi-physid";
    public override bool NeedsExactVcpus => true;
    public override string Title => "VCPUOP_send_nmi and VCPUOP_get_physid";
    public override string Category => "vcpu";
    public override int Vcpus => 2;

    public override void Body(GuestProgram g)
    {
        var nmis = g.Var("nmis");
        var apNmis = g.Var("ap_nmis");
        var apRan = g.Var("ap_ran");
        // NMIs use the same frame as an event upcall and return through HYPERVISOR_iret.
        var handler = g.EventCallback("nmi_handler", () => g.Set(nmis, nmis + 1));
        var apHandler = g.EventCallback("ap_nmi_handler", () => g.Set(apNmis, apNmis + 1));
        var ap = g.Function("ap_entry", () => { g.Set(apRan, 1); g.Spin(); });
        var buf = g.Alloc(VcpuGetPhysid.Layout.Size, name: "physid");

        // get_physid: not for an unpinned dom0.
        g.Set(buf.U64(), 0x5a5a);
        g.ExpectEq(g.VcpuOp(VcpuOp.GetPhysid, 0, buf.Ptr), -Errno.EINVAL, "get_physid(0)");
        g.ExpectEq(g.VcpuOp(VcpuOp.GetPhysid, 1, buf.Ptr), -Errno.EINVAL, "get_physid(1)");
        g.ExpectEq(g.VcpuOp(VcpuOp.GetPhysid, 0, 0x4000_0000), -Errno.EINVAL, "get_physid(0) to an unmapped buffer");
        g.ExpectEq(g.VcpuOp(VcpuOp.GetPhysid, 2, buf.Ptr), -Errno.ENOENT, "get_physid(2)");
        g.ExpectEq(buf.U64(), 0x5a5a, "get_physid wrote nothing");

        // send_nmi: the argument must be NULL.
        g.ExpectEq(g.VcpuOp(VcpuOp.SendNmi, 0, buf.Ptr), -Errno.EINVAL, "send_nmi(0) with an argument");
        g.ExpectEq(g.VcpuOp(VcpuOp.SendNmi, 1, 1), -Errno.EINVAL, "send_nmi(1) with argument 1");
        g.ExpectEq(g.VcpuOp(VcpuOp.SendNmi, 2, 0), -Errno.ENOENT, "send_nmi(2)");
        g.ExpectEq(nmis, 0, "no NMI from the refused calls");

        // Install an NMI handler on vector 2 (the framework's default would PANIC).
        var table = g.Alloc(2 * TrapInfo.Layout.Size, 16, "nmi_trap_table");
        g.Set(table.U8(TrapInfo.Layout.Vector), 2);
        g.Set(table.U16(TrapInfo.Layout.Cs), PvLayout.FlatKernelCs);
        g.Set(table.U64(TrapInfo.Layout.Address), g.AddressOf(handler));
        g.ExpectEq(g.Hypercall(Hypercall.SetTrapTable, table.Ptr), 0, "set_trap_table(vector 2)");

        g.ExpectEq(g.VcpuOp(VcpuOp.SendNmi, 0, 0), 0, "send_nmi(0)");
        g.ExpectEq(nmis, 1, "the NMI ran before send_nmi returned");
        g.ExpectEq(g.UpcallMask(), 1, "events are still masked");
        g.ExpectEq(g.VcpuOp(VcpuOp.SendNmi, 0, 0), 0, "send_nmi(0) again");
        g.ExpectEq(nmis, 2, "a second NMI after the first returned through iret");

        // vCPU 1: pending before it exists as a running vCPU, then while it runs.
        g.ExpectEq(g.VcpuOp(VcpuOp.SendNmi, 1, 0), 0, "send_nmi(1) to the never-initialised vCPU 1");
        var ctx = g.VcpuContext(1, ap);
        g.Set(ctx.U64(VcpuGuestContext.Layout.TrapCtxt + 2 * TrapInfo.Layout.Size + TrapInfo.Layout.Address), g.AddressOf(apHandler));
        g.ExpectEq(g.VcpuOp(VcpuOp.Initialise, 1, ctx.Ptr), 0, "initialise(1)");
        g.ExpectEq(g.VcpuOp(VcpuOp.Up, 1, 0), 0, "up(1)");
        g.Expect(PvClock.WaitFor(g, () => apRan == 1) == 1, "vCPU 1 runs");
        g.Expect(PvClock.WaitFor(g, () => apNmis == 1) == 1, "vCPU 1 took the NMI sent before it was initialised");
        g.ExpectEq(g.VcpuOp(VcpuOp.SendNmi, 1, 0), 0, "send_nmi(1) while it runs");
        g.Expect(PvClock.WaitFor(g, () => apNmis == 2) == 1, "vCPU 1 took the second NMI");
        g.ExpectEq(nmis, 2, "vCPU 0 got none of vCPU 1's NMIs");

        // No NMI callback: the NMI is dropped.
        var unreg = g.Alloc(4, name: "callback_unregister");
        g.Set(unreg.U16(0), 4);                                    // CALLBACKTYPE_nmi
        g.ExpectEq(g.Hypercall(Hypercall.CallbackOp, 1, unreg.Ptr), 0, "CALLBACKOP_unregister(nmi)");
        g.ExpectEq(g.VcpuOp(VcpuOp.SendNmi, 0, 0), 0, "send_nmi(0) without a handler");
        g.ExpectEq(g.Hypercall(Hypercall.SetTrapTable, table.Ptr), 0, "reinstall the handler");
        g.XenVersion(XenVer.Version, 0);
        g.ExpectEq(nmis, 2, "the NMI sent without a handler was dropped");
        g.ExpectEq(g.VcpuOp(VcpuOp.Down, 1, 0), 0, "down(1)");
        g.Print("send_nmi: delivered to trap 2; get_physid: EINVAL for dom0\n");
        g.Success();
    }
}
