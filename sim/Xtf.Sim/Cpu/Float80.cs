using System.Numerics;

namespace Xtf.Sim.Cpu;

/// <summary>An x87 80-bit extended value: explicit 64-bit significand and sign/biased exponent.</summary>
public struct Float80 : IEquatable<Float80>
{
    public ulong Mant;
    public ushort SignExp;

    public Float80(ulong mant, ushort signExp)
    {
        Mant = mant;
        SignExp = signExp;
    }

    public readonly bool Sign => (SignExp & 0x8000) != 0;
    public readonly int Exp => SignExp & 0x7FFF;
    public readonly bool IsZero => Exp == 0 && Mant == 0;
    /// <summary>Unnormal, pseudo-infinity, pseudo-NaN: a non-zero exponent without the integer bit (QEMU: invalid encoding).</summary>
    public readonly bool IsInvalidEncoding => Exp != 0 && (Mant >> 63) == 0;
    public readonly bool IsNaN => Exp == 0x7FFF && (Mant >> 63) != 0 && (Mant << 1) != 0;
    public readonly bool IsSignalingNaN => IsNaN && (Mant & (1UL << 62)) == 0;
    public readonly bool IsInfinity => Exp == 0x7FFF && Mant == 1UL << 63;

    public readonly bool Equals(Float80 o) => Mant == o.Mant && SignExp == o.SignExp;
    public override readonly bool Equals(object? obj) => obj is Float80 f && Equals(f);
    public override readonly int GetHashCode() => HashCode.Combine(Mant, SignExp);
    public override readonly string ToString() => $"{SignExp:x4}:{Mant:x16}";
}

/// <summary>
/// A deterministic soft-float for the x87 80-bit format with the rounding and exception rules of
/// the measured CPU (QEMU 10 TCG; docs/pv-abi.md §18.4): results rounded to the precision control
/// (24, 53 or 64 bits, exponent range kept) in the rounding control's direction, tininess detected
/// after rounding, underflow only when inexact, x87 NaN propagation, the negative default NaN for
/// invalid operations and invalid encodings. Flags are FSW bits (IE 1, DE 2, ZE 4, OE 8, UE 0x10, PE 0x20).
/// Written from the IEEE 754 rules; no allocation (UInt128 is a struct).
/// </summary>
public static class F80
{
    public const int IE = 1, DE = 2, ZE = 4, OE = 8, UE = 0x10, PE = 0x20;
    public const int RcNearest = 0, RcDown = 1, RcUp = 2, RcZero = 3;
    private const int Bias = 16383;
    private static readonly UInt128 Top = UInt128.One << 127;

    public static readonly Float80 DefaultNaN = new(0xC000_0000_0000_0000UL, 0xFFFF);
    public static readonly Float80 One = new(1UL << 63, 0x3FFF);

    public static Float80 Zero(bool sign) => new(0, (ushort)(sign ? 0x8000 : 0));
    public static Float80 Inf(bool sign) => new(1UL << 63, (ushort)(sign ? 0xFFFF : 0x7FFF));

    /// <summary>Significand bits kept for an FCW precision control (0: 24, 2: 53, 1 and 3: 64).</summary>
    public static int PrecisionBits(int pc) => pc switch { 0 => 24, 2 => 53, _ => 64 };

    // ---- unpacking -------------------------------------------------------------------------

    /// <summary>Finite non-zero value as (sign, unbiased exponent, significand with bit 63 set): value = m/2^63 * 2^e.</summary>
    private static void Unpack(Float80 a, out bool s, out int e, out ulong m)
    {
        s = a.Sign;
        m = a.Mant;
        int ex = a.Exp;
        if (ex == 0)
        {
            int lz = BitOperations.LeadingZeroCount(m);
            m <<= lz;
            e = 1 - Bias - lz;
        }
        else e = ex - Bias;
    }

