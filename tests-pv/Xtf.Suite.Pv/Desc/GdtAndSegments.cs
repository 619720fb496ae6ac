using Xtf.Abi;
using Xtf.Guest;
using Xtf.Suite.Pv.Mm;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Pv.Desc;

/// <summary>
/// set_gdt (2) and update_descriptor (10) on a page of the kernel's own (docs/pv-abi.md §16.6):
/// a frame still mapped writable cannot become a GDT frame, more than 7168 entries is -EINVAL,
/// check_descriptor raises a DPL below 3 to 3 and refuses a TSS descriptor, the address must be
/// 8-byte aligned; then segment loads through the new GDT: a flat data segment loads, a selector
/// past the table is #GP(sel), a system descriptor #GP(sel), a non-present one #NP(sel), SS with
/// RPL 0 #GP(sel), while a readable code segment loads into ES; and a mapping of a GDT frame cannot
/// be made writable again (-EBUSY, measured).
/// </summary>
public sealed class GdtAndSegments : XtfTest
{
    public override string Name => "desc-gdt-segments";
    public override string Title => "set_gdt, update_descriptor, segment loads through the guest's GDT";
    public override string Category => "desc";

    private const long FlatData = 0x00CF_F300_0000_FFFF, Code64 = 0x00AF_FB00_0000_FFFF, Ring0Data = 0x00CF_9300_0000_FFFF,
        NotPresentData = 0x00CF_7300_0000_FFFF, Tss = 0x0000_8900_0000_0067;

    public override void Body(GuestProgram g)
    {
        var a = g.Asm;
        var mm = new MmKit(g);
        var gdt = g.Page("gdt");
        var frames = g.Alloc(16, name: "gdt_frames");
        var maddr = g.Var("gdt_maddr");
        var sel = g.Var("selector");
        g.Set(frames.U64(0), mm.Mfn(gdt.Ptr));
        g.Set(maddr, mm.Mfn(gdt.Ptr) << 12);

        g.ExpectEq(g.Hypercall(Hypercall.SetGdt, frames.Ptr, 512), -Errno.EINVAL, "set_gdt of a frame mapped writable");
        g.ExpectEq(g.Hypercall(Hypercall.SetGdt, frames.Ptr, 7169), -Errno.EINVAL, "set_gdt with 7169 entries");

        // update_descriptor works on an ordinary page too (it takes the writable type for the write).
        g.ExpectEq(g.Hypercall(Hypercall.UpdateDescriptor, maddr + 8, FlatData), 0, "update_descriptor 1: flat data, DPL 3");
        g.ExpectEq(g.Hypercall(Hypercall.UpdateDescriptor, maddr + 16, Code64), 0, "update_descriptor 2: 64-bit code, DPL 3");
        g.ExpectEq(g.Hypercall(Hypercall.UpdateDescriptor, maddr + 24, Ring0Data), 0, "update_descriptor 3: data, DPL 0");
        g.ExpectEq(Val.At(gdt.Ptr + 24), FlatData, "check_descriptor raised DPL 0 to 3");
        g.ExpectEq(g.Hypercall(Hypercall.UpdateDescriptor, maddr + 32, Tss), -Errno.EINVAL, "update_descriptor 4: a TSS descriptor");
        g.ExpectEq(g.Hypercall(Hypercall.UpdateDescriptor, maddr + 44, FlatData), -Errno.EINVAL, "update_descriptor at an unaligned address");
        g.ExpectEq(g.Hypercall(Hypercall.UpdateDescriptor, maddr + 40, NotPresentData), 0, "update_descriptor 5: not present");

        g.ExpectEq(mm.Remap(gdt.Ptr, MmKit.ReadOnly), 0, "map the page read-only");
        g.ExpectEq(g.Hypercall(Hypercall.SetGdt, frames.Ptr, 8), 0, "set_gdt, 8 entries");
        g.ExpectEq(g.Hypercall(Hypercall.UpdateDescriptor, maddr + 48, FlatData), 0, "update_descriptor 6 in the loaded GDT");
        g.ExpectEq(Val.At(gdt.Ptr + 48), FlatData, "entry 6 as written");
        g.ExpectEq(mm.Remap(gdt.Ptr, MmKit.Writable), -Errno.EBUSY, "a GDT frame mapped writable (measured -EBUSY)");

        void Load(string what, long selector, bool ss, long vector, long error)
        {
            g.Set(sel, selector);
            var f = g.Guarded(() =>
            {
                a.mov(rax, __qword_ptr[(long)sel.Address]);
                if (ss) a.mov(Iced.Intel.AssemblerRegisters.ss, ax);
                else a.mov(Iced.Intel.AssemblerRegisters.es, ax);
                a.mov(Iced.Intel.AssemblerRegisters.es, ax);
            });
            g.ExpectEq(f.Vector, vector, what);
            if (vector >= 0) g.ExpectEq(f.ErrorCode, error, what + ": error code");
        }
        Load("es = 0x0b (entry 1)", 0x0b, false, -1, 0);
        Load("es = 0x1b (entry 3, DPL raised)", 0x1b, false, -1, 0);
        Load("es = 0x43 (entry 8, past 8 entries)", 0x43, false, 13, 0x40);
        Load("es = 0x23 (entry 4, empty)", 0x23, false, 13, 0x20);
        Load("es = 0x2b (entry 5, not present)", 0x2b, false, 11, 0x28);
        Load("es = 0x13 (entry 2, readable code)", 0x13, false, -1, 0);
        Load("ss = 0x08 (RPL 0)", 0x08, true, 13, 0x08);
        Load("ss = 0x33 (entry 6)", 0x33, true, -1, 0);
        a.mov(eax, 0xe02b);
        a.mov(Iced.Intel.AssemblerRegisters.ss, ax);
        a.xor(eax, eax);
        a.mov(Iced.Intel.AssemblerRegisters.es, ax);
        g.Success();
    }
}
