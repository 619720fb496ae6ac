using System.Runtime.CompilerServices;

namespace Xtf.Sim.Cpu;

// SSE floating point with MXCSR (rounding control, DAZ, FTZ, the six exception flags and their
// masks), the conversions, the string compares and AES. Correct rounding in every RC: the
// round-to-nearest result and the sign of its error (TwoSum for add/sub, a fused multiply-add
// residual for mul/div/sqrt, scaled away from the subnormal range), then one ulp towards the
// true value where the rounding direction asks for it. Single precision is computed in double
// (the product of two floats is exact, the others carry the sign of their error) and rounded once.
public sealed partial class X86Interpreter
{
    private const double MinNormalD = 2.2250738585072014E-308;
    private const float MinNormalF = 1.17549435E-38f;
    private const ulong DefaultNanD = 0xFFF8_0000_0000_0000;
    private const uint DefaultNanF = 0xFFC0_0000;
    private static readonly double Scale600 = Math.ScaleB(1.0, 600), Scale300 = Math.ScaleB(1.0, 300), TwoTo128 = Math.ScaleB(1.0, 128);
    private static readonly double TinyD = Math.ScaleB(1.0, -968), SmallD = Math.ScaleB(1.0, -960);

    private void FpBegin(CpuState c)
    {
        uint m = c.Mxcsr;
        fpFlags = 0;
        fpRc = (int)(m >> 13) & 3;
        fpDaz = (m & MxDaz) != 0;
        fpFtz = (m & MxFtz) != 0;
        fpUnmaskedUe = (m & 0x800) == 0;
        fpX87Nan = c.X87NanRule;
        fpDe = c.DenormalFlag ? MxDE : 0;
    }

    /// <summary>Merges the flags into MXCSR; an unmasked one raises #XM (#UD without CR4.OSXMMEXCPT) and the result is not written.</summary>
    private bool FpEnd(CpuState c)
    {
        c.Mxcsr |= fpFlags;
        uint unmasked = fpFlags & ~(c.Mxcsr >> 7) & 0x3F;
        if (unmasked == 0 || !c.SimdExceptions) return true;
        return Fault(c.OsXmmExcpt ? 19 : 6, 0, false, "SIMD floating-point exception");
    }

    private static bool IsDenormalD(double x) => x != 0 && Math.Abs(x) < MinNormalD;
    private static bool IsDenormalF(float x) => x != 0 && Math.Abs(x) < MinNormalF;
    private static bool IsSnanD(double x) => double.IsNaN(x) && (B64(x) & 0x0008_0000_0000_0000) == 0;
    private static bool IsSnanF(float x) => float.IsNaN(x) && (B32(x) & 0x0040_0000) == 0;
    private static double QuietD(double x) => F64(B64(x) | 0x0008_0000_0000_0000);
    private static float QuietF(float x) => F32(B32(x) | 0x0040_0000);
    private static double DazD(double x) => IsDenormalD(x) ? (double.IsNegative(x) ? -0.0 : 0.0) : x;
    private static float DazF(float x) => IsDenormalF(x) ? (float.IsNegative(x) ? -0.0f : 0.0f) : x;

    private double NanD(double a, double b)
    {
        if (IsSnanD(a) || IsSnanD(b)) fpFlags |= MxIE;
        return F64(B64(QuietD(F64(PickNan(B64(a), B64(b), double.IsNaN(a), double.IsNaN(b), IsSnanD(a), IsSnanD(b), 0x7FFF_FFFF_FFFF_FFFF)))));
    }

    private float NanF(float a, float b)
    {
        if (IsSnanF(a) || IsSnanF(b)) fpFlags |= MxIE;
        return QuietF(F32(PickNan(B32(a), B32(b), float.IsNaN(a), float.IsNaN(b), IsSnanF(a), IsSnanF(b), 0x7FFF_FFFF)));
    }

    /// <summary>Which NaN operand an operation returns (before quieting).</summary>
    private ulong PickNan(ulong a, ulong b, bool aNan, bool bNan, bool aSnan, bool bSnan, ulong magnitude)
    {
        if (!aNan) return b;
        if (!bNan || !fpX87Nan) return a;
        if (aSnan != bSnan) return aSnan ? b : a;           // the QNaN
        ulong ma = a & magnitude, mb = b & magnitude;
        if (ma != mb) return ma > mb ? a : b;                // the larger significand
        return (a & ~magnitude) <= (b & ~magnitude) ? a : b;   // equal: the positive one
    }

    private double InvalidD()
    {
        fpFlags |= MxIE;
        return F64(DefaultNanD);
    }

