using Xtf.Abi;
using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Pv.Isa;

/// <summary>
/// The x87 forms the simulator executes (docs/pv-abi.md §18): exact loads (fld m32/m64/m80/st(i),
/// fild), fstp m80, fchs/fabs/fxch, a ninth push (measured: no stack fault on QEMU TCG, the value
/// wraps), fnstenv's layout, and #MF: an environment loaded with ES set makes wait fault, not the
/// x87 instruction before it (QEMU TCG checks ES in fwait only; the SDM would fault at the fld1).
/// A binary32 denormal loads without DE (measured FSW 0x3800).
/// </summary>
public sealed class X87Basic : XtfTest
{
    public override string Name => "isa-x87-basic";
    public override string Title => "x87: exact loads, fstp m80, stack faults, fnstenv, #MF at fwait";
    public override string Category => "isa";

    public override void Body(GuestProgram g)
    {
        var a = g.Asm;
        var count = g.Var("mf_count");
        var rip = g.Var("mf_rip");
        var mfSw = g.Var("mf_sw");
        var handler = g.EventCallback("mf_handler", () =>
        {
            a.inc(__qword_ptr[(long)count.Address]);
            a.mov(rax, __qword_ptr[rsp + 13 * 8 + 16]);
            a.mov(__qword_ptr[(long)rip.Address], rax);
            a.fnstsw(__word_ptr[(long)mfSw.Address]);
            a.fnclex();
        });
        var table = g.Alloc(TrapInfo.Layout.Size * 2, 16);
        g.Set(table.U8(TrapInfo.Layout.Vector), 16);
        g.Set(table.U16(TrapInfo.Layout.Cs), 0xe033);
        g.Set(table.U64(TrapInfo.Layout.Address), g.AddressOf(handler));
        g.ExpectEq(g.Hypercall(Hypercall.SetTrapTable, table.Ptr), 0, "set_trap_table(#MF)");

        var t = g.Alloc(16, 16, "t");
        var sw = g.Var("sw");
        var cw = g.Var("cw");
        var d = g.Var("d", 0x4008_0000_0000_0000);     // 3.0
        var f = g.Var("f", 0x8000_0001);                 // -2^-149 (binary32 denormal)
        var i16 = g.Var("i16", 0xFFFB);                  // -5
        var i64 = g.Var("i64", long.MinValue);
        void Show(string what)
        {
            a.fnstsw(__word_ptr[(long)sw.Address]);
            a.fstp(__tword_ptr[(long)t.Address]);
            g.Print(what + " %p %x sw %x\n", t.U64(0), t.U16(8), sw);
        }

        a.fninit();
        a.fld(__qword_ptr[(long)d.Address]); Show("fld m64 3.0");
        a.fld(__dword_ptr[(long)f.Address]); Show("fld m32 denormal");
        a.fninit();
        a.fild(__word_ptr[(long)i16.Address]); a.fabs(); Show("fild m16 -5, fabs");
        a.fild(__qword_ptr[(long)i64.Address]); a.fchs(); Show("fild m64 min, fchs");
        a.fld1(); a.fldz(); a.fxch(st0, st1); Show("fxch st1");
        a.fld(st0); Show("fld st0");
        a.fstp(__tword_ptr[(long)t.Address]);
        a.fld(__tword_ptr[(long)t.Address]); Show("fld m80");
        a.fninit();
        for (int i = 0; i < 9; i++) a.fld1();
        Show("ninth push");

        var env = g.Alloc(32, 16, "env");
        a.fninit();
        a.fld(__qword_ptr[(long)d.Address]);
        a.fldz();
        a.fnstenv(__[(long)env.Address]);
        a.fnstcw(__word_ptr[(long)cw.Address]);
        g.Print("env %x %x %x cs+fop %x fds %x cw after %x\n", env.U32(0), env.U32(4), env.U32(8), env.U32(16), env.U32(24), cw);
        g.Expect(env.U32(12) != 0, "FIP set");
        g.ExpectEq(env.U32(20), d.Address, "FDP: the fld m64 operand");

        // #MF: an environment with ES set (FSW 0x8081: B ES IE, FCW 0x37e); only wait faults.
        a.fninit();
        a.fnstenv(__[(long)env.Address]);
        g.Set(env.U32(0), 0x37E);
        g.Set(env.U32(4), 0x8081);
        a.fldenv(__[(long)env.Address]);
        a.fnstsw(__word_ptr[(long)sw.Address]);
        g.Print("pending sw %x\n", sw);
        a.fld1();
        a.nop();
        g.ExpectEq(count, 0, "no #MF at a waiting x87 instruction");
        var site = g.NewLabel("wait_site");
        g.Mark(site);
        a.wait();
        a.nop();
        g.ExpectEq(count, 1, "#MF at wait");
        g.ExpectEq(rip, g.AddressOf(site), "#MF: rip at the wait");
        g.Print("#MF sw %x\n", mfSw);
        a.fninit();
        g.Success();
    }
}
