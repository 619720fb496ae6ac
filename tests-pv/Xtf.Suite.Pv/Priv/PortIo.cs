using Xtf.Abi;
using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Pv.Priv;

/// <summary>
/// Port I/O in guest kernel mode and PHYSDEVOP_set_iopl / set_iobitmap (docs/pv-abi.md §16.5): with the
/// virtual IOPL 0 and no I/O bitmap, in/out are #GP(0); set_iopl takes 0-3 (else -EINVAL) and IOPL 1
/// admits the guest kernel; an I/O bitmap admits the ports whose bits are clear below its limit.
/// Prints what a few ports read (Xen emulates or passes them through to the machine).
/// </summary>
public sealed class PortIo : XtfTest
{
    public override string Name => "priv-port-io";
    public override string Title => "in/out with PHYSDEVOP_set_iopl and set_iobitmap";
    public override string Category => "priv";

    private const int SetIopl = 6, SetIobitmap = 7;

    public override void Body(GuestProgram g)
    {
        var a = g.Asm;
        var val = g.Var("port_value");
        var arg = g.Alloc(16, 16);
        var bitmap = g.Alloc(8192, 4096);
        FaultRecord In(ushort port, int width)
        {
            g.Set(val, -1);
            return g.Guarded(() =>
            {
                a.mov(rax, -1L);
                a.mov(edx, port);
                switch (width)
                {
                    case 1: a.@in(al, dx); break;
                    case 2: a.@in(ax, dx); break;
                    default: a.@in(eax, dx); break;
                }
                a.mov(__qword_ptr[(long)val.Address], rax);
            });
        }
        FaultRecord Out(ushort port, int value)
        {
            return g.Guarded(() =>
            {
                a.mov(eax, value);
                a.mov(edx, port);
                a.@out(dx, al);
            });
        }
        Val Iopl(int level)
        {
            g.Set(arg.U32(0), level);
            return g.Hypercall(Hypercall.PhysdevOp, SetIopl, arg.Ptr);
        }
        Val Bitmap(Val address, Val ports)
        {
            g.Set(arg.U64(0), address);
            g.Set(arg.U32(8), ports);
            return g.Hypercall(Hypercall.PhysdevOp, SetIobitmap, arg.Ptr);
        }

        var f = In(0x80, 1);
        g.ExpectEq(f.Vector, 13, "in 0x80 with IOPL 0: #GP");
        g.ExpectEq(f.ErrorCode, 0, "in 0x80: error code");
        f = Out(0x80, 0x12);
        g.ExpectEq(f.Vector, 13, "out 0x80 with IOPL 0: #GP");

        g.ExpectEq(Iopl(4), -Errno.EINVAL, "set_iopl(4)");
        g.ExpectEq(g.Hypercall(Hypercall.PhysdevOp, SetIopl, 0x4000_0000), -Errno.EFAULT, "set_iopl from an unmapped argument");
        g.ExpectEq(Iopl(1), 0, "set_iopl(1)");
        foreach (var (port, width) in new (ushort, int)[] { (0x80, 1), (0x3fd, 1), (0xcf8, 4), (0x92, 1), (0x64, 1), (0x21, 1), (0x4d0, 1) })
        {
            f = In(port, width);
            g.ExpectEq(f.Vector, -1, $"in {port:x} with IOPL 1");
            g.Print($"in {port:x}/{width}: %p\n", val);
        }
        f = Out(0x80, 0x12);
        g.ExpectEq(f.Vector, -1, "out 0x80 with IOPL 1");
        f = g.Guarded(() => { a.cli(); a.sti(); });
        g.ExpectEq(f.Vector, -1, "cli; sti with IOPL 1 (skipped)");
        g.ExpectEq(Iopl(0), 0, "set_iopl(0)");
        f = In(0x80, 1);
        g.ExpectEq(f.Vector, 13, "in 0x80 with IOPL 0 again: #GP");
        f = g.Guarded(() => a.cli());
        g.ExpectEq(f.Vector, 13, "cli with IOPL 0: #GP");

        // A bitmap admitting port 0x80 only.
        g.MemSet(bitmap.Ptr, 0xff, 8192);
        g.Set(bitmap.U8(0x10), 0xfe);
        g.ExpectEq(Bitmap(bitmap.Ptr, 65537), -Errno.EINVAL, "set_iobitmap with 65537 ports");
        g.ExpectEq(Bitmap(bitmap.Ptr, 0x100), 0, "set_iobitmap(0x100 ports)");
        f = In(0x80, 1);
        g.ExpectEq(f.Vector, -1, "in 0x80 admitted by the bitmap");
        f = In(0x81, 1);
        g.ExpectEq(f.Vector, 13, "in 0x81 refused by the bitmap");
        f = In(0x80, 2);
        g.ExpectEq(f.Vector, 13, "in 0x80/2 (0x81 refused)");
        g.ExpectEq(Bitmap(bitmap.Ptr, 0x80), 0, "set_iobitmap(0x80 ports)");
        f = In(0x80, 1);
        g.ExpectEq(f.Vector, 13, "in 0x80 beyond the bitmap's limit");
        g.ExpectEq(Bitmap(0, 0), 0, "set_iobitmap(none)");
        g.Success();
    }
}