    private float InvalidF()
    {
        fpFlags |= MxIE;
        return F32(DefaultNanF);
    }

    private static double NudgeD(double r, int sg, int rc) => rc switch
    {
        1 => sg < 0 ? Math.BitDecrement(r) : r,
        2 => sg > 0 ? Math.BitIncrement(r) : r,
        3 => r > 0 && sg < 0 ? Math.BitDecrement(r) : r < 0 && sg > 0 ? Math.BitIncrement(r) : r,
        _ => r,
    };

    private static float NudgeF(float r, int sg, int rc) => rc switch
    {
        1 => sg < 0 ? MathF.BitDecrement(r) : r,
        2 => sg > 0 ? MathF.BitIncrement(r) : r,
        3 => r > 0 && sg < 0 ? MathF.BitDecrement(r) : r < 0 && sg > 0 ? MathF.BitIncrement(r) : r,
        _ => r,
    };

    private static double OverflowD(bool positive, int rc) => rc switch
    {
        0 => positive ? double.PositiveInfinity : double.NegativeInfinity,
        1 => positive ? double.MaxValue : double.NegativeInfinity,
        2 => positive ? double.PositiveInfinity : -double.MaxValue,
        _ => positive ? double.MaxValue : -double.MaxValue,
    };

    private static float OverflowF(bool positive, int rc) => rc switch
    {
        0 => positive ? float.PositiveInfinity : float.NegativeInfinity,
        1 => positive ? float.MaxValue : float.NegativeInfinity,
        2 => positive ? float.PositiveInfinity : -float.MaxValue,
        _ => positive ? float.MaxValue : -float.MaxValue,
    };

    /// <summary>The round-to-nearest result <paramref name="r"/> of finite operands, whose error has sign <paramref name="sg"/> (true value minus r), rounded per RC with the flags.</summary>
    private double FinishD(double r, int sg)
    {
        if (double.IsInfinity(r))
        {
            fpFlags |= MxOE | MxPE;
            return OverflowD(r > 0, fpRc);
        }
        if (sg != 0)
        {
            fpFlags |= MxPE;
            r = NudgeD(r, sg, fpRc);
            if (double.IsInfinity(r)) fpFlags |= MxOE;
        }
        if (Math.Abs(r) < MinNormalD && (r != 0 || sg != 0))
        {
            if (sg != 0 || fpUnmaskedUe) fpFlags |= MxUE;
            if (fpFtz && !fpUnmaskedUe)
            {
                fpFlags |= MxUE | MxPE;
                r = double.IsNegative(r) || (r == 0 && sg < 0) ? -0.0 : 0.0;
            }
        }
        return r;
    }

    /// <summary>Rounds the value <paramref name="hi"/> (plus an error of sign <paramref name="sg"/>, below half an ulp of hi) to single precision per RC, with the flags.</summary>
    private float RoundF(double hi, int sg)
    {
        if (double.IsInfinity(hi) || double.IsNaN(hi)) return (float)hi;
        float f = (float)hi;
        int ts;
        if (float.IsInfinity(f)) ts = hi > 0 ? -1 : 1;
        else
        {
            double dd = hi - f;
            if (dd != 0)
            {
                ts = Math.Sign(dd);
                if (sg == ts)
                {
                    float n = ts > 0 ? MathF.BitIncrement(f) : MathF.BitDecrement(f);
                    if (float.IsFinite(n) && Math.Abs(dd) * 2 == Math.Abs((double)n - f))
                    {
                        f = n;
                        ts = -ts;
                    }
                }
            }
            else ts = sg;
        }
        if (ts != 0)
        {
            fpFlags |= MxPE;
            if (!float.IsInfinity(f)) f = NudgeF(f, ts, fpRc);
        }
        if (float.IsInfinity(f) || Math.Abs(hi) >= TwoTo128)
        {
            fpFlags |= MxOE | MxPE;
            return OverflowF(hi > 0, fpRc);
        }
        if (Math.Abs(f) < MinNormalF && (f != 0 || ts != 0))
        {
            if (ts != 0 || fpUnmaskedUe) fpFlags |= MxUE;
            if (fpFtz && !fpUnmaskedUe)
            {
                fpFlags |= MxUE | MxPE;
                f = hi < 0 || float.IsNegative(f) ? -0.0f : 0.0f;
            }
        }
        return f;
    }

    private static int TwoSumSign(double a, double b, double s)
    {
        double bb = s - a;
        double err = (a - (s - bb)) + (b - bb);
        return Math.Sign(err);
    }

    /// <summary>The exact zero of x + (-x): +0, or -0 when rounding down (and -0 + -0 = -0).</summary>
    private double ZeroSum(double a, double b) =>
        a == 0 && b == 0 && double.IsNegative(a) == double.IsNegative(b) ? a : fpRc == 1 ? -0.0 : 0.0;

