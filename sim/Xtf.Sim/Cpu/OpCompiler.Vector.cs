using Iced.Intel;

namespace Xtf.Sim.Cpu;

/// <summary>The operations of <see cref="H.Vector"/> (<see cref="Op.Ext"/>).</summary>
internal enum VOp : byte
{
    None,
    // moves (Aux2: element width of a partial move)
    MovFull, MovZx, MovMerge, MovHiLoad, MovHiStore, MovHl, MovDupLo32, MovDupHi32, MovDup64, MovMaskB, MovMaskPs, MovMaskPd,
    MaskMov, Emms,
    // integer lanes (Aux2: element size in bytes)
    PAdd, PAddS, PAddUS, PSub, PSubS, PSubUS, PCmpEq, PCmpGt, PMinS, PMinU, PMaxS, PMaxU, PAvg, PMulLo, PMulHiS, PMulHiU,
    PAnd, PAndN, POr, PXor, PSign, PAbs, PMulUdq, PMulDq, PMAddWd, PSadBw, PMAddUbsw, PMulHrsw,
    PShl, PShr, PSar, PShlImm, PShrImm, PSarImm, PSlldq, PSrldq,
    PackSS, PackUS, UnpackLo, UnpackHi, PShufD, PShufHw, PShufLw, PShufW, PShufB, PAlignR,
    PHAdd, PHAddS, PHSub, PHSubS, PMovSx, PMovZx, PHMinPosUw, PBlendW, PBlendVB, PTest, MpSadBw,
    PInsr, PExtr, PCmpStr,
    // floating point (Aux2: 0 ps, 1 pd, 2 ss, 3 sd)
    FAdd, FSub, FMul, FDiv, FSqrt, FMin, FMax, FCmp, FComi, FUcomi, FRcp, FRsqrt,
    FAndN, FAddSub, FHAdd, FHSub, FRound, FDp, FBlend, FBlendV, FInsertPs, FExtractPs, FShuf, FUnpackLo, FUnpackHi,
    // conversions
    CvtI2F, CvtF2I, CvtF2F, CvtDq2F, CvtF2Dq, CvtPi2F, CvtF2Pi,
    // crypto
    AesEnc, AesEncLast, AesDec, AesDecLast, AesImc, AesKeyGen, Pclmul,
    // state
    Ldmxcsr, Stmxcsr, Fxsave, Fxrstor, Xsave, XsaveOpt, XsaveC, Xrstor, Xgetbv,
}

/// <summary>Feature numbers for <see cref="Op.Pad2"/>: bit positions in <see cref="CpuState.VectorFeatures"/>.</summary>
public static class VFeatures
{
    public const byte Mmx = 0, Sse = 1, Sse2 = 2, Sse3 = 3, Ssse3 = 4, Sse41 = 5, Sse42 = 6, Aes = 7, Pclmul = 8,
        Fxsr = 9, Xsave = 10, XsaveOpt = 11, XsaveC = 12, XgetbvEcx1 = 13, XsaveCAdvertised = 14;
}

internal static class VFeat
{
    public const byte Mmx = 0, Sse = 1, Sse2 = 2, Sse3 = 3, Ssse3 = 4, Sse41 = 5, Sse42 = 6, Aes = 7, Pclmul = 8,
        Fxsr = 9, Xsave = 10, XsaveOpt = 11, XsaveC = 12, XgetbvEcx1 = 13, XsaveCAdvertised = 14;
}

