using Xtf.Abi;
using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Pv.Mm;

/// <summary>
/// mov to and from CR3 in guest kernel mode (xen/arch/x86/pv/emul-priv-op.c, read_cr/write_cr): a
/// read gives the L4's machine address; a write goes through new_guest_cr3, so the current L4 again
/// is accepted, a read-only copy of the L4 becomes the base pointer (CR3 then reads it and the copy
/// cannot be mapped writable), and a page mapped writable or a frame the domain does not own is
/// #GP(0) with nothing changed.
/// </summary>
public sealed class MovCr3 : XtfTest
{
    public override string Name => "mm-mov-cr3";
    public override string Title => "mov to/from CR3: new_guest_cr3 through the emulator";
    public override string Category => "mm";

    public override void Body(GuestProgram g)
    {
        var a = g.Asm;
        var mm = new MmKit(g);
        var l4 = mm.Mfn(mm.PtBase);
        var value = g.Var("cr3_value");
        var read = g.Var("cr3_read");

        FaultRecord Write(Val v)
        {
            g.Set(value, v);
            return g.Guarded(() => { a.mov(rax, __qword_ptr[(long)value.Address]); a.mov(cr3, rax); });
        }
        void Read() => g.Guarded(() => { a.mov(rax, cr3); a.mov(__qword_ptr[(long)read.Address], rax); });

        Read();
        g.ExpectEq(read, l4 << 12, "cr3 reads the L4's machine address");
        g.ExpectEq(Write(l4 << 12).Vector, -1, "mov to cr3: the current L4");

        var page = g.Page("cr3_page");
        var f = Write(mm.Mfn(page.Ptr) << 12);
        g.ExpectEq(f.Vector, 13, "mov to cr3: a page mapped writable");
        g.ExpectEq(f.ErrorCode, 0, "mov to cr3: a page mapped writable: error code");
        f = Write(0x7FFF_F000_0000L);
        g.ExpectEq(f.Vector, 13, "mov to cr3: a frame dom0 does not own");
        Read();
        g.ExpectEq(read, l4 << 12, "cr3 unchanged after the refusals");

        var copy = g.Page("cr3_l4_copy");
        g.MemCopy(copy.Ptr, mm.PtBase, 256 * 8);
        g.ExpectEq(mm.Remap(copy.Ptr, MmKit.ReadOnly), 0, "remap the copy read-only");
        g.ExpectEq(Write((mm.Mfn(copy.Ptr) << 12) | 0x18).Vector, -1, "mov to cr3: the copy (PWT|PCD bits set)");
        Read();
        g.ExpectEq(read, mm.Mfn(copy.Ptr) << 12, "cr3 reads the copy");
        g.ExpectEq(mm.Remap(copy.Ptr, MmKit.Writable), -Errno.EBUSY, "the copy in use cannot be mapped writable");
        g.ExpectEq(Write(l4 << 12).Vector, -1, "mov to cr3: the original again");
        g.ExpectEq(mm.Remap(copy.Ptr, MmKit.Writable), 0, "the copy maps writable once released");
        g.Success();
    }
}
