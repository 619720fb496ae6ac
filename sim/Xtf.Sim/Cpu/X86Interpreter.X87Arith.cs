namespace Xtf.Sim.Cpu;

// The x87 forms that round (docs/pv-abi.md §18.4), mirroring QEMU 10 TCG's target/i386/tcg/fpu_helper.c
// (the measured CPU under Xen): results from the Float80 soft-float under FCW.RC/PC, FSW flags
// merged with FpRaise (ES and B when unmasked; the result is written anyway, #MF waits for fwait),
// C1 never reports a round-up, no stack faults.
public sealed partial class X86Interpreter
{
    private static Float80 FpSt(CpuState c, int i)
    {
        int p = (c.FpTop + i) & 7;
        return new Float80(c.FpMantissa[p], c.FpSignExp[p]);
    }

    private static void FpSetSt(CpuState c, int i, Float80 v) => FpSet(c, (c.FpTop + i) & 7, v.Mant, v.SignExp);

    private static int FpRc(CpuState c) => (c.Fcw >> 10) & 3;
    private static int FpPc(CpuState c) => (c.Fcw >> 8) & 3;

    /// <summary>The memory source of an arithmetic/compare form: binary32/64 (SNaN quieted with IE), or an integer converted at the current precision (QEMU's fildl_FT0: rounding without reported flags).</summary>
    private bool FpMemSource(CpuState c, ref Op op, ulong ea, ref int flags, out Float80 v)
    {
        v = default;
        if (!Read(ea, op.Size, op.MemFlags, out ulong raw)) return false;
        if ((op.A & 2) != 0)
        {
            int ignored = 0;
            v = F80.FromInt((long)SignExtend(raw, op.Size), FpRc(c), FpPc(c), ref ignored);
        }
        else v = op.Size == 4 ? F80.FromBinary(raw, 23, 8, ref flags) : F80.FromBinary(raw, 52, 11, ref flags);
        return true;
    }