// SSE to SSE4.2, AES-NI, PCLMULQDQ, MMX and the FXSAVE/XSAVE family: Iced instruction -> Op with
// H = H.Vector and Op.Ext naming the operation (executed by X86Interpreter.Vector.cs).
//
// Operands: A = operand 0's register, B = operand 1's register, C = operand 2's register (xmm, mm or
// GPR numbers); the memory operand (at most one) through SetMem with Size = its width in bytes,
// Kinds.KMem when it is operand 0, KSrcMem when it is a source. Aux: bits 0-1 kind of operand 0,
// bits 2-3 kind of operand 1 (VK*), bit 4 the 16-byte alignment check, bit 5 an MMX register is
// used (the x87 -> MMX transition), bits 6-7 kind of operand 2. Pad2: the CPUID feature (VFeat).
internal sealed partial class OpCompiler
{
    internal const byte VkXmm = 0, VkMm = 1, VkGpr = 2, VkMem = 3;
    internal const byte VAuxAlign = 0x10, VAuxMmx = 0x20;
    /// <summary>Kinds bit: operand 1 is the immediate (psllw xmm, imm8 ...).</summary>
    internal const byte VKindsImmSource = Op.KCl;

    private readonly record struct VDef(VOp Op, byte P, byte Feat, bool Unaligned = false);

    private static readonly Dictionary<Mnemonic, VDef> VectorTable = BuildVectorTable();

