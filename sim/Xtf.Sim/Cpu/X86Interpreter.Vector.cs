using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Xtf.Sim.Cpu;

// SSE to SSE4.2, MMX, AES-NI, PCLMULQDQ and the FXSAVE/XSAVE family (ops compiled by
// OpCompiler.Vector.cs). Written from the Intel SDM's operation descriptions and FIPS-197.
// Everything is read before anything is written, so a fault leaves the state as it was.
public sealed partial class X86Interpreter
{
    /// <summary>One 128-bit operand (an MMX operand uses Lo).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct V128
    {
        public ulong Lo, Hi;
    }

    private const uint MxIE = 1, MxDE = 2, MxZE = 4, MxOE = 8, MxUE = 16, MxPE = 32, MxDaz = 0x40, MxFtz = 0x8000;

    // per-instruction floating-point context (set by FpBegin)
    private uint fpFlags;
    private int fpRc;
    private bool fpDaz, fpFtz, fpUnmaskedUe, fpX87Nan;
    private uint fpDe;

    /// <summary>Executes an op compiled by OpCompiler.Vector.cs.</summary>
    private int Vector(ref Op op, ref ulong R)
    {
        CpuState c = cpu;
        var vop = (VOp)op.Ext;
        if (((c.VectorFeatures >> op.Pad2) & 1) == 0)
        {
            Fault(6, 0, false, "cpuid: " + vop);
            return StFault;
        }
        if (vop == VOp.Xgetbv) return Xgetbv(ref R);
        if (c.TaskSwitched)
        {
            Fault(7, 0, false, "CR0.TS: " + vop);
            return StFault;
        }
        if ((op.Aux & OpCompiler.VAuxMmx) != 0) MmxTransition(c);
        int k0 = op.Aux & 3, k1 = (op.Aux >> 2) & 3;
        int w = k0 == OpCompiler.VkMm || (k0 != OpCompiler.VkXmm && k1 == OpCompiler.VkMm) ? 8 : 16;
        switch (vop)
        {
            case VOp.Emms:
                c.Ftw = 0xFFFF;
                return StOk;
            case VOp.MovFull:
            case VOp.MovZx:
            case VOp.MovMerge:
            case VOp.MovHiLoad:
            case VOp.MovHiStore:
            case VOp.MovHl:
                return Move(ref op, ref R, vop);
            case VOp.Ldmxcsr:
            {
                if (!Read(EA(ref op, ref R), 4, op.MemFlags, out ulong v)) return StFault;
                if ((v & ~(ulong)c.MxcsrMask) != 0 && c.MxcsrReservedGp) return GpZero();
                c.Mxcsr = (uint)v & c.MxcsrMask;
                return StOk;
            }
            case VOp.Stmxcsr:
                return Write(EA(ref op, ref R), 4, op.MemFlags, c.Mxcsr) ? StOk : StFault;
            case VOp.Fxsave: return Fxsave(ref op, ref R);
            case VOp.Fxrstor: return Fxrstor(ref op, ref R);
            case VOp.Xsave:
            case VOp.XsaveOpt:
                return Xsave(ref op, ref R, false);
            case VOp.XsaveC:
                // Not advertised (leaf 0xd.1 EAX bit 1) yet not #UD on the measured CPU: it executes and
                // stores nothing (QEMU TCG, measured). Where advertised: the compacted form.
                if (((c.VectorFeatures >> VFeat.XsaveCAdvertised) & 1) == 0) return StOk;
                return Xsave(ref op, ref R, true);
            case VOp.Xrstor: return Xrstor(ref op, ref R);
            case VOp.MovMaskB:
            case VOp.MovMaskPs:
            case VOp.MovMaskPd:
            {
                V128 s = Reg128(c, op.B, ((op.Aux >> 2) & 3) == OpCompiler.VkMm);
                int n = vop == VOp.MovMaskB ? w : vop == VOp.MovMaskPs ? 4 : 2;
                int e = vop == VOp.MovMaskB ? 1 : vop == VOp.MovMaskPs ? 4 : 8;
                ulong m = 0;
                for (int i = 0; i < n; i++) m |= (GetU(ref s, i, e) >> (8 * e - 1)) << i;
                Unsafe.Add(ref R, op.A) = m;
                return StOk;
            }
            case VOp.MaskMov:
            {
                bool mm = (op.Aux & 3) == OpCompiler.VkMm;
                V128 d = Reg128(c, op.A, mm), m = Reg128(c, op.B, mm);
                int n = mm ? 8 : 16;
                ulong ea = Unsafe.Add(ref R, 7);   // rdi, ds segment
                for (int i = 0; i < n; i++)
                    if ((GetU(ref m, i, 1) & 0x80) != 0 && !ReadForWrite(ea + (ulong)i, 1, 0, out _)) return StFault;
                for (int i = 0; i < n; i++)
                    if ((GetU(ref m, i, 1) & 0x80) != 0) Write(ea + (ulong)i, 1, 0, GetU(ref d, i, 1));
                return StOk;
            }
            case VOp.PExtr:
            {
                V128 s = Reg128(c, op.B, w == 8);
                int e = op.Aux2;
                int n = w / e;
                ulong v = GetU(ref s, (int)op.Imm & (n - 1), e);
                if ((op.Kinds & Op.KMem) != 0) return Write(EA(ref op, ref R), e, op.MemFlags, v) ? StOk : StFault;
                Unsafe.Add(ref R, op.A) = op.Size == 8 ? v : (uint)v;
                return StOk;
            }
            case VOp.FExtractPs:
            {
                V128 s = Reg128(c, op.B, false);
                ulong v = GetU(ref s, (int)op.Imm & 3, 4);
                if ((op.Kinds & Op.KMem) != 0) return Write(EA(ref op, ref R), 4, op.MemFlags, v) ? StOk : StFault;
                Unsafe.Add(ref R, op.A) = v;
                return StOk;
            }
            case VOp.CvtF2I:
                return ConvertToInt(ref op, ref R);
            case VOp.FComi:
            case VOp.FUcomi:
                return Comi(ref op, ref R, vop == VOp.FUcomi);
            case VOp.PTest:
            {
                if (!Source(ref op, ref R, out V128 s)) return StFault;
                V128 d = Reg128(c, op.A, false);
                bool zf = ((s.Lo & d.Lo) | (s.Hi & d.Hi)) == 0, cf = ((s.Lo & ~d.Lo) | (s.Hi & ~d.Hi)) == 0;
                c.SetArithBits(CpuState.ArithmeticFlags, (zf ? CpuState.FlagZf : 0) | (cf ? CpuState.FlagCf : 0));
                return StOk;
            }
            case VOp.PCmpStr:
                return PcmpStr(ref op, ref R);
        }
        // Everything else: destination register (operand 0) op source (operand 1) -> operand 0.
        {
            if (!Source(ref op, ref R, out V128 s)) return StFault;
            bool mm = (op.Aux & 3) == OpCompiler.VkMm;
            V128 d = Reg128(c, op.A, mm);
            V128 r = default;
            bool fp = false;
            switch (vop)
            {
                case VOp.FAdd: case VOp.FSub: case VOp.FMul: case VOp.FDiv: case VOp.FSqrt: case VOp.FMin: case VOp.FMax:
                case VOp.FCmp: case VOp.FAddSub: case VOp.FHAdd: case VOp.FHSub: case VOp.FRound: case VOp.FDp:
                case VOp.CvtI2F: case VOp.CvtF2F: case VOp.CvtDq2F: case VOp.CvtF2Dq: case VOp.CvtPi2F: case VOp.CvtF2Pi:
                    fp = true;
                    FpBegin(c);
                    r = FloatOp(ref op, ref R, vop, ref d, ref s);
                    break;
                default:
                    r = IntOp(ref op, vop, w, ref d, ref s);
                    break;
            }
            if (fp && !FpEnd(c)) return StFault;
            if (mm || (vop == VOp.CvtF2Pi)) SetMm(c, op.A, r.Lo);
            else
            {
                c.XmmLo[op.A] = r.Lo;
                c.XmmHi[op.A] = r.Hi;
            }
            return StOk;
        }
    }

