using Xtf.Sim.Cpu;

namespace Xtf.Sim.Builder;

/// <summary>
/// The vector state a PV dom0 kernel starts with and the vector instruction sets it may use
/// (docs/pv-abi.md §17). Measured 2026-12-06 on Debian's Xen 4.17.7 under QEMU 10.0.2 TCG
/// <c>-cpu max</c> by the suite's isa-vector-state test: xgetbv(0) = 3, xgetbv(1) = 3 (every
/// enabled component reported in use), xgetbv(2) #GP(0), MXCSR 0x1f80, FXSAVE's MXCSR_MASK 0xffff,
/// FCW 0x37f with every tag empty. An unmasked SIMD floating-point exception sets its MXCSR flag
/// and writes the masked result without raising #XM (QEMU TCG does not deliver #XM), as measured.
/// </summary>
public sealed partial record MachineProfile
{
    /// <summary>XCR0 as the guest first reads it.</summary>
    public ulong GuestXcr0 => 3;

    /// <summary>The highest XCR0 Xen lets a PV guest set (its policy's leaf 0xd EAX: x87, SSE, AVX).</summary>
    public ulong GuestXcr0Max => XenPolicyLeaf(0xd, 0).Eax;

    public uint GuestMxcsr => 0x1F80;

    public uint MxcsrMask => 0xFFFF;

    /// <summary>
    /// Measured on QEMU TCG, where it departs from the SDM: a denormal operand never sets MXCSR.DE; two
    /// NaN operands follow the x87 rule (QNaN over SNaN, then the larger significand); ldmxcsr of a
    /// reserved bit is not #GP; an MMX write leaves the register's sign/exponent as it was.
    /// </summary>
    public bool SseFollowsQemu => true;

    /// <summary>Whether the CPU raises #XM for an unmasked SIMD floating-point exception (measured: no).</summary>
    public bool SimdExceptionsRaiseXm => false;

    /// <summary>
    /// The instruction sets the guest can execute, from the CPUID it sees (plain cpuid runs natively,
    /// so the CPU's own leaves): leaf 1 EDX MMX, FXSR, SSE, SSE2; ECX SSE3, PCLMULQDQ, SSSE3, SSE4.1,
    /// SSE4.2, AES, XSAVE; leaf 0xd subleaf 1 EAX XSAVEOPT and XGETBV_ECX1. XSAVEC is not advertised
    /// (EAX bit 1 clear) but executes all the same (measured), so it follows XSAVE.
    /// </summary>
    public uint VectorFeatures
    {
        get
        {
            var l1 = NativeCpuid(1, 0);
            var d1 = NativeCpuid(0xd, 1);
            uint f = 0;
            void Set(byte feature, bool on) { if (on) f |= 1u << feature; }
            Set(VFeatures.Mmx, (l1.Edx & (1u << 23)) != 0);
            Set(VFeatures.Fxsr, (l1.Edx & (1u << 24)) != 0);
            Set(VFeatures.Sse, (l1.Edx & (1u << 25)) != 0);
            Set(VFeatures.Sse2, (l1.Edx & (1u << 26)) != 0);
            Set(VFeatures.Sse3, (l1.Ecx & 1u) != 0);
            Set(VFeatures.Pclmul, (l1.Ecx & (1u << 1)) != 0);
            Set(VFeatures.Ssse3, (l1.Ecx & (1u << 9)) != 0);
            Set(VFeatures.Sse41, (l1.Ecx & (1u << 19)) != 0);
            Set(VFeatures.Sse42, (l1.Ecx & (1u << 20)) != 0);
            Set(VFeatures.Aes, (l1.Ecx & (1u << 25)) != 0);
            Set(VFeatures.Xsave, (l1.Ecx & (1u << 26)) != 0);
            Set(VFeatures.XsaveC, (l1.Ecx & (1u << 26)) != 0);
            Set(VFeatures.XsaveCAdvertised, (d1.Eax & 2u) != 0);
            Set(VFeatures.XsaveOpt, (d1.Eax & 1u) != 0);
            Set(VFeatures.XgetbvEcx1, (d1.Eax & 4u) != 0);
            return f;
        }
    }

    /// <summary>Sets a new vCPU's vector state and instruction sets.</summary>
    public void InitVectorState(CpuState c)
    {
        ArgumentNullException.ThrowIfNull(c);
        c.Xcr0 = GuestXcr0;
        c.Mxcsr = GuestMxcsr;
        c.MxcsrMask = MxcsrMask;
        c.VectorFeatures = VectorFeatures;
        c.SimdExceptions = SimdExceptionsRaiseXm;
        c.DenormalFlag = !SseFollowsQemu;
        c.X87NanRule = SseFollowsQemu;
        c.MxcsrReservedGp = !SseFollowsQemu;
        c.MmxSetsExponent = !SseFollowsQemu;
        c.OsXmmExcpt = true;   // Xen's CR4 has OSXMMEXCPT (the guest reads 0x660)
    }
}
