using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Pv.Isa;

/// <summary>
/// SSE/SSE2 floating point with MXCSR (docs/pv-abi.md §17): the four rounding modes, overflow,
/// underflow with and without FTZ, NaN results, conversions to integers, comisd. Values measured on
/// Xen 4.17.7 / QEMU 10 TCG; where they differ from the SDM (two NaN operands follow the x87 rule:
/// qnan1 + qnan2 gives qnan2; a denormal operand sets no DE; an unmasked exception raises no #XM),
/// the measured behaviour is expected.
/// </summary>
public sealed class SseFloat : XtfTest
{
    public override string Name => "isa-sse-float";
    public override string Title => "SSE arithmetic: rounding control, flags, NaNs, conversions";
    public override string Category => "isa";

    public override void Body(GuestProgram g)
    {
        var a = g.Asm;
        var k = new IsaCase(g);
        const ulong One = 0x3FF0_0000_0000_0000, Tiny = 0x3C30_0000_0000_0000;
        ulong[] addUp = [0x3ff0000000000000, 0x3ff0000000000000, 0x3ff0000000000001, 0x3ff0000000000000];
        ulong[] addDown = [0xbff0000000000000, 0xbff0000000000001, 0xbff0000000000000, 0xbff0000000000000];
        ulong[] div = [0x3fd5555555555555, 0x3fd5555555555555, 0x3fd5555555555556, 0x3fd5555555555555];
        ulong[] divs = [0x3eaaaaab, 0x3eaaaaaa, 0x3eaaaaab, 0x3eaaaaaa];
        ulong[] sqrt = [0x3ff6a09e667f3bcd, 0x3ff6a09e667f3bcc, 0x3ff6a09e667f3bcd, 0x3ff6a09e667f3bcc];
        ulong[] ovf = [0x7ff0000000000000, 0x7fefffffffffffff, 0x7ff0000000000000, 0x7fefffffffffffff];
        ulong[] zero = [0, 0x8000000000000000, 0, 0];
        ulong[] cvt = [0x5f000000, 0x5effffff, 0x5f000000, 0x5effffff];
        for (uint rc = 0; rc < 4; rc++)
        {
            uint m = 0x1f80 | (rc << 13);
            k.Run(One, 0, Tiny, 0, m, () => a.addsd(xmm0, xmm1)); k.Expect($"addsd 1+2^-60 rc{rc}", addUp[rc], 0, m | 0x20);
            k.Run(0xBFF0_0000_0000_0000, 0, 0xBC30_0000_0000_0000, 0, m, () => a.addsd(xmm0, xmm1)); k.Expect($"addsd -1-2^-60 rc{rc}", addDown[rc], 0, m | 0x20);
            k.Run(One, 0, 0x4008_0000_0000_0000, 0, m, () => a.divsd(xmm0, xmm1)); k.Expect($"divsd 1/3 rc{rc}", div[rc], 0, m | 0x20);
            k.Run(0x3F80_0000, 0, 0x4040_0000, 0, m, () => a.divss(xmm0, xmm1)); k.Expect($"divss 1/3 rc{rc}", divs[rc], 0, m | 0x20);
            k.Run(0, 0, 0x4000_0000_0000_0000, 0, m, () => a.sqrtsd(xmm0, xmm1)); k.Expect($"sqrtsd 2 rc{rc}", sqrt[rc], 0, m | 0x20);
            k.Run(0x7FEF_FFFF_FFFF_FFFF, 0, 0x4000_0000_0000_0000, 0, m, () => a.mulsd(xmm0, xmm1)); k.Expect($"mulsd max*2 rc{rc}", ovf[rc], 0, m | 0x28);
            k.Run(One, 0, 0xBFF0_0000_0000_0000, 0, m, () => a.addsd(xmm0, xmm1)); k.Expect($"addsd 1-1 rc{rc}", zero[rc], 0, m);
            k.Run(0, 0, 0, 0, m, () => { a.mov(rax, 0x7FFF_FFFF_FFFF_FFFF); a.cvtsi2ss(xmm0, rax); }); k.Expect($"cvtsi2ss int64 max rc{rc}", cvt[rc], 0, m | 0x20);
        }
        k.Run(0x0010_0000_0000_0000, 0, 0x3FE0_0000_0000_0001, 0, 0x1f80, () => a.mulsd(xmm0, xmm1)); k.Expect("mulsd underflow", 0x8000000000000, 0, 0x1fb0);
        k.Run(0x0010_0000_0000_0000, 0, 0x3FE0_0000_0000_0001, 0, 0x9f80, () => a.mulsd(xmm0, xmm1)); k.Expect("mulsd underflow FTZ", 0, 0, 0x9fb0);
        k.Run(0x0000_0080_0000, 0, 0x3F00_0001, 0, 0x1f80, () => a.mulss(xmm0, xmm1)); k.Expect("mulss underflow", 0x400000, 0, 0x1fb0);
        k.Run(1, 0, One, 0, 0x1f80, () => a.addsd(xmm0, xmm1)); k.Expect("addsd denormal+1 (no DE)", One, 0, 0x1fa0);
        k.Run(1, 0, One, 0, 0x1fc0, () => a.mulsd(xmm0, xmm1)); k.Expect("mulsd denormal*1 DAZ", 0, 0, 0x1fc0);
        k.Run(0x7FF8_0000_0000_0001, 0, 0x7FF8_0000_0000_0002, 0, 0x1f80, () => a.addsd(xmm0, xmm1)); k.Expect("qnan1+qnan2", 0x7ff8000000000002, 0, 0x1f80);
        k.Run(0x7FF8_0000_0000_0002, 0, 0x7FF8_0000_0000_0001, 0, 0x1f80, () => a.addsd(xmm0, xmm1)); k.Expect("qnan2+qnan1", 0x7ff8000000000002, 0, 0x1f80);
        k.Run(0x7FF0_0000_0000_0001, 0, 0x7FF8_0000_0000_0002, 0, 0x1f80, () => a.addsd(xmm0, xmm1)); k.Expect("snan1+qnan2", 0x7ff8000000000002, 0, 0x1f81);
        k.Run(0x7FF8_0000_0000_0001, 0, 0x7FF0_0000_0000_0002, 0, 0x1f80, () => a.addsd(xmm0, xmm1)); k.Expect("qnan1+snan2", 0x7ff8000000000001, 0, 0x1f81);
        k.Run(0x7FF0_0000_0000_0002, 0, 0x7FF0_0000_0000_0001, 0, 0x1f80, () => a.addsd(xmm0, xmm1)); k.Expect("snan2+snan1", 0x7ff8000000000002, 0, 0x1f81);
        k.Run(One, 0, 0x7FF0_0000_0000_0001, 0, 0x1f80, () => a.addsd(xmm0, xmm1)); k.Expect("1+snan", 0x7ff8000000000001, 0, 0x1f81);
        k.Run(0x7FF0_0000_0000_0000, 0, 0xFFF0_0000_0000_0000, 0, 0x1f80, () => a.addsd(xmm0, xmm1)); k.Expect("inf-inf: default NaN", 0xfff8000000000000, 0, 0x1f81);
        k.Run(0x7FF8_0000_0000_0001, 0, One, 0, 0x1f80, () => a.minsd(xmm0, xmm1)); k.Expect("minsd qnan,1", One, 0, 0x1f81);
        k.Run(One, 0, 0x7FF0_0000_0000_0001, 0, 0x1f80, () => a.minsd(xmm0, xmm1)); k.Expect("minsd 1,snan", 0x7ff0000000000001, 0, 0x1f81);
        k.Run(0, 0, 0x8000_0000_0000_0000, 0, 0x1f80, () => a.maxsd(xmm0, xmm1)); k.Expect("maxsd +0,-0", 0x8000000000000000, 0, 0x1f80);
        k.Run(0x3F80_0000, 0, 0, 0, 0x1d80, () => a.divss(xmm0, xmm1)); k.Expect("divss 1/0 ZE unmasked: no #XM", 0x7f800000, 0, 0x1d84);
        k.Run(0, 0, 0x7FF0_0000_0000_0001, 0, 0x1f80, () => a.cvtsd2ss(xmm0, xmm1)); k.Expect("cvtsd2ss snan", 0x7fc00000, 0, 0x1f81);
        k.Run(0x3F80_0000_3F80_0000, 0x3F80_0000_3F80_0000, 0x4000_0000_4000_0000, 0x4000_0000_4000_0000, 0x1f80, () => a.dpps(xmm0, xmm1, 0xF1));
        k.Expect("dpps", 0x41000000, 0, 0x1f80);
        k.Run(0, 0, 0xBFE0_0000_0000_0000, 0, 0x1f80, () => a.roundsd(xmm0, xmm1, 2)); k.Expect("roundsd -0.5 up", 0x8000000000000000, 0, 0x1fa0);
        k.Run(0, 0, 0x4004_0000_0000_0000, 0, 0x1f80, () => a.roundsd(xmm0, xmm1, 0)); k.Expect("roundsd 2.5 nearest", 0x4000000000000000, 0, 0x1fa0);
        // conversions to integers: the result in rax via movq
        k.Run(0, 0, 0x4004_0000_0000_0000, 0, 0x1f80, () => { a.cvtsd2si(rax, xmm1); a.movq(xmm0, rax); }); k.Expect("cvtsd2si 2.5", 2, 0, 0x1fa0);
        k.Run(0, 0, 0x4004_0000_0000_0000, 0, 0x1f80, () => { a.cvttsd2si(rax, xmm1); a.movq(xmm0, rax); }); k.Expect("cvttsd2si 2.5", 2, 0, 0x1fa0);
        k.Run(0, 0, 0xC004_0000_0000_0000, 0, 0x5f80, () => { a.cvtsd2si(rax, xmm1); a.movq(xmm0, rax); }); k.Expect("cvtsd2si -2.5 up", unchecked((ulong)-2L), 0, 0x5fa0);
        k.Run(0, 0, 0x41E0_0000_0000_0000, 0, 0x1f80, () => { a.cvttsd2si(eax, xmm1); a.movq(xmm0, rax); }); k.Expect("cvttsd2si 2^31: indefinite", 0x80000000, 0, 0x1f81);
        k.Run(0, 0, 0x7FF8_0000_0000_0000, 0, 0x1f80, () => { a.cvttsd2si(rax, xmm1); a.movq(xmm0, rax); }); k.Expect("cvttsd2si NaN: indefinite", 0x8000000000000000, 0, 0x1f81);
        k.Run(0x7FF8_0000_0000_0000, 0, One, 0, 0x1f80, () => a.comisd(xmm0, xmm1));
        g.ExpectEq(k.Flags & 0x8d5, 0x45, "comisd qnan: unordered");
        g.ExpectEq(k.Mxcsr, 0x1f81, "comisd qnan: IE");
        k.Run(One, 0, 0x4000_0000_0000_0000, 0, 0x1f80, () => a.ucomisd(xmm0, xmm1));
        g.ExpectEq(k.Flags & 0x8d5, 0x1, "ucomisd 1,2: below");
        k.Run(0x3F80_0000_4000_0000, 0x4040_0000_4080_0000, 0x3F80_0000_3F80_0000, 0x3F80_0000_3F80_0000, 0x1f80, () => a.addps(xmm0, xmm1));
        k.Expect("addps", 0x4000_0000_4040_0000, 0x4080_0000_40A0_0000, 0x1f80);
        k.Run(0x4000_0000_0000_0000, One, 0, 0, 0x1f80, () => a.cvtpd2ps(xmm0, xmm0)); k.Expect("cvtpd2ps", 0x3F80_0000_4000_0000, 0, 0x1f80);
        k.Run(0, 0, 0xFFFF_FFFF_0000_0003, 0, 0x1f80, () => a.cvtdq2pd(xmm0, xmm1)); k.Expect("cvtdq2pd", 0x4008_0000_0000_0000, 0xBFF0_0000_0000_0000, 0x1f80);
        k.Run(0, 0, 0x3FC0_0000_4020_0000, 0xC020_0000_3F00_0000, 0x1f80, () => a.cvtps2dq(xmm0, xmm1)); k.Expect("cvtps2dq", 0x0000_0002_0000_0002, 0xFFFF_FFFE_0000_0000, 0x1fa0);
        g.Success();
    }
}