    private static Float80 Quiet(Float80 a) => new(a.Mant | (1UL << 62), a.SignExp);

    /// <summary>The NaN an operation on a and b returns (x87 rule: a QNaN before an SNaN, else the larger significand, equal: the positive one); IE for an SNaN.</summary>
    private static Float80 PickNaN(Float80 a, Float80 b, ref int flags)
    {
        bool an = a.IsNaN, bn = b.IsNaN;
        bool asn = a.IsSignalingNaN, bsn = b.IsSignalingNaN;
        if (asn || bsn) flags |= IE;
        Float80 r;
        if (!an) r = b;
        else if (!bn) r = a;
        else if (asn != bsn) r = asn ? b : a;
        else
        {
            ulong ma = a.Mant | (1UL << 62), mb = b.Mant | (1UL << 62);
            if (ma != mb) r = ma > mb ? a : b;
            else r = !a.Sign && b.Sign ? a : b;
        }
        return Quiet(r);
    }

    /// <summary>NaN or invalid-encoding operands: true with the result set.</summary>
    private static bool Special2(Float80 a, Float80 b, ref int flags, out Float80 r)
    {
        bool ai = a.IsInvalidEncoding, bi = b.IsInvalidEncoding;
        if (ai || bi)
        {
            // An invalid encoding is IE and reads as the default NaN; the other NaN rules then apply.
            flags |= IE;
            if (ai) a = DefaultNaN;
            if (bi) b = DefaultNaN;
        }
        if (a.IsNaN || b.IsNaN)
        {
            r = PickNaN(a, b, ref flags);
            return true;
        }
        r = default;
        return false;
    }

    private static bool Special1(Float80 a, ref int flags, out Float80 r)
    {
        if (a.IsInvalidEncoding)
        {
            flags |= IE;
            r = DefaultNaN;
            return true;
        }
        if (a.IsNaN)
        {
            if (a.IsSignalingNaN) flags |= IE;
            r = Quiet(a);
            return true;
        }
        r = default;
        return false;
    }

    // ---- rounding --------------------------------------------------------------------------

    /// <summary>
    /// Rounds sig (bit 127 set; value = sig/2^127 * 2^e) to <paramref name="bits"/> significant bits
    /// in a format with exponent bias <paramref name="bias"/> and maximum biased exponent
    /// <paramref name="emax"/> (infinity). Returns the biased exponent (0 for denormal/zero) and the
    /// significand with its integer bit at 63.
    /// </summary>
    internal static ulong Round(bool sign, int e, UInt128 sig, int bits, int bias, int emax, int rc, ref int flags, out int exp)
    {
        int drop = 128 - bits;
        UInt128 roundMask = (UInt128.One << drop) - 1, half = UInt128.One << (drop - 1), evenMask = (UInt128.One << (drop + 1)) - 1;
        UInt128 inc;
        bool overflowToMax;
        switch (rc)
        {
            case RcDown: inc = sign ? roundMask : 0; overflowToMax = !sign; break;
            case RcUp: inc = sign ? 0 : roundMask; overflowToMax = sign; break;
            case RcZero: inc = 0; overflowToMax = true; break;
            default: inc = (sig & evenMask) != half ? half : 0; overflowToMax = false; break;
        }
        exp = e + bias;
        if (exp > 0)
        {
            if ((sig & roundMask) != 0)
            {
                flags |= PE;
                UInt128 s2 = sig + inc;
                if (s2 < sig)
                {
                    s2 = (s2 >> 1) | Top;
                    exp++;
                }
                sig = s2 & ~roundMask;
            }
            if (exp >= emax)
            {
                flags |= OE | PE;
                if (overflowToMax)
                {
                    exp = emax - 1;
                    return (ulong)((UInt128.MaxValue & ~roundMask) >> 64);
                }
                exp = emax;
                return 1UL << 63;
            }
            return (ulong)(sig >> 64);
        }
        // Denormal range: tiny when the exponent is below the minimum even after rounding at full precision.
        bool tiny = exp < 0 || sig + inc >= sig;
        int shift = 1 - exp;
        if (shift >= 128) sig = sig != 0 ? UInt128.One : 0;
        else
        {
            bool lost = (sig & ((UInt128.One << shift) - 1)) != 0;
            sig = (sig >> shift) | (lost ? UInt128.One : 0);
        }
        if ((sig & roundMask) != 0)
        {
            if (rc == RcNearest) inc = (sig & evenMask) != half ? half : 0;
            flags |= PE;
            sig = (sig + inc) & ~roundMask;
        }
        exp = (sig >> 127) != 0 ? 1 : 0;
        if (tiny && (flags & PE) != 0) flags |= UE;
        return (ulong)(sig >> 64);
    }

