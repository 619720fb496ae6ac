using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Evtchn;

/// <summary>
/// dom0's port space under the 2-level ABI (docs/pv-abi.md §7.2, docs/dom0.md §2.14): ports 1..4095 can be
/// allocated, then every allocating command is -ENOSPC; the valid range grows one 64-port
/// bucket at a time as ports are allocated and never shrinks, not even on reset.
/// </summary>
public sealed class EvtchnPortLimit : XtfTest
{
    public override string Name => "evtchn-port-limit";
    public override bool NeedsExactVcpus => true;
    public override string Title => "Event channels: dom0's 4095 ports and 64-port buckets";
    public override string Category => "evtchn";

    public override void Body(GuestProgram g)
    {
        var i = g.Var("i");
        g.For(i, 1, 63, () => g.AllocSelf());           // ports 1..62
        var p63 = g.AllocSelf();
        g.ExpectEq(p63.Port, 63, "port 63");
        g.ExpectInvalidPort(64, "64 with the first bucket full");
        g.ExpectEq(g.Close(64), -Errno.EINVAL, "close(64) with the first bucket full");

        // Port 64 opens the second bucket: 64..127 become valid (and closed), 128 still is not.
        var p64 = g.AllocSelf();
        g.ExpectEq(p64.Rc, 0, "alloc of port 64");
        g.ExpectEq(p64.Port, 64, "port 64");
        g.ExpectStatus(64, EvtchnStatus.Unbound, 0, "64");
        g.ExpectClosed(65, "65");
        g.ExpectClosed(127, "127");
        g.ExpectInvalidPort(128, "128");
        g.ExpectEq(g.Send(127), -Errno.EINVAL, "send(127): valid but free");
        g.ExpectEq(g.Unmask(127), 0, "unmask(127): valid but free");
        g.ExpectEq(g.Unmask(128), -Errno.EINVAL, "unmask(128): beyond the buckets");

        // Allocate until the port space runs out, counting.
        var count = g.Var("count", 64);
        var last = g.Var("last", 64);
        var rc = g.Var("rc");
        var inOrder = g.Var("in_order", 1);
        var buckets = g.Var("buckets", 2);
        var atBoundary = g.Var("at_boundary");
        g.While(Val.Const(1) == 1, () =>
        {
            // At each bucket boundary the next port is invalid until it is allocated; then the
            // whole new bucket is valid (closed) and the port after it is not.
            g.Set(atBoundary, 0);
            g.If((last + 1).NoBits(63) & (last + 1).ULt(4096), () => g.Set(atBoundary, 1));
            g.If(atBoundary == 1, () =>
            {
                var before = g.Status(last + 1);
                g.If(before.Rc != -Errno.EINVAL, () => g.Failure("Fail: status(%u) before its bucket: %e", last + 1, before.Rc));
            });
            var a = g.AllocSelf();
            g.Set(rc, a.Rc);
            g.If(rc != 0, () => g.Break());
            g.If(a.Port != last + 1, () => g.Set(inOrder, 0));
            g.Set(last, a.Port);
            g.Set(count, count + 1);
            g.If(atBoundary == 1, () =>
            {
                g.Set(buckets, buckets + 1);
                var top = g.Status(last + 63);
                g.If((top.Rc != 0) | (top.Status != (int)EvtchnStatus.Closed),
                    () => g.Failure("Fail: status(%u), top of the new bucket: %e status %u", last + 63, top.Rc, top.Status));
                g.If(last + 64 < 4096, () =>
                {
                    var next = g.Status(last + 64);
                    g.If(next.Rc != -Errno.EINVAL, () => g.Failure("Fail: status(%u), past the new bucket: %e", last + 64, next.Rc));
                });
            });
        });
        g.Print("ports allocated: %u, last %u, then %e; buckets %u\n", count, last, rc, buckets);
        g.ExpectEq(buckets, 64, "64 buckets of 64 ports");
        g.ExpectEq(rc, -Errno.ENOSPC, "allocation once full");
        g.ExpectEq(count, 4095, "ports available to dom0");
        g.ExpectEq(last, 4095, "the highest port");
        g.ExpectEq(inOrder, 1, "ports handed out in order");
        g.ExpectStatus(4095, EvtchnStatus.Unbound, 0, "4095");
        g.ExpectInvalidPort(4096, "4096");

        // Every allocating command is -ENOSPC now; checks that come before the allocation still win.
        g.ExpectEq(g.BindIpi(0).Rc, -Errno.ENOSPC, "bind_ipi when full");
        g.ExpectEq(g.BindVirq(5, 0).Rc, -Errno.ENOSPC, "bind_virq(5) when full");
        g.ExpectEq(g.BindVirq(Virq.Debug, 0).Rc, -Errno.ENOSPC, "bind_virq(DEBUG) when full");
        g.ExpectEq(g.BindVirq(Virq.Debug, 1).Rc, -Errno.ENOENT, "bind_virq(DEBUG, vcpu 1) when full: ENOENT first");
        g.ExpectEq(g.BindIpi(1).Rc, -Errno.ENOENT, "bind_ipi(1) when full: ENOENT first");
        g.ExpectEq(g.AllocUnbound(1, DomId.Self).Rc, -Errno.ESRCH, "alloc_unbound(dom 1) when full: ESRCH first");
        g.ExpectEq(g.BindInterdomain(DomId.Self, 1).Rc, -Errno.ENOSPC, "bind_interdomain(SELF, 1) when full");
        g.ExpectEq(g.BindInterdomain(DomId.Self, 99999).Rc, -Errno.ENOSPC, "bind_interdomain(SELF, 99999): ENOSPC before the remote port check");
        g.ExpectEq(g.BindInterdomain(1, 1).Rc, -Errno.ESRCH, "bind_interdomain(dom 1) when full: ESRCH first");

        // Freeing one port makes exactly that port available again.
        g.ExpectEq(g.Close(2000), 0, "close(2000)");
        var again = g.BindIpi(0);
        g.ExpectEq(again.Rc, 0, "bind_ipi after close(2000)");
        g.ExpectEq(again.Port, 2000, "port 2000 reused");
        g.ExpectEq(g.AllocSelf().Rc, -Errno.ENOSPC, "full again");

        // Reset closes all 4095 ports but keeps every bucket.
        g.ExpectEq(g.Reset(DomId.Self), 0, "reset(SELF)");
        g.ExpectClosed(4095, "4095 after reset");
        g.ExpectClosed(2000, "2000 after reset");
        g.ExpectInvalidPort(4096, "4096 after reset");
        g.ExpectEq(g.AllocSelf().Port, 1, "allocation restarts at 1 after reset");
        g.Success();
    }
}