    private static Dictionary<Mnemonic, VDef> BuildVectorTable()
    {
        var t = new Dictionary<Mnemonic, VDef>();
        void D(Mnemonic m, VOp op, byte p, byte feat, bool unaligned = false) => t[m] = new VDef(op, p, feat, unaligned);
        const byte S = VFeat.Sse, S2 = VFeat.Sse2, S3 = VFeat.Sse3, SS3 = VFeat.Ssse3, S41 = VFeat.Sse41, S42 = VFeat.Sse42, MX = VFeat.Mmx;

        D(Mnemonic.Movaps, VOp.MovFull, 0, S); D(Mnemonic.Movups, VOp.MovFull, 0, S, true);
        D(Mnemonic.Movapd, VOp.MovFull, 0, S2); D(Mnemonic.Movupd, VOp.MovFull, 0, S2, true);
        D(Mnemonic.Movdqa, VOp.MovFull, 0, S2); D(Mnemonic.Movdqu, VOp.MovFull, 0, S2, true);
        D(Mnemonic.Lddqu, VOp.MovFull, 0, S3, true);
        D(Mnemonic.Movntps, VOp.MovFull, 0, S); D(Mnemonic.Movntpd, VOp.MovFull, 0, S2); D(Mnemonic.Movntdq, VOp.MovFull, 0, S2);
        D(Mnemonic.Movntdqa, VOp.MovFull, 0, S41);
        D(Mnemonic.Movntq, VOp.MovFull, 0, S);
        D(Mnemonic.Movd, VOp.MovZx, 4, MX); D(Mnemonic.Movq, VOp.MovZx, 8, MX);
        D(Mnemonic.Movq2dq, VOp.MovZx, 8, S2); D(Mnemonic.Movdq2q, VOp.MovZx, 8, S2);
        D(Mnemonic.Movss, VOp.MovMerge, 4, S); D(Mnemonic.Movsd, VOp.MovMerge, 8, S2);
        D(Mnemonic.Movlps, VOp.MovMerge, 8, S); D(Mnemonic.Movlpd, VOp.MovMerge, 8, S2);
        D(Mnemonic.Movhps, VOp.MovHiLoad, 8, S); D(Mnemonic.Movhpd, VOp.MovHiLoad, 8, S2);
        D(Mnemonic.Movlhps, VOp.MovHiLoad, 8, S); D(Mnemonic.Movhlps, VOp.MovHl, 8, S);
        D(Mnemonic.Movsldup, VOp.MovDupLo32, 0, S3); D(Mnemonic.Movshdup, VOp.MovDupHi32, 0, S3); D(Mnemonic.Movddup, VOp.MovDup64, 0, S3);
        D(Mnemonic.Pmovmskb, VOp.MovMaskB, 0, S); D(Mnemonic.Movmskps, VOp.MovMaskPs, 0, S); D(Mnemonic.Movmskpd, VOp.MovMaskPd, 0, S2);
        D(Mnemonic.Maskmovq, VOp.MaskMov, 0, S); D(Mnemonic.Maskmovdqu, VOp.MaskMov, 0, S2);
        D(Mnemonic.Emms, VOp.Emms, 0, MX);

        D(Mnemonic.Paddb, VOp.PAdd, 1, MX); D(Mnemonic.Paddw, VOp.PAdd, 2, MX); D(Mnemonic.Paddd, VOp.PAdd, 4, MX); D(Mnemonic.Paddq, VOp.PAdd, 8, S2);
        D(Mnemonic.Paddsb, VOp.PAddS, 1, MX); D(Mnemonic.Paddsw, VOp.PAddS, 2, MX); D(Mnemonic.Paddusb, VOp.PAddUS, 1, MX); D(Mnemonic.Paddusw, VOp.PAddUS, 2, MX);
        D(Mnemonic.Psubb, VOp.PSub, 1, MX); D(Mnemonic.Psubw, VOp.PSub, 2, MX); D(Mnemonic.Psubd, VOp.PSub, 4, MX); D(Mnemonic.Psubq, VOp.PSub, 8, S2);
        D(Mnemonic.Psubsb, VOp.PSubS, 1, MX); D(Mnemonic.Psubsw, VOp.PSubS, 2, MX); D(Mnemonic.Psubusb, VOp.PSubUS, 1, MX); D(Mnemonic.Psubusw, VOp.PSubUS, 2, MX);
        D(Mnemonic.Pcmpeqb, VOp.PCmpEq, 1, MX); D(Mnemonic.Pcmpeqw, VOp.PCmpEq, 2, MX); D(Mnemonic.Pcmpeqd, VOp.PCmpEq, 4, MX); D(Mnemonic.Pcmpeqq, VOp.PCmpEq, 8, S41);
        D(Mnemonic.Pcmpgtb, VOp.PCmpGt, 1, MX); D(Mnemonic.Pcmpgtw, VOp.PCmpGt, 2, MX); D(Mnemonic.Pcmpgtd, VOp.PCmpGt, 4, MX); D(Mnemonic.Pcmpgtq, VOp.PCmpGt, 8, S42);
        D(Mnemonic.Pminsb, VOp.PMinS, 1, S41); D(Mnemonic.Pminsw, VOp.PMinS, 2, S); D(Mnemonic.Pminsd, VOp.PMinS, 4, S41);
        D(Mnemonic.Pminub, VOp.PMinU, 1, S); D(Mnemonic.Pminuw, VOp.PMinU, 2, S41); D(Mnemonic.Pminud, VOp.PMinU, 4, S41);
        D(Mnemonic.Pmaxsb, VOp.PMaxS, 1, S41); D(Mnemonic.Pmaxsw, VOp.PMaxS, 2, S); D(Mnemonic.Pmaxsd, VOp.PMaxS, 4, S41);
        D(Mnemonic.Pmaxub, VOp.PMaxU, 1, S); D(Mnemonic.Pmaxuw, VOp.PMaxU, 2, S41); D(Mnemonic.Pmaxud, VOp.PMaxU, 4, S41);
        D(Mnemonic.Pavgb, VOp.PAvg, 1, S); D(Mnemonic.Pavgw, VOp.PAvg, 2, S);
        D(Mnemonic.Pmullw, VOp.PMulLo, 2, MX); D(Mnemonic.Pmulld, VOp.PMulLo, 4, S41);
        D(Mnemonic.Pmulhw, VOp.PMulHiS, 2, MX); D(Mnemonic.Pmulhuw, VOp.PMulHiU, 2, S);
        D(Mnemonic.Pand, VOp.PAnd, 8, MX); D(Mnemonic.Pandn, VOp.PAndN, 8, MX); D(Mnemonic.Por, VOp.POr, 8, MX); D(Mnemonic.Pxor, VOp.PXor, 8, MX);
        D(Mnemonic.Andps, VOp.PAnd, 8, S); D(Mnemonic.Andnps, VOp.PAndN, 8, S); D(Mnemonic.Orps, VOp.POr, 8, S); D(Mnemonic.Xorps, VOp.PXor, 8, S);
        D(Mnemonic.Andpd, VOp.PAnd, 8, S2); D(Mnemonic.Andnpd, VOp.PAndN, 8, S2); D(Mnemonic.Orpd, VOp.POr, 8, S2); D(Mnemonic.Xorpd, VOp.PXor, 8, S2);
        D(Mnemonic.Psignb, VOp.PSign, 1, SS3); D(Mnemonic.Psignw, VOp.PSign, 2, SS3); D(Mnemonic.Psignd, VOp.PSign, 4, SS3);
        D(Mnemonic.Pabsb, VOp.PAbs, 1, SS3); D(Mnemonic.Pabsw, VOp.PAbs, 2, SS3); D(Mnemonic.Pabsd, VOp.PAbs, 4, SS3);
        D(Mnemonic.Pmuludq, VOp.PMulUdq, 8, S2); D(Mnemonic.Pmuldq, VOp.PMulDq, 8, S41);
        D(Mnemonic.Pmaddwd, VOp.PMAddWd, 4, MX); D(Mnemonic.Psadbw, VOp.PSadBw, 8, S);
        D(Mnemonic.Pmaddubsw, VOp.PMAddUbsw, 2, SS3); D(Mnemonic.Pmulhrsw, VOp.PMulHrsw, 2, SS3);
        D(Mnemonic.Psllw, VOp.PShl, 2, MX); D(Mnemonic.Pslld, VOp.PShl, 4, MX); D(Mnemonic.Psllq, VOp.PShl, 8, MX);
        D(Mnemonic.Psrlw, VOp.PShr, 2, MX); D(Mnemonic.Psrld, VOp.PShr, 4, MX); D(Mnemonic.Psrlq, VOp.PShr, 8, MX);
        D(Mnemonic.Psraw, VOp.PSar, 2, MX); D(Mnemonic.Psrad, VOp.PSar, 4, MX);
        D(Mnemonic.Pslldq, VOp.PSlldq, 1, S2); D(Mnemonic.Psrldq, VOp.PSrldq, 1, S2);
        D(Mnemonic.Packsswb, VOp.PackSS, 2, MX); D(Mnemonic.Packssdw, VOp.PackSS, 4, MX);
        D(Mnemonic.Packuswb, VOp.PackUS, 2, MX); D(Mnemonic.Packusdw, VOp.PackUS, 4, S41);
        D(Mnemonic.Punpcklbw, VOp.UnpackLo, 1, MX); D(Mnemonic.Punpcklwd, VOp.UnpackLo, 2, MX); D(Mnemonic.Punpckldq, VOp.UnpackLo, 4, MX); D(Mnemonic.Punpcklqdq, VOp.UnpackLo, 8, S2);
        D(Mnemonic.Punpckhbw, VOp.UnpackHi, 1, MX); D(Mnemonic.Punpckhwd, VOp.UnpackHi, 2, MX); D(Mnemonic.Punpckhdq, VOp.UnpackHi, 4, MX); D(Mnemonic.Punpckhqdq, VOp.UnpackHi, 8, S2);
        D(Mnemonic.Unpcklps, VOp.UnpackLo, 4, S); D(Mnemonic.Unpckhps, VOp.UnpackHi, 4, S);
        D(Mnemonic.Unpcklpd, VOp.UnpackLo, 8, S2); D(Mnemonic.Unpckhpd, VOp.UnpackHi, 8, S2);
        D(Mnemonic.Pshufd, VOp.PShufD, 4, S2); D(Mnemonic.Pshufhw, VOp.PShufHw, 2, S2); D(Mnemonic.Pshuflw, VOp.PShufLw, 2, S2);
        D(Mnemonic.Pshufw, VOp.PShufW, 2, S); D(Mnemonic.Pshufb, VOp.PShufB, 1, SS3); D(Mnemonic.Palignr, VOp.PAlignR, 1, SS3);
        D(Mnemonic.Phaddw, VOp.PHAdd, 2, SS3); D(Mnemonic.Phaddd, VOp.PHAdd, 4, SS3); D(Mnemonic.Phaddsw, VOp.PHAddS, 2, SS3);
        D(Mnemonic.Phsubw, VOp.PHSub, 2, SS3); D(Mnemonic.Phsubd, VOp.PHSub, 4, SS3); D(Mnemonic.Phsubsw, VOp.PHSubS, 2, SS3);
        // pmovsx/zx: P = source element size | destination element size << 4
        D(Mnemonic.Pmovsxbw, VOp.PMovSx, 0x21, S41); D(Mnemonic.Pmovsxbd, VOp.PMovSx, 0x41, S41); D(Mnemonic.Pmovsxbq, VOp.PMovSx, 0x81, S41);
        D(Mnemonic.Pmovsxwd, VOp.PMovSx, 0x42, S41); D(Mnemonic.Pmovsxwq, VOp.PMovSx, 0x82, S41); D(Mnemonic.Pmovsxdq, VOp.PMovSx, 0x84, S41);
        D(Mnemonic.Pmovzxbw, VOp.PMovZx, 0x21, S41); D(Mnemonic.Pmovzxbd, VOp.PMovZx, 0x41, S41); D(Mnemonic.Pmovzxbq, VOp.PMovZx, 0x81, S41);
        D(Mnemonic.Pmovzxwd, VOp.PMovZx, 0x42, S41); D(Mnemonic.Pmovzxwq, VOp.PMovZx, 0x82, S41); D(Mnemonic.Pmovzxdq, VOp.PMovZx, 0x84, S41);
        D(Mnemonic.Phminposuw, VOp.PHMinPosUw, 2, S41); D(Mnemonic.Pblendw, VOp.PBlendW, 2, S41); D(Mnemonic.Pblendvb, VOp.PBlendVB, 1, S41);
        D(Mnemonic.Ptest, VOp.PTest, 8, S41); D(Mnemonic.Mpsadbw, VOp.MpSadBw, 1, S41);
        D(Mnemonic.Pinsrb, VOp.PInsr, 1, S41); D(Mnemonic.Pinsrw, VOp.PInsr, 2, S); D(Mnemonic.Pinsrd, VOp.PInsr, 4, S41); D(Mnemonic.Pinsrq, VOp.PInsr, 8, S41);
        D(Mnemonic.Pextrb, VOp.PExtr, 1, S41); D(Mnemonic.Pextrw, VOp.PExtr, 2, S); D(Mnemonic.Pextrd, VOp.PExtr, 4, S41); D(Mnemonic.Pextrq, VOp.PExtr, 8, S41);
        // pcmpXstrX: P bit 0 explicit lengths, bit 1 mask result (else index)
        D(Mnemonic.Pcmpistri, VOp.PCmpStr, 0, S42, true); D(Mnemonic.Pcmpestri, VOp.PCmpStr, 1, S42, true);
        D(Mnemonic.Pcmpistrm, VOp.PCmpStr, 2, S42, true); D(Mnemonic.Pcmpestrm, VOp.PCmpStr, 3, S42, true);

        void F(Mnemonic ps, Mnemonic pd, Mnemonic ss, Mnemonic sd, VOp op)
        {
            D(ps, op, 0, S); D(pd, op, 1, S2);
            if (ss != Mnemonic.INVALID) D(ss, op, 2, S);
            if (sd != Mnemonic.INVALID) D(sd, op, 3, S2);
        }
        F(Mnemonic.Addps, Mnemonic.Addpd, Mnemonic.Addss, Mnemonic.Addsd, VOp.FAdd);
        F(Mnemonic.Subps, Mnemonic.Subpd, Mnemonic.Subss, Mnemonic.Subsd, VOp.FSub);
        F(Mnemonic.Mulps, Mnemonic.Mulpd, Mnemonic.Mulss, Mnemonic.Mulsd, VOp.FMul);
        F(Mnemonic.Divps, Mnemonic.Divpd, Mnemonic.Divss, Mnemonic.Divsd, VOp.FDiv);
        F(Mnemonic.Sqrtps, Mnemonic.Sqrtpd, Mnemonic.Sqrtss, Mnemonic.Sqrtsd, VOp.FSqrt);
        F(Mnemonic.Minps, Mnemonic.Minpd, Mnemonic.Minss, Mnemonic.Minsd, VOp.FMin);
        F(Mnemonic.Maxps, Mnemonic.Maxpd, Mnemonic.Maxss, Mnemonic.Maxsd, VOp.FMax);
        F(Mnemonic.Cmpps, Mnemonic.Cmppd, Mnemonic.Cmpss, Mnemonic.Cmpsd, VOp.FCmp);
        D(Mnemonic.Comiss, VOp.FComi, 2, S); D(Mnemonic.Comisd, VOp.FComi, 3, S2);
        D(Mnemonic.Ucomiss, VOp.FUcomi, 2, S); D(Mnemonic.Ucomisd, VOp.FUcomi, 3, S2);
        D(Mnemonic.Rcpps, VOp.FRcp, 0, S); D(Mnemonic.Rcpss, VOp.FRcp, 2, S);
        D(Mnemonic.Rsqrtps, VOp.FRsqrt, 0, S); D(Mnemonic.Rsqrtss, VOp.FRsqrt, 2, S);
        D(Mnemonic.Addsubps, VOp.FAddSub, 0, S3); D(Mnemonic.Addsubpd, VOp.FAddSub, 1, S3);
        D(Mnemonic.Haddps, VOp.FHAdd, 0, S3); D(Mnemonic.Haddpd, VOp.FHAdd, 1, S3);
        D(Mnemonic.Hsubps, VOp.FHSub, 0, S3); D(Mnemonic.Hsubpd, VOp.FHSub, 1, S3);
        D(Mnemonic.Roundps, VOp.FRound, 0, S41); D(Mnemonic.Roundpd, VOp.FRound, 1, S41); D(Mnemonic.Roundss, VOp.FRound, 2, S41); D(Mnemonic.Roundsd, VOp.FRound, 3, S41);
        D(Mnemonic.Dpps, VOp.FDp, 0, S41); D(Mnemonic.Dppd, VOp.FDp, 1, S41);
        D(Mnemonic.Blendps, VOp.FBlend, 0, S41); D(Mnemonic.Blendpd, VOp.FBlend, 1, S41);
        D(Mnemonic.Blendvps, VOp.FBlendV, 0, S41); D(Mnemonic.Blendvpd, VOp.FBlendV, 1, S41);
        D(Mnemonic.Insertps, VOp.FInsertPs, 0, S41); D(Mnemonic.Extractps, VOp.FExtractPs, 0, S41);
        D(Mnemonic.Shufps, VOp.FShuf, 0, S); D(Mnemonic.Shufpd, VOp.FShuf, 1, S2);

        // conversions: P = source type | destination type << 2 (0 ps, 1 pd, 2 ss, 3 sd) or truncation bit 4
        D(Mnemonic.Cvtsi2ss, VOp.CvtI2F, 2, S); D(Mnemonic.Cvtsi2sd, VOp.CvtI2F, 3, S2);
        D(Mnemonic.Cvtss2si, VOp.CvtF2I, 2, S); D(Mnemonic.Cvttss2si, VOp.CvtF2I, 0x12, S);
        D(Mnemonic.Cvtsd2si, VOp.CvtF2I, 3, S2); D(Mnemonic.Cvttsd2si, VOp.CvtF2I, 0x13, S2);
        D(Mnemonic.Cvtss2sd, VOp.CvtF2F, 2 | 3 << 2, S2); D(Mnemonic.Cvtsd2ss, VOp.CvtF2F, 3 | 2 << 2, S2);
        D(Mnemonic.Cvtps2pd, VOp.CvtF2F, 0 | 1 << 2, S2); D(Mnemonic.Cvtpd2ps, VOp.CvtF2F, 1 | 0 << 2, S2);
        D(Mnemonic.Cvtdq2ps, VOp.CvtDq2F, 0, S2); D(Mnemonic.Cvtdq2pd, VOp.CvtDq2F, 1, S2);
        D(Mnemonic.Cvtps2dq, VOp.CvtF2Dq, 0, S2); D(Mnemonic.Cvttps2dq, VOp.CvtF2Dq, 0x10, S2);
        D(Mnemonic.Cvtpd2dq, VOp.CvtF2Dq, 1, S2); D(Mnemonic.Cvttpd2dq, VOp.CvtF2Dq, 0x11, S2);
        D(Mnemonic.Cvtpi2ps, VOp.CvtPi2F, 0, S); D(Mnemonic.Cvtpi2pd, VOp.CvtPi2F, 1, S2);
        D(Mnemonic.Cvtps2pi, VOp.CvtF2Pi, 0, S); D(Mnemonic.Cvttps2pi, VOp.CvtF2Pi, 0x10, S);
        D(Mnemonic.Cvtpd2pi, VOp.CvtF2Pi, 1, S2); D(Mnemonic.Cvttpd2pi, VOp.CvtF2Pi, 0x11, S2);

        D(Mnemonic.Aesenc, VOp.AesEnc, 0, VFeat.Aes); D(Mnemonic.Aesenclast, VOp.AesEncLast, 0, VFeat.Aes);
        D(Mnemonic.Aesdec, VOp.AesDec, 0, VFeat.Aes); D(Mnemonic.Aesdeclast, VOp.AesDecLast, 0, VFeat.Aes);
        D(Mnemonic.Aesimc, VOp.AesImc, 0, VFeat.Aes); D(Mnemonic.Aeskeygenassist, VOp.AesKeyGen, 0, VFeat.Aes);
        D(Mnemonic.Pclmulqdq, VOp.Pclmul, 0, VFeat.Pclmul);

        D(Mnemonic.Ldmxcsr, VOp.Ldmxcsr, 0, S, true); D(Mnemonic.Stmxcsr, VOp.Stmxcsr, 0, S, true);
        D(Mnemonic.Fxsave, VOp.Fxsave, 0, VFeat.Fxsr, true); D(Mnemonic.Fxrstor, VOp.Fxrstor, 0, VFeat.Fxsr, true);
        D(Mnemonic.Fxsave64, VOp.Fxsave, 1, VFeat.Fxsr, true); D(Mnemonic.Fxrstor64, VOp.Fxrstor, 1, VFeat.Fxsr, true);
        D(Mnemonic.Xsave, VOp.Xsave, 0, VFeat.Xsave, true); D(Mnemonic.Xsaveopt, VOp.XsaveOpt, 0, VFeat.XsaveOpt, true);
        D(Mnemonic.Xsavec, VOp.XsaveC, 0, VFeat.XsaveC, true); D(Mnemonic.Xrstor, VOp.Xrstor, 0, VFeat.Xsave, true);
        D(Mnemonic.Xsave64, VOp.Xsave, 1, VFeat.Xsave, true); D(Mnemonic.Xsaveopt64, VOp.XsaveOpt, 1, VFeat.XsaveOpt, true);
        D(Mnemonic.Xsavec64, VOp.XsaveC, 1, VFeat.XsaveC, true); D(Mnemonic.Xrstor64, VOp.Xrstor, 1, VFeat.Xsave, true);
        D(Mnemonic.Pcmpestri64, VOp.PCmpStr, 5, S42, true); D(Mnemonic.Pcmpestrm64, VOp.PCmpStr, 7, S42, true);
        D(Mnemonic.Xgetbv, VOp.Xgetbv, 0, VFeat.Xsave, true);
        return t;
    }

