using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Xtf.Sim.Cpu;

/// <summary>CPUID feature bits the interpreter gates instructions on (an absent feature is #UD, as on hardware).</summary>
internal enum CpuFeature : byte
{
    Fpu, Cmov, Sse42, Movbe, Popcnt, Rdrand, Bmi1, Bmi2, Adx, Rdseed, Lzcnt,
}

public sealed partial class X86Interpreter
{
    // The CPU's feature leaves, read once from the platform (the machine profile does not change).
    private bool featuresLoaded;
    private uint leaf1Ecx, leaf1Edx, leaf7Ebx, ext1Ecx;

    /// <summary>Whether the CPU (CPUID as the platform answers it) has <paramref name="f"/>.</summary>
    private bool HasFeature(CpuFeature f)
    {
        if (!featuresLoaded)
        {
            (_, _, leaf1Ecx, leaf1Edx) = platform.Cpuid(1, 0);
            (_, leaf7Ebx, _, _) = platform.Cpuid(7, 0);
            (_, _, ext1Ecx, _) = platform.Cpuid(0x8000_0001, 0);
            featuresLoaded = true;
        }
        return f switch
        {
            CpuFeature.Fpu => (leaf1Edx & 1) != 0,
            CpuFeature.Cmov => (leaf1Edx & (1u << 15)) != 0,
            CpuFeature.Sse42 => (leaf1Ecx & (1u << 20)) != 0,
            CpuFeature.Movbe => (leaf1Ecx & (1u << 22)) != 0,
            CpuFeature.Popcnt => (leaf1Ecx & (1u << 23)) != 0,
            CpuFeature.Rdrand => (leaf1Ecx & (1u << 30)) != 0,
            CpuFeature.Bmi1 => (leaf7Ebx & (1u << 3)) != 0,
            CpuFeature.Bmi2 => (leaf7Ebx & (1u << 8)) != 0,
            CpuFeature.Adx => (leaf7Ebx & (1u << 19)) != 0,
            CpuFeature.Rdseed => (leaf7Ebx & (1u << 18)) != 0,
            _ => (ext1Ecx & (1u << 5)) != 0,   // LZCNT (ABM)
        };
    }

    /// <summary>
    /// The CPUID gate of popcnt/lzcnt/tzcnt (compiled by the core): popcnt without POPCNT is #UD (false);
    /// without LZCNT/BMI1 the F3 prefix is ignored and lzcnt/tzcnt execute as bsr/bsf.
    /// </summary>
    private bool GateBitCount(ref H h)
    {
        switch (h)
        {
            case H.Popcnt:
                if (HasFeature(CpuFeature.Popcnt)) return true;
                Fault(6, 0, false, "cpuid: no POPCNT");
                return false;
            case H.Lzcnt:
                if (!HasFeature(CpuFeature.Lzcnt)) h = H.Bsr;
                return true;
            case H.Tzcnt:
                if (!HasFeature(CpuFeature.Bmi1)) h = H.Bsf;
                return true;
            default:
                return true;
        }
    }

    private static CpuFeature FeatureOf(SxOp x) => x switch
    {
        SxOp.Crc32 => CpuFeature.Sse42,
        SxOp.Movbe => CpuFeature.Movbe,
        SxOp.Rdrand => CpuFeature.Rdrand,
        SxOp.Rdseed => CpuFeature.Rdseed,
        SxOp.Andn or SxOp.Bextr or SxOp.Blsi or SxOp.Blsmsk or SxOp.Blsr => CpuFeature.Bmi1,
        SxOp.Adcx or SxOp.Adox => CpuFeature.Adx,
        _ => CpuFeature.Bmi2,
    };

    private static readonly string[] FeatureNames = ["FPU", "CMOV", "SSE4.2", "MOVBE", "POPCNT", "RDRAND", "BMI1", "BMI2", "ADX", "RDSEED", "LZCNT"];

