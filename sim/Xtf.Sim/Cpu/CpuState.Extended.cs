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
        Mxcsr = other.Mxcsr; Xcr0 = other.Xcr0;
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
