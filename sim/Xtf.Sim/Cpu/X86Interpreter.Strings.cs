using System.Runtime.CompilerServices;

namespace Xtf.Sim.Cpu;

public sealed partial class X86Interpreter
{
    /// <summary>Iterations of a rep string instruction per step; an unfinished instruction is resumed (rip stays at it).</summary>
    internal const int RepChunk = 4096;

    /// <summary>movs, stos, lods, cmps, scas with or without rep/repe/repne; DF and 32-bit addressing honoured.</summary>
    private int ExecString(ref Op op, ref ulong R)
    {
        var c = cpu;
        int s = op.Size;
        bool a32 = (op.MemFlags & Op.MfAddr32) != 0;
        ulong delta = c.DF ? (ulong)-s : (ulong)s;
        bool rep = (op.Kinds & (Op.KRep | Op.KRepne)) != 0;
        if (!rep) return StringStep(ref op, ref R, s, a32, delta) ? StOk : StFault;

        for (int n = 0; n < RepChunk; n++)
        {
            ulong count = a32 ? (uint)R1(ref R) : R1(ref R);
            if (count == 0) return StOk;
            if (!StringStep(ref op, ref R, s, a32, delta)) return StFault;   // earlier iterations stay done, as on hardware
            count--;
            R1(ref R) = count;
            if (op.H is H.Cmps or H.Scas)
            {
                bool zf = c.ZF();
                if ((op.Kinds & Op.KRep) != 0 ? !zf : zf) return StOk;
            }
        }
        ulong left = a32 ? (uint)R1(ref R) : R1(ref R);
        return left == 0 ? StOk : StIncomplete;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong StringAddress(ulong reg, bool a32, byte memFlags) =>
        (memFlags & Op.MfSeg) == 0 && !a32 ? reg : SegmentAdjust(reg, (byte)(memFlags & (Op.MfSeg | Op.MfAddr32)));

    private static void Advance(ref ulong reg, ulong delta, bool a32) => reg = a32 ? (uint)(reg + delta) : reg + delta;

    /// <summary>One iteration; registers change only when it completes.</summary>
    private bool StringStep(ref Op op, ref ulong R, int s, bool a32, ulong delta)
    {
        var c = cpu;
        ref ulong rsi = ref Unsafe.Add(ref R, 6);
        ref ulong rdi = ref Unsafe.Add(ref R, 7);
        byte srcFlags = op.MemFlags;
        ulong src = StringAddress(a32 ? (uint)rsi : rsi, a32, srcFlags);
        ulong dst = a32 ? (uint)rdi : rdi;   // es: base 0
        switch (op.H)
        {
            case H.Movs:
            {
                if (!Read(src, s, srcFlags, out ulong v) || !Write(dst, s, 0, v)) return false;
                Advance(ref rsi, delta, a32);
                Advance(ref rdi, delta, a32);
                return true;
            }
            case H.Stos:
                if (!Write(dst, s, 0, GetR(ref R, 0, s))) return false;
                Advance(ref rdi, delta, a32);
                return true;
            case H.Lods:
            {
                if (!Read(src, s, srcFlags, out ulong v)) return false;
                SetR(ref R, 0, s, v);
                Advance(ref rsi, delta, a32);
                return true;
            }
            case H.Cmps:
            {
                if (!Read(src, s, srcFlags, out ulong a) || !Read(dst, s, 0, out ulong b)) return false;
                Alu(c, 7, a, b, s);
                Advance(ref rsi, delta, a32);
                Advance(ref rdi, delta, a32);
                return true;
            }
            default:
            {
                if (!Read(dst, s, 0, out ulong b)) return false;
                Alu(c, 7, GetR(ref R, 0, s), b, s);
                Advance(ref rdi, delta, a32);
                return true;
            }
        }
    }
}