    /// <summary>The rounding forms; false when <paramref name="x"/> is not one of them.</summary>
    private bool X87Rounding(X87Op x, ref Op op, ulong ea, out int status)
    {
        var c = cpu;
        int rc = FpRc(c), pc = FpPc(c);
        int f = 0;
        status = StOk;
        switch (x)
        {
            case X87Op.Arith:
            {
                // helper_f*_ST0_FT0 / helper_f*_STN_ST0
                Float80 src;
                if ((op.Kinds & Op.KMem) != 0)
                {
                    if (!FpMemSource(c, ref op, ea, ref f, out src))
                    {
                        status = StFault;
                        return true;
                    }
                }
                else src = FpSt(c, op.B);
                bool toSti = (op.A & 1) != 0;
                Float80 d = toSti ? FpSt(c, op.B) : FpSt(c, 0);
                if (toSti) src = FpSt(c, 0);
                Float80 r = op.Aux switch
                {
                    X87Arith.Add => F80.Add(d, src, rc, pc, ref f),
                    X87Arith.Mul => F80.Mul(d, src, rc, pc, ref f),
                    X87Arith.Sub => F80.Sub(d, src, rc, pc, ref f),
                    X87Arith.Subr => F80.Sub(src, d, rc, pc, ref f),
                    X87Arith.Div => F80.Div(d, src, rc, pc, ref f),
                    _ => F80.Div(src, d, rc, pc, ref f),
                };
                FpSetSt(c, toSti ? op.B : 0, r);
                FpRaise(c, f);
                if (op.C != 0) FpPop(c);
                return true;
            }
            case X87Op.Fcom:
            case X87Op.Ftst:
            {
                // helper_fcom_ST0_FT0 / helper_fucom_ST0_FT0: C3 C2 C0 = 000 greater, 001 less, 100 equal, 111 unordered; C1 kept
                Float80 src;
                if (x == X87Op.Ftst) src = default;
                else if ((op.Kinds & Op.KMem) != 0)
                {
                    if (!FpMemSource(c, ref op, ea, ref f, out src))
                    {
                        status = StFault;
                        return true;
                    }
                }
                else src = FpSt(c, op.B);
                int r = F80.Compare(FpSt(c, 0), src, x == X87Op.Fcom && op.Aux == 1, ref f);
                int cc = r switch { -1 => 0x100, 0 => 0x4000, 1 => 0, _ => 0x4500 };
                c.Fsw = (ushort)((c.Fsw & ~0x4500) | cc);
                FpRaise(c, f);
                if ((op.C & 1) != 0) FpPop(c);
                if ((op.C & 2) != 0) FpPop(c);
                return true;
            }
            case X87Op.Fxam:
            {
                // helper_fxam_ST0
                var v = FpSt(c, 0);
                int cc = v.Sign ? 0x200 : 0;
                if (FpTag(c, c.FpTop) == 3) cc |= 0x4100;
                else if (v.Exp == 0x7FFF) cc |= v.Mant == 1UL << 63 ? 0x500 : (v.Mant >> 63) != 0 ? 0x100 : 0;
                else if (v.Exp == 0) cc |= v.Mant == 0 ? 0x4000 : 0x4400;
                else if ((v.Mant >> 63) != 0) cc |= 0x400;
                c.Fsw = (ushort)((c.Fsw & ~0x4700) | cc);
                return true;
            }
            case X87Op.FstM:
            {
                // helper_fsts_ST0 / helper_fstl_ST0: rounds in the RC direction (PC does not apply)
                var v = FpSt(c, 0);
                ulong bits = op.Size == 4 ? F80.ToBinary(v, 23, 8, rc, ref f) : F80.ToBinary(v, 52, 11, rc, ref f);
                if (!Write(ea, op.Size, op.MemFlags, bits))
                {
                    status = StFault;
                    return true;
                }
                FpRaise(c, f);
                if (op.C != 0) FpPop(c);
                return true;
            }
            case X87Op.FistM:
            {
                // helper_fist(t)*_ST0: out of range gives IE alone (no PE) and the integer indefinite
                if (op.Aux == 1 && ((c.VectorFeatures >> VFeat.Sse3) & 1) == 0)
                {
                    Fault(6, 0, false, "fisttp without SSE3");
                    status = StFault;
                    return true;
                }
                int mode = op.Aux == 1 ? F80.RcZero : rc;
                long v = F80.ToInt(FpSt(c, 0), op.Size == 8 ? 64 : 32, mode, ref f);
                if (op.Size == 2 && v != (short)v)
                {
                    f = F80.IE;
                    v = short.MinValue;
                }
                if (!Write(ea, op.Size, op.MemFlags, (ulong)v))
                {
                    status = StFault;
                    return true;
                }
                FpRaise(c, f);
                if (op.C != 0) FpPop(c);
                return true;
            }
            case X87Op.Fsqrt:
            {
                // helper_fsqrt: a negative ST0 (any value with the sign bit, -0 too) sets C2 and clears C3 C1 C0 first
                var v = FpSt(c, 0);
                if (v.Sign) c.Fsw = (ushort)((c.Fsw & ~0x4700) | 0x400);
                FpSetSt(c, 0, F80.Sqrt(v, rc, pc, ref f));
                FpRaise(c, f);
                return true;
            }
            case X87Op.Frndint:
                FpSetSt(c, 0, F80.RoundToInt(FpSt(c, 0), rc, pc, ref f));
                FpRaise(c, f);
                return true;
            case X87Op.Fscale:
                FpSetSt(c, 0, Fscale(FpSt(c, 0), FpSt(c, 1), rc, ref f));
                FpRaise(c, f);
                return true;
            case X87Op.Fprem:
                Fprem(c, op.Aux == 1, rc, pc, ref f);
                FpRaise(c, f);
                return true;
            case X87Op.Fxtract:
                Fxtract(c, rc, pc, ref f);
                FpRaise(c, f);
                return true;
            case X87Op.Fbld:
            {
                // helper_fbld_ST0: 18 digits (not validated) converted at the current PC without reported flags; byte 9 bit 7 the sign
                ulong val = 0;
                for (int i = 8; i >= 0; i--)
                {
                    if (!Read(ea + (ulong)i, 1, op.MemFlags, out ulong b))
                    {
                        status = StFault;
                        return true;
                    }
                    val = val * 100 + (b >> 4) * 10 + (b & 15);
                }
                if (!Read(ea + 9, 1, op.MemFlags, out ulong signByte))
                {
                    status = StFault;
                    return true;
                }
                int ignored = 0;
                var v = F80.FromInt((long)val, rc, pc, ref ignored);
                if ((signByte & 0x80) != 0) v.SignExp ^= 0x8000;
                FpPush(c, v.Mant, v.SignExp);
                return true;
            }
            case X87Op.Fbstp:
            {
                // helper_fbst_ST0: rounded per RC; |value| >= 10^18 (NaN, infinity too) stores the BCD indefinite with IE alone
                if (!ProbeWrite(ea, 10, op.MemFlags))
                {
                    status = StFault;
                    return true;
                }
                var v = FpSt(c, 0);
                long val = F80.ToInt(v, 64, rc, ref f);
                if ((f & F80.IE) != 0 && !v.Sign && !v.IsInvalidEncoding) val = long.MaxValue;   // QEMU's conversion saturates
                if (val >= 1_000_000_000_000_000_000L || val <= -1_000_000_000_000_000_000L)
                {
                    f = F80.IE;
                    Write(ea, 8, op.MemFlags, 0xC000_0000_0000_0000UL);
                    Write(ea + 8, 2, op.MemFlags, 0xFFFF);
                }
                else
                {
                    Write(ea + 9, 1, op.MemFlags, v.Sign ? 0x80UL : 0);
                    ulong mag = (ulong)(v.Sign ? -val : val);
                    for (int i = 0; i < 9; i++)
                    {
                        ulong d = mag % 100;
                        mag /= 100;
                        Write(ea + (ulong)i, 1, op.MemFlags, ((d / 10) << 4) | (d % 10));
                    }
                }
                FpRaise(c, f);
                FpPop(c);
                return true;
            }
            case X87Op.FldConst:
            {
                // helper_fld{pi,l2t,l2e,lg2,ln2}_ST0: the 64-bit constant chosen by RC, no PC rounding, no flags
                bool downOrZero = rc is F80.RcDown or F80.RcZero;
                Float80 k = op.Aux switch
                {
                    0 => new Float80(downOrZero ? 0xC90FDAA22168C234UL : 0xC90FDAA22168C235UL, 0x4000),
                    1 => new Float80(rc == F80.RcUp ? 0xD49A784BCD1B8AFFUL : 0xD49A784BCD1B8AFEUL, 0x4000),
                    2 => new Float80(downOrZero ? 0xB8AA3B295C17F0BBUL : 0xB8AA3B295C17F0BCUL, 0x3FFF),
                    3 => new Float80(downOrZero ? 0x9A209A84FBCFF798UL : 0x9A209A84FBCFF799UL, 0x3FFD),
                    _ => new Float80(downOrZero ? 0xB17217F7D1CF79ABUL : 0xB17217F7D1CF79ACUL, 0x3FFE),
                };
                FpPush(c, k.Mant, k.SignExp);
                return true;
            }
        }
        return false;
    }