    /// <summary>k: 0 add, 1 sub, 2 mul, 3 div, 4 sqrt of b.</summary>
    private double ArithD(int k, double a, double b)
    {
        if (k == 4) a = b;
        if (fpDaz) { a = DazD(a); b = DazD(b); }
        if (double.IsNaN(a) || double.IsNaN(b)) return NanD(a, b);
        if (IsDenormalD(a) || IsDenormalD(b)) fpFlags |= fpDe;
        bool inf = double.IsInfinity(a) || double.IsInfinity(b);
        switch (k)
        {
            case 0:
            case 1:
            {
                if (k == 1) b = -b;
                if (double.IsInfinity(a) && double.IsInfinity(b) && a != b) return InvalidD();
                double r = a + b;
                if (inf) return r;
                int sg = TwoSumSign(a, b, r);
                if (r == 0 && sg == 0) return ZeroSum(a, b);
                return FinishD(r, sg);
            }
            case 2:
            {
                if ((a == 0 && double.IsInfinity(b)) || (b == 0 && double.IsInfinity(a))) return InvalidD();
                double r = a * b;
                if (inf || a == 0 || b == 0) return r;
                int sg;
                if (Math.Abs(r) >= TinyD) sg = Math.Sign(Math.FusedMultiplyAdd(a, b, -r));
                else if (Math.Abs(a) <= Math.Abs(b)) sg = Math.Sign(Math.FusedMultiplyAdd(a * Scale600, b, -(r * Scale600)));
                else sg = Math.Sign(Math.FusedMultiplyAdd(a, b * Scale600, -(r * Scale600)));
                return FinishD(r, sg);
            }
            case 3:
            {
                if ((a == 0 && b == 0) || (double.IsInfinity(a) && double.IsInfinity(b))) return InvalidD();
                if (b == 0)
                {
                    fpFlags |= MxZE;
                    return double.IsNegative(a) != double.IsNegative(b) ? double.NegativeInfinity : double.PositiveInfinity;
                }
                double q = a / b;
                if (inf || a == 0) return q;
                double res;
                if (Math.Abs(q) < TinyD) res = Math.FusedMultiplyAdd(-(q * Scale600), b, a * Scale600);
                else if (Math.Abs(a) < SmallD) res = Math.FusedMultiplyAdd(-q, b * Scale600, a * Scale600);
                else if (double.IsInfinity(q)) res = 0;
                else res = Math.FusedMultiplyAdd(-q, b, a);
                return FinishD(q, Math.Sign(res) * Math.Sign(b));
            }
            default:
            {
                if (a < 0) return InvalidD();
                if (a == 0 || inf) return a;
                double q = Math.Sqrt(a);
                double res = a < SmallD ? Math.FusedMultiplyAdd(-(q * Scale300), q * Scale300, a * Scale600) : Math.FusedMultiplyAdd(-q, q, a);
                return FinishD(q, Math.Sign(res));
            }
        }
    }

    private float ArithF(int k, float a, float b)
    {
        if (k == 4) a = b;
        if (fpDaz) { a = DazF(a); b = DazF(b); }
        if (float.IsNaN(a) || float.IsNaN(b)) return NanF(a, b);
        if (IsDenormalF(a) || IsDenormalF(b)) fpFlags |= fpDe;
        bool inf = float.IsInfinity(a) || float.IsInfinity(b);
        double A = a, B = b;
        switch (k)
        {
            case 0:
            case 1:
            {
                if (k == 1) B = -B;
                if (double.IsInfinity(A) && double.IsInfinity(B) && A != B) return InvalidF();
                double hi = A + B;
                if (inf) return (float)hi;
                int sg = TwoSumSign(A, B, hi);
                if (hi == 0 && sg == 0) return (float)ZeroSum(A, B);
                return RoundF(hi, sg);
            }
            case 2:
                if ((a == 0 && float.IsInfinity(b)) || (b == 0 && float.IsInfinity(a))) return InvalidF();
                if (inf || a == 0 || b == 0) return (float)(A * B);
                return RoundF(A * B, 0);
            case 3:
            {
                if ((a == 0 && b == 0) || (inf && float.IsInfinity(a) && float.IsInfinity(b))) return InvalidF();
                if (b == 0)
                {
                    fpFlags |= MxZE;
                    return float.IsNegative(a) != float.IsNegative(b) ? float.NegativeInfinity : float.PositiveInfinity;
                }
                double q = A / B;
                if (inf || a == 0) return (float)q;
                return RoundF(q, Math.Sign(Math.FusedMultiplyAdd(-q, B, A)) * Math.Sign(B));
            }
            default:
            {
                if (a < 0) return InvalidF();
                if (a == 0 || inf) return a;
                double q = Math.Sqrt(A);
                return RoundF(q, Math.Sign(Math.FusedMultiplyAdd(-q, q, A)));
            }
        }
    }

