using Xtf.Abi;
using Xtf.Guest;
using Xtf.Suite.Pv.Vcpu;

namespace Xtf.Suite.Pv.Evtchn;

/// <summary>
/// Events for a running second vCPU (docs/pv-abi.md §7.9, §7.10, §5.2): an IPI port bound to vCPU 1 raises
/// vCPU 1's selector and upcall_pending; while vCPU 1 keeps its upcall mask set it gets no upcall
/// however often it enters Xen; once unmasked, its next return from Xen enters its callback; a
/// send wakes it from SCHEDOP_block into the callback; and a send to vCPU 1 spinning unmasked
/// without hypercalls interrupts it (Xen kicks the vCPU).
/// </summary>
public sealed class EvtchnRemoteVcpuUpcall : XtfTest
{
    public override string Name => "evtchn-remote-vcpu-upcall";
    public override bool NeedsExactVcpus => true;
    public override string Title => "Event upcall: IPI ports bound to a running vCPU 1";
    public override string Category => "evtchn";
    public override int Vcpus => 2;

    public override void Body(GuestProgram g)
    {
        var upcalls = g.Var("ap_upcalls");
        var seenRip = g.Var("ap_seen_rip");
        var seenSel = g.Var("ap_seen_sel");
        var callbackRc = g.Var("ap_set_callbacks_rc", -1);
        var phase = g.Var("phase");          // written by vCPU 0: 2 = unmask, 6 = stop spinning
        var apState = g.Var("ap_state");     // written by vCPU 1
        var apYields = g.Var("ap_yields");

        var apCallback = g.EventCallback("ap_event_callback", () =>
        {
            g.Set(upcalls, upcalls + 1);
            g.SaveFrameWord(seenRip, 2);
            g.Set(seenSel, g.PendingSel(1));
            g.Set(g.UpcallPending(1), 0);
            g.Set(g.PendingSel(1), 0);
            g.Set(g.PendingWord(0), 0);
        });

        var ap = g.Function("ap_entry", () =>
        {
            g.Set(callbackRc, g.SetEventCallback(apCallback));
            g.Set(g.UpcallMask(1), 1);
            g.Set(apState, 1);
            // Phase 1: masked, entering and leaving Xen over and over.
            g.While(phase < 2, () =>
            {
                g.SchedOp(SchedOp.Yield, 0);
                g.Set(apYields, apYields + 1);
            });
            // Phase 2: unmask, then one hypercall (by whose end the upcall has come; an interrupt
            // Xen takes just after the store may deliver it a few instructions earlier).
            g.Set(g.UpcallMask(1), 0);
            g.XenVersion(XenVer.Version, 0);
            g.Set(apState, 2);
            // Phase 3: block until the second upcall. Events are masked around the check so an
            // event arriving just before the block is not lost: block unmasks and returns at once.
            g.Set(g.UpcallMask(1), 1);
            g.While(upcalls < 2, () =>
            {
                g.SchedOp(SchedOp.Block, 0);
                g.Set(g.UpcallMask(1), 1);
            });
            g.Set(g.UpcallMask(1), 0);
            g.Set(apState, 4);
            // Phase 4: spin without hypercalls, events enabled.
            g.While(phase < 6, () => g.Asm.pause());
            g.Set(apState, 6);
            g.While(Val.Const(1) == 1, () => g.SchedOp(SchedOp.Block, 0));
        });

        var ipi = g.BindIpi(1);
        g.ExpectEq(ipi.Rc, 0, "bind_ipi(vcpu 1)");
        g.ExpectEq(ipi.Port, 1, "port 1");
        g.StartVcpu(1, ap);
        g.Expect(PvClock.WaitFor(g, () => apState == 1) == 1, "vCPU 1 started");
        g.ExpectEq(callbackRc, 0, "set_callbacks on vCPU 1");

        // Phase 1: masked vCPU 1.
        g.ExpectEq(g.Send(1), 0, "send(1) to masked vCPU 1");
        g.ExpectEq(g.PendingSel(1), 1, "vCPU 1 selector");
        g.ExpectEq(g.UpcallPending(1), 1, "vCPU 1 upcall_pending");
        g.ExpectEq(g.PendingSel(0), 0, "vCPU 0 selector untouched");
        var yields = g.Var("yields_at_send");
        g.Set(yields, apYields);
        g.Expect(PvClock.WaitFor(g, () => apYields > yields + 100) == 1, "vCPU 1 kept yielding");
        g.ExpectEq(upcalls, 0, "no upcall on vCPU 1 while it is masked");

        // Phase 2: vCPU 1 unmasks; by the end of its next hypercall the callback has run.
        g.Set(phase, 2);
        g.Expect(PvClock.WaitFor(g, () => apState == 2) == 1, "vCPU 1 unmasked and made a hypercall");
        g.ExpectEq(upcalls, 1, "one upcall on vCPU 1");
        g.ExpectEq(seenSel, 1, "vCPU 1 saw its selector bit 0");

        // Phase 3: vCPU 1 blocks until its second upcall; a send wakes it into the callback.
        // vCPU 0 first waits (bounded) to see vCPU 1 descheduled in SCHEDOP_block; only when it
        // saw that is the place of delivery checked, so a slow host cannot turn the check into a
        // race (if vCPU 1 is still on its way to block, the event reaches it all the same).
        var runstate = g.Alloc(VcpuRunstateInfo.Layout.Size, name: "ap_runstate");
        var state = runstate.U32(VcpuRunstateInfo.Layout.State);
        var sawBlocked = PvClock.WaitFor(g, () => (g.VcpuOp(VcpuOp.GetRunstateInfo, 1, runstate.Ptr) == 0) & (state == (int)RunState.Blocked));
        g.ExpectEq(g.Send(1), 0, "send(1) to blocked vCPU 1");
        g.Expect(PvClock.WaitFor(g, () => upcalls == 2) == 1, "vCPU 1 woke into its callback");
        g.Expect(PvClock.WaitFor(g, () => apState == 4) == 1, "vCPU 1 left its block loop");
        g.If(sawBlocked == 1, () =>
            g.ExpectEq(seenRip, (long)GuestLayout.StubAddress((int)Hypercall.SchedOp) + 10, "delivered on the return from block"));

        // Phase 4: vCPU 1 spins without hypercalls; a send interrupts it.
        g.ExpectEq(g.Send(1), 0, "send(1) to spinning vCPU 1");
        g.Expect(PvClock.WaitFor(g, () => upcalls == 3) == 1, "spinning vCPU 1 was interrupted by the upcall");
        g.ExpectEq(seenSel, 1, "the third upcall saw selector bit 0");
        g.Set(phase, 6);
        g.Expect(PvClock.WaitFor(g, () => apState == 6) == 1, "vCPU 1 finished");
        g.ExpectEq(g.PendingSel(0), 0, "vCPU 0 never got vCPU 1's events");
        g.ExpectEq(g.UpcallPending(0), 0, "vCPU 0 upcall_pending clear");
        g.Print("vCPU 1 upcalls: %u\n", upcalls);
        g.Success();
    }
}
