using Xtf.Abi;
using Xtf.Guest;
using Xtf.Suite.Pv.Mm;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Pv.Desc;

/// <summary>
/// MMUEXT_SET_LDT (xen/arch/x86/mm.c) and segment loads through the LDT, which Xen maps page by page
/// on first use (pv_map_ldt_shadow_page): the base must be page aligned and at most 8192 entries;
/// a selector past the entry count is #GP(sel); a page still mapped writable cannot be an LDT page;
/// once it is one it cannot be mapped writable; clearing the LDT makes its selectors #GP(sel).
/// </summary>
public sealed class Ldt : XtfTest
{
    public override string Name => "desc-ldt";
    public override string Title => "MMUEXT_SET_LDT and loads through the LDT";
    public override string Category => "desc";

    private const long FlatData = 0x00CF_F300_0000_FFFF;

    public override void Body(GuestProgram g)
    {
        var a = g.Asm;
        var mm = new MmKit(g);
        var ldt = g.Page("ldt");
        var sel = g.Var("selector");

        FaultRecord Load(long selector)
        {
            g.Set(sel, selector);
            return g.Guarded(() =>
            {
                a.mov(rax, __qword_ptr[(long)sel.Address]);
                a.mov(es, ax);
                a.xor(eax, eax);
                a.mov(es, ax);
            });
        }
        void Show(string what, FaultRecord f, bool cr2 = false)
        {
            g.Print(what + ": vector %d error %x\n", f.Vector, f.ErrorCode);
            if (cr2) g.If(f.Vector == 14, () => g.Print(what + ": cr2 - ldt = %x\n", f.Cr2 - ldt.Ptr));
        }

        g.ExpectEq(mm.Ext(MmuextCmd.SetLdt, ldt.Ptr + 8, 1), -Errno.EINVAL, "set_ldt: an unaligned base");
        g.ExpectEq(mm.Ext(MmuextCmd.SetLdt, ldt.Ptr, 8193), -Errno.EINVAL, "set_ldt: 8193 entries");
        g.ExpectEq(mm.Ext(MmuextCmd.SetLdt, unchecked((long)0xFFFF_8000_0000_0000UL), 1), -Errno.EINVAL, "set_ldt: in Xen's area");
        g.Set(ldt.U64(8), FlatData);
        g.ExpectEq(mm.Ext(MmuextCmd.SetLdt, ldt.Ptr, 4), 0, "set_ldt: 4 entries");
        Show("es = 0x0f, the page mapped writable", Load(0x0f), cr2: true);
        g.ExpectEq(mm.Remap(ldt.Ptr, MmKit.ReadOnly), 0, "remap the LDT page read-only");
        var f = Load(0x0f);
        g.ExpectEq(f.Vector, -1, "es = 0x0f, the page read-only");
        Show("es = 0x27 (entry 4 of 4)", Load(0x27));
        g.Print("remap writable while in use: %e\n", mm.Remap(ldt.Ptr, MmKit.Writable));
        g.ExpectEq(mm.Ext(MmuextCmd.SetLdt, 0, 0), 0, "set_ldt: none");
        Show("es = 0x0f, no LDT", Load(0x0f));
        g.ExpectEq(mm.Remap(ldt.Ptr, MmKit.Writable), 0, "remap writable once the LDT is gone");
        g.Success();
    }
}