    /// <summary>minps/maxps: a NaN in either operand, or two zeros, give the second (source) operand unchanged.</summary>
    private ulong MinMax(bool max, bool dbl, ulong ab, ulong bb)
    {
        double a = dbl ? F64(ab) : F32(ab), b = dbl ? F64(bb) : F32(bb);
        if (fpDaz)
        {
            if (dbl ? IsDenormalD(a) : IsDenormalF((float)a)) ab = dbl ? ab & 0x8000_0000_0000_0000 : ab & 0x8000_0000;
            if (dbl ? IsDenormalD(b) : IsDenormalF((float)b)) bb = dbl ? bb & 0x8000_0000_0000_0000 : bb & 0x8000_0000;
            a = dbl ? F64(ab) : F32(ab);
            b = dbl ? F64(bb) : F32(bb);
        }
        if (double.IsNaN(a) || double.IsNaN(b))
        {
            fpFlags |= MxIE;
            return bb;
        }
        if (dbl ? IsDenormalD(a) || IsDenormalD(b) : IsDenormalF((float)a) || IsDenormalF((float)b)) fpFlags |= fpDe;
        return max ? (a > b ? ab : bb) : (a < b ? ab : bb);
    }

    private bool Compare(int pred, bool dbl, ulong ab, ulong bb)
    {
        double a = dbl ? F64(ab) : F32(ab), b = dbl ? F64(bb) : F32(bb);
        if (fpDaz) { a = dbl ? DazD(a) : DazF((float)a); b = dbl ? DazD(b) : DazF((float)b); }
        bool unord = double.IsNaN(a) || double.IsNaN(b);
        if (unord)
        {
            bool snan = dbl ? IsSnanD(a) || IsSnanD(b) : IsSnanF(F32(ab)) || IsSnanF(F32(bb));
            if (snan || pred is 1 or 2 or 5 or 6) fpFlags |= MxIE;
        }
        else if (dbl ? IsDenormalD(a) || IsDenormalD(b) : IsDenormalF((float)a) || IsDenormalF((float)b)) fpFlags |= fpDe;
        return pred switch
        {
            0 => !unord && a == b,
            1 => !unord && a < b,
            2 => !unord && a <= b,
            3 => unord,
            4 => unord || a != b,
            5 => unord || !(a < b),
            6 => unord || !(a <= b),
            _ => !unord,
        };
    }

    private ulong RoundInt(bool dbl, ulong xb, int imm)
    {
        int mode = (imm & 4) != 0 ? fpRc : imm & 3;
        if (dbl)
        {
            double x = F64(xb);
            if (double.IsNaN(x)) return B64(NanD(x, x));
            if (fpDaz) x = DazD(x);
            double r = mode switch { 0 => Math.Round(x, MidpointRounding.ToEven), 1 => Math.Floor(x), 2 => Math.Ceiling(x), _ => Math.Truncate(x) };
            if (r != x && (imm & 8) == 0) fpFlags |= MxPE;
            return B64(r);
        }
        else
        {
            float x = F32(xb);
            if (float.IsNaN(x)) return B32(NanF(x, x));
            if (fpDaz) x = DazF(x);
            float r = mode switch { 0 => MathF.Round(x, MidpointRounding.ToEven), 1 => MathF.Floor(x), 2 => MathF.Ceiling(x), _ => MathF.Truncate(x) };
            if (r != x && (imm & 8) == 0) fpFlags |= MxPE;
            return B32(r);
        }
    }

    private ulong Lane(int k, bool dbl, ulong a, ulong b) =>
        dbl ? B64(ArithD(k, F64(a), F64(b))) : B32(ArithF(k, F32(a), F32(b)));

    /// <summary>A floating-point value to a signed integer of <paramref name="size"/> bytes: the integer indefinite (sign bit only) for NaN and out of range.</summary>
    private ulong ToInt(double x, bool isFloat, int size, bool trunc)
    {
        ulong indefinite = 1UL << (8 * size - 1);
        if (double.IsNaN(x))
        {
            fpFlags |= MxIE;
            return indefinite;
        }
        if (fpDaz && (isFloat ? IsDenormalF((float)x) : IsDenormalD(x))) x = 0;
        double r = trunc ? Math.Truncate(x) : fpRc switch
        {
            0 => Math.Round(x, MidpointRounding.ToEven),
            1 => Math.Floor(x),
            2 => Math.Ceiling(x),
            _ => Math.Truncate(x),
        };
        bool inRange = size == 4 ? r >= -2147483648.0 && r <= 2147483647.0 : r >= -9223372036854775808.0 && r < 9223372036854775808.0;
        if (!inRange)
        {
            fpFlags |= MxIE;
            return indefinite;
        }
        if (r != x) fpFlags |= MxPE;
        return (ulong)(long)r & SizeMask(size);
    }

