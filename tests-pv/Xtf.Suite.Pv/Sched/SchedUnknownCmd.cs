using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Sched;

/// <summary>
/// SCHEDOP commands other than 0..7 are -ENOSYS (docs/pv-abi.md §5), whatever the argument pointer.
/// The command is a C int, so only the low 32 bits of rdi count: 0xffffffff is -1, and
/// 0x100000000 is yield. Xen's headers do not say this; measured on Debian's Xen 4.17.7, where
/// cmd 0x100000000 returned 0 and 0x100000008 returned -ENOSYS.
/// </summary>
public sealed class SchedUnknownCmd : XtfTest
{
    public override string Name => "sched-unknown-cmd";
    public override string Title => "SCHEDOP: unknown commands are -ENOSYS";
    public override string Category => "sched";

    public override void Body(GuestProgram g)
    {
        var buf = g.Alloc(64, 8, "arg");
        foreach (var (cmd, what) in new (long, string)[]
                 {
                     (8, "8"), (9, "9"), (64, "64"), (0x7FFFFFFF, "0x7fffffff"), (0x80000000, "0x80000000 (INT_MIN)"),
                     (0xFFFFFFFF, "0xffffffff (-1 as int)"), (-1, "-1"),
                 })
        {
            g.ExpectEq(g.Hypercall(Hypercall.SchedOp, cmd, buf.Ptr), -Errno.ENOSYS, $"SCHEDOP {what}");
            g.ExpectEq(g.Hypercall(Hypercall.SchedOp, cmd, (long)SchedKit.BadPointers[0].Address), -Errno.ENOSYS, $"SCHEDOP {what}, bad pointer");
        }
        g.ExpectEq(g.Hypercall(Hypercall.SchedOp, 0x1_0000_0000L, 0), 0, "cmd 0x100000000: only the low 32 bits count (yield)");
        g.ExpectEq(g.Hypercall(Hypercall.SchedOp, 0x1_0000_0008L, 0), -Errno.ENOSYS, "cmd 0x100000008: low 32 bits are 8");
        g.Print("unknown SCHEDOP commands rejected\n");
        g.Success();
    }
}
