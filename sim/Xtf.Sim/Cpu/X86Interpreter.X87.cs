using System.Numerics;

namespace Xtf.Sim.Cpu;

// The x87 forms that need no rounding (docs/pv-abi.md §18): control words, status, environment,
// loads (fld m32/m64/m80/st(i), fild m16/m32/m64 are exact), fst/fstp m80 and st(i), constants 1
// and 0, fxch, fchs, fabs, stack pointer and tag operations; the rounding forms are in
// X86Interpreter.X87Arith.cs (mirrors QEMU's target/i386/tcg/fpu_helper.c, the measured CPU). As on the measured CPU (QEMU TCG) there
// are no stack faults, and #MF comes only from wait/fwait (FSW.ES set).
public sealed partial class X86Interpreter
{
    private const ulong FpIndefMant = 0xC000_0000_0000_0000UL;
    private const ushort FpIndefSe = 0xFFFF;
    private const int FswIe = 1, FswDe = 2, FswSf = 0x40, FswEs = 0x80, FswC1 = 0x200, FswB = 0x8000;

    /// <summary>The 2-bit tag of an 80-bit value: 0 valid, 1 zero, 2 special (NaN, infinity, denormal, unsupported).</summary>
    internal static int FpTagOf(ulong mant, ushort se)
    {
        int e = se & 0x7FFF;
        if (e == 0) return mant == 0 ? 1 : 2;
        if (e == 0x7FFF) return 2;
        return (mant >> 63) != 0 ? 0 : 2;
    }

    private static int FpTag(CpuState c, int phys) => (c.Ftw >> (2 * phys)) & 3;

    private static void FpSet(CpuState c, int phys, ulong mant, ushort se)
    {
        c.FpMantissa[phys] = mant;
        c.FpSignExp[phys] = se;
        c.Ftw = (ushort)((c.Ftw & ~(3 << (2 * phys))) | (FpTagOf(mant, se) << (2 * phys)));
    }

    private static void FpFree(CpuState c, int phys) => c.Ftw = (ushort)(c.Ftw | (3 << (2 * phys)));

    /// <summary>Records exception flags; an unmasked one sets ES and B.</summary>
    private static void FpRaise(CpuState c, int flags)
    {
        c.Fsw |= (ushort)flags;
        if ((c.Fsw & ~c.Fcw & 0x3F) != 0) c.Fsw |= FswEs | FswB;
    }

    private static bool FpInvalidMasked(CpuState c) => (c.Fcw & FswIe) != 0;

    /// <summary>Stack underflow (reading an empty register): IE|SF, C1 = 0.</summary>
    private static void FpUnderflow(CpuState c)
    {
        c.Fsw &= unchecked((ushort)~FswC1);
        FpRaise(c, FswIe | FswSf);
    }

    /// <summary>
    /// Reads ST(i). QEMU TCG (the measured CPU) detects no stack faults: a push onto a full stack
    /// overwrites without IE/SF (measured: the ninth fld1 leaves FSW 0x3800), so an empty register
    /// reads as whatever it holds, too (docs/pv-abi.md §18).
    /// </summary>
    private static bool FpRead(CpuState c, int i, out ulong mant, out ushort se)
    {
        int p = (c.FpTop + i) & 7;
        mant = c.FpMantissa[p];
        se = c.FpSignExp[p];
        return true;
    }

    /// <summary>Pushes a value (no overflow check: see <see cref="FpRead"/>).</summary>
    private static void FpPush(CpuState c, ulong mant, ushort se)
    {
        int top = (c.FpTop - 1) & 7;
        c.FpTop = top;
        FpSet(c, top, mant, se);
    }

    private static void FpPop(CpuState c)
    {
        FpFree(c, c.FpTop);
        c.FpTop = c.FpTop + 1;
    }

    /// <summary>The full tag word with the tags of the non-empty registers computed from their contents.</summary>
    private static ushort FpFullTags(CpuState c)
    {
        int t = 0;
        for (int p = 0; p < 8; p++)
            t |= (FpTag(c, p) == 3 ? 3 : FpTagOf(c.FpMantissa[p], c.FpSignExp[p])) << (2 * p);
        return (ushort)t;
    }

    /// <summary>The 28-byte protected-mode environment as QEMU stores it in 64-bit mode: FOP and FDS are 0 (measured).</summary>
    private void StoreEnv(CpuState c, ulong ea, byte mf)
    {
        Write(ea, 4, mf, c.Fcw);
        Write(ea + 4, 4, mf, c.Fsw);
        Write(ea + 8, 4, mf, FpFullTags(c));
        Write(ea + 12, 4, mf, (uint)c.Fip);
        Write(ea + 16, 4, mf, c.Cs);
        Write(ea + 20, 4, mf, (uint)c.Fdp);
        Write(ea + 24, 4, mf, 0);
    }