    // ------------------------------------------------------------------ operands

    private static void MmxTransition(CpuState c)
    {
        c.FpTop = 0;
        c.Ftw = 0;
    }

    private static void SetMm(CpuState c, int i, ulong v)
    {
        c.FpMantissa[i & 7] = v;
        if (c.MmxSetsExponent) c.FpSignExp[i & 7] = 0xFFFF;
    }

    private static V128 Reg128(CpuState c, int i, bool mm) =>
        mm ? new V128 { Lo = c.FpMantissa[i & 7] } : new V128 { Lo = c.XmmLo[i], Hi = c.XmmHi[i] };

    /// <summary>Reads <paramref name="size"/> bytes (1-16) at a linear address into a V128 (zero-extended).</summary>
    private bool ReadV(ulong ea, int size, byte mf, out V128 v)
    {
        v = default;
        if (size == 16)
            return Read(ea, 8, mf, out v.Lo) && Read(ea + 8, 8, mf, out v.Hi);
        return Read(ea, size, mf, out v.Lo);
    }

    private bool WriteV(ulong ea, int size, byte mf, in V128 v)
    {
        if (size < 16) return Write(ea, size, mf, size == 8 ? v.Lo : v.Lo & SizeMask(size));
        return ProbeWrite(ea, 16, mf) && Write(ea, 8, mf, v.Lo) && Write(ea + 8, 8, mf, v.Hi);
    }

