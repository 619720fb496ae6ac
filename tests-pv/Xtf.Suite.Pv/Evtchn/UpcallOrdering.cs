using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Evtchn;

/// <summary>
/// Where an upcall lands relative to the hypercall that caused it (docs/pv-abi.md §5.2, §7.10, §7.11):
/// SCHEDOP_block with an event already pending clears the upcall mask, returns at once and the
/// callback runs before the next instruction; EVTCHNOP_unmask of a masked pending port delivers
/// on its own return; a block woken by a single-shot timer on a bound VIRQ_TIMER port delivers
/// the timer event the same way.
/// </summary>
public sealed class EvtchnUpcallOrdering : XtfTest
{
    public override string Name => "evtchn-upcall-ordering";
    public override string Title => "Event upcall: SCHEDOP_block and EVTCHNOP_unmask ordering";
    public override string Category => "evtchn";

    public override void Body(GuestProgram g)
    {
        var upcalls = g.Var("upcalls");
        var seenPending = g.Var("seen_pending");
        var seenRip = g.Var("seen_rip");
        var callback = g.EventCallback("event_callback", () =>
        {
            g.Set(upcalls, upcalls + 1);
            g.Set(seenPending, g.PendingWord(0));
            g.SaveFrameWord(seenRip, 2);
            g.Set(g.UpcallPending(), 0);
            g.Set(g.PendingSel(), 0);
            g.Set(g.PendingWord(0), 0);
        });
        g.ExpectEq(g.SetEventCallback(callback), 0, "set_callbacks");
        g.ExpectEq(g.VcpuOp(VcpuOp.StopPeriodicTimer, 0, 0), 0, "stop the periodic timer");
        g.ExpectEq(g.BindIpi(0).Port, 1, "port 1: IPI");
        long schedStub = (long)GuestLayout.StubAddress((int)Hypercall.SchedOp);
        long evtchnStub = (long)GuestLayout.StubAddress((int)Hypercall.EventChannelOp);

        // 1. Block with an event pending while masked: block unmasks, returns at once, the callback runs.
        g.ExpectEq(g.Send(1), 0, "send(1) while masked");
        g.ExpectEq(upcalls, 0, "nothing delivered while masked");
        var rc = g.SchedOp(SchedOp.Block, 0);
        g.ExpectEq(upcalls, 1, "block returned through the callback");
        g.ExpectEq(rc, 0, "block returns 0");
        g.ExpectEq(seenRip, schedStub + 10, "the upcall interrupted the sched_op stub after its syscall");
        g.ExpectEq(seenPending, 1 << 1, "the callback saw port 1");
        g.ExpectEq(g.UpcallMask(), 0, "block left events unmasked");

        // 2. Unmask of a masked pending port, with events enabled: delivered on unmask's return.
        g.SetMask(1, true);
        g.ExpectEq(g.Send(1), 0, "send(1) to the masked port");
        g.ExpectEq(upcalls, 1, "a masked port raises no upcall");
        g.ExpectEq(g.Unmask(1), 0, "unmask(1)");
        g.ExpectEq(upcalls, 2, "unmask returned through the callback");
        g.ExpectEq(seenRip, evtchnStub + 10, "the upcall interrupted the event_channel_op stub");
        g.ExpectEq(seenPending, 1 << 1, "the callback saw port 1");

        // 3. A masked vCPU calling block: the mask is cleared by block itself.
        g.Set(g.UpcallMask(), 1);
        g.ExpectEq(g.Send(1), 0, "send(1) with events masked");
        g.ExpectEq(upcalls, 2, "masked: no upcall");
        g.SchedOp(SchedOp.Block, 0);
        g.ExpectEq(upcalls, 3, "block with a pending event: delivered");
        g.ExpectEq(g.UpcallMask(), 0, "events unmasked after block");

        // 4. A block that really sleeps: VIRQ_TIMER bound, a single-shot timer 1 ms after the
        //    current system time (or already past: either way one timer event ends the block).
        var timer = g.BindVirq(Virq.Timer, 0);
        g.ExpectEq(timer.Rc, 0, "bind_virq(TIMER)");
        g.ExpectEq(timer.Port, 2, "port 2: VIRQ_TIMER");
        g.Set(g.UpcallMask(), 1);
        var now = g.SharedInfo.U64(SharedInfo.Layout.VcpuInfoAt(0) + VcpuInfo.Layout.Time + VcpuTimeInfo.Layout.SystemTime);
        var single = g.Alloc(16, name: "singleshot");
        g.Set(single.U64(0), now + 1_000_000);
        g.Set(single.U32(8), 0);
        g.ExpectEq(g.VcpuOp(VcpuOp.SetSingleshotTimer, 0, single.Ptr), 0, "set_singleshot_timer(now + 1 ms)");
        g.SchedOp(SchedOp.Block, 0);
        g.ExpectEq(upcalls, 4, "the timer event ended the block through the callback");
        g.ExpectEq(seenPending, 1 << 2, "the callback saw the VIRQ_TIMER port");
        g.ExpectEq(seenRip, schedStub + 10, "delivered on block's return");
        g.ExpectEq(g.Close(2), 0, "close(VIRQ_TIMER)");
        g.Print("upcalls: %u\n", upcalls);
        g.Set(g.UpcallMask(), 1);
        g.Success();
    }
}