    /// <summary>helper_fscale: ST0 * 2^trunc(ST1) at full precision, with its special cases for NaN and infinite ST1.</summary>
    private static Float80 Fscale(Float80 a, Float80 b, int rc, ref int f)
    {
        if (a.IsInvalidEncoding || b.IsInvalidEncoding)
        {
            f |= F80.IE;
            return F80.DefaultNaN;
        }
        if (b.IsNaN)
        {
            if (a.IsSignalingNaN || b.IsSignalingNaN) f |= F80.IE;
            return new Float80(b.Mant | (1UL << 62), b.SignExp);
        }
        if (b.IsInfinity && !a.IsNaN)
        {
            if (b.Sign)
            {
                if (a.IsInfinity)
                {
                    f |= F80.IE;
                    return F80.DefaultNaN;
                }
                return F80.Zero(a.Sign);
            }
            if (a.IsZero)
            {
                f |= F80.IE;
                return F80.DefaultNaN;
            }
            return F80.Inf(a.Sign);
        }
        int ignored = 0;
        long n = F80.ToInt(b, 32, F80.RcZero, ref ignored);
        if ((ignored & F80.IE) != 0 && !b.Sign) n = int.MaxValue;   // QEMU saturates; the flags of this conversion are dropped
        return F80.Scale(a, (int)n, rc, 3, ref f);
    }

    /// <summary>helper_fprem_common: C3 C2 C1 C0 cleared; an exponent difference below 64 gives the remainder and, for fprem, the quotient bits (C0 q2, C3 q1, C1 q0); else a partial step (C2 = 1).</summary>
    private static void Fprem(CpuState c, bool nearest, int rc, int pc, ref int f)
    {
        var a = FpSt(c, 0);
        var b = FpSt(c, 1);
        c.Fsw &= unchecked((ushort)~0x4700);
        if (a.IsZero || b.IsZero || a.Exp == 0x7FFF || b.Exp == 0x7FFF || a.IsInvalidEncoding || b.IsInvalidEncoding)
        {
            FpSetSt(c, 0, F80.Rem(a, b, !nearest, out _, ref f));
            return;
        }
        int ea = a.Exp == 0 ? 1 - System.Numerics.BitOperations.LeadingZeroCount(a.Mant) : a.Exp;
        int eb = b.Exp == 0 ? 1 - System.Numerics.BitOperations.LeadingZeroCount(b.Mant) : b.Exp;
        int d = ea - eb;
        if (d < 64)
        {
            FpSetSt(c, 0, F80.Rem(a, b, !nearest, out ulong q, ref f));
            // fprem reports the quotient's low bits; fprem1 leaves C0 C3 C1 clear (measured: 10 rem 3, 11 rem 3, 7 rem 2, ...).
            if (!nearest) c.Fsw |= (ushort)(((q & 4) << 6) | ((q & 2) << 13) | ((q & 1) << 9));
            return;
        }
        // Partial: reduce by ST1 scaled to leave 32-63 bits of exponent difference (scaled at the current precision, as QEMU).
        int n = 32 + d % 32;
        var bs = F80.Scale(b, d - n, rc, pc, ref f);
        FpSetSt(c, 0, F80.Rem(a, bs, true, out _, ref f));
        c.Fsw |= 0x400;
    }

