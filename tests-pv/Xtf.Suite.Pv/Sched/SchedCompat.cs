using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Sched;

/// <summary>
/// The legacy sched_op_compat (hypercall 6) takes (cmd, unsigned long arg) and knows only yield,
/// block and shutdown (docs/pv-abi.md §5.10): yield returns 0 whatever the argument; block behaves as
/// SCHEDOP_block (clears the upcall mask, returns at once on a pending upcall, which is then
/// delivered); every other command, including the newer poll/remote_shutdown/shutdown_code/
/// watchdog/pin_override numbers, is -ENOSYS.
/// </summary>
public sealed class SchedCompat : XtfTest
{
    public override string Name => "sched-compat";
    public override string Title => "sched_op_compat: yield, block, unknown commands";
    public override string Category => "sched";

    public override void Body(GuestProgram g)
    {
        Val Compat(Val cmd, Val arg) => g.Hypercall(Hypercall.SchedOpCompat, cmd, arg);
        var (upcalls, seen) = SchedKit.RecordingCallback(g);

        g.ExpectEq(Compat(SchedOp.Yield, 0), 0, "compat yield");
        g.ExpectEq(Compat(SchedOp.Yield, 0x1234), 0, "compat yield with a junk argument");
        g.ExpectEq(g.UpcallMask(), 1, "compat yield left events masked");

        foreach (var (cmd, what) in new (long, string)[]
                 {
                     (3, "3 (poll)"), (4, "4 (remote_shutdown)"), (5, "5 (shutdown_code)"), (6, "6 (watchdog)"),
                     (7, "7 (pin_override)"), (8, "8"), (0x7FFFFFFF, "0x7fffffff"), (-1, "-1"),
                 })
            g.ExpectEq(Compat(cmd, 0), -Errno.ENOSYS, $"compat cmd {what}");

        var port = SchedKit.BindIpi(g, "compat block");
        SchedKit.Send(g, port, "compat block");
        g.ExpectEq(upcalls, 0, "no upcall while masked");
        g.ExpectEq(Compat(SchedOp.Block, 0), 0, "compat block with an upcall pending");
        g.ExpectEq(upcalls, 1, "the upcall was delivered on return from compat block");
        g.ExpectEq(seen, Val.Const(1).ShiftLeft(port), "the upcall carried the IPI port");
        g.ExpectEq(g.UpcallMask(), 0, "compat block cleared the upcall mask");
        g.Print("compat: yield and block work, other commands are -ENOSYS\n");
        g.Success();
    }
}
