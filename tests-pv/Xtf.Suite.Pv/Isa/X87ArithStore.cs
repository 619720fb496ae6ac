using Xtf.Abi;
using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Pv.Isa;

/// <summary>
/// x87 stores that round and the save area (docs/pv-abi.md §18.4): fst/fstp m32/m64 per rounding
/// control (overflow, underflow, NaN, invalid encoding), fist/fistp m16/m32/m64 and fisttp (the
/// integer indefinite with IE alone when out of range), fld m32/m64 of an SNaN, fnsave's 108-byte
/// image and frstor, and #MF: an unmasked inexact 1/3 stores its result and faults only at fwait;
/// fsave (the waiting form) faults before storing.
/// </summary>
public sealed class X87ArithStore : XtfTest
{
    public override string Name => "isa-x87-arith-store";
    public override string Title => "x87: fst m32/m64, fist, fisttp, fbld/fbstp, fnsave/frstor, #MF at fwait";
    public override string Category => "isa";

    public override void Body(GuestProgram g)
    {
        var a = g.Asm;
        var k = new X87Case(g);
        string[] rcName = ["rn", "dn", "up", "rz"];
        ushort n = X87Case.Cw(3, 0);
        var m = g.Alloc(16, 16, "m");
        var third = new X80(0xAAAA_AAAA_AAAA_AAABUL, 0x3FFD);
        var negThird = new X80(0xAAAA_AAAA_AAAA_AAABUL, 0xBFFD);

        void St32(string what, ushort cw, X80 v)
        {
            k.Run(what, cw, [v], () => a.fst(__dword_ptr[(long)m.Address]));
            g.Print("  m32 %x\n", m.U32(0));
        }
        void St64(string what, ushort cw, X80 v)
        {
            k.Run(what, cw, [v], () => a.fstp(__qword_ptr[(long)m.Address]), 0);
            g.Print("  m64 %p\n", m.U64(0));
        }
        for (int rc = 0; rc < 4; rc++)
        {
            St32($"fst m32 1/3 {rcName[rc]}", X87Case.Cw(3, rc), third);
            St32($"fst m32 -1/3 {rcName[rc]}", X87Case.Cw(3, rc), negThird);
            St64($"fstp m64 1/3 {rcName[rc]}", X87Case.Cw(3, rc), third);
            St32($"fst m32 2^200 {rcName[rc]}", X87Case.Cw(3, rc), new X80(1UL << 63, 0x3FFF + 200));
            St64($"fstp m64 -2^2000 {rcName[rc]}", X87Case.Cw(3, rc), new X80(1UL << 63, 0xBFFF + 2000));
            St32($"fst m32 1.5*2^-140 {rcName[rc]}", X87Case.Cw(3, rc), new X80(0xC000_0000_0000_0001UL, 0x3FFF - 140));
        }
        St32("fst m32 2^-149", n, new X80(1UL << 63, 0x3FFF - 149));
        St32("fst m32 2^-150", n, new X80(1UL << 63, 0x3FFF - 150));
        St32("fst m32 (2-2^-24)*2^-127 rn", n, new X80(0xFFFF_FF00_0000_0000UL, 0x3FFF - 127));
        St32("fst m32 (2-2^-25)*2^-127 rn", n, new X80(0xFFFF_FF80_0000_0000UL, 0x3FFF - 127));
        St64("fstp m64 2^-1074", n, new X80(1UL << 63, 0x3FFF - 1074));
        St64("fstp m64 denormal80", n, new X80(5, 0));
        St32("fst m32 snan", n, X80.SNaN(0x1234_5678_9ABC));
        St64("fstp m64 -qnan", n, X80.QNaN(0x1234_5678_9ABC, true));
        St64("fstp m64 unnormal", n, new X80(1, 0x4000));
        St32("fst m32 -inf", n, X80.NegInf);
        St64("fstp m64 -0", n, X80.D(-0.0));

        void Ist(string what, ushort cw, X80 v, int size, bool truncate = false)
        {
            g.Set(m.U64(0), 0x5555_5555_5555_5555);
            k.Run(what, cw, [v], () =>
            {
                var op = size switch { 2 => __word_ptr[(long)m.Address], 4 => __dword_ptr[(long)m.Address], _ => __qword_ptr[(long)m.Address] };
                if (truncate) a.fisttp(op);
                else if (size == 8) a.fistp(op);
                else a.fist(op);
            }, size == 8 || truncate ? 0 : 1);
            g.Print("  int %p\n", m.U64(0));
        }
        foreach (double v in new[] { 2.5, -2.5, 3.7, -0.4 })
            for (int rc = 0; rc < 4; rc++)
                Ist($"fist m32 {v} {rcName[rc]}", X87Case.Cw(3, rc), X80.D(v), 4);
        Ist("fist m16 32767.4", n, X80.D(32767.4), 2);
        Ist("fist m16 32767.5", n, X80.D(32767.5), 2);
        Ist("fist m16 -32768.5", n, X80.D(-32768.5), 2);
        Ist("fist m16 -32768.5 up", X87Case.Cw(3, 2), X80.D(-32768.5), 2);
        Ist("fist m32 2^31", n, X80.D(2147483648.0), 4);
        Ist("fist m32 -2^31", n, X80.D(-2147483648.0), 4);
        Ist("fist m32 qnan", n, X80.QNaN(), 4);
        Ist("fistp m64 -2^63", n, new X80(1UL << 63, 0xBFFF + 63), 8);
        Ist("fistp m64 2^63", n, new X80(1UL << 63, 0x3FFF + 63), 8);
        Ist("fistp m64 1e18+0.5", n, X80.D(1e18 + 0.5), 8);
        Ist("fistp m64 -inf", n, X80.NegInf, 8);
        Ist("fisttp m16 -2.7", n, X80.D(-2.7), 2, true);
        Ist("fisttp m32 -2.7 up", X87Case.Cw(3, 2), X80.D(-2.7), 4, true);
        Ist("fisttp m64 2.9e18", n, X80.D(2.9e18), 8, true);
        Ist("fisttp m16 40000", n, X80.D(40000), 2, true);

        // Packed BCD: fbld (converted at the current precision) and fbstp (rounded per RC; out of range: the indefinite).
        var bcd = g.Alloc(16, 16, "bcd");
        void Bst(string what, ushort cw, X80 v)
        {
            g.Set(bcd.U64(0), 0x5555_5555_5555_5555);
            g.Set(bcd.U16(8), 0x5555);
            k.Run(what, cw, [v], () => a.fbstp(__tword_ptr[(long)bcd.Address]), 0);
            g.Print("  bcd %x %p\n", bcd.U16(8), bcd.U64(0));
        }
        Bst("fbstp 12345.5", n, X80.D(12345.5));
        Bst("fbstp -7.5 up", X87Case.Cw(3, 2), X80.D(-7.5));
        Bst("fbstp -0.4", n, X80.D(-0.4));
        Bst("fbstp 999999999999999999", n, X80.D(999999999999999999.0));
        Bst("fbstp 1e18", n, new X80(0xDE0B_6B3A_7640_0000UL, 0x3FFF + 59));
        Bst("fbstp qnan", n, X80.QNaN());
        Bst("fbstp -inf", n, X80.NegInf);
        ulong bcdPos = g.Data.Reserve(16, 16);
        g.Data.WriteU64(bcdPos, 0x0012_3456_7890_1234UL);
        g.Data.WriteU64(bcdPos + 8, 0x0056);
        ulong bcdNeg = g.Data.Reserve(16, 16);
        g.Data.WriteU64(bcdNeg, 0x9999_9999_9999_9999UL);
        g.Data.WriteU64(bcdNeg + 8, 0x8099);
        k.Run("fbld 56001234567890123 4", n, [], () => a.fbld(__tword_ptr[(long)bcdPos]));
        k.Run("fbld -999999999999999999 pc0", X87Case.Cw(0, 0), [], () => a.fbld(__tword_ptr[(long)bcdNeg]));

        ulong s32 = k.Raw(0xFF80_0001), s64 = k.Raw(0x7FF0_0000_0000_0002), d64 = k.Raw(1);
        k.Run("fld m32 snan", n, [], () => a.fld(__dword_ptr[(long)s32]));
        k.Run("fld m64 snan", n, [], () => a.fld(__qword_ptr[(long)s64]));
        k.Run("fld m64 denormal", n, [], () => a.fld(__qword_ptr[(long)d64]));

        // fnsave: environment (28 bytes) then ST0..ST7; afterwards the unit is initialised. frstor brings it back.
        var area = g.Alloc(112, 16, "save_area");
        var cw = g.Var("cw");
        a.fninit();
        a.fld(__tword_ptr[(long)k.Const(third)]);
        a.fld1();
        a.fldpi();
        a.fnsave(__[(long)area.Address]);
        a.fnstcw(__word_ptr[(long)cw.Address]);
        a.fnstsw(__word_ptr[(long)k.Sw.Address]);
        g.Print("fnsave env %x %x %x cs %x fds %x; after: cw %x sw %x\n", area.U32(0), area.U32(4), area.U32(8), area.U32(16), area.U32(24), cw, k.Sw);
        for (int i = 0; i < 4; i++)
            g.Print($"  st{i} %x:%p\n", area.U16(28 + 10 * i + 8), area.U64(28 + 10 * i));
        g.Expect(area.U32(12) != 0, "fnsave: FIP set");
        a.frstor(__[(long)area.Address]);
        a.fnstsw(__word_ptr[(long)k.Sw.Address]);
        a.fstp(__tword_ptr[(long)k.Out.Address]);
        a.fstp(__tword_ptr[(long)k.Out.Address + 16]);
        g.Print("frstor sw %x st0 %x:%p st1 %x:%p\n", k.Sw, k.Out.U16(8), k.Out.U64(0), k.Out.U16(24), k.Out.U64(16));
        a.fninit();

        // #MF: PE unmasked (FCW 0x35f); 1/3 is stored with ES set; only fwait faults. Then fsave with ES pending.
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
        ulong cwPe = k.Raw(0x35F);
        a.fninit();
        a.fldcw(__word_ptr[(long)cwPe]);
        a.fld1();
        a.fld(__tword_ptr[(long)k.Const(X80.D(3))]);
        a.fdivp(st1, st0);
        a.fld1();
        a.faddp(st1, st0);
        a.fnstsw(__word_ptr[(long)k.Sw.Address]);
        g.ExpectEq(count, 0, "no #MF at the unmasked x87 instructions");
        var site = g.NewLabel("fwait_site");
        g.Mark(site);
        a.wait();
        a.nop();
        g.ExpectEq(count, 1, "#MF at fwait");
        g.ExpectEq(rip, g.AddressOf(site), "#MF: rip at the fwait");
        a.fstp(__tword_ptr[(long)k.Out.Address]);
        g.Print("unmasked PE: sw %x, #MF sw %x, result %x:%p\n", k.Sw, mfSw, k.Out.U16(8), k.Out.U64(0));

        a.fninit();
        a.fldcw(__word_ptr[(long)cwPe]);
        a.fld1();
        a.fld(__tword_ptr[(long)k.Const(X80.D(3))]);
        a.fdivp(st1, st0);
        g.Set(area.U32(0), 0);
        var site2 = g.NewLabel("fsave_site");
        g.Mark(site2);
        a.fsave(__[(long)area.Address]);
        g.ExpectEq(count, 2, "#MF at fsave");
        g.ExpectEq(rip, g.AddressOf(site2), "#MF: rip at the fsave");
        g.Print("fsave after #MF: cw in area %x, #MF sw %x\n", area.U32(0), mfSw);
        a.fninit();
        g.Success();
    }
}
