using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Pv.Isa;

/// <summary>
/// fcomi/fucomi(p) and fcmov (docs/pv-abi.md §18): ZF PF CF for less, equal, greater and unordered
/// (a QNaN: fucomi quiet, fcomi IE), +0 = -0, and each fcmov condition after them. Printed values
/// and FSW are compared between the hosts.
/// </summary>
public sealed class X87Compare : XtfTest
{
    public override string Name => "isa-x87-compare";
    public override string Title => "x87: fcomi, fucomi, fcmov";
    public override string Category => "isa";

    public override void Body(GuestProgram g)
    {
        var a = g.Asm;
        var fl = g.Var("fl");
        var sw = g.Var("sw");
        var t = g.Alloc(16, 16, "t");
        var one = g.Var("one", 0x3FF0_0000_0000_0000);
        var two = g.Var("two", 0x4000_0000_0000_0000);
        var nzero = g.Var("nzero", long.MinValue);
        var qnan = g.Var("qnan", 0x7FF8_0000_0000_0000);
        void Cmp(string what, Val first, Val second, bool quiet)
        {
            a.fninit();
            a.fld(__qword_ptr[(long)second.Address]);
            a.fld(__qword_ptr[(long)first.Address]);
            if (quiet) a.fucomip(st0, st1); else a.fcomip(st0, st1);
            a.pushfq();
            a.pop(rax);
            a.and(eax, 0x8D5);
            a.mov(__qword_ptr[(long)fl.Address], rax);
            a.fnstsw(__word_ptr[(long)sw.Address]);
            g.Print(what + " flags %x sw %x\n", fl, sw);
        }
        Cmp("fcomip 1 2", one, two, false);
        Cmp("fcomip 2 1", two, one, false);
        Cmp("fcomip 1 1", one, one, false);
        Cmp("fcomip 0 -0", g.Var("pzero"), nzero, false);
        Cmp("fucomip 1 nan", one, qnan, true);
        Cmp("fcomip 1 nan", one, qnan, false);

        a.fninit();
        a.fld(__qword_ptr[(long)two.Address]);
        a.fld(__qword_ptr[(long)one.Address]);
        a.fucomi(st0, st1);                      // 1 < 2: CF
        a.fcmovnb(st0, st1);                     // not taken
        a.fcmovb(st0, st1);                      // taken: st0 = 2
        a.fnstsw(__word_ptr[(long)sw.Address]);
        a.fstp(__tword_ptr[(long)t.Address]);
        g.Print("fcmovb %p %x sw %x\n", t.U64(0), t.U16(8), sw);
        g.ExpectEq(t.U16(8), 0x4000, "fcmovb moved 2.0");
        a.fninit();
        g.Success();
    }
}