    private int NoFeature(CpuFeature f)
    {
        Fault(6, 0, false, "cpuid: no " + FeatureNames[(int)f]);
        return StFault;
    }

    /// <summary>Executes an op compiled by OpCompiler.ScalarExt.cs.</summary>
    private int ScalarExt(ref Op op, ref ulong R)
    {
        var c = cpu;
        var x = (SxOp)op.Ext;
        var feature = FeatureOf(x);
        if (!HasFeature(feature)) return NoFeature(feature);
        int s = op.Size;
        switch (x)
        {
            case SxOp.Rdrand:
            case SxOp.Rdseed:
                // Always succeeds (CF = 1, the other arithmetic flags 0); the value comes from the platform's seeded source.
                SetR(ref R, op.A, s, platform.RandomNumber(x == SxOp.Rdseed));
                c.SetArithBits(CpuState.ArithmeticFlags, CpuState.FlagCf);
                return StOk;
            case SxOp.Movbe:
                if ((op.Kinds & Op.KMem) != 0)
                    return Write(EA(ref op, ref R), s, op.MemFlags, ByteSwap(GetR(ref R, op.B, s), s)) ? StOk : StFault;
                if (!Read(EA(ref op, ref R), s, op.MemFlags, out ulong mv)) return StFault;
                SetR(ref R, op.A, s, ByteSwap(mv, s));
                return StOk;
        }
        // Every other form has a register-or-memory source.
        ulong src;
        int srcSize = x == SxOp.Crc32 ? op.Aux : s;
        if ((op.Kinds & Op.KSrcMem) != 0)
        {
            if (!Read(EA(ref op, ref R), srcSize, op.MemFlags, out src)) return StFault;
        }
        else src = GetR(ref R, op.B, srcSize);
        int w = s * 8;
        ulong mask = SizeMask(s), sign = SignBit(s);
        switch (x)
        {
            case SxOp.Crc32:
            {
                uint crc = (uint)Unsafe.Add(ref R, op.A);
                for (int i = 0; i < srcSize; i++) crc = Crc32CTable[(byte)(crc ^ (byte)(src >> (8 * i)))] ^ (crc >> 8);
                Unsafe.Add(ref R, op.A) = crc;   // r32 and r64 forms: zero-extended
                return StOk;
            }
            case SxOp.Andn:
            {
                ulong r = ~GetR(ref R, op.C, s) & src & mask;
                SetR(ref R, op.A, s, r);
                c.SetFlags(FlagOp.Logic, 0, 0, r, sign);   // SF ZF from the result, CF OF 0 (AF PF undefined)
                return StOk;
            }
            case SxOp.Bextr:
            {
                ulong ctl = GetR(ref R, op.C, s);
                int start = (int)(ctl & 0xFF), len = (int)((ctl >> 8) & 0xFF);
                ulong r = start >= w ? 0 : src >> start;
                if (len < w) r &= (1UL << len) - 1;
                SetR(ref R, op.A, s, r);
                c.SetFlags(FlagOp.Logic, 0, 0, r, sign);   // ZF; CF OF 0
                return StOk;
            }
            case SxOp.Bzhi:
            {
                int index = (int)(GetR(ref R, op.C, s) & 0xFF);
                ulong r = index < w ? src & ((1UL << index) - 1) : src;
                SetR(ref R, op.A, s, r);
                c.SetResultFlags(r, sign, index > w - 1 ? CpuState.FlagCf : 0);
                return StOk;
            }
            case SxOp.Blsi:
            {
                ulong r = src & (0 - src) & mask;
                SetR(ref R, op.A, s, r);
                c.SetResultFlags(r, sign, src != 0 ? CpuState.FlagCf : 0);
                return StOk;
            }
            case SxOp.Blsmsk:
            {
                ulong r = (src ^ (src - 1)) & mask;
                SetR(ref R, op.A, s, r);
                c.SetResultFlags(r, sign, src == 0 ? CpuState.FlagCf : 0);
                return StOk;
            }
            case SxOp.Blsr:
            {
                ulong r = src & (src - 1) & mask;
                SetR(ref R, op.A, s, r);
                c.SetResultFlags(r, sign, src == 0 ? CpuState.FlagCf : 0);
                return StOk;
            }
            case SxOp.Sarx:
            case SxOp.Shlx:
            case SxOp.Shrx:
            {
                int n = (int)(GetR(ref R, op.C, s) & (ulong)(w - 1));
                ulong r = x switch
                {
                    SxOp.Shlx => src << n,
                    SxOp.Shrx => src >> n,
                    _ => (ulong)((long)SignExtend(src, s) >> n),
                };
                SetR(ref R, op.A, s, r & mask);
                return StOk;
            }
            case SxOp.Rorx:
            {
                int n = (int)(op.Imm & (ulong)(w - 1));
                ulong r = s == 8 ? BitOperations.RotateRight(src, n) : BitOperations.RotateRight((uint)src, n);
                SetR(ref R, op.A, s, r);
                return StOk;
            }
            case SxOp.Mulx:
            {
                ulong lo, hi;
                if (s == 8) hi = Math.BigMul(Unsafe.Add(ref R, 2), src, out lo);
                else
                {
                    ulong p = (ulong)(uint)Unsafe.Add(ref R, 2) * (uint)src;
                    lo = (uint)p;
                    hi = p >> 32;
                }
                SetR(ref R, op.C, s, lo);
                SetR(ref R, op.A, s, hi);   // the same register for both: the high half wins
                return StOk;
            }
            case SxOp.Pdep:
            {
                ulong v = GetR(ref R, op.C, s), r = 0, m = src;
                while (m != 0)
                {
                    ulong low = m & (0 - m);
                    if ((v & 1) != 0) r |= low;
                    v >>= 1;
                    m &= m - 1;
                }
                SetR(ref R, op.A, s, r);
                return StOk;
            }
            case SxOp.Pext:
            {
                ulong v = GetR(ref R, op.C, s), r = 0, m = src;
                int k = 0;
                while (m != 0)
                {
                    ulong low = m & (0 - m);
                    if ((v & low) != 0) r |= 1UL << k;
                    k++;
                    m &= m - 1;
                }
                SetR(ref R, op.A, s, r);
                return StOk;
            }
            case SxOp.Adcx:
            case SxOp.Adox:
            {
                bool inCarry = x == SxOp.Adcx ? c.CF() : c.OF();
                ulong a = GetR(ref R, op.A, s);
                ulong sum = (a + src + (inCarry ? 1UL : 0UL)) & mask;
                bool carry = s == 8 ? sum < a || (inCarry && sum == a) : ((a + src + (inCarry ? 1UL : 0UL)) >> w) != 0;
                SetR(ref R, op.A, s, sum);
                ulong flag = x == SxOp.Adcx ? CpuState.FlagCf : CpuState.FlagOf;
                c.SetArithBits(flag, carry ? flag : 0);
                return StOk;
            }
        }
        Fault(6, 0, false, "internal: no ScalarExt operation " + op.Ext);
        return StFault;
    }

    private static ulong ByteSwap(ulong v, int size) => size switch
    {
        8 => BinaryPrimitives.ReverseEndianness(v),
        4 => BinaryPrimitives.ReverseEndianness((uint)v),
        _ => BinaryPrimitives.ReverseEndianness((ushort)v),
    };

    /// <summary>CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), one byte per step, as the crc32 instruction computes it (no inversion).</summary>
    private static readonly uint[] Crc32CTable = BuildCrc32CTable();

    private static uint[] BuildCrc32CTable()
    {
        var t = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint v = i;
            for (int k = 0; k < 8; k++) v = (v & 1) != 0 ? (v >> 1) ^ 0x82F6_3B78u : v >> 1;
            t[i] = v;
        }
        return t;
    }
}