    private ulong FloatToDouble(ulong fb)
    {
        float x = F32(fb);
        if (float.IsNaN(x))
        {
            if (IsSnanF(x)) fpFlags |= MxIE;
            return ((ulong)(fb & 0x8000_0000) << 32) | 0x7FF8_0000_0000_0000 | ((ulong)(fb & 0x003F_FFFF) << 29);
        }
        if (IsDenormalF(x))
        {
            if (fpDaz) x = DazF(x);
            else fpFlags |= fpDe;
        }
        return B64(x);
    }

    private ulong DoubleToFloat(ulong db)
    {
        double x = F64(db);
        if (double.IsNaN(x))
        {
            if (IsSnanD(x)) fpFlags |= MxIE;
            return (uint)((db >> 32) & 0x8000_0000) | 0x7FC0_0000 | (uint)((db >> 29) & 0x003F_FFFF);
        }
        if (IsDenormalD(x))
        {
            if (fpDaz) x = DazD(x);
            else fpFlags |= fpDe;
        }
        return B32(RoundF(x, 0));
    }

    private ulong IntToFloat(long v, bool dbl)
    {
        double hi = v;
        int sg = ((Int128)v).CompareTo((Int128)hi);
        return dbl ? B64(FinishD(hi, sg)) : B32(RoundF(hi, sg));
    }

    private V128 FloatOp(ref Op op, ref ulong R, VOp vop, ref V128 d, ref V128 s)
    {
        int t = op.Aux2;
        byte imm = (byte)op.Imm;
        V128 r = d;
        bool dbl = (t & 1) != 0;
        int e = dbl ? 8 : 4;
        int lanes = t >= 2 ? 1 : dbl ? 2 : 4;
        switch (vop)
        {
            case VOp.FAdd: case VOp.FSub: case VOp.FMul: case VOp.FDiv: case VOp.FSqrt:
            {
                int k = vop - VOp.FAdd;
                for (int i = 0; i < lanes; i++) SetE(ref r, i, e, Lane(k, dbl, GetU(ref d, i, e), GetU(ref s, i, e)));
                break;
            }
            case VOp.FMin:
            case VOp.FMax:
                for (int i = 0; i < lanes; i++) SetE(ref r, i, e, MinMax(vop == VOp.FMax, dbl, GetU(ref d, i, e), GetU(ref s, i, e)));
                break;
            case VOp.FCmp:
                for (int i = 0; i < lanes; i++) SetE(ref r, i, e, Compare(imm & 7, dbl, GetU(ref d, i, e), GetU(ref s, i, e)) ? ulong.MaxValue : 0);
                break;
            case VOp.FRound:
                for (int i = 0; i < lanes; i++) SetE(ref r, i, e, RoundInt(dbl, GetU(ref s, i, e), imm));
                break;
            case VOp.FAddSub:
                for (int i = 0; i < lanes; i++) SetE(ref r, i, e, Lane((i & 1) == 0 ? 1 : 0, dbl, GetU(ref d, i, e), GetU(ref s, i, e)));
                break;
            case VOp.FHAdd:
            case VOp.FHSub:
            {
                int k = vop == VOp.FHAdd ? 0 : 1, h = lanes / 2;
                for (int i = 0; i < lanes; i++)
                {
                    ref V128 src = ref (i < h ? ref d : ref s);
                    int j = 2 * (i % h);
                    SetE(ref r, i, e, Lane(k, dbl, GetU(ref src, j, e), GetU(ref src, j + 1, e)));
                }
                break;
            }
            case VOp.FDp:
            {
                Span<ulong> p = stackalloc ulong[4];
                for (int i = 0; i < lanes; i++) p[i] = ((imm >> (4 + i)) & 1) != 0 ? Lane(2, dbl, GetU(ref d, i, e), GetU(ref s, i, e)) : 0;
                ulong sum = dbl ? Lane(0, true, p[0], p[1]) : Lane(0, false, Lane(0, false, p[0], p[1]), Lane(0, false, p[2], p[3]));
                r = default;
                for (int i = 0; i < lanes; i++) SetE(ref r, i, e, ((imm >> i) & 1) != 0 ? sum : 0);
                break;
            }
            case VOp.CvtI2F:
            {
                long v = op.Size == 8 ? (long)s.Lo : (int)s.Lo;
                SetE(ref r, 0, e, IntToFloat(v, dbl));
                break;
            }
            case VOp.CvtF2F:
            {
                int from = t & 3, to = (t >> 2) & 3;
                if (from == 2) r.Lo = FloatToDouble(s.Lo & 0xFFFF_FFFF);
                else if (from == 3) SetE(ref r, 0, 4, DoubleToFloat(s.Lo));
                else if (from == 0)
                {
                    r.Lo = FloatToDouble(s.Lo & 0xFFFF_FFFF);
                    r.Hi = FloatToDouble(s.Lo >> 32);
                }
                else
                {
                    r.Lo = DoubleToFloat(s.Lo) | (DoubleToFloat(s.Hi) << 32);
                    r.Hi = 0;
                }
                _ = to;
                break;
            }
            case VOp.CvtDq2F:
                if (!dbl)
                    for (int i = 0; i < 4; i++) SetE(ref r, i, 4, IntToFloat((int)GetU(ref s, i, 4), false));
                else
                {
                    r.Lo = B64((int)s.Lo);
                    r.Hi = B64((int)(s.Lo >> 32));
                }
                break;
            case VOp.CvtF2Dq:
            {
                bool trunc = (t & 0x10) != 0;
                r = default;
                for (int i = 0; i < lanes; i++)
                    SetE(ref r, i, 4, ToInt(dbl ? F64(GetU(ref s, i, 8)) : F32(GetU(ref s, i, 4)), !dbl, 4, trunc));
                break;
            }
            case VOp.CvtPi2F:
                if (!dbl)
                {
                    SetE(ref r, 0, 4, IntToFloat((int)s.Lo, false));
                    SetE(ref r, 1, 4, IntToFloat((int)(s.Lo >> 32), false));
                }
                else
                {
                    r.Lo = B64((int)s.Lo);
                    r.Hi = B64((int)(s.Lo >> 32));
                }
                break;
            case VOp.CvtF2Pi:
            {
                bool trunc = (t & 0x10) != 0;
                r = default;
                for (int i = 0; i < 2; i++)
                    SetE(ref r, i, 4, ToInt(dbl ? F64(GetU(ref s, i, 8)) : F32(GetU(ref s, i, 4)), !dbl, 4, trunc));
                break;
            }
        }
        return r;
    }