    /// <summary>Normalizes and rounds to the x87 format at precision control pc.</summary>
    private static Float80 Pack(bool sign, int e, UInt128 sig, int rc, int pc, ref int flags)
    {
        if (sig == 0) return Zero(sign);
        int lz = (int)UInt128.LeadingZeroCount(sig);
        sig <<= lz;
        e -= lz;
        int f0 = flags;
        flags = 0;
        ulong m = Round(sign, e, sig, PrecisionBits(pc), Bias, 0x7FFF, rc, ref flags, out int exp);
        // UE from this rounding only (the caller's earlier PE must not count as inexact here).
        flags |= f0;
        return new Float80(m, (ushort)((sign ? 0x8000 : 0) | exp));
    }

    // ---- arithmetic ------------------------------------------------------------------------

    public static Float80 Add(Float80 a, Float80 b, int rc, int pc, ref int flags) => AddSub(a, b, false, rc, pc, ref flags);
    public static Float80 Sub(Float80 a, Float80 b, int rc, int pc, ref int flags) => AddSub(a, b, true, rc, pc, ref flags);

    private static Float80 AddSub(Float80 a, Float80 b, bool subtract, int rc, int pc, ref int flags)
    {
        if (Special2(a, b, ref flags, out var r)) return r;
        bool sa = a.Sign, sb = b.Sign ^ subtract;
        bool ia = a.IsInfinity, ib = b.IsInfinity;
        if (ia || ib)
        {
            if (ia && ib && sa != sb)
            {
                flags |= IE;
                return DefaultNaN;
            }
            return Inf(ia ? sa : sb);
        }
        bool za = a.IsZero, zb = b.IsZero;
        if (za && zb) return Zero(sa == sb ? sa : rc == RcDown);
        if (za) return RoundValue(b, sb, rc, pc, ref flags);
        if (zb) return RoundValue(a, sa, rc, pc, ref flags);
        Unpack(a, out _, out int ea, out ulong ma);
        Unpack(b, out _, out int eb, out ulong mb);
        // Order by magnitude: x the larger.
        bool swap = eb > ea || (eb == ea && mb > ma);
        if (swap)
        {
            (ea, eb) = (eb, ea);
            (ma, mb) = (mb, ma);
            (sa, sb) = (sb, sa);
        }
        UInt128 x = (UInt128)ma << 62, y = (UInt128)mb << 62;   // two spare top bits for a carry
        int d = ea - eb;
        if (d > 0) y = ShiftRightJam(y, d);
        UInt128 z;
        if (sa == sb) z = x + y;
        else
        {
            z = x - y;
            if (z == 0) return Zero(rc == RcDown);
        }
        // value = z / 2^125 * 2^ea (x = ma<<62 has its top bit at 125).
        return Pack(sa, ea + 2, z, rc, pc, ref flags);
    }

    private static UInt128 ShiftRightJam(UInt128 v, int n)
    {
        if (n <= 0) return v;
        if (n >= 128) return v != 0 ? UInt128.One : 0;
        bool lost = (v & ((UInt128.One << n) - 1)) != 0;
        return (v >> n) | (lost ? UInt128.One : 0);
    }