    /// <summary>An exact conversion of a binary32/binary64 (sign, biased exponent, fraction) to 80 bits; an SNaN is IE and becomes quiet, a denormal is DE.</summary>
    private static void FpFromBinary(CpuState c, ulong bits, int fracBits, int expBits, out ulong mant, out ushort se)
    {
        // A denormal source sets no DE on the measured CPU (fld m32 of 2^-149: FSW 0x3800).
        int f = 0;
        var v = F80.FromBinary(bits, fracBits, expBits, ref f);
        FpRaise(c, f);
        mant = v.Mant;
        se = v.SignExp;
    }

    /// <summary>Executes an op compiled by OpCompiler.X87.cs.</summary>
    private int X87(ref Op op, ref ulong R)
    {
        var c = cpu;
        if (c.TaskSwitched)
        {
            Fault(7, 0, false, "CR0.TS: x87");
            return StFault;
        }
        if (!HasFeature(CpuFeature.Fpu)) return NoFeature(CpuFeature.Fpu);
        var x = (X87Op)op.Ext;
        if ((op.A & 0x80) != 0 && (c.Fsw & FswEs) != 0)
        {
            Fault(16, 0, false, "x87 exception pending (waiting form)");
            return StFault;
        }
        bool mem = (op.Kinds & Op.KMem) != 0;
        ulong ea = mem ? EA(ref op, ref R) : 0;
        switch (x)
        {
            case X87Op.Fninit:
                c.Fcw = 0x037F;
                c.Fsw = 0;
                c.Ftw = 0xFFFF;
                c.Fop = 0;
                c.Fip = c.Fdp = 0;
                return StOk;
            case X87Op.Fnclex:
                c.Fsw &= 0x7F00;
                return StOk;
            case X87Op.Fnstcw:
                return Write(ea, 2, op.MemFlags, c.Fcw) ? StOk : StFault;
            case X87Op.Fldcw:
            {
                if (!Read(ea, 2, op.MemFlags, out ulong v)) return StFault;
                c.Fcw = (ushort)v;
                return StOk;
            }
            case X87Op.FnstswAx:
                SetR(ref R, 0, 2, c.Fsw);
                return StOk;
            case X87Op.FnstswM:
                return Write(ea, 2, op.MemFlags, c.Fsw) ? StOk : StFault;
            case X87Op.Fnstenv:
            {
                // The 28-byte protected-mode layout as QEMU stores it in 64-bit mode: FOP and FDS are 0 (measured).
                if (!ProbeWrite(ea, 16, op.MemFlags) || !ProbeWrite(ea + 16, 12, op.MemFlags)) return StFault;
                StoreEnv(c, ea, op.MemFlags);
                c.Fcw |= 0x3F;   // fnstenv masks every exception after storing
                return StOk;
            }
            case X87Op.Fnsave:
                return Fnsave(ref op, ea);
            case X87Op.Frstor:
                return Frstor(ref op, ea);
            case X87Op.Fldenv:
            {
                if (!Read(ea, 4, op.MemFlags, out ulong cw) || !Read(ea + 4, 4, op.MemFlags, out ulong sw)
                    || !Read(ea + 8, 4, op.MemFlags, out ulong tw) || !Read(ea + 12, 4, op.MemFlags, out ulong ip)
                    || !Read(ea + 20, 4, op.MemFlags, out ulong dp)) return StFault;
                c.Fcw = (ushort)cw;
                c.Fsw = (ushort)sw;
                c.Fip = ip;
                c.Fdp = dp;
                c.Ftw = 0;
                for (int p = 0; p < 8; p++)
                {
                    if (((tw >> (2 * p)) & 3) == 3) FpFree(c, p);
                    else FpSet(c, p, c.FpMantissa[p], c.FpSignExp[p]);
                }
                return StOk;
            }
        }

        // Non-control instructions: FIP is this instruction, FDP its memory operand (FOP is kept 0, as QEMU's fnstenv shows).
        c.Fip = instructionRip;
        if (mem) c.Fdp = ea;
        switch (x)
        {
            case X87Op.FldM:
            {
                ulong mant;
                ushort se;
                if (op.Size == 10)
                {
                    if (!Read(ea, 8, op.MemFlags, out mant) || !Read(ea + 8, 2, op.MemFlags, out ulong sev)) return StFault;
                    se = (ushort)sev;   // loaded as stored: an SNaN stays signalling, no IE (measured; QEMU's helper_fldt_ST0)
                }
                else
                {
                    if (!Read(ea, op.Size, op.MemFlags, out ulong bits)) return StFault;
                    if (op.Size == 4) FpFromBinary(c, bits, 23, 8, out mant, out se);
                    else FpFromBinary(c, bits, 52, 11, out mant, out se);
                }
                FpPush(c, mant, se);
                return StOk;
            }
            case X87Op.FildM:
            {
                if (!Read(ea, op.Size, op.MemFlags, out ulong raw)) return StFault;
                long v = (long)SignExtend(raw, op.Size);
                ulong mant = 0;
                ushort se = 0;
                if (v != 0)
                {
                    ulong mag = v < 0 ? 0 - (ulong)v : (ulong)v;
                    int lz = BitOperations.LeadingZeroCount(mag);
                    mant = mag << lz;
                    se = (ushort)((v < 0 ? 0x8000 : 0) | (16383 + 63 - lz));
                }
                FpPush(c, mant, se);
                return StOk;
            }
            case X87Op.FldSt:
            {
                FpRead(c, op.B, out ulong mant, out ushort se);
                FpPush(c, mant, se);
                return StOk;
            }
            case X87Op.Fld1:
                FpPush(c, 1UL << 63, 0x3FFF);
                return StOk;
            case X87Op.Fldz:
                FpPush(c, 0, 0);
                return StOk;
            case X87Op.FstM80:
            {
                bool ok = FpRead(c, 0, out ulong mant, out ushort se);
                if (ok)
                {
                    if (!ProbeWrite(ea, 10, op.MemFlags)) return StFault;
                    Write(ea, 8, op.MemFlags, mant);
                    Write(ea + 8, 2, op.MemFlags, se);
                }
                if (op.C != 0) FpPop(c);
                return StOk;
            }
            case X87Op.FstSt:
            {
                if (FpRead(c, 0, out ulong mant, out ushort se)) FpSet(c, (c.FpTop + op.B) & 7, mant, se);
                if (op.C != 0) FpPop(c);
                return StOk;
            }
            case X87Op.Fxch:
            {
                int p0 = c.FpTop, pi = (c.FpTop + op.B) & 7;
                ulong m0 = c.FpMantissa[p0], mi = c.FpMantissa[pi];
                ushort s0 = c.FpSignExp[p0], si = c.FpSignExp[pi];
                FpSet(c, p0, mi, si);
                FpSet(c, pi, m0, s0);   // C1 kept (measured: C1 from fxam survives fxch, fchs, fabs)
                return StOk;
            }
            case X87Op.Fchs:
            case X87Op.Fabs:
            {
                if (!FpRead(c, 0, out ulong mant, out ushort se)) return StOk;
                se = x == X87Op.Fchs ? (ushort)(se ^ 0x8000) : (ushort)(se & 0x7FFF);
                FpSet(c, c.FpTop, mant, se);
                return StOk;
            }
            case X87Op.Fincstp:
                c.FpTop = c.FpTop + 1;
                c.Fsw &= unchecked((ushort)~0x4700);   // C3 C2 C1 C0 cleared (measured, QEMU's helper_fincstp)
                return StOk;
            case X87Op.Fdecstp:
                c.FpTop = c.FpTop - 1;
                c.Fsw &= unchecked((ushort)~0x4700);
                return StOk;
            case X87Op.Ffree:
                FpFree(c, (c.FpTop + op.B) & 7);
                return StOk;
            case X87Op.Fnop:
                return StOk;
            case X87Op.Fcomi:
            {
                if (!HasFeature(CpuFeature.Cmov)) return NoFeature(CpuFeature.Cmov);
                int fl = 0;
                int r = F80.Compare(FpSt(c, 0), FpSt(c, op.B), op.Aux == 1, ref fl);
                FpRaise(c, fl);
                ulong f = r switch { -1 => CpuState.FlagCf, 0 => CpuState.FlagZf, 1 => 0, _ => CpuState.FlagZf | CpuState.FlagPf | CpuState.FlagCf };
                c.SetArithBits(CpuState.ArithmeticFlags, f);
                if (op.C != 0) FpPop(c);
                return StOk;
            }
            case X87Op.Fcmov:
            {
                if (!HasFeature(CpuFeature.Cmov)) return NoFeature(CpuFeature.Cmov);
                if (!c.Cond(op.Aux)) return StOk;
                FpRead(c, op.B, out ulong mant, out ushort se);
                FpSet(c, c.FpTop, mant, se);
                return StOk;
            }
        }
        if (X87Rounding(x, ref op, ea, out int st)) return st;
        Fault(6, 0, false, "internal: no X87 operation " + op.Ext);
        return StFault;
    }

    /// <summary>wait/fwait: #NM while CR0.TS; #MF when FSW.ES is set (the only place QEMU TCG raises it, measured).</summary>
    private int Fwait()
    {
        if (cpu.TaskSwitched)
        {
            Fault(7, 0, false, "CR0.TS: fwait");
            return StFault;
        }
        if ((cpu.Fsw & FswEs) == 0) return StOk;
        Fault(16, 0, false, "x87 exception pending");
        return StFault;
    }
}