    /// <summary>helper_fxtract: ST0 becomes the exponent (pushed under the significand scaled to [1, 2)).</summary>
    private static void Fxtract(CpuState c, int rc, int pc, ref int f)
    {
        var v = FpSt(c, 0);
        if (v.IsZero)
        {
            FpSetSt(c, 0, F80.Div(new Float80(1UL << 63, 0xBFFF), default, rc, pc, ref f));   // -inf, ZE
            FpPush(c, v.Mant, v.SignExp);
            return;
        }
        if (v.IsInvalidEncoding)
        {
            f |= F80.IE;
            FpSetSt(c, 0, F80.DefaultNaN);
            FpPush(c, F80.DefaultNaN.Mant, F80.DefaultNaN.SignExp);
            return;
        }
        if (v.IsNaN)
        {
            if (v.IsSignalingNaN)
            {
                f |= F80.IE;
                v.Mant |= 1UL << 62;
                FpSetSt(c, 0, v);
            }
            FpPush(c, v.Mant, v.SignExp);
            return;
        }
        if (v.IsInfinity)
        {
            FpPush(c, v.Mant, v.SignExp);
            FpSetSt(c, 1, F80.Inf(false));
            return;
        }
        ulong m = v.Mant;
        int e;
        if (v.Exp == 0)
        {
            int lz = System.Numerics.BitOperations.LeadingZeroCount(m);
            m <<= lz;
            e = 1 - 16383 - lz;
            f |= F80.DE;
        }
        else e = v.Exp - 16383;
        FpSetSt(c, 0, F80.FromInt(e, rc, pc, ref f));
        FpPush(c, m, (ushort)((v.SignExp & 0x8000) | 0x3FFF));
    }

    /// <summary>fnsave/fsave: the 28-byte environment then ST(0)-ST(7) as 80-bit values, then fninit (QEMU's do_fsave).</summary>
    private int Fnsave(ref Op op, ulong ea)
    {
        var c = cpu;
        for (int off = 0; off < 108; off += 16)
            if (!ProbeWrite(ea + (ulong)off, Math.Min(16, 108 - off), op.MemFlags)) return StFault;
        StoreEnv(c, ea, op.MemFlags);
        for (int i = 0; i < 8; i++)
        {
            var v = FpSt(c, i);
            Write(ea + 28 + (ulong)(10 * i), 8, op.MemFlags, v.Mant);
            Write(ea + 36 + (ulong)(10 * i), 2, op.MemFlags, v.SignExp);
        }
        c.Fcw = 0x037F;
        c.Fsw = 0;
        c.Ftw = 0xFFFF;
        c.Fop = 0;
        c.Fip = c.Fdp = 0;
        return StOk;
    }

    /// <summary>frstor: the environment as fldenv, then ST(0)-ST(7) relative to the loaded TOP; tags: empty as loaded, the others from the contents.</summary>
    private int Frstor(ref Op op, ulong ea)
    {
        var c = cpu;
        if (!Read(ea, 4, op.MemFlags, out ulong cw) || !Read(ea + 4, 4, op.MemFlags, out ulong sw)
            || !Read(ea + 8, 4, op.MemFlags, out ulong tw) || !Read(ea + 12, 4, op.MemFlags, out ulong ip)
            || !Read(ea + 20, 4, op.MemFlags, out ulong dp)) return StFault;
        for (int i = 0; i < 8; i++)
            if (!Read(ea + 28 + (ulong)(10 * i), 8, op.MemFlags, out _) || !Read(ea + 36 + (ulong)(10 * i), 2, op.MemFlags, out _)) return StFault;
        c.Fcw = (ushort)cw;
        c.Fsw = (ushort)sw;
        c.Fip = ip;
        c.Fdp = dp;
        for (int i = 0; i < 8; i++)
        {
            Read(ea + 28 + (ulong)(10 * i), 8, op.MemFlags, out ulong m);
            Read(ea + 36 + (ulong)(10 * i), 2, op.MemFlags, out ulong se);
            int p = (c.FpTop + i) & 7;
            c.FpMantissa[p] = m;
            c.FpSignExp[p] = (ushort)se;
        }
        c.Ftw = 0;
        for (int p = 0; p < 8; p++)
        {
            if (((tw >> (2 * p)) & 3) == 3) FpFree(c, p);
            else FpSet(c, p, c.FpMantissa[p], c.FpSignExp[p]);
        }
        return StOk;
    }
}