    /// <summary>A finite non-zero value with the given sign, rounded to the precision control.</summary>
    private static Float80 RoundValue(Float80 a, bool sign, int rc, int pc, ref int flags)
    {
        Unpack(a, out _, out int e, out ulong m);
        return Pack(sign, e, (UInt128)m << 64, rc, pc, ref flags);
    }

    public static Float80 Mul(Float80 a, Float80 b, int rc, int pc, ref int flags)
    {
        if (Special2(a, b, ref flags, out var r)) return r;
        bool s = a.Sign ^ b.Sign;
        bool ia = a.IsInfinity, ib = b.IsInfinity, za = a.IsZero, zb = b.IsZero;
        if ((ia && zb) || (ib && za))
        {
            flags |= IE;
            return DefaultNaN;
        }
        if (ia || ib) return Inf(s);
        if (za || zb) return Zero(s);
        Unpack(a, out _, out int ea, out ulong ma);
        Unpack(b, out _, out int eb, out ulong mb);
        UInt128 p = (UInt128)ma * mb;   // value = p / 2^126 * 2^(ea+eb)
        return Pack(s, ea + eb + 1, p, rc, pc, ref flags);
    }

    public static Float80 Div(Float80 a, Float80 b, int rc, int pc, ref int flags)
    {
        if (Special2(a, b, ref flags, out var r)) return r;
        bool s = a.Sign ^ b.Sign;
        bool ia = a.IsInfinity, ib = b.IsInfinity, za = a.IsZero, zb = b.IsZero;
        if ((ia && ib) || (za && zb))
        {
            flags |= IE;
            return DefaultNaN;
        }
        if (ia) return Inf(s);
        if (ib || za) return Zero(s);
        if (zb)
        {
            flags |= ZE;
            return Inf(s);
        }
        Unpack(a, out _, out int ea, out ulong ma);
        Unpack(b, out _, out int eb, out ulong mb);
        int e = ea - eb;
        UInt128 n;
        if (ma >= mb) n = (UInt128)ma << 63;
        else
        {
            n = (UInt128)ma << 64;
            e--;
        }
        UInt128 q1 = n / mb;                       // in [2^63, 2^64)
        ulong r1 = (ulong)(n - q1 * mb);
        UInt128 n2 = (UInt128)r1 << 64;
        UInt128 q2 = n2 / mb;
        bool sticky = n2 - q2 * mb != 0;
        UInt128 sig = (q1 << 64) | q2 | (sticky ? UInt128.One : 0);
        return Pack(s, e, sig, rc, pc, ref flags);
    }

    public static Float80 Sqrt(Float80 a, int rc, int pc, ref int flags)
    {
        if (Special1(a, ref flags, out var r)) return r;
        if (a.IsZero) return a;
        if (a.Sign)
        {
            flags |= IE;
            return DefaultNaN;
        }
        if (a.IsInfinity) return a;
        Unpack(a, out _, out int e, out ulong m);
        UInt128 n;
        int re;
        if ((e & 1) == 0)
        {
            n = (UInt128)m << 63;
            re = e / 2;
        }
        else
        {
            n = (UInt128)m << 64;
            re = (e - 1) >> 1;
        }
        ulong root = ISqrt(n);                      // in [2^63, 2^64): value = root/2^63 * 2^re
        UInt128 rem = n - (UInt128)root * root;     // 0 <= rem <= 2*root
        ulong low = (rem > root ? 1UL << 63 : 0) | (rem != 0 ? 1UL : 0);
        return Pack(false, re, ((UInt128)root << 64) | low, rc, pc, ref flags);
    }

