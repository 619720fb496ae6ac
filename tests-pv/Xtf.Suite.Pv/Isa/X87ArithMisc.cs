using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Pv.Isa;

/// <summary>
/// x87 operations beyond the four rules (docs/pv-abi.md §18.4): fsqrt (C2 for a negative operand,
/// -0 too), frndint per rounding control and precision, fscale, fprem/fprem1 (quotient bits in C0 C3
/// C1, the partial step with C2), fxtract, the constants per rounding control, fxam's classes, and
/// fcom/fucom/ficom/ftst condition codes. Results as stored by fstp m80, with FSW.
/// </summary>
public sealed class X87ArithMisc : XtfTest
{
    public override string Name => "isa-x87-arith-misc";
    public override string Title => "x87: fsqrt, frndint, fscale, fprem, fxtract, constants, fxam, fcom";
    public override string Category => "isa";

    public override void Body(GuestProgram g)
    {
        var a = g.Asm;
        var k = new X87Case(g);
        string[] rcName = ["rn", "dn", "up", "rz"];
        ushort n = X87Case.Cw(3, 0);

        // fsqrt
        k.Run("sqrt 2", n, [X80.D(2)], () => a.fsqrt());
        k.Run("sqrt 2 up", X87Case.Cw(3, 2), [X80.D(2)], () => a.fsqrt());
        k.Run("sqrt 2 pc0", X87Case.Cw(0, 0), [X80.D(2)], () => a.fsqrt());
        k.Run("sqrt 2 pc2 rz", X87Case.Cw(2, 3), [X80.D(2)], () => a.fsqrt());
        k.Run("sqrt 1/3", n, [new X80(0xAAAA_AAAA_AAAA_AAABUL, 0x3FFD)], () => a.fsqrt());
        k.Run("sqrt 4", n, [X80.D(4)], () => a.fsqrt());
        k.Run("sqrt -1", n, [X80.D(-1)], () => a.fsqrt());
        k.Run("sqrt -0", n, [X80.D(-0.0)], () => a.fsqrt());
        k.Run("sqrt inf", n, [X80.Inf], () => a.fsqrt());
        k.Run("sqrt -inf", n, [X80.NegInf], () => a.fsqrt());
        k.Run("sqrt denormal", n, [new X80(3, 0)], () => a.fsqrt());
        k.Run("sqrt max", n, [new X80(ulong.MaxValue, 0x7FFE)], () => a.fsqrt());
        k.Run("sqrt snan", n, [X80.SNaN(3)], () => a.fsqrt());

        // frndint
        foreach (double v in new[] { 2.5, -2.5, 3.5, 0.5, -0.5, 0.75, -0.25, 1e18 + 0.5 })
            for (int rc = 0; rc < 4; rc++)
                k.Run($"rndint {v} {rcName[rc]}", X87Case.Cw(3, rc), [X80.D(v)], () => a.frndint());
        k.Run("rndint 2^30+0.5 pc0", X87Case.Cw(0, 0), [new X80((1UL << 63) | (1UL << 32), 0x3FFF + 30)], () => a.frndint());
        k.Run("rndint 2^62+0.5", n, [new X80((1UL << 63) | 1, 0x3FFF + 62)], () => a.frndint());
        k.Run("rndint -0", n, [X80.D(-0.0)], () => a.frndint());
        k.Run("rndint denormal up", X87Case.Cw(3, 2), [new X80(1, 0)], () => a.frndint());

        // fscale: st0 * 2^trunc(st1)
        k.Run("scale 1.5 by 3", n, [X80.D(3), X80.D(1.5)], () => a.fscale(), 2);
        k.Run("scale 1.5 by -2.7", n, [X80.D(-2.7), X80.D(1.5)], () => a.fscale(), 2);
        k.Run("scale 1 by 16384", n, [X80.D(16384), X80.D(1)], () => a.fscale(), 2);
        k.Run("scale 1 by 16384 rz", X87Case.Cw(3, 3), [X80.D(16384), X80.D(1)], () => a.fscale(), 2);
        k.Run("scale 1.5 by -16445", n, [X80.D(-16445), X80.D(1.5)], () => a.fscale(), 2);
        k.Run("scale 1 by -20000", n, [X80.D(-20000), X80.D(1)], () => a.fscale(), 2);
        k.Run("scale 1 by 1e10", n, [X80.D(1e10), X80.D(1)], () => a.fscale(), 2);
        k.Run("scale 1/3 by 1 pc0", X87Case.Cw(0, 0), [X80.D(1), new X80(0xAAAA_AAAA_AAAA_AAABUL, 0x3FFD)], () => a.fscale(), 2);
        k.Run("scale 2 by -inf", n, [X80.NegInf, X80.D(-2)], () => a.fscale(), 2);
        k.Run("scale 0 by inf", n, [X80.Inf, X80.D(0)], () => a.fscale(), 2);
        k.Run("scale inf by -inf", n, [X80.NegInf, X80.Inf], () => a.fscale(), 2);
        k.Run("scale 3 by nan", n, [X80.SNaN(4), X80.D(3)], () => a.fscale(), 2);
        k.Run("scale snan by 1", n, [X80.D(1), X80.SNaN(4)], () => a.fscale(), 2);
        k.Run("scale denormal by 10", n, [X80.D(10), new X80(5, 0)], () => a.fscale(), 2);

        // fprem / fprem1: st0 rem st1
        (double x, double y)[] rems = [(10, 3), (11, 3), (5, 2), (7, 2), (-7, 2), (1, 3), (2, 3), (6, 3), (0.75, 0.5), (1e300, 3)];
        foreach (var (x, y) in rems)
        {
            k.Run($"fprem {x} {y}", n, [X80.D(y), X80.D(x)], () => a.fprem(), 2);
            k.Run($"fprem1 {x} {y}", n, [X80.D(y), X80.D(x)], () => a.fprem1(), 2);
        }
        k.Run("fprem 2^100 3", n, [X80.D(3), new X80(1UL << 63, 0x3FFF + 100)], () => a.fprem(), 2);
        k.Run("fprem1 2^100 3 pc0", X87Case.Cw(0, 0), [X80.D(3), new X80(1UL << 63, 0x3FFF + 100)], () => a.fprem1(), 2);
        k.Run("fprem 1 0", n, [X80.D(0), X80.D(1)], () => a.fprem(), 2);
        k.Run("fprem inf 1", n, [X80.D(1), X80.Inf], () => a.fprem(), 2);
        k.Run("fprem 1 inf", n, [X80.Inf, X80.D(1)], () => a.fprem(), 2);
        k.Run("fprem 0 1", n, [X80.D(1), X80.D(-0.0)], () => a.fprem(), 2);
        k.Run("fprem denormal 3 denormal", n, [new X80(3, 0), new X80(10, 0)], () => a.fprem(), 2);

        // fxtract
        k.Run("fxtract 10", n, [X80.D(10)], () => a.fxtract(), 2);
        k.Run("fxtract -0.75", n, [X80.D(-0.75)], () => a.fxtract(), 2);
        k.Run("fxtract 0", n, [X80.D(0)], () => a.fxtract(), 2);
        k.Run("fxtract -inf", n, [X80.NegInf], () => a.fxtract(), 2);
        k.Run("fxtract denormal", n, [new X80(0x30, 0)], () => a.fxtract(), 2);
        k.Run("fxtract snan", n, [X80.SNaN(2)], () => a.fxtract(), 2);

        // Constants: no precision rounding, RC picks the 64-bit neighbour.
        for (int rc = 0; rc < 4; rc++)
            k.Run($"constants {rcName[rc]} pc0", X87Case.Cw(0, rc), [], () =>
            {
                a.fldln2(); a.fldlg2(); a.fldl2e(); a.fldl2t(); a.fldpi();
            }, 5);

        // fxam
        (string what, X80 v)[] classes =
        [
            ("+1", X80.D(1)), ("-1", X80.D(-1)), ("+0", X80.D(0)), ("-0", X80.D(-0.0)), ("-inf", X80.NegInf),
            ("qnan", X80.QNaN()), ("-snan", X80.SNaN(1, true)), ("denormal", new X80(1, 0)), ("unnormal", new X80(1, 0x3FFF)),
            ("pseudo-inf", new X80(0, 0x7FFF)),
        ];
        foreach (var (what, v) in classes) k.Run("fxam " + what, n, [v], () => a.fxam());
        k.Run("fxam empty", n, [], () => a.fxam(), 0);
        k.Run("fxam freed -1", n, [X80.D(-1)], () => { a.ffree(st0); a.fxam(); }, 0);
        k.Run("fxam then fdecstp", n, [X80.D(-1)], () => { a.fxam(); a.fdecstp(); }, 0);
        k.Run("fxam then fincstp", n, [X80.D(-1)], () => { a.fxam(); a.fincstp(); }, 0);

        // Compares: C3 C2 C0 (C1 kept: set by fxam of a negative value first).
        var one = X80.D(1);
        var two = X80.D(2);
        ulong m32two = k.Raw(0x4000_0000), m64nan = k.Raw(0x7FF8_0000_0000_0000), m64snan = k.Raw(0x7FF0_0000_0000_0001);
        ulong i16five = k.Raw(5), i32neg = k.Raw(0xFFFF_FFFF);
        k.Run("fcom 1 2", n, [two, one], () => a.fcom(st0, st1), 2);
        k.Run("fcom 2 1", n, [one, two], () => a.fcom(st0, st1), 2);
        k.Run("fcom 1 1", n, [one, one], () => a.fcom(st0, st1), 2);
        k.Run("fcomp m32 2", n, [X80.D(-1), one], () => a.fcomp(__dword_ptr[(long)m32two]));
        k.Run("fcom m64 qnan", n, [one], () => a.fcom(__qword_ptr[(long)m64nan]));
        k.Run("fcom m64 snan", n, [one], () => a.fcom(__qword_ptr[(long)m64snan]));
        k.Run("fcompp", n, [one, two], () => { a.fcompp(); a.fld1(); });
        k.Run("fucom qnan", n, [X80.QNaN(), one], () => a.fucom(st0, st1), 2);
        k.Run("fucomp snan", n, [X80.SNaN(), one], () => a.fucomp(st0, st1));
        k.Run("fucompp qnan", n, [one, X80.QNaN()], () => { a.fucompp(); a.fld1(); });
        k.Run("fcom qnan C1", n, [X80.QNaN(), X80.D(-1)], () => { a.fxam(); a.fcom(st0, st1); }, 2);
        k.Run("ficom m16 5", n, [X80.D(5)], () => a.ficom(__word_ptr[(long)i16five]));
        k.Run("ficomp m32 -1", n, [X80.D(0), X80.D(-2)], () => a.ficomp(__dword_ptr[(long)i32neg]));
        k.Run("ftst -1", n, [X80.D(-1)], () => a.ftst());
        k.Run("ftst -0", n, [X80.D(-0.0)], () => a.ftst());
        k.Run("ftst qnan", n, [X80.QNaN()], () => a.ftst());
        k.Run("C1 then fchs", n, [X80.D(-1)], () => { a.fxam(); a.fchs(); });
        k.Run("C1 then fabs", n, [X80.D(-1)], () => { a.fxam(); a.fabs(); });
        k.Run("C1 then fxch", n, [X80.D(2), X80.D(-1)], () => { a.fxam(); a.fxch(st0, st1); }, 2);
        k.Run("C1 then fld1 fadd", n, [X80.D(-1)], () => { a.fxam(); a.fld1(); a.faddp(st1, st0); });
        k.Run("C1 then fst m80", n, [X80.D(-1)], () => { a.fxam(); a.fst(st1); a.fincstp(); a.fdecstp(); a.fxam(); a.fstp(__tword_ptr[(long)k.Out.Address + 64]); }, 0);
        k.Run("fcom unnormal", n, [one, new X80(1, 0x3FFF)], () => a.fucom(st0, st1), 2);
        g.Success();
    }
}
