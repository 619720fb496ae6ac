using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Pv.Isa;

/// <summary>
/// Integer SSE2/SSSE3/SSE4.x, MMX, AES-NI and PCLMULQDQ on known values (docs/pv-abi.md §17): AES
/// round 1 from FIPS-197 appendix B, carry-less
/// products, pcmpistri substring and set searches, pshufb, palignr, saturating packs, and the x87
/// tag word an MMX instruction and emms leave (read through fxsave).
/// </summary>
public sealed class SseInteger : XtfTest
{
    public override string Name => "isa-sse-integer";
    public override string Title => "SSE integer, MMX, AES-NI, PCLMULQDQ, pcmpistri";
    public override string Category => "isa";

    public override void Body(GuestProgram g)
    {
        var a = g.Asm;
        var k = new IsaCase(g);
        void T(string what, ulong d0, ulong d1, ulong s0, ulong s1, Action ins, ulong lo, ulong hi)
        {
            k.Run(d0, d1, s0, s1, 0x1f80, ins);
            k.Expect(what, lo, hi, 0x1f80);
        }
        // FIPS-197 appendix B, round 1: state after the initial AddRoundKey, round key 1.
        T("aesenc", 0x2be2f4a0bee33d19, 0x0848f8e92a8dc69a, 0xb12c548817fefaa0, 0x05766c2a3939a323,
            () => a.aesenc(xmm0, xmm1), 0x2b359f68f27f9ca4, 0x49506a0243ea5b6b);
        // a last round on fixed inputs (the value both hosts give; no published vector)
        T("aesenclast", 0xc3a12e401b8b59eb, 0xd2e7841e421338f2, 0x8925eec9a8f914d0, 0xa60c63b6c80c3fe1,
            () => a.aesenclast(xmm0, xmm1), 0x26b1e9c01d842539, 0x8a3ea8c4e6316068);
        T("pclmulqdq 3*3", 3, 0, 3, 0, () => a.pclmulqdq(xmm0, xmm1, 0), 5, 0);
        T("pclmulqdq 2^63*2 (high qwords)", 0, 0x8000_0000_0000_0000, 0, 2, () => a.pclmulqdq(xmm0, xmm1, 0x11), 0, 1);
        // pcmpistri: needle "abc" in xmm0, haystack "xxabcx" in xmm1
        k.Run(0x636261, 0, 0x0078_6362_6178_78, 0, 0x1f80, () => { a.pcmpistri(xmm0, xmm1, 0x0c); a.movq(xmm0, rcx); });
        k.Expect("pcmpistri equal ordered", 2, 0, 0x1f80);
        g.ExpectEq(k.Flags & 0x8d5, 0xc1, "pcmpistri flags: CF ZF SF");
        k.Run(0x6362, 0, 0x0078_6362_6178_78, 0, 0x1f80, () => { a.pcmpistri(xmm0, xmm1, 0x00); a.movq(xmm0, rcx); });
        k.Expect("pcmpistri equal any", 3, 0, 0x1f80);
        k.Run(0x6362, 0, 0x0078_6362_6178_78, 0, 0x1f80, () => { a.pcmpistri(xmm0, xmm1, 0x40); a.movq(xmm0, rcx); });
        k.Expect("pcmpistri equal any, most significant", 4, 0, 0x1f80);
        T("pcmpistrm ranges a-z: bytes 0, 2, 3", 0x7a61, 0, 0x0041_7a62_5a61, 0, () => a.pcmpistrm(xmm0, xmm1, 0x04), 0x0d, 0);
        T("pshufb", 0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908, 0x0001_0203_0405_0607, 0x8080_8080_0f0f_0f0f,
            () => a.pshufb(xmm0, xmm1), 0x0001_0203_0405_0607, 0x0000_0000_0f0f_0f0f);
        T("palignr 3", 0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908, 0x1716_1514_1312_1110, 0x1f1e_1d1c_1b1a_1918,
            () => a.palignr(xmm0, xmm1, 3), 0x1a19_1817_1615_1413, 0x0201_001f_1e1d_1c1b);
        T("packsswb", 0x0080_ff7f_0100_fffe, 0, 0x7fff_8000_0000_0001, 0,
            () => a.packsswb(xmm0, xmm1), 0x7f80_7ffe, 0x7f80_0001);
        T("paddusb", 0xfff0_0102, 0, 0x0020_0304, 0, () => a.paddusb(xmm0, xmm1), 0xffff_0406, 0);
        T("pmaddwd", 0x0003_0002, 0, 0x0005_0004, 0, () => a.pmaddwd(xmm0, xmm1), 23, 0);
        T("pminsd", 0xffff_ffff_0000_0005, 0, 0x0000_0001_0000_0003, 0, () => a.pminsd(xmm0, xmm1), 0xffff_ffff_0000_0003, 0);
        T("pmovsxbw", 0, 0, 0x80ff_7f01, 0, () => a.pmovsxbw(xmm0, xmm1), 0xff80_ffff_007f_0001, 0);
        T("psrad 4", 0x8000_0000_0000_0100, 0, 0, 0, () => a.psrad(xmm0, 4), 0xf800_0000_0000_0010, 0);
        T("pshufd 0x1b", 0x1111_1111_0000_0000, 0x3333_3333_2222_2222, 0x1111_1111_0000_0000, 0x3333_3333_2222_2222,
            () => a.pshufd(xmm0, xmm1, 0x1b), 0x2222_2222_3333_3333, 0x0000_0000_1111_1111);
        k.Run(0x0000_0001_0000_0001, 0, 0x0000_0001_0000_0000, 0, 0x1f80, () => a.ptest(xmm0, xmm1));
        g.ExpectEq(k.Flags & 0x8d5, 1, "ptest: CF, not ZF");
        // MMX: paddw mm0, mm1; the x87 tag word (fxsave's abridged FTW) is then all valid, emms empties it.
        var fx = g.Alloc(1024, 16, "fx");
        k.Run(0x0001_0002_0003_0004, 0, 0x0010_0020_0030_0040, 0, 0x1f80, () =>
        {
            a.movdq2q(mm0, xmm0);
            a.movdq2q(mm1, xmm1);
            a.paddw(mm0, mm1);
            a.movq2dq(xmm0, mm0);
            a.fxsave64(__[(long)fx.Address]);
            a.emms();
            a.fxsave64(__[(long)fx.Address + 512]);
        });
        k.Expect("paddw mm", 0x0011_0022_0033_0044, 0, 0x1f80);
        g.ExpectEq(fx.U8(4), 0xff, "abridged ftw after paddw: all valid");
        // The SDM has an MMX write set the register's sign/exponent to 0xffff; QEMU TCG leaves them (0 here), measured.
        g.ExpectEq(fx.U16(40), 0, "st0 sign/exponent after paddw (QEMU: unchanged)");
        g.ExpectEq(fx.U64(32), 0x0011_0022_0033_0044, "st0 significand = mm0");
        g.ExpectEq(fx.U8(512 + 4), 0, "abridged ftw after emms: all empty");
        g.Success();
    }
}