    /// <summary>floor(sqrt(n)) for n in [2^126, 2^128), exact (a double estimate refined by integer Newton steps and checks).</summary>
    private static ulong ISqrt(UInt128 n)
    {
        double est = Math.Sqrt((double)n);
        UInt128 r = est >= 18446744073709551615.0 ? ulong.MaxValue : (UInt128)(ulong)est;
        if (r == 0) r = 1;
        for (int i = 0; i < 3; i++)
        {
            UInt128 nr = (r + n / r) >> 1;
            if (nr == r) break;
            r = nr;
        }
        if (r > ulong.MaxValue) r = ulong.MaxValue;
        while (r * r > n) r--;
        while (r < ulong.MaxValue && (r + 1) * (r + 1) <= n) r++;
        return (ulong)r;
    }

    /// <summary>frndint: rounds to an integer in the rounding control's direction; a value with at least the precision's significant bits counts as integral; the result is then rounded to the precision control.</summary>
    public static Float80 RoundToInt(Float80 a, int rc, int pc, ref int flags)
    {
        if (Special1(a, ref flags, out var r)) return r;
        if (a.IsZero || a.IsInfinity) return a;
        Unpack(a, out bool s, out int e, out ulong m);
        int fracBits = PrecisionBits(pc) - 1;
        if (e >= fracBits) return Pack(s, e, (UInt128)m << 64, rc, pc, ref flags);
        if (e < 0)
        {
            flags |= PE;
            bool one = rc switch
            {
                RcNearest => e == -1 && m > 1UL << 63,
                RcDown => s,
                RcUp => !s,
                _ => false,
            };
            return one ? new Float80(1UL << 63, (ushort)((s ? 0x8000 : 0) | Bias)) : Zero(s);
        }
        int fbits = 63 - e;                         // fraction bits below the integer part
        ulong fracMask = fbits == 0 ? 0 : (1UL << fbits) - 1;
        ulong frac = m & fracMask;
        if (frac == 0) return Pack(s, e, (UInt128)m << 64, rc, pc, ref flags);
        flags |= PE;
        ulong ip = m >> fbits;                      // integer part (bit e set)
        ulong halfv = 1UL << (fbits - 1);
        bool up = rc switch
        {
            RcNearest => frac > halfv || (frac == halfv && (ip & 1) != 0),
            RcDown => s,
            RcUp => !s,
            _ => false,
        };
        if (up) ip++;
        return Pack(s, 63, (UInt128)ip << 64, rc, pc, ref flags);
    }

    /// <summary>a * 2^n (n clamped to ±65536), rounded at full precision (fscale maximises the precision).</summary>
    public static Float80 Scale(Float80 a, int n, int rc, int pc, ref int flags)
    {
        if (Special1(a, ref flags, out var r)) return r;
        if (a.IsZero || a.IsInfinity) return a;
        n = Math.Clamp(n, -0x10000, 0x10000);
        Unpack(a, out bool s, out int e, out ulong m);
        return Pack(s, e + n, (UInt128)m << 64, rc, pc, ref flags);
    }

    /// <summary>
    /// The partial remainder of fprem (truncating quotient) / fprem1 (nearest, ties to even) for an
    /// exponent difference below 64; quotient gets the low 64 bits of the integer quotient
    /// (0 when a is returned unchanged). The result is exact.
    /// </summary>
    public static Float80 Rem(Float80 a, Float80 b, bool truncate, out ulong quotient, ref int flags)
    {
        quotient = 0;
        if (a.IsInvalidEncoding || b.IsInvalidEncoding)
        {
            flags |= IE;
            return DefaultNaN;
        }
        if (a.IsNaN || b.IsNaN) return PickNaN(a, b, ref flags);
        if (a.IsInfinity || b.IsZero)
        {
            flags |= IE;
            return DefaultNaN;
        }
        if (b.IsInfinity || a.IsZero) return Normalized(a);
        Unpack(a, out bool sa, out int ea, out ulong ma);
        Unpack(b, out _, out int eb, out ulong mb);
        int d = ea - eb;
        if (d < 0 && (truncate || d < -1)) return Normalized(a);
        UInt128 num, den;
        int unit;
        if (d >= 0)
        {
            num = (UInt128)ma << d;
            den = mb;
            unit = eb;
        }
        else
        {
            num = ma;
            den = (UInt128)mb << 1;
            unit = ea;
        }
        UInt128 q = num / den;
        UInt128 rem = num - q * den;
        bool s = sa;
        if (!truncate)
        {
            UInt128 alt = den - rem;
            if (alt < rem || (alt == rem && (q & 1) != 0))
            {
                rem = alt;
                q++;
                s = !s;
            }
        }
        quotient = (ulong)q;
        if (rem == 0) return Zero(s);
        // value = rem / 2^63 * 2^unit
        return Pack(s, unit + 64, rem, RcNearest, 3, ref flags);
    }