    private int ConvertToInt(ref Op op, ref ulong R)
    {
        if (!Source(ref op, ref R, out V128 s)) return StFault;
        FpBegin(cpu);
        bool isFloat = (op.Aux2 & 3) == 2;
        double x = isFloat ? F32(s.Lo) : F64(s.Lo);
        ulong v = ToInt(x, isFloat, op.C, (op.Aux2 & 0x10) != 0);
        if (!FpEnd(cpu)) return StFault;
        Unsafe.Add(ref R, op.A) = v;
        return StOk;
    }

    private int Comi(ref Op op, ref ulong R, bool unordered)
    {
        if (!Source(ref op, ref R, out V128 s)) return StFault;
        CpuState c = cpu;
        FpBegin(c);
        bool dbl = (op.Aux2 & 1) != 0;
        ulong ab = dbl ? c.XmmLo[op.A] : c.XmmLo[op.A] & 0xFFFF_FFFF, bb = dbl ? s.Lo : s.Lo & 0xFFFF_FFFF;
        double a = dbl ? F64(ab) : F32(ab), b = dbl ? F64(bb) : F32(bb);
        if (fpDaz) { a = dbl ? DazD(a) : DazF((float)a); b = dbl ? DazD(b) : DazF((float)b); }
        ulong flags;
        if (double.IsNaN(a) || double.IsNaN(b))
        {
            bool snan = dbl ? IsSnanD(a) || IsSnanD(b) : IsSnanF(F32(ab)) || IsSnanF(F32(bb));
            if (snan || !unordered) fpFlags |= MxIE;
            flags = CpuState.FlagZf | CpuState.FlagPf | CpuState.FlagCf;
        }
        else
        {
            if (dbl ? IsDenormalD(a) || IsDenormalD(b) : IsDenormalF((float)a) || IsDenormalF((float)b)) fpFlags |= fpDe;
            flags = a > b ? 0 : a < b ? CpuState.FlagCf : CpuState.FlagZf;
        }
        if (!FpEnd(c)) return StFault;
        c.SetArithBits(CpuState.ArithmeticFlags, flags);
        return StOk;
    }

