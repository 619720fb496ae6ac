using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Pv.Priv;

/// <summary>
/// sidt, sgdt, sldt, str and smsw at CPL 3 without UMIP (docs/pv-abi.md §16): they run natively and show
/// Xen's own tables, not the guest's. Prints the IDT and GDT base and limit, the LDT and task-register
/// selectors and the machine status word exactly as the hardware under Xen reports them.
/// </summary>
public sealed class DescriptorRegisters : XtfTest
{
    public override string Name => "priv-descriptor-registers";
    public override string Title => "sidt/sgdt/sldt/str/smsw at CPL 3: Xen's tables";
    public override string Category => "priv";

    public override void Body(GuestProgram g)
    {
        var idtr = g.Alloc(16, 16);
        var gdtr = g.Alloc(16, 16);
        var ldt = g.Var("ldt_sel");
        var tr = g.Var("tr_sel");
        var msw = g.Var("msw");
        var a = g.Asm;
        a.mov(rax, (long)idtr.Address);
        a.sidt(__[rax]);
        a.mov(rax, (long)gdtr.Address);
        a.sgdt(__[rax]);
        a.mov(rax, -1L);
        a.sldt(eax);
        a.mov(__qword_ptr[(long)ldt.Address], rax);
        a.mov(rax, -1L);
        a.str(eax);
        a.mov(__qword_ptr[(long)tr.Address], rax);
        a.mov(rax, -1L);
        a.smsw(eax);
        a.mov(__qword_ptr[(long)msw.Address], rax);
        g.Print("idt base %p limit %x\n", idtr.U64(2), idtr.U16(0));
        g.Print("gdt base %p limit %x\n", gdtr.U64(2), gdtr.U16(0));
        g.Print("ldt %p tr %p msw %p\n", ldt, tr, msw);
        g.Success();
    }
}