    /// <summary>A pseudo-denormal is returned in normal form (exponent 1); anything else unchanged.</summary>
    private static Float80 Normalized(Float80 a) =>
        a.Exp == 0 && (a.Mant >> 63) != 0 ? new Float80(a.Mant, (ushort)(a.SignExp | 1)) : a;

    /// <summary>-1 less, 0 equal, 1 greater, 2 unordered. IE for an invalid encoding, an SNaN, or (signalling compare) any NaN.</summary>
    public static int Compare(Float80 a, Float80 b, bool quiet, ref int flags)
    {
        if (a.IsInvalidEncoding || b.IsInvalidEncoding)
        {
            flags |= IE;
            return 2;
        }
        if (a.IsNaN || b.IsNaN)
        {
            if (!quiet || a.IsSignalingNaN || b.IsSignalingNaN) flags |= IE;
            return 2;
        }
        bool za = a.IsZero, zb = b.IsZero;
        if (za && zb) return 0;
        if (a.Sign != b.Sign && !(za || zb)) return a.Sign ? -1 : 1;
        if (za) return b.Sign ? 1 : -1;
        if (zb) return a.Sign ? -1 : 1;
        int mag;
        if (a.IsInfinity || b.IsInfinity) mag = a.IsInfinity == b.IsInfinity ? 0 : a.IsInfinity ? 1 : -1;
        else
        {
            Unpack(a, out _, out int ea, out ulong ma);
            Unpack(b, out _, out int eb, out ulong mb);
            mag = ea != eb ? (ea < eb ? -1 : 1) : ma == mb ? 0 : ma < mb ? -1 : 1;
        }
        return a.Sign ? -mag : mag;
    }

    // ---- conversions -----------------------------------------------------------------------

    /// <summary>
    /// To a signed integer of <paramref name="bits"/> (32 or 64) in the rounding direction rc:
    /// PE when inexact; out of range, NaN, infinity or invalid encoding: IE alone and the integer indefinite.
    /// </summary>
    public static long ToInt(Float80 a, int bits, int rc, ref int flags)
    {
        long min = bits == 64 ? long.MinValue : int.MinValue, max = bits == 64 ? long.MaxValue : int.MaxValue;
        if (a.IsInvalidEncoding || a.IsNaN || a.IsInfinity)
        {
            flags |= IE;
            return min;
        }
        if (a.IsZero) return 0;
        Unpack(a, out bool s, out int e, out ulong m);
        int f = 0;
        ulong ip;
        if (e >= 64) ip = ulong.MaxValue;   // certainly out of range
        else if (e < 0)
        {
            f = PE;
            bool one = rc switch
            {
                RcNearest => e == -1 && m > 1UL << 63,
                RcDown => s,
                RcUp => !s,
                _ => false,
            };
            ip = one ? 1UL : 0;
        }
        else
        {
            int fbits = 63 - e;
            ip = fbits == 0 ? m : m >> fbits;
            ulong frac = fbits == 0 ? 0 : m & ((1UL << fbits) - 1);
            if (frac != 0)
            {
                f = PE;
                ulong halfv = 1UL << (fbits - 1);
                bool up = rc switch
                {
                    RcNearest => frac > halfv || (frac == halfv && (ip & 1) != 0),
                    RcDown => s,
                    RcUp => !s,
                    _ => false,
                };
                if (up) ip++;   // ip < 2^63 here, no wrap
            }
        }
        if (s)
        {
            if (ip <= (ulong)max + 1)
            {
                flags |= f;
                return (long)(0 - ip);
            }
        }
        else if (ip <= (ulong)max)
        {
            flags |= f;
            return (long)ip;
        }
        flags |= IE;
        return min;
    }