    // ------------------------------------------------------------------ pcmpestri / pcmpestrm / pcmpistri / pcmpistrm

    private int PcmpStr(ref Op op, ref ulong R)
    {
        if (!Source(ref op, ref R, out V128 b)) return StFault;
        CpuState c = cpu;
        V128 a = Reg128(c, op.A, false);
        int imm = (byte)op.Imm;
        int e = (imm & 1) != 0 ? 2 : 1, n = 16 / e;
        bool signed = (imm & 2) != 0;
        bool explicitLen = (op.Aux2 & 1) != 0, mask = (op.Aux2 & 2) != 0;
        int la, lb;
        if (explicitLen)
        {
            long ra = (op.Aux2 & 4) != 0 ? (long)Unsafe.Add(ref R, 0) : (int)Unsafe.Add(ref R, 0);
            long rb = (op.Aux2 & 4) != 0 ? (long)Unsafe.Add(ref R, 2) : (int)Unsafe.Add(ref R, 2);
            la = (int)Math.Min(ra == long.MinValue ? n : Math.Abs(ra), n);
            lb = (int)Math.Min(rb == long.MinValue ? n : Math.Abs(rb), n);
        }
        else
        {
            la = n;
            lb = n;
            for (int i = 0; i < n; i++) if (GetU(ref a, i, e) == 0) { la = i; break; }
            for (int i = 0; i < n; i++) if (GetU(ref b, i, e) == 0) { lb = i; break; }
        }
        long El(ref V128 v, int i) => signed ? GetS(ref v, i, e) : (long)GetU(ref v, i, e);
        int agg = (imm >> 2) & 3;
        uint res1 = 0;
        for (int j = 0; j < n; j++)
        {
            bool bit = false;
            switch (agg)
            {
                case 0:   // equal any
                    if (j < lb)
                        for (int i = 0; i < la && !bit; i++) bit = El(ref a, i) == El(ref b, j);
                    break;
                case 1:   // ranges
                    if (j < lb)
                        for (int i = 0; i + 1 < la && !bit; i += 2)
                            bit = El(ref a, i) <= El(ref b, j) && El(ref b, j) <= El(ref a, i + 1);
                    break;
                case 2:   // equal each
                    bit = j >= la && j >= lb || (j < la && j < lb && El(ref a, j) == El(ref b, j));
                    break;
                default:  // equal ordered
                    bit = true;
                    for (int i = 0; i < n - j && bit; i++)
                    {
                        int k = j + i;
                        if (i >= la) continue;                 // needle exhausted: true
                        if (k >= lb) bit = false;              // haystack exhausted
                        else bit = El(ref a, i) == El(ref b, k);
                    }
                    break;
            }
            if (bit) res1 |= 1u << j;
        }
        uint all = (1u << n) - 1;
        uint res2 = ((imm >> 4) & 3) switch
        {
            1 => ~res1 & all,
            3 => (res1 ^ ((1u << lb) - 1)) & all,
            _ => res1,
        };
        ulong flags = (res2 != 0 ? CpuState.FlagCf : 0) | (lb < n ? CpuState.FlagZf : 0) | (la < n ? CpuState.FlagSf : 0) | ((res2 & 1) != 0 ? CpuState.FlagOf : 0);
        if (mask)
        {
            V128 m = default;
            if ((imm & 0x40) == 0) m.Lo = res2;
            else
                for (int i = 0; i < n; i++) SetE(ref m, i, e, ((res2 >> i) & 1) != 0 ? ulong.MaxValue : 0);
            c.XmmLo[0] = m.Lo;
            c.XmmHi[0] = m.Hi;
        }
        else
        {
            int index = res2 == 0 ? n : (imm & 0x40) == 0 ? System.Numerics.BitOperations.TrailingZeroCount(res2) : 31 - System.Numerics.BitOperations.LeadingZeroCount(res2);
            Unsafe.Add(ref R, 1) = (uint)index;
        }
        c.SetArithBits(CpuState.ArithmeticFlags, flags);
        return StOk;
    }

    // ------------------------------------------------------------------ AES (FIPS-197)

    private static byte[] AesSbox => AesTables.Sbox;
    private static byte[] AesInvSbox => AesTables.InvSbox;

    private static class AesTables
    {
        public static readonly byte[] Sbox = new byte[256], InvSbox = new byte[256];

        static AesTables() => BuildAesTables(Sbox, InvSbox);
    }

    private static byte GfMul(int a, int b)
    {
        int p = 0;
        for (int i = 0; i < 8; i++)
        {
            if ((b & 1) != 0) p ^= a;
            a <<= 1;
            if ((a & 0x100) != 0) a ^= 0x11B;
            b >>= 1;
        }
        return (byte)p;
    }