    /// <summary>The source operand (operand 1): register (xmm, mm or GPR), memory (with the alignment check) or immediate.</summary>
    private bool Source(ref Op op, ref ulong R, out V128 v)
    {
        if ((op.Kinds & Op.KSrcMem) != 0)
        {
            ulong ea = EA(ref op, ref R);
            if ((op.Aux & OpCompiler.VAuxAlign) != 0 && (ea & 15) != 0)
            {
                v = default;
                return Fault(13, 0, true);
            }
            return ReadV(ea, op.Size, op.MemFlags, out v);
        }
        int k = (op.Aux >> 2) & 3;
        if (k == OpCompiler.VkGpr)
        {
            v = new V128 { Lo = GetR(ref R, op.B, op.Size) };
            return true;
        }
        if ((op.Kinds & OpCompiler.VKindsImmSource) != 0)
        {
            v = new V128 { Lo = op.Imm };
            return true;
        }
        v = Reg128(cpu, op.B, k == OpCompiler.VkMm);
        return true;
    }

    private int Move(ref Op op, ref ulong R, VOp vop)
    {
        CpuState c = cpu;
        int k0 = op.Aux & 3, k1 = (op.Aux >> 2) & 3;
        int width = vop switch
        {
            VOp.MovFull => k0 == OpCompiler.VkMm || k1 == OpCompiler.VkMm ? 8 : 16,
            _ => op.Aux2 == 4 && (k0 == OpCompiler.VkGpr || k1 == OpCompiler.VkGpr) ? op.Size : op.Aux2,
        };
        if (vop == VOp.MovZx && (k0 == OpCompiler.VkGpr || k1 == OpCompiler.VkGpr)) width = op.Size;
        // the value moved
        V128 v;
        if (k1 == OpCompiler.VkMem)
        {
            ulong ea = EA(ref op, ref R);
            if ((op.Aux & OpCompiler.VAuxAlign) != 0 && (ea & 15) != 0) return GpZero();
            if (!ReadV(ea, width, op.MemFlags, out v)) return StFault;
        }
        else if (k1 == OpCompiler.VkGpr) v = new V128 { Lo = GetR(ref R, op.B, width) };
        else v = Reg128(c, op.B, k1 == OpCompiler.VkMm);
        if (vop == VOp.MovHiStore || (vop == VOp.MovHiLoad && k0 == OpCompiler.VkMem) || vop == VOp.MovHl) v.Lo = v.Hi;
        if (width < 16)
        {
            v.Hi = 0;
            if (width < 8) v.Lo &= SizeMask(width);
        }
        switch (k0)
        {
            case OpCompiler.VkMem:
            {
                ulong ea = EA(ref op, ref R);
                if ((op.Aux & OpCompiler.VAuxAlign) != 0 && (ea & 15) != 0) return GpZero();
                return WriteV(ea, width, op.MemFlags, in v) ? StOk : StFault;
            }
            case OpCompiler.VkGpr:
                Unsafe.Add(ref R, op.A) = v.Lo;
                return StOk;
            case OpCompiler.VkMm:
                SetMm(c, op.A, v.Lo);
                return StOk;
        }
        int a = op.A;
        switch (vop)
        {
            case VOp.MovFull:
            case VOp.MovZx:
                c.XmmLo[a] = v.Lo;
                c.XmmHi[a] = v.Hi;
                break;
            case VOp.MovMerge:
                if (k1 == OpCompiler.VkMem && op.Ext == (byte)VOp.MovMerge && (op.Aux2 == 4 || op.Aux2 == 8) && IsScalarLoadZeroing(op))
                {
                    c.XmmLo[a] = v.Lo;
                    c.XmmHi[a] = 0;
                }
                else if (width == 4) c.XmmLo[a] = (c.XmmLo[a] & ~0xFFFF_FFFFUL) | v.Lo;
                else c.XmmLo[a] = v.Lo;
                break;
            case VOp.MovHiLoad:
                c.XmmHi[a] = v.Lo;
                break;
            case VOp.MovHl:
                c.XmmLo[a] = v.Lo;
                break;
        }
        return StOk;
    }

    /// <summary>movss/movsd from memory zero the rest of the register (movlps/movlpd do not): Imm bit 8 marks them.</summary>
    private static bool IsScalarLoadZeroing(in Op op) => (op.Imm & 0x100) != 0;