    /// <summary>False: not an instruction of this family (or a form not executed), left to the others / #UD.</summary>
    private static bool CompileVector(in Instruction ins, ref Op op)
    {
        if (ins.Encoding != EncodingKind.Legacy) return false;
        if (!VectorTable.TryGetValue(ins.Mnemonic, out var d)) return false;
        // The string movsd / cmpsd are not ours (CompileCore takes them first).
        if (ins.Mnemonic is Mnemonic.Movsd or Mnemonic.Cmpsd && ins.OpCount > 0 && ins.Op0Kind != OpKind.Register && ins.Op0Kind != OpKind.Memory) return false;
        op.H = H.Vector;
        op.Ext = (byte)d.Op;
        op.Aux2 = d.P;
        op.Pad2 = d.Feat;
        byte aux = 0;
        bool mmx = false, mem = false;
        int count = ins.OpCount;
        for (int i = 0; i < count && i < 3; i++)
        {
            var k = ins.GetOpKind(i);
            byte kind;
            byte reg = 0;
            if (k == OpKind.Register)
            {
                var r = ins.GetOpRegister(i);
                if (r.IsXMM()) { kind = VkXmm; reg = (byte)(r - Register.XMM0); }
                else if (r.IsMM()) { kind = VkMm; reg = (byte)(r - Register.MM0); mmx = true; }
                else if (Gpr(r, out reg, out int size)) { kind = VkGpr; if (i == 0 || op.Size == 0) op.Size = (byte)size; }
                else return false;
            }
            else if (k == OpKind.Memory)
            {
                if (mem) return false;
                mem = true;
                kind = VkMem;
                if (!SetMem(in ins, ref op)) return false;
                op.Size = (byte)ins.MemorySize.GetSize();
                op.Kinds |= i == 0 ? Op.KMem : Op.KSrcMem;
            }
            else if (IsImm(k))
            {
                op.Kinds |= Op.KImm;
                if (i == 1) op.Kinds |= VKindsImmSource;
                op.Imm = ins.GetImmediate(i);
                continue;
            }
            else return false;
            switch (i)
            {
                case 0: op.A = reg; aux |= kind; break;
                case 1: op.B = reg; aux |= (byte)(kind << 2); break;
                default: op.C = reg; aux |= (byte)(kind << 6); break;
            }
        }
        if (mmx) aux |= VAuxMmx;
        if (mem && !d.Unaligned && op.Size == 16) aux |= VAuxAlign;
        // The MMX forms of an SSE2 integer op (paddq, psubq, pmuludq mm) are SSE2; others with xmm
        // registers need SSE2 where the MMX form is MMX-only.
        if (d.Feat == VFeat.Mmx && !mmx && d.Op is not (VOp.Emms))
            op.Pad2 = ins.Mnemonic is Mnemonic.Movd or Mnemonic.Movq ? VFeat.Sse2 : VFeat.Sse2;
        if (d.Feat == VFeat.Sse && !mmx && d.Op is VOp.PMinS or VOp.PMinU or VOp.PMaxS or VOp.PMaxU or VOp.PAvg or VOp.PMulHiU
                or VOp.PSadBw or VOp.PShufW or VOp.MovMaskB or VOp.PInsr or VOp.PExtr or VOp.MaskMov)
            op.Pad2 = VFeat.Sse2;
        if (d.Op == VOp.CvtF2I) op.C = (byte)(ins.Op0Register.IsGPR64() ? 8 : 4);   // the destination's size (Size is the source's)
        if (d.Op == VOp.MovMerge && (op.Kinds & Op.KSrcMem) != 0 && ins.Mnemonic is Mnemonic.Movss or Mnemonic.Movsd) op.Imm |= 0x100;
        op.Aux = aux;
        return true;
    }
}