    /// <summary>FIPS-197 5.1.1: the multiplicative inverse in GF(2^8) followed by the affine transformation.</summary>
    private static void BuildAesTables(byte[] sbox, byte[] invSbox)
    {
        for (int x = 0; x < 256; x++)
        {
            int inv = 0;
            if (x != 0)
                for (int y = 1; y < 256; y++)
                    if (GfMul(x, y) == 1) { inv = y; break; }
            int s = inv;
            for (int i = 1; i <= 4; i++) s ^= ((inv << i) | (inv >> (8 - i))) & 0xFF;
            s ^= 0x63;
            sbox[x] = (byte)s;
            invSbox[s] = (byte)x;
        }
    }

    private static V128 Aes(VOp vop, V128 d, V128 s, byte imm)
    {
        Span<byte> st = stackalloc byte[16], t = stackalloc byte[16];
        V128 r = default;
        if (vop == VOp.AesKeyGen)
        {
            uint x1 = (uint)(s.Lo >> 32), x3 = (uint)(s.Hi >> 32);
            uint s1 = SubWord(x1), s3 = SubWord(x3);
            r.Lo = s1 | ((ulong)(((s1 >> 8) | (s1 << 24)) ^ imm) << 32);
            r.Hi = s3 | ((ulong)(((s3 >> 8) | (s3 << 24)) ^ imm) << 32);
            return r;
        }
        V128 input = vop == VOp.AesImc ? s : d;
        for (int i = 0; i < 16; i++) st[i] = (byte)GetU(ref input, i, 1);
        // state byte 4c + r is row r of column c
        switch (vop)
        {
            case VOp.AesEnc:
            case VOp.AesEncLast:
                for (int c = 0; c < 4; c++)
                    for (int rr = 0; rr < 4; rr++) t[4 * c + rr] = AesSbox[st[4 * ((c + rr) & 3) + rr]];
                if (vop == VOp.AesEnc) MixColumns(t, false);
                break;
            case VOp.AesDec:
            case VOp.AesDecLast:
                for (int c = 0; c < 4; c++)
                    for (int rr = 0; rr < 4; rr++) t[4 * c + rr] = AesInvSbox[st[4 * ((c - rr + 4) & 3) + rr]];
                if (vop == VOp.AesDec) MixColumns(t, true);
                break;
            default:   // aesimc
                st.CopyTo(t);
                MixColumns(t, true);
                break;
        }
        for (int i = 0; i < 16; i++) SetE(ref r, i, 1, t[i]);
        if (vop != VOp.AesImc)
        {
            r.Lo ^= s.Lo;
            r.Hi ^= s.Hi;
        }
        return r;
    }

    private static uint SubWord(uint w) =>
        AesSbox[w & 0xFF] | ((uint)AesSbox[(w >> 8) & 0xFF] << 8) | ((uint)AesSbox[(w >> 16) & 0xFF] << 16) | ((uint)AesSbox[w >> 24] << 24);

    private static void MixColumns(Span<byte> t, bool inverse)
    {
        for (int c = 0; c < 4; c++)
        {
            int a0 = t[4 * c], a1 = t[4 * c + 1], a2 = t[4 * c + 2], a3 = t[4 * c + 3];
            if (!inverse)
            {
                t[4 * c] = (byte)(GfMul(a0, 2) ^ GfMul(a1, 3) ^ a2 ^ a3);
                t[4 * c + 1] = (byte)(a0 ^ GfMul(a1, 2) ^ GfMul(a2, 3) ^ a3);
                t[4 * c + 2] = (byte)(a0 ^ a1 ^ GfMul(a2, 2) ^ GfMul(a3, 3));
                t[4 * c + 3] = (byte)(GfMul(a0, 3) ^ a1 ^ a2 ^ GfMul(a3, 2));
            }
            else
            {
                t[4 * c] = (byte)(GfMul(a0, 14) ^ GfMul(a1, 11) ^ GfMul(a2, 13) ^ GfMul(a3, 9));
                t[4 * c + 1] = (byte)(GfMul(a0, 9) ^ GfMul(a1, 14) ^ GfMul(a2, 11) ^ GfMul(a3, 13));
                t[4 * c + 2] = (byte)(GfMul(a0, 13) ^ GfMul(a1, 9) ^ GfMul(a2, 14) ^ GfMul(a3, 11));
                t[4 * c + 3] = (byte)(GfMul(a0, 11) ^ GfMul(a1, 13) ^ GfMul(a2, 9) ^ GfMul(a3, 14));
            }
        }
    }
}
