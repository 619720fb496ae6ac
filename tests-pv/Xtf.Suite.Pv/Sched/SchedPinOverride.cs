using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Sched;

/// <summary>
/// SCHEDOP_pin_override as the hardware domain on a 1-CPU machine (docs/pv-abi.md §5.8): the privilege
/// check passes, so an unreadable argument is -EFAULT; pcpu at or above NR_CPUS, or at or above
/// the number of CPU ids (pcpu 1 here), is -EINVAL; pinning to pcpu 0 works once and is -EBUSY
/// while the override is active; a negative pcpu undoes it (0), and undoing with no override
/// active is -EINVAL. Any negative value (-1, INT32_MIN) means "undo".
/// </summary>
public sealed class SchedPinOverride : XtfTest
{
    public override string Name => "sched-pin-override";
    public override bool NeedsExactVcpus => true;
    public override string Title => "SCHEDOP_pin_override: pin, busy, unpin, errors (hardware domain)";
    public override string Category => "sched";

    public override void Body(GuestProgram g)
    {
        var arg = g.Alloc(global::Xtf.Abi.SchedPinOverride.Layout.Size, 4, "pin_override");
        Val Pin(Val pcpu)
        {
            g.Set(arg.U32(global::Xtf.Abi.SchedPinOverride.Layout.Pcpu), pcpu);
            return g.SchedOp(SchedOp.PinOverride, arg.Ptr);
        }

        foreach (var (address, what) in SchedKit.BadPointers)
            g.ExpectEq(g.SchedOp(SchedOp.PinOverride, (long)address), -Errno.EFAULT, $"SCHEDOP_pin_override({what})");
        var hole = SchedKit.UnmappedPage(g);
        g.ExpectEq(g.SchedOp(SchedOp.PinOverride, hole - 2), -Errno.EFAULT, "SCHEDOP_pin_override(struct straddling into an unmapped page)");

        // No override active.
        g.ExpectEq(Pin(-1), -Errno.EINVAL, "unpin with no override");
        g.ExpectEq(Pin(int.MinValue), -Errno.EINVAL, "unpin (INT32_MIN) with no override");
        g.ExpectEq(Pin(1), -Errno.EINVAL, "pcpu 1 on a 1-CPU machine");
        g.ExpectEq(Pin(255), -Errno.EINVAL, "pcpu 255");
        g.ExpectEq(Pin(4096), -Errno.EINVAL, "pcpu 4096 (above NR_CPUS)");
        g.ExpectEq(Pin(int.MaxValue), -Errno.EINVAL, "pcpu 0x7fffffff");

        // Pin, busy, unpin.
        g.ExpectEq(Pin(0), 0, "pin to pcpu 0");
        g.ExpectEq(Pin(0), -Errno.EBUSY, "pin to pcpu 0 again");
        g.ExpectEq(Pin(1), -Errno.EINVAL, "pcpu 1 while pinned");
        g.ExpectEq(Pin(4096), -Errno.EINVAL, "pcpu 4096 while pinned");
        g.ExpectEq(g.SchedOp(SchedOp.Yield, 0), 0, "yield while pinned");
        g.ExpectEq(Pin(-1), 0, "unpin");
        g.ExpectEq(Pin(-1), -Errno.EINVAL, "unpin again");

        // Again, undone with another negative value.
        g.ExpectEq(Pin(0), 0, "pin to pcpu 0 (second time)");
        g.ExpectEq(Pin(int.MinValue), 0, "unpin with INT32_MIN");
        g.ExpectEq(Pin(-7), -Errno.EINVAL, "unpin (-7) again");
        g.Print("pin_override: pinned and unpinned twice\n");
        g.Success();
    }
}