    // ------------------------------------------------------------------ element access

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong GetU(ref V128 v, int i, int e)
    {
        ref byte p = ref Unsafe.Add(ref Unsafe.As<ulong, byte>(ref v.Lo), i * e);
        return e switch
        {
            1 => p,
            2 => Unsafe.ReadUnaligned<ushort>(ref p),
            4 => Unsafe.ReadUnaligned<uint>(ref p),
            _ => Unsafe.ReadUnaligned<ulong>(ref p),
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long GetS(ref V128 v, int i, int e) => (long)SignExtend(GetU(ref v, i, e), e);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SetE(ref V128 v, int i, int e, ulong x)
    {
        ref byte p = ref Unsafe.Add(ref Unsafe.As<ulong, byte>(ref v.Lo), i * e);
        switch (e)
        {
            case 1: p = (byte)x; break;
            case 2: Unsafe.WriteUnaligned(ref p, (ushort)x); break;
            case 4: Unsafe.WriteUnaligned(ref p, (uint)x); break;
            default: Unsafe.WriteUnaligned(ref p, x); break;
        }
    }

    private static ulong SatS(long x, int e)
    {
        long max = (long)(SignBit(e) - 1), min = -max - 1;
        return (ulong)Math.Clamp(x, min, max);
    }

    private static ulong SatU(long x, int e) => (ulong)Math.Clamp(x, 0, (long)SizeMask(e));

    private static double F64(ulong bits) => BitConverter.UInt64BitsToDouble(bits);
    private static float F32(ulong bits) => BitConverter.UInt32BitsToSingle((uint)bits);
    private static ulong B64(double d) => BitConverter.DoubleToUInt64Bits(d);
    private static ulong B32(float f) => BitConverter.SingleToUInt32Bits(f);

    // ------------------------------------------------------------------ integer operations

    private V128 IntOp(ref Op op, VOp vop, int w, ref V128 d, ref V128 s)
    {
        CpuState c = cpu;
        int e = op.Aux2;
        int n = w / Math.Max(e, 1);
        V128 r = default;
        byte imm = (byte)op.Imm;
        switch (vop)
        {
            case VOp.PAnd: r.Lo = d.Lo & s.Lo; r.Hi = d.Hi & s.Hi; break;
            case VOp.PAndN: r.Lo = ~d.Lo & s.Lo; r.Hi = ~d.Hi & s.Hi; break;
            case VOp.POr: r.Lo = d.Lo | s.Lo; r.Hi = d.Hi | s.Hi; break;
            case VOp.PXor: r.Lo = d.Lo ^ s.Lo; r.Hi = d.Hi ^ s.Hi; break;
            case VOp.PAdd: case VOp.PAddS: case VOp.PAddUS: case VOp.PSub: case VOp.PSubS: case VOp.PSubUS:
            case VOp.PCmpEq: case VOp.PCmpGt: case VOp.PMinS: case VOp.PMinU: case VOp.PMaxS: case VOp.PMaxU:
            case VOp.PAvg: case VOp.PMulLo: case VOp.PMulHiS: case VOp.PMulHiU: case VOp.PSign: case VOp.PAbs: case VOp.PMulHrsw:
                for (int i = 0; i < n; i++)
                {
                    ulong ua = GetU(ref d, i, e), ub = GetU(ref s, i, e);
                    long sa = GetS(ref d, i, e), sb = GetS(ref s, i, e);
                    ulong x = vop switch
                    {
                        VOp.PAdd => ua + ub,
                        VOp.PAddS => SatS(sa + sb, e),
                        VOp.PAddUS => SatU((long)(ua + ub), e),
                        VOp.PSub => ua - ub,
                        VOp.PSubS => SatS(sa - sb, e),
                        VOp.PSubUS => SatU((long)ua - (long)ub, e),
                        VOp.PCmpEq => ua == ub ? ulong.MaxValue : 0,
                        VOp.PCmpGt => sa > sb ? ulong.MaxValue : 0,
                        VOp.PMinS => (ulong)Math.Min(sa, sb),
                        VOp.PMinU => Math.Min(ua, ub),
                        VOp.PMaxS => (ulong)Math.Max(sa, sb),
                        VOp.PMaxU => Math.Max(ua, ub),
                        VOp.PAvg => (ua + ub + 1) >> 1,
                        VOp.PMulLo => ua * ub,
                        VOp.PMulHiS => (ulong)(sa * sb >> 16),
                        VOp.PMulHiU => ua * ub >> 16,
                        VOp.PSign => sb < 0 ? (ulong)-sa : sb == 0 ? 0 : ua,
                        VOp.PAbs => (ulong)Math.Abs(sb),
                        _ => (ulong)(((sa * sb >> 14) + 1) >> 1),   // pmulhrsw
                    };
                    SetE(ref r, i, e, x);
                }
                break;
            case VOp.PMulUdq:
                r.Lo = (d.Lo & 0xFFFF_FFFF) * (s.Lo & 0xFFFF_FFFF);
                r.Hi = (d.Hi & 0xFFFF_FFFF) * (s.Hi & 0xFFFF_FFFF);
                break;
            case VOp.PMulDq:
                r.Lo = (ulong)((long)(int)d.Lo * (int)s.Lo);
                r.Hi = (ulong)((long)(int)d.Hi * (int)s.Hi);
                break;
            case VOp.PMAddWd:
                for (int i = 0; i < w / 4; i++)
                    SetE(ref r, i, 4, (ulong)(GetS(ref d, 2 * i, 2) * GetS(ref s, 2 * i, 2) + GetS(ref d, 2 * i + 1, 2) * GetS(ref s, 2 * i + 1, 2)));
                break;
            case VOp.PMAddUbsw:
                for (int i = 0; i < w / 2; i++)
                    SetE(ref r, i, 2, SatS((long)GetU(ref d, 2 * i, 1) * GetS(ref s, 2 * i, 1) + (long)GetU(ref d, 2 * i + 1, 1) * GetS(ref s, 2 * i + 1, 1), 2));
                break;
            case VOp.PSadBw:
                for (int q = 0; q < w / 8; q++)
                {
                    ulong sum = 0;
                    for (int i = 0; i < 8; i++) sum += (ulong)Math.Abs((long)GetU(ref d, 8 * q + i, 1) - (long)GetU(ref s, 8 * q + i, 1));
                    SetE(ref r, q, 8, sum);
                }
                break;
            case VOp.PShl: case VOp.PShr: case VOp.PSar:
            {
                ulong count = s.Lo;
                if (vop != VOp.PSar && count >= (ulong)(8 * e)) break;
                int k = (int)Math.Min(count, (ulong)(8 * e - 1));
                for (int i = 0; i < n; i++)
                {
                    ulong x = vop switch
                    {
                        VOp.PShl => GetU(ref d, i, e) << k,
                        VOp.PShr => GetU(ref d, i, e) >> k,
                        _ => (ulong)(GetS(ref d, i, e) >> k),
                    };
                    SetE(ref r, i, e, x);
                }
                break;
            }
            case VOp.PSlldq:
            case VOp.PSrldq:
            {
                int k = (int)Math.Min(s.Lo, 16UL);
                for (int i = 0; i < 16; i++)
                {
                    int from = vop == VOp.PSlldq ? i - k : i + k;
                    SetE(ref r, i, 1, from is >= 0 and < 16 ? GetU(ref d, from, 1) : 0);
                }
                break;
            }
            case VOp.PackSS:
            case VOp.PackUS:
            {
                int h = w / e;   // elements per source
                for (int i = 0; i < 2 * h; i++)
                {
                    long x = i < h ? GetS(ref d, i, e) : GetS(ref s, i - h, e);
                    SetE(ref r, i, e / 2, vop == VOp.PackSS ? SatS(x, e / 2) : SatU(x, e / 2));
                }
                break;
            }
            case VOp.UnpackLo:
            case VOp.UnpackHi:
            {
                int base0 = vop == VOp.UnpackLo ? 0 : n / 2;
                for (int i = 0; i < n / 2; i++)
                {
                    SetE(ref r, 2 * i, e, GetU(ref d, base0 + i, e));
                    SetE(ref r, 2 * i + 1, e, GetU(ref s, base0 + i, e));
                }
                break;
            }
            case VOp.PShufD:
                for (int i = 0; i < 4; i++) SetE(ref r, i, 4, GetU(ref s, (imm >> (2 * i)) & 3, 4));
                break;
            case VOp.PShufW:
                for (int i = 0; i < 4; i++) SetE(ref r, i, 2, GetU(ref s, (imm >> (2 * i)) & 3, 2));
                break;
            case VOp.PShufLw:
                r.Hi = s.Hi;
                for (int i = 0; i < 4; i++) SetE(ref r, i, 2, GetU(ref s, (imm >> (2 * i)) & 3, 2));
                break;
            case VOp.PShufHw:
                r.Lo = s.Lo;
                for (int i = 0; i < 4; i++) SetE(ref r, 4 + i, 2, GetU(ref s, 4 + ((imm >> (2 * i)) & 3), 2));
                break;
            case VOp.PShufB:
                for (int i = 0; i < w; i++)
                {
                    ulong sel = GetU(ref s, i, 1);
                    SetE(ref r, i, 1, (sel & 0x80) != 0 ? 0 : GetU(ref d, (int)sel & (w - 1), 1));
                }
                break;
            case VOp.PAlignR:
                for (int i = 0; i < w; i++)
                {
                    int k = i + imm;
                    SetE(ref r, i, 1, k < w ? GetU(ref s, k, 1) : k < 2 * w ? GetU(ref d, k - w, 1) : 0);
                }
                break;
            case VOp.PHAdd: case VOp.PHAddS: case VOp.PHSub: case VOp.PHSubS:
            {
                int h = n / 2;
                for (int i = 0; i < n; i++)
                {
                    ref V128 src = ref (i < h ? ref d : ref s);
                    int j = 2 * (i % h);
                    long x0 = GetS(ref src, j, e), x1 = GetS(ref src, j + 1, e);
                    long x = vop is VOp.PHAdd or VOp.PHAddS ? x0 + x1 : x0 - x1;
                    SetE(ref r, i, e, vop is VOp.PHAddS or VOp.PHSubS ? SatS(x, e) : (ulong)x);
                }
                break;
            }
            case VOp.PMovSx:
            case VOp.PMovZx:
            {
                int se = op.Aux2 & 15, de = op.Aux2 >> 4;
                for (int i = 0; i < 16 / de; i++)
                    SetE(ref r, i, de, vop == VOp.PMovSx ? (ulong)GetS(ref s, i, se) : GetU(ref s, i, se));
                break;
            }
            case VOp.PHMinPosUw:
            {
                ulong min = ulong.MaxValue;
                int at = 0;
                for (int i = 0; i < 8; i++)
                {
                    ulong x = GetU(ref s, i, 2);
                    if (x < min) { min = x; at = i; }
                }
                r.Lo = min | ((ulong)at << 16);
                break;
            }
            case VOp.PBlendW:
                for (int i = 0; i < 8; i++) SetE(ref r, i, 2, ((imm >> i) & 1) != 0 ? GetU(ref s, i, 2) : GetU(ref d, i, 2));
                break;
            case VOp.PBlendVB:
            {
                V128 m = Reg128(c, 0, false);
                for (int i = 0; i < 16; i++) SetE(ref r, i, 1, (GetU(ref m, i, 1) & 0x80) != 0 ? GetU(ref s, i, 1) : GetU(ref d, i, 1));
                break;
            }
            case VOp.FBlend:
            case VOp.FBlendV:
            {
                int fe = op.Aux2 == 0 ? 4 : 8;
                V128 m = Reg128(c, 0, false);
                for (int i = 0; i < 16 / fe; i++)
                {
                    bool pick = vop == VOp.FBlend ? ((imm >> i) & 1) != 0 : (GetU(ref m, i, fe) >> (8 * fe - 1)) != 0;
                    SetE(ref r, i, fe, pick ? GetU(ref s, i, fe) : GetU(ref d, i, fe));
                }
                break;
            }
            case VOp.MpSadBw:
            {
                int ao = (imm & 4) != 0 ? 4 : 0, bo = (imm & 3) * 4;
                for (int i = 0; i < 8; i++)
                {
                    ulong sum = 0;
                    for (int j = 0; j < 4; j++) sum += (ulong)Math.Abs((long)GetU(ref d, ao + i + j, 1) - (long)GetU(ref s, bo + j, 1));
                    SetE(ref r, i, 2, sum);
                }
                break;
            }
            case VOp.PInsr:
                r = d;
                SetE(ref r, imm & (n - 1), e, s.Lo);
                break;
            case VOp.FInsertPs:
            {
                r = d;
                ulong v = (op.Kinds & Op.KSrcMem) != 0 ? s.Lo & 0xFFFF_FFFF : GetU(ref s, (imm >> 6) & 3, 4);
                SetE(ref r, (imm >> 4) & 3, 4, v);
                for (int i = 0; i < 4; i++) if (((imm >> i) & 1) != 0) SetE(ref r, i, 4, 0);
                break;
            }
            case VOp.FShuf:
                if (op.Aux2 == 0)
                {
                    SetE(ref r, 0, 4, GetU(ref d, imm & 3, 4));
                    SetE(ref r, 1, 4, GetU(ref d, (imm >> 2) & 3, 4));
                    SetE(ref r, 2, 4, GetU(ref s, (imm >> 4) & 3, 4));
                    SetE(ref r, 3, 4, GetU(ref s, (imm >> 6) & 3, 4));
                }
                else
                {
                    r.Lo = (imm & 1) != 0 ? d.Hi : d.Lo;
                    r.Hi = (imm & 2) != 0 ? s.Hi : s.Lo;
                }
                break;
            case VOp.MovDupLo32:
                r.Lo = (s.Lo & 0xFFFF_FFFF) | (s.Lo << 32);
                r.Hi = (s.Hi & 0xFFFF_FFFF) | (s.Hi << 32);
                break;
            case VOp.MovDupHi32:
                r.Lo = (s.Lo >> 32) | (s.Lo & 0xFFFF_FFFF_0000_0000);
                r.Hi = (s.Hi >> 32) | (s.Hi & 0xFFFF_FFFF_0000_0000);
                break;
            case VOp.MovDup64:
                r.Lo = r.Hi = s.Lo;
                break;
            case VOp.FRcp:
            case VOp.FRsqrt:
            {
                r = d;
                int lanes = op.Aux2 == 0 ? 4 : 1;
                for (int i = 0; i < lanes; i++)
                {
                    float x = F32(GetU(ref s, i, 4));
                    float y;
                    if (float.IsNaN(x)) y = F32(B32(x) | 0x0040_0000);
                    else if (vop == VOp.FRcp) y = (float)(1.0 / (IsDenormalF(x) ? (x < 0 || float.IsNegative(x) ? -0.0 : 0.0) : x));
                    else if (x < 0 && x != 0) y = F32(0xFFC0_0000);
                    else y = (float)(1.0 / Math.Sqrt(IsDenormalF(x) ? (float.IsNegative(x) ? -0.0 : 0.0) : x));
                    SetE(ref r, i, 4, B32(y));
                }
                break;
            }
            case VOp.AesEnc: case VOp.AesEncLast: case VOp.AesDec: case VOp.AesDecLast: case VOp.AesImc: case VOp.AesKeyGen:
                r = Aes(vop, d, s, imm);
                break;
            case VOp.Pclmul:
            {
                ulong a = (imm & 1) != 0 ? d.Hi : d.Lo, b = (imm & 0x10) != 0 ? s.Hi : s.Lo;
                for (int i = 0; i < 64; i++)
                {
                    if (((b >> i) & 1) == 0) continue;
                    r.Lo ^= a << i;
                    if (i != 0) r.Hi ^= a >> (64 - i);
                }
                break;
            }
            default:
                throw new InvalidOperationException("no vector operation " + vop);
        }
        if (w == 8) r.Hi = 0;
        return r;
    }

    // ------------------------------------------------------------------ FXSAVE / XSAVE

    private const int XsaveHeader = 512, XsaveAvx = 576;

    /// <summary>The x87 tag of a physical register from its contents (FXRSTOR's full tag word).</summary>
    private static int TagOf(CpuState c, int i)
    {
        ulong m = c.FpMantissa[i];
        int exp = c.FpSignExp[i] & 0x7FFF;
        if (exp == 0) return m == 0 ? 1 : 2;
        if (exp == 0x7FFF || (m >> 63) == 0) return 2;
        return 0;
    }

    /// <summary>Writes the legacy region's x87 fields and/or its MXCSR and XMM registers (nothing is checked: the caller probed the whole area).</summary>
    private void SaveLegacy(ulong ea, byte mf, bool x87, bool mxcsr, bool xmm, bool rex64)
    {
        CpuState c = cpu;
        if (x87)
        {
            int abridged = 0;
            for (int i = 0; i < 8; i++) if (((c.Ftw >> (2 * i)) & 3) != 3) abridged |= 1 << i;
            Write(ea, 8, mf, c.Fcw | ((ulong)c.Fsw << 16) | ((ulong)abridged << 32) | ((ulong)(c.Fop & 0x7FF) << 48));
            if (rex64)
            {
                Write(ea + 8, 8, mf, c.Fip);
                Write(ea + 16, 8, mf, c.Fdp);
            }
            else
            {
                Write(ea + 8, 8, mf, (uint)c.Fip);
                Write(ea + 16, 8, mf, (uint)c.Fdp);
            }
            for (int i = 0; i < 8; i++)
            {
                int p = (c.FpTop + i) & 7;
                Write(ea + 32 + (ulong)(16 * i), 8, mf, c.FpMantissa[p]);
                Write(ea + 40 + (ulong)(16 * i), 2, mf, c.FpSignExp[p]);
            }
        }
        if (mxcsr) Write(ea + 24, 8, mf, c.Mxcsr | ((ulong)c.MxcsrMask << 32));
        if (xmm)
            for (int i = 0; i < 16; i++)
            {
                Write(ea + 160 + (ulong)(16 * i), 8, mf, c.XmmLo[i]);
                Write(ea + 168 + (ulong)(16 * i), 8, mf, c.XmmHi[i]);
            }
    }

    private bool ProbeArea(ulong ea, int size, byte mf, bool write)
    {
        for (int off = 0; off < size; off += 8)
        {
            bool ok = write ? ReadForWrite(ea + (ulong)off, 8, mf, out _) : Read(ea + (ulong)off, 8, mf, out _);
            if (!ok) return false;
        }
        return true;
    }

    private int Fxsave(ref Op op, ref ulong R)
    {
        ulong ea = EA(ref op, ref R);
        if ((ea & 15) != 0) return GpZero();
        if (!ProbeArea(ea, 512, op.MemFlags, true)) return StFault;
        SaveLegacy(ea, op.MemFlags, true, true, true, op.Aux2 != 0);
        return StOk;
    }

    /// <summary>Loads the x87 part of a legacy region (already read into <paramref name="img"/>).</summary>
    private static void LoadX87(CpuState c, ReadOnlySpan<ulong> img)
    {
        c.Fcw = (ushort)img[0];
        c.Fsw = (ushort)(img[0] >> 16);
        int abridged = (int)(img[0] >> 32) & 0xFF;
        c.Fop = (ushort)((img[0] >> 48) & 0x7FF);
        c.Fip = img[1];
        c.Fdp = img[2];
        int top = c.FpTop;
        for (int i = 0; i < 8; i++)
        {
            int p = (top + i) & 7;
            c.FpMantissa[p] = img[4 + 2 * i];
            c.FpSignExp[p] = (ushort)img[5 + 2 * i];
        }
        int ftw = 0;
        for (int i = 0; i < 8; i++) ftw |= (((abridged >> i) & 1) == 0 ? 3 : TagOf(c, i)) << (2 * i);
        c.Ftw = (ushort)ftw;
    }

    private static void InitX87(CpuState c)
    {
        c.Fcw = 0x037F; c.Fsw = 0; c.Ftw = 0xFFFF; c.Fop = 0; c.Fip = 0; c.Fdp = 0;
        Array.Clear(c.FpMantissa);
        Array.Clear(c.FpSignExp);
    }

    private int Fxrstor(ref Op op, ref ulong R)
    {
        CpuState c = cpu;
        ulong ea = EA(ref op, ref R);
        if ((ea & 15) != 0) return GpZero();
        Span<ulong> img = stackalloc ulong[52];
        for (int i = 0; i < 52; i++)
            if (!Read(ea + (ulong)(8 * i), 8, op.MemFlags, out img[i])) return StFault;
        uint mx = (uint)img[3];
        if ((mx & ~c.MxcsrMask) != 0 && c.MxcsrReservedGp) return GpZero();
        LoadX87(c, img);
        c.Mxcsr = mx & c.MxcsrMask;
        for (int i = 0; i < 16; i++)
        {
            c.XmmLo[i] = img[20 + 2 * i];
            c.XmmHi[i] = img[21 + 2 * i];
        }
        return StOk;
    }

    private int Xsave(ref Op op, ref ulong R, bool compact)
    {
        CpuState c = cpu;
        ulong ea = EA(ref op, ref R);
        if ((ea & 63) != 0) return GpZero();
        ulong rfbm = c.Xcr0 & ((Unsafe.Add(ref R, 2) << 32) | (uint)Unsafe.Add(ref R, 0));
        bool avx = (rfbm & 4) != 0;
        int size = avx ? XsaveAvx + 256 : XsaveAvx;
        if (!ProbeArea(ea, size, op.MemFlags, true)) return StFault;
        if (!Read(ea + XsaveHeader, 8, op.MemFlags, out ulong bv)) return StFault;
        const ulong inuse = 7;   // the XINUSE QEMU reports: every enabled component in use
        SaveLegacy(ea, op.MemFlags, (rfbm & 1) != 0, (rfbm & 6) != 0, (rfbm & 2) != 0, op.Aux2 != 0);
        if (avx)
            for (int i = 0; i < 256; i += 8) Write(ea + XsaveAvx + (ulong)i, 8, op.MemFlags, 0);   // no YMM state is modelled
        if (compact)
        {
            Write(ea + XsaveHeader, 8, op.MemFlags, rfbm & inuse);
            Write(ea + XsaveHeader + 8, 8, op.MemFlags, (1UL << 63) | rfbm);
        }
        else Write(ea + XsaveHeader, 8, op.MemFlags, (bv & ~rfbm) | (rfbm & inuse));
        return StOk;
    }

    private int Xrstor(ref Op op, ref ulong R)
    {
        CpuState c = cpu;
        ulong ea = EA(ref op, ref R);
        if ((ea & 63) != 0) return GpZero();
        byte mf = op.MemFlags;
        Span<ulong> hdr = stackalloc ulong[8];
        for (int i = 0; i < 8; i++)
            if (!Read(ea + XsaveHeader + (ulong)(8 * i), 8, mf, out hdr[i])) return StFault;
        ulong bv = hdr[0], comp = hdr[1];
        if ((comp >> 63) != 0) return GpZero();                  // the compacted form needs XSAVEC (not modelled)
        if ((bv & ~c.Xcr0) != 0 || comp != 0) return GpZero();
        for (int i = 2; i < 8; i++) if (hdr[i] != 0) return GpZero();
        ulong rfbm = c.Xcr0 & ((Unsafe.Add(ref R, 2) << 32) | (uint)Unsafe.Add(ref R, 0));
        Span<ulong> img = stackalloc ulong[52];
        for (int i = 0; i < 52; i++)
            if (!Read(ea + (ulong)(8 * i), 8, mf, out img[i])) return StFault;
        uint mx = (uint)img[3];
        bool loadMx = (rfbm & 6) != 0 && (bv & rfbm & 6) != 0;
        if (loadMx && (mx & ~c.MxcsrMask) != 0 && c.MxcsrReservedGp) return GpZero();
        mx &= c.MxcsrMask;
        if ((rfbm & 1) != 0)
        {
            if ((bv & 1) != 0) LoadX87(c, img);
            else InitX87(c);
        }
        if ((rfbm & 2) != 0)
            for (int i = 0; i < 16; i++)
            {
                c.XmmLo[i] = (bv & 2) != 0 ? img[20 + 2 * i] : 0;
                c.XmmHi[i] = (bv & 2) != 0 ? img[21 + 2 * i] : 0;
            }
        if ((rfbm & 6) != 0) c.Mxcsr = loadMx ? mx : 0x1F80;
        return StOk;
    }

    private int Xgetbv(ref ulong R)
    {
        CpuState c = cpu;
        uint ecx = (uint)Unsafe.Add(ref R, 1);
        ulong v;
        if (ecx == 0) v = c.Xcr0;
        else if (ecx == 1 && ((c.VectorFeatures >> VFeat.XgetbvEcx1) & 1) != 0) v = c.Xcr0 & 7;   // XINUSE: all in use
        else return GpZero();
        Unsafe.Add(ref R, 0) = (uint)v;
        Unsafe.Add(ref R, 2) = v >> 32;
        return StOk;
    }
}