    /// <summary>To binary32 (fracBits 23, expBits 8) or binary64 (52, 11) in direction rc; NaNs quieted and truncated, IE for an SNaN.</summary>
    public static ulong ToBinary(Float80 a, int fracBits, int expBits, int rc, ref int flags)
    {
        int emax = (1 << expBits) - 1, bias = (1 << (expBits - 1)) - 1;
        ulong signBit = a.Sign ? 1UL << (fracBits + expBits) : 0;
        ulong expField = (ulong)emax << fracBits;
        if (a.IsInvalidEncoding)
        {
            flags |= IE;
            return (1UL << (fracBits + expBits)) | expField | (1UL << (fracBits - 1));
        }
        if (a.IsNaN)
        {
            if (a.IsSignalingNaN) flags |= IE;
            ulong frac = ((a.Mant << 1) >> (64 - fracBits)) | (1UL << (fracBits - 1));
            return signBit | expField | frac;
        }
        if (a.IsInfinity) return signBit | expField;
        if (a.IsZero) return signBit;
        Unpack(a, out bool s, out int e, out ulong m);
        ulong r = Round(s, e, (UInt128)m << 64, fracBits + 1, bias, emax, rc, ref flags, out int exp);
        // r has the integer bit at 63 (clear for a denormal result): keep the fracBits below it.
        ulong fr = (r << 1) >> (64 - fracBits);
        return signBit | ((ulong)exp << fracBits) | fr;
    }

    /// <summary>Exact conversion of a binary32/binary64 to 80 bits; an SNaN is IE and becomes quiet; a denormal is normalized.</summary>
    public static Float80 FromBinary(ulong bits, int fracBits, int expBits, ref int flags)
    {
        int bias = (1 << (expBits - 1)) - 1, emax = (1 << expBits) - 1;
        ulong frac = bits & ((1UL << fracBits) - 1);
        int exp = (int)((bits >> fracBits) & (ulong)emax);
        int sign = (int)(bits >> (fracBits + expBits)) & 1;
        if (exp == emax)
        {
            ulong mant = (1UL << 63) | (frac << (63 - fracBits));
            if (frac != 0 && (frac >> (fracBits - 1)) == 0)
            {
                flags |= IE;
                mant |= 1UL << 62;
            }
            return new Float80(mant, (ushort)((sign << 15) | 0x7FFF));
        }
        if (exp == 0)
        {
            if (frac == 0) return new Float80(0, (ushort)(sign << 15));
            int lz = BitOperations.LeadingZeroCount(frac);
            return new Float80(frac << lz, (ushort)((sign << 15) | (Bias + 1 - bias - fracBits + 63 - lz)));
        }
        return new Float80((1UL << 63) | (frac << (63 - fracBits)), (ushort)((sign << 15) | (exp - bias + Bias)));
    }

    /// <summary>A signed integer to 80 bits, rounded to the precision control (exact at 64 bits).</summary>
    public static Float80 FromInt(long v, int rc, int pc, ref int flags)
    {
        if (v == 0) return default;
        bool s = v < 0;
        ulong mag = s ? 0 - (ulong)v : (ulong)v;
        return Pack(s, 63, (UInt128)mag << 64, rc, pc, ref flags);
    }
}
