using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Misc;

/// <summary>
/// console_io for dom0 (docs/pv-abi.md §8): a write returns 0 (not a count) and reaches the serial line
/// verbatim; count 0 copies nothing, so even a bad pointer is fine; a bad pointer with a count is
/// -EFAULT; CONSOLEIO_read is permitted for dom0 and returns 0 bytes with no input pending; a
/// read count above INT_MAX is -E2BIG; unknown commands are -ENOSYS.
/// </summary>
public sealed class ConsoleIoOps : XtfTest
{
    public override string Name => "misc-console-io";
    public override string Title => "console_io: write, read and errors as dom0";
    public override string Category => "misc";

    public override void Body(GuestProgram g)
    {
        const string Direct = "written by console_io directly\n";
        g.ExpectEq(g.ConsoleIo(ConsoleIo.Write, Direct.Length, g.Str(Direct)), 0, "CONSOLEIO_write returns 0");
        g.ExpectEq(g.ConsoleIo(ConsoleIo.Write, 0, g.Str("not written\n")), 0, "CONSOLEIO_write of 0 bytes");
        g.ExpectEq(g.ConsoleIo(ConsoleIo.Write, 0, 0x4000_0000), 0, "CONSOLEIO_write of 0 bytes from an unmapped address");
        g.ExpectEq(g.ConsoleIo(ConsoleIo.Write, 4, 0x4000_0000), -Errno.EFAULT, "CONSOLEIO_write from an unmapped address");
        g.ExpectEq(g.ConsoleIo(ConsoleIo.Write, 4, unchecked((long)PvLayout.HypervisorVirtStart)), -Errno.EFAULT, "CONSOLEIO_write from Xen's area");

        var buf = g.Alloc(64, name: "read_buffer");
        g.ExpectEq(g.ConsoleIo(ConsoleIo.Read, 64, buf.Ptr), 0, "CONSOLEIO_read with no input pending");
        g.ExpectEq(g.ConsoleIo(ConsoleIo.Read, 0, buf.Ptr), 0, "CONSOLEIO_read of 0 bytes");
        g.ExpectEq(g.ConsoleIo(ConsoleIo.Read, 0x8000_0000L, buf.Ptr), -Errno.E2BIG, "CONSOLEIO_read count > INT_MAX");

        g.ExpectEq(g.ConsoleIo((ConsoleIo)2, 4, buf.Ptr), -Errno.ENOSYS, "console_io command 2");
        g.ExpectEq(g.ConsoleIo((ConsoleIo)(-1), 4, buf.Ptr), -Errno.ENOSYS, "console_io command 0xffffffff");
        g.Success();
    }
}
