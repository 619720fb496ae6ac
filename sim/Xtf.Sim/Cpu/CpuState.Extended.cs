namespace Xtf.Sim.Cpu;

/// <summary>
/// The x87 and vector state (FXSAVE's legacy area, the XMM registers, MXCSR, XCR0). The x87
/// registers are kept by physical number as 80-bit values: a 64-bit significand and a 16-bit
/// sign/exponent; MMX register i is the significand of physical register i.
/// </summary>
public sealed partial class CpuState
{
    /// <summary>x87 control word (FNINIT: 0x037F).</summary>
    public ushort Fcw = 0x037F;
    /// <summary>x87 status word; TOP is bits 11-13.</summary>
    public ushort Fsw;
    /// <summary>x87 tag word, 2 bits per physical register (FNINIT: 0xFFFF, all empty).</summary>
    public ushort Ftw = 0xFFFF;
    /// <summary>Last x87 opcode (11 bits), instruction and data pointers, as FXSAVE stores them.</summary>
    public ushort Fop;
    public ulong Fip, Fdp;
    /// <summary>Significands of the eight physical x87 registers (also MM0-MM7).</summary>
    public readonly ulong[] FpMantissa = new ulong[8];
    /// <summary>Sign (bit 15) and biased exponent (bits 0-14) of the eight physical x87 registers.</summary>
    public readonly ushort[] FpSignExp = new ushort[8];

    /// <summary>The XMM registers: low and high 64 bits.</summary>
    public readonly ulong[] XmmLo = new ulong[16], XmmHi = new ulong[16];
    /// <summary>MXCSR (reset: 0x1F80).</summary>
    public uint Mxcsr = 0x1F80;
    /// <summary>XCR0 as XGETBV reads it (x87 and SSE at reset; the hypervisor model sets the guest's value).</summary>
    public ulong Xcr0 = 3;
    /// <summary>The MXCSR bits FXSAVE reports as supported (MXCSR_MASK); ldmxcsr/fxrstor/xrstor of another bit is #GP(0).</summary>
    public uint MxcsrMask = 0xFFFF;
    /// <summary>The vector instruction sets the guest's CPUID advertises (bit n = OpCompiler's VFeat n); all by default, the hypervisor model sets the profile's.</summary>
    public uint VectorFeatures = uint.MaxValue;
    /// <summary>Whether an unmasked SIMD floating-point exception is delivered as #XM (CR4.OSXMMEXCPT; #UD when clear); false models a CPU that never raises it (QEMU TCG, measured).</summary>
    public bool OsXmmExcpt = true;
    /// <summary>Whether the CPU raises #XM at all for unmasked SIMD floating-point exceptions (false: flags set, masked result written).</summary>
    public bool SimdExceptions = true;
    /// <summary>Whether a denormal operand sets MXCSR.DE (the SDM); false: never (QEMU TCG, measured).</summary>
    public bool DenormalFlag = true;
    /// <summary>
    /// NaN operands of SSE arithmetic: false, the SDM's rule (the first source, quieted); true, the x87
    /// rule QEMU TCG applies (a QNaN before an SNaN, else the larger significand), measured.
    /// </summary>
    public bool X87NanRule;
    /// <summary>Whether ldmxcsr/fxrstor/xrstor of a reserved MXCSR bit is #GP(0) (the SDM); false: the bits are dropped (QEMU TCG, measured).</summary>
    public bool MxcsrReservedGp = true;
    /// <summary>Whether an MMX write sets the register's sign/exponent to 0xFFFF (the SDM); false: left as it was (QEMU TCG, measured).</summary>
    public bool MmxSetsExponent = true;

    /// <summary>x87 TOP (FSW bits 11-13).</summary>
    public int FpTop
    {
        get => (Fsw >> 11) & 7;
        set => Fsw = (ushort)((Fsw & ~0x3800) | ((value & 7) << 11));
    }

    private void CopyExtendedState(CpuState other)
    {
        Fcw = other.Fcw; Fsw = other.Fsw; Ftw = other.Ftw; Fop = other.Fop; Fip = other.Fip; Fdp = other.Fdp;
        Array.Copy(other.FpMantissa, FpMantissa, 8);
        Array.Copy(other.FpSignExp, FpSignExp, 8);
        Array.Copy(other.XmmLo, XmmLo, 16);
        Array.Copy(other.XmmHi, XmmHi, 16);
        Mxcsr = other.Mxcsr; Xcr0 = other.Xcr0; MxcsrMask = other.MxcsrMask; VectorFeatures = other.VectorFeatures;
        OsXmmExcpt = other.OsXmmExcpt; SimdExceptions = other.SimdExceptions;
        DenormalFlag = other.DenormalFlag; X87NanRule = other.X87NanRule;
        MxcsrReservedGp = other.MxcsrReservedGp; MmxSetsExponent = other.MmxSetsExponent;
    }

    /// <summary>After MemberwiseClone: give the clone arrays of its own.</summary>
    private void CloneExtendedState(CpuState source)
    {
        System.Runtime.CompilerServices.Unsafe.AsRef(in FpMantissa) = (ulong[])source.FpMantissa.Clone();
        System.Runtime.CompilerServices.Unsafe.AsRef(in FpSignExp) = (ushort[])source.FpSignExp.Clone();
        System.Runtime.CompilerServices.Unsafe.AsRef(in XmmLo) = (ulong[])source.XmmLo.Clone();
        System.Runtime.CompilerServices.Unsafe.AsRef(in XmmHi) = (ulong[])source.XmmHi.Clone();
    }
}
