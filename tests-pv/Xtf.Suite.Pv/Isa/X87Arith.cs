using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Pv.Isa;

/// <summary>
/// x87 arithmetic (docs/pv-abi.md §18.4): fadd/fsub/fsubr/fmul/fdiv/fdivr in their st(i), m32, m64,
/// fi m16/m32 and popping forms; 1/3 under every precision and rounding control; ties, overflow per
/// rounding direction, underflow, invalid operations, division by zero, NaN propagation, an invalid
/// encoding and a denormal operand. Each result is printed as stored by fstp m80, with FSW.
/// </summary>
public sealed class X87Arith : XtfTest
{
    public override string Name => "isa-x87-arith";
    public override string Title => "x87: fadd/fsub/fmul/fdiv forms, rounding and precision control, exceptions";
    public override string Category => "isa";

    public override void Body(GuestProgram g)
    {
        var a = g.Asm;
        var k = new X87Case(g);
        var one = X80.D(1);
        var three = X80.D(3);
        string[] rcName = ["rn", "dn", "up", "rz"];
        foreach (int pc in new[] { 0, 2, 3 })
            for (int rc = 0; rc < 4; rc++)
                k.Run($"1/3 pc{pc} {rcName[rc]}", X87Case.Cw(pc, rc), [one, three], () => a.fdivp(st1, st0));
        for (int rc = 0; rc < 4; rc++)
            k.Run($"-1/3 pc3 {rcName[rc]}", X87Case.Cw(3, rc), [X80.D(-1), three], () => a.fdivp(st1, st0));
        k.Run("2/3 pc0 rn", X87Case.Cw(0, 0), [X80.D(2), three], () => a.fdivp(st1, st0));

        // Ties and sticky bits: 1 + 2^-64 (half an ulp), 1 + 3*2^-65, under each rounding direction.
        var halfUlp = new X80(1UL << 63, 0x3FFF - 64);
        var moreThanHalf = new X80(0xC000_0000_0000_0000UL, 0x3FFF - 64);
        for (int rc = 0; rc < 4; rc++)
        {
            k.Run($"1+2^-64 {rcName[rc]}", X87Case.Cw(3, rc), [one, halfUlp], () => a.faddp(st1, st0));
            k.Run($"-1-1.5*2^-64 {rcName[rc]}", X87Case.Cw(3, rc), [X80.D(-1), new X80(moreThanHalf.Mant, (ushort)(moreThanHalf.Se | 0x8000))], () => a.faddp(st1, st0));
        }
        k.Run("(1+2^-23) pc0 tie rn", X87Case.Cw(0, 0), [one, new X80(1UL << 63, 0x3FFF - 24)], () => a.faddp(st1, st0));
        k.Run("(1+3*2^-25) pc0 rn", X87Case.Cw(0, 0), [new X80(0x8000_0100_0000_0000UL | (3UL << 38), 0x3FFF), X80.D(0)], () => a.faddp(st1, st0));
        k.Run("1-1 rn", X87Case.Cw(3, 0), [one, one], () => a.fsubp(st1, st0));
        k.Run("1-1 dn", X87Case.Cw(3, 1), [one, one], () => a.fsubp(st1, st0));
        k.Run("-0+-0", X87Case.Cw(3, 0), [X80.D(-0.0), X80.D(-0.0)], () => a.faddp(st1, st0));
        k.Run("cancel 1.5-1.25", X87Case.Cw(3, 0), [X80.D(1.5), X80.D(1.25)], () => a.fsubp(st1, st0));

        // Overflow and underflow.
        var max = new X80(ulong.MaxValue, 0x7FFE);
        for (int rc = 0; rc < 4; rc++)
        {
            k.Run($"max*2 {rcName[rc]}", X87Case.Cw(3, rc), [max, X80.D(2)], () => a.fmulp(st1, st0));
            k.Run($"-max*2 {rcName[rc]}", X87Case.Cw(0, rc), [new X80(ulong.MaxValue, 0xFFFE), X80.D(2)], () => a.fmulp(st1, st0));
        }
        var minNormal = new X80(1UL << 63, 1);
        k.Run("minnormal/2 exact", X87Case.Cw(3, 0), [minNormal, X80.D(2)], () => a.fdivp(st1, st0));
        k.Run("(minnormal+ulp)/2 rn", X87Case.Cw(3, 0), [new X80((1UL << 63) | 1, 1), X80.D(2)], () => a.fdivp(st1, st0));
        k.Run("(minnormal+3ulp)/2 rn", X87Case.Cw(3, 0), [new X80((1UL << 63) | 3, 1), X80.D(2)], () => a.fdivp(st1, st0));
        k.Run("(minnormal+ulp)/2 up", X87Case.Cw(3, 2), [new X80((1UL << 63) | 1, 1), X80.D(2)], () => a.fdivp(st1, st0));
        k.Run("tiny*tiny", X87Case.Cw(3, 0), [new X80(1UL << 63, 0x2000), new X80(0xC000_0000_0000_0000UL, 0x2000)], () => a.fmulp(st1, st0));
        k.Run("tiny*tiny up", X87Case.Cw(3, 2), [new X80(1UL << 63, 0x2000), new X80(0xC000_0000_0000_0000UL, 0x2000)], () => a.fmulp(st1, st0));
        k.Run("minnormal*(1-2^-64) rn", X87Case.Cw(3, 0), [minNormal, new X80(ulong.MaxValue, 0x3FFE)], () => a.fmulp(st1, st0));
        k.Run("minnormal*(1-2^-24) pc0 rn", X87Case.Cw(0, 0), [minNormal, new X80(0xFFFF_FF00_0000_0000UL, 0x3FFE)], () => a.fmulp(st1, st0));
        k.Run("denormal pc0", X87Case.Cw(0, 0), [new X80(0x0000_0000_0000_0FFFUL | (1UL << 40), 0), X80.D(1)], () => a.fmulp(st1, st0));

        // Invalid operations, division by zero, NaNs, an invalid encoding, denormal operands.
        k.Run("0/0", X87Case.Cw(3, 0), [X80.D(0), X80.D(0)], () => a.fdivp(st1, st0));
        k.Run("1/0", X87Case.Cw(3, 0), [one, X80.D(0)], () => a.fdivp(st1, st0));
        k.Run("-1/0", X87Case.Cw(3, 0), [X80.D(-1), X80.D(0)], () => a.fdivp(st1, st0));
        k.Run("1/-0", X87Case.Cw(3, 0), [one, X80.D(-0.0)], () => a.fdivp(st1, st0));
        k.Run("inf-inf", X87Case.Cw(3, 0), [X80.Inf, X80.Inf], () => a.fsubp(st1, st0));
        k.Run("inf+inf", X87Case.Cw(3, 0), [X80.Inf, X80.Inf], () => a.faddp(st1, st0));
        k.Run("0*inf", X87Case.Cw(3, 0), [X80.D(0), X80.NegInf], () => a.fmulp(st1, st0));
        k.Run("inf/inf", X87Case.Cw(3, 0), [X80.Inf, X80.NegInf], () => a.fdivp(st1, st0));
        k.Run("1/inf", X87Case.Cw(3, 0), [X80.D(-1), X80.Inf], () => a.fdivp(st1, st0));
        k.Run("qnan+1", X87Case.Cw(3, 0), [X80.QNaN(5), one], () => a.faddp(st1, st0));
        k.Run("1+snan", X87Case.Cw(3, 0), [one, X80.SNaN(7)], () => a.faddp(st1, st0));
        k.Run("qnan5+qnan9", X87Case.Cw(3, 0), [X80.QNaN(5), X80.QNaN(9)], () => a.faddp(st1, st0));
        k.Run("qnan9+qnan5", X87Case.Cw(3, 0), [X80.QNaN(9), X80.QNaN(5)], () => a.faddp(st1, st0));
        k.Run("snan9+qnan5", X87Case.Cw(3, 0), [X80.SNaN(9), X80.QNaN(5)], () => a.faddp(st1, st0));
        k.Run("qnan5+snan9", X87Case.Cw(3, 0), [X80.QNaN(5), X80.SNaN(9)], () => a.fmulp(st1, st0));
        k.Run("snan5+snan9", X87Case.Cw(3, 0), [X80.SNaN(5), X80.SNaN(9)], () => a.fsubp(st1, st0));
        k.Run("-qnan+qnan", X87Case.Cw(3, 0), [X80.QNaN(3, true), X80.QNaN(3)], () => a.faddp(st1, st0));
        k.Run("qnan+-qnan", X87Case.Cw(3, 0), [X80.QNaN(3), X80.QNaN(3, true)], () => a.fdivp(st1, st0));
        k.Run("unnormal+1", X87Case.Cw(3, 0), [new X80(0x4000_0000_0000_0000UL, 0x3FFF), one], () => a.faddp(st1, st0));
        k.Run("pseudo-inf*1", X87Case.Cw(3, 0), [new X80(0, 0x7FFF), one], () => a.fmulp(st1, st0));
        k.Run("denormal+1", X87Case.Cw(3, 0), [new X80(1, 0), one], () => a.faddp(st1, st0));
        k.Run("denormal*1", X87Case.Cw(3, 0), [new X80(0x1234, 0), one], () => a.fmulp(st1, st0));
        k.Run("pseudo-denormal+0", X87Case.Cw(3, 0), [new X80(1UL << 63, 0), X80.D(0)], () => a.faddp(st1, st0));
        k.Run("denormal/denormal", X87Case.Cw(3, 0), [new X80(3, 0), new X80(2, 0)], () => a.fdivp(st1, st0));

        // Every form, on 10 and 4 (and memory operands 4.0f, 0.3, int16 -3, int32 100000).
        var ten = X80.D(10);
        var four = X80.D(4);
        ulong m32 = k.Raw(0x4080_0000), m64 = k.Raw(0x3FD3_3333_3333_3333), i16 = k.Raw(0xFFFD), i32 = k.Raw(100000);
        ulong big32 = k.Raw(0x0100_0001);   // 2^24 + 1
        k.Run("fadd st0,st1", X87Case.Cw(3, 0), [four, ten], () => a.fadd(st0, st1), 2);
        k.Run("fadd st1,st0", X87Case.Cw(3, 0), [four, ten], () => a.fadd(st1, st0), 2);
        k.Run("fsub st0,st1", X87Case.Cw(3, 0), [four, ten], () => a.fsub(st0, st1), 2);
        k.Run("fsub st1,st0", X87Case.Cw(3, 0), [four, ten], () => a.fsub(st1, st0), 2);
        k.Run("fsubr st0,st1", X87Case.Cw(3, 0), [four, ten], () => a.fsubr(st0, st1), 2);
        k.Run("fsubr st1,st0", X87Case.Cw(3, 0), [four, ten], () => a.fsubr(st1, st0), 2);
        k.Run("fsubp", X87Case.Cw(3, 0), [four, ten], () => a.fsubp(st1, st0));
        k.Run("fsubrp", X87Case.Cw(3, 0), [four, ten], () => a.fsubrp(st1, st0));
        k.Run("fdiv st0,st1", X87Case.Cw(3, 0), [four, ten], () => a.fdiv(st0, st1), 2);
        k.Run("fdiv st1,st0", X87Case.Cw(3, 0), [four, ten], () => a.fdiv(st1, st0), 2);
        k.Run("fdivr st0,st1", X87Case.Cw(3, 0), [four, ten], () => a.fdivr(st0, st1), 2);
        k.Run("fdivr st1,st0", X87Case.Cw(3, 0), [four, ten], () => a.fdivr(st1, st0), 2);
        k.Run("fdivp", X87Case.Cw(3, 0), [four, ten], () => a.fdivp(st1, st0));
        k.Run("fdivrp", X87Case.Cw(3, 0), [four, ten], () => a.fdivrp(st1, st0));
        k.Run("fmul st0,st0", X87Case.Cw(3, 0), [ten], () => a.fmul(st0, st0));
        k.Run("fmul st2,st0", X87Case.Cw(3, 0), [ten, four, X80.D(3)], () => a.fmul(st2, st0), 3);
        k.Run("fmulp st2", X87Case.Cw(3, 0), [ten, four, X80.D(3)], () => a.fmulp(st2, st0), 2);
        k.Run("fadd m32", X87Case.Cw(3, 0), [ten], () => a.fadd(__dword_ptr[(long)m32]));
        k.Run("fsub m64 pc2", X87Case.Cw(2, 0), [ten], () => a.fsub(__qword_ptr[(long)m64]));
        k.Run("fsubr m64", X87Case.Cw(3, 0), [ten], () => a.fsubr(__qword_ptr[(long)m64]));
        k.Run("fmul m64", X87Case.Cw(3, 1), [ten], () => a.fmul(__qword_ptr[(long)m64]));
        k.Run("fdiv m32", X87Case.Cw(3, 0), [ten], () => a.fdiv(__dword_ptr[(long)m32]));
        k.Run("fdivr m64", X87Case.Cw(3, 2), [ten], () => a.fdivr(__qword_ptr[(long)m64]));
        k.Run("fiadd m16", X87Case.Cw(3, 0), [ten], () => a.fiadd(__word_ptr[(long)i16]));
        k.Run("fisub m32", X87Case.Cw(3, 0), [ten], () => a.fisub(__dword_ptr[(long)i32]));
        k.Run("fisubr m16", X87Case.Cw(3, 0), [ten], () => a.fisubr(__word_ptr[(long)i16]));
        k.Run("fimul m32", X87Case.Cw(3, 0), [ten], () => a.fimul(__dword_ptr[(long)i32]));
        k.Run("fidiv m16", X87Case.Cw(3, 0), [ten], () => a.fidiv(__word_ptr[(long)i16]));
        k.Run("fidivr m32", X87Case.Cw(3, 0), [ten], () => a.fidivr(__dword_ptr[(long)i32]));
        k.Run("0 fiadd m32 2^24+1 pc0", X87Case.Cw(0, 0), [X80.D(0)], () => a.fiadd(__dword_ptr[(long)big32]));
        k.Run("0.5 fiadd m32 2^24+1 pc0 up", X87Case.Cw(0, 2), [X80.D(0.5)], () => a.fiadd(__dword_ptr[(long)big32]));
        ulong snan32 = k.Raw(0x7F80_0001);
        k.Run("fadd m32 snan", X87Case.Cw(3, 0), [ten], () => a.fadd(__dword_ptr[(long)snan32]));
        k.Run("fadd ZE unmasked 1/0", 0x37B, [one, X80.D(0)], () => a.fdivp(st1, st0));
        g.Success();
    }
}
