using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Sched;

/// <summary>
/// SCHEDOP_poll's errors in Xen's order of checks (docs/pv-abi.md §5.4): an unreadable sched_poll is
/// -EFAULT; nr_ports &gt; 128 is -EINVAL before the ports pointer is looked at; a ports pointer
/// failing the address check is -EFAULT even with nr_ports = 0; then each port in turn: an
/// unreadable entry is -EFAULT, a port beyond the valid range or not in use (free port, reserved
/// port 0) is -EINVAL. No error changes the upcall mask or any pending bit. Every poll carries a
/// past timeout so a wrong "success" returns instead of blocking.
/// </summary>
public sealed class SchedPollErrors : XtfTest
{
    public override string Name => "sched-poll-errors";
    public override string Title => "SCHEDOP_poll: -EFAULT and -EINVAL in order of checks";
    public override string Category => "sched";

    public override void Body(GuestProgram g)
    {
        g.ExpectEq(g.UpcallMask(), 1, "events masked at start");
        var idle = SchedKit.BindIpi(g, "bound, never pending");
        var ports = g.Alloc(4 * 8, 4, "ports");
        g.Set(ports.U32(0), idle);

        // 1: the sched_poll struct itself.
        foreach (var (address, what) in SchedKit.BadPointers)
            g.ExpectEq(g.SchedOp(SchedOp.Poll, (long)address), -Errno.EFAULT, $"SCHEDOP_poll(struct at {what})");
        var hole = SchedKit.UnmappedPage(g);
        g.ExpectEq(g.SchedOp(SchedOp.Poll, hole - 8), -Errno.EFAULT, "SCHEDOP_poll(struct straddling into an unmapped page)");

        // 2: nr_ports > 128, checked before the ports pointer.
        var arg = SchedKit.PollArg(g, ports.Ptr, 129, 1);
        g.ExpectEq(g.SchedOp(SchedOp.Poll, arg.Ptr), -Errno.EINVAL, "nr_ports = 129");
        g.Set(arg.U32(SchedPoll.Layout.NrPorts), 0xFFFFFFFF);
        g.ExpectEq(g.SchedOp(SchedOp.Poll, arg.Ptr), -Errno.EINVAL, "nr_ports = 0xffffffff");
        g.Set(arg.U64(SchedPoll.Layout.Ports), (long)SchedKit.BadPointers[2].Address);
        g.Set(arg.U32(SchedPoll.Layout.NrPorts), 129);
        g.ExpectEq(g.SchedOp(SchedOp.Poll, arg.Ptr), -Errno.EINVAL, "nr_ports = 129 with a ports pointer into Xen's hole");

        // 3: the ports pointer's address check, even when no port would be read.
        g.Set(arg.U32(SchedPoll.Layout.NrPorts), 0);
        g.ExpectEq(g.SchedOp(SchedOp.Poll, arg.Ptr), -Errno.EFAULT, "nr_ports = 0, ports in Xen's hole");
        g.Set(arg.U64(SchedPoll.Layout.Ports), (long)SchedKit.BadPointers[1].Address);
        g.ExpectEq(g.SchedOp(SchedOp.Poll, arg.Ptr), -Errno.EFAULT, "nr_ports = 0, non-canonical ports");
        g.Set(arg.U32(SchedPoll.Layout.NrPorts), 1);
        g.ExpectEq(g.SchedOp(SchedOp.Poll, arg.Ptr), -Errno.EFAULT, "nr_ports = 1, non-canonical ports");
        g.Set(arg.U32(SchedPoll.Layout.NrPorts), 128);
        g.ExpectEq(g.SchedOp(SchedOp.Poll, arg.Ptr), -Errno.EFAULT, "nr_ports = 128, non-canonical ports");

        // 4: reading the entries: an unmapped array faults on the first read.
        g.Set(arg.U64(SchedPoll.Layout.Ports), (long)SchedKit.BadPointers[0].Address);
        g.Set(arg.U32(SchedPoll.Layout.NrPorts), 1);
        g.ExpectEq(g.SchedOp(SchedOp.Poll, arg.Ptr), -Errno.EFAULT, "nr_ports = 1, ports unmapped");
        g.Set(arg.U64(SchedPoll.Layout.Ports), hole - 4);
        g.Set(Val.At(hole - 4, 0, 4), idle);
        g.Set(arg.U32(SchedPoll.Layout.NrPorts), 2);
        g.ExpectEq(g.SchedOp(SchedOp.Poll, arg.Ptr), -Errno.EFAULT, "[idle port, <unmapped>]");

        // 5: invalid port numbers, one at a time.
        g.Set(arg.U64(SchedPoll.Layout.Ports), ports.Ptr);
        g.Set(arg.U32(SchedPoll.Layout.NrPorts), 1);
        foreach (var (port, what) in new (long, string)[]
                 {
                     (0, "reserved port 0"), (5, "free port 5"), (63, "free port 63"),
                     (64, "port 64, beyond the first bucket"), (4096, "port 4096"), (0xFFFFFFFF, "port 0xffffffff"),
                 })
        {
            g.Set(ports.U32(0), port);
            g.ExpectEq(g.SchedOp(SchedOp.Poll, arg.Ptr), -Errno.EINVAL, $"poll [{what}]");
        }
        g.Set(ports.U32(0), idle);
        g.Set(ports.U32(4), 7);
        g.Set(arg.U32(SchedPoll.Layout.NrPorts), 2);
        g.ExpectEq(g.SchedOp(SchedOp.Poll, arg.Ptr), -Errno.EINVAL, "[idle port, free port 7]");

        // No error touched the event state.
        g.ExpectEq(g.UpcallMask(), 1, "upcall mask unchanged");
        g.ExpectEq(g.UpcallPending(), 0, "upcall_pending unchanged");
        g.ExpectEq(g.PendingWord(0), 0, "no pending bits");
        g.ExpectEq(g.MaskWord(0), 0, "no mask bits");
        g.Print("bound port %u; all error cases checked\n", idle);
        g.Success();
    }
}
