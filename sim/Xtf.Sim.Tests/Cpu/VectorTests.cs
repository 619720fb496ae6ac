using Xtf.Sim.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Sim.Tests.Cpu;

/// <summary>
/// SSE to SSE4.2, MMX, AES-NI, PCLMULQDQ and the FXSAVE/XSAVE family in the interpreter
/// (docs/pv-abi.md §17): known vectors, MXCSR rounding and flags, NaN rules, alignment faults, #NM.
/// </summary>
public sealed class VectorTests
{
    private const ulong D = TestMachine.DataVa;

    /// <summary>Runs one instruction with xmm0/xmm1 loaded from data and MXCSR set; returns the machine.</summary>
    private static TestMachine One(ulong d0, ulong d1, ulong s0, ulong s1, uint mxcsr, Action<Iced.Intel.Assembler> ins, bool sdmNan = true)
    {
        var m = new TestMachine();
        m.Cpu.X87NanRule = !sdmNan;
        m.WriteData(D, d0);
        m.WriteData(D + 8, d1);
        m.WriteData(D + 16, s0);
        m.WriteData(D + 24, s1);
        m.WriteData(D + 32, mxcsr, 4);
        m.Load(a =>
        {
            a.mov(rbx, (long)D);
            a.movdqa(xmm0, __xmmword_ptr[rbx]);
            a.movdqa(xmm1, __xmmword_ptr[rbx + 16]);
            a.ldmxcsr(__dword_ptr[rbx + 32]);
            ins(a);
            a.int3();
        });
        m.RunToEnd();
        return m;
    }

    [Test]
    public void AesRoundsMatchFips197AppendixB()
    {
        var m = One(0x2be2f4a0bee33d19, 0x0848f8e92a8dc69a, 0xb12c548817fefaa0, 0x05766c2a3939a323, 0x1f80, a => a.aesenc(xmm0, xmm1));
        Assert.That((m.Cpu.XmmLo[0], m.Cpu.XmmHi[0]), Is.EqualTo((0x2b359f68f27f9ca4UL, 0x49506a0243ea5b6bUL)));
        m = One(0xc3a12e401b8b59eb, 0xd2e7841e421338f2, 0x8925eec9a8f914d0, 0xa60c63b6c80c3fe1, 0x1f80, a => a.aesenclast(xmm0, xmm1));
        Assert.That((m.Cpu.XmmLo[0], m.Cpu.XmmHi[0]), Is.EqualTo((0x26b1e9c01d842539UL, 0x8a3ea8c4e6316068UL)), "as measured on the reference");
        // aesdeclast undoes aesenclast's SubBytes/ShiftRows: aesdeclast(aesenclast(x, k) ^ k, 0) = x
        m = One(0xc3a12e401b8b59eb, 0xd2e7841e421338f2, 0, 0, 0x1f80, a => { a.aesenclast(xmm0, xmm1); a.aesdeclast(xmm0, xmm1); });
        Assert.That((m.Cpu.XmmLo[0], m.Cpu.XmmHi[0]), Is.EqualTo((0xc3a12e401b8b59ebUL, 0xd2e7841e421338f2UL)));
        // aesimc: InvMixColumns of the column 8e 4d a1 bc (MixColumns of db 13 53 45)
        m = One(0, 0, 0xbca14d8e_bca14d8e, 0xbca14d8e_bca14d8e, 0x1f80, a => a.aesimc(xmm0, xmm1));
        Assert.That((m.Cpu.XmmLo[0], m.Cpu.XmmHi[0]), Is.EqualTo((0x455313db_455313dbUL, 0x455313db_455313dbUL)));
    }

    [Test]
    public void AesKeygenAssistFollowsTheKeyExpansion()
    {
        // FIPS-197 A.1: w3 = 09 cf 4f 3c; SubWord(RotWord(w3)) ^ Rcon(1) = 8b 84 eb 01 (bytes in memory order)
        var m = One(0, 0, 0, 0x3c4fcf09_00000000, 0x1f80, a => a.aeskeygenassist(xmm0, xmm1, 1));
        Assert.That(m.Cpu.XmmHi[0] >> 32, Is.EqualTo(0x01eb848bUL));
        Assert.That(m.Cpu.XmmHi[0] & 0xFFFF_FFFF, Is.EqualTo(0xeb848a01UL));
    }

    [Test]
    public void PclmulqdqIsCarryLess()
    {
        var m = One(0x8000_0000_0000_0001, 0, 3, 0, 0x1f80, a => a.pclmulqdq(xmm0, xmm1, 0));
        Assert.That((m.Cpu.XmmLo[0], m.Cpu.XmmHi[0]), Is.EqualTo((0x8000_0000_0000_0003UL, 1UL)));
    }

    [Test]
    public void PcmpistriFindsSubstringsAndSets()
    {
        var m = One(0x636261, 0, 0x0078_6362_6178_78, 0, 0x1f80, a => a.pcmpistri(xmm0, xmm1, 0x0c));
        Assert.That(m[Reg.Rcx], Is.EqualTo(2UL));
        Assert.That(m.Arith & (CpuState.FlagCf | CpuState.FlagZf | CpuState.FlagSf | CpuState.FlagOf), Is.EqualTo(CpuState.FlagCf | CpuState.FlagZf | CpuState.FlagSf));
        m = One(0x6362, 0, 0x0078_6362_6178_78, 0, 0x1f80, a => a.pcmpistri(xmm0, xmm1, 0x40));
        Assert.That(m[Reg.Rcx], Is.EqualTo(4UL));
        m = One(0x7a61, 0, 0x0041_7a62_5a61, 0, 0x1f80, a => a.pcmpistrm(xmm0, xmm1, 0x04));
        Assert.That(m.Cpu.XmmLo[0], Is.EqualTo(0x0dUL));
    }

    [TestCase(0u, 0x3fd5555555555555UL)]
    [TestCase(1u, 0x3fd5555555555555UL)]
    [TestCase(2u, 0x3fd5555555555556UL)]
    [TestCase(3u, 0x3fd5555555555555UL)]
    public void DivisionRoundsPerMxcsrRc(uint rc, ulong expected)
    {
        var m = One(0x3FF0_0000_0000_0000, 0, 0x4008_0000_0000_0000, 0, 0x1f80 | (rc << 13), a => a.divsd(xmm0, xmm1));
        Assert.That(m.Cpu.XmmLo[0], Is.EqualTo(expected));
        Assert.That(m.Cpu.Mxcsr & 0x3F, Is.EqualTo(0x20u), "PE");
    }

    [TestCase(0u, 0x3ff6a09e667f3bcdUL)]
    [TestCase(1u, 0x3ff6a09e667f3bccUL)]
    public void SqrtRoundsPerMxcsrRc(uint rc, ulong expected)
    {
        var m = One(0, 0, 0x4000_0000_0000_0000, 0, 0x1f80 | (rc << 13), a => a.sqrtsd(xmm0, xmm1));
        Assert.That(m.Cpu.XmmLo[0], Is.EqualTo(expected));
    }

    [Test]
    public void OverflowUnderflowAndFlushToZero()
    {
        var m = One(0x7FEF_FFFF_FFFF_FFFF, 0, 0x4000_0000_0000_0000, 0, 0x7f80, a => a.mulsd(xmm0, xmm1));
        Assert.That(m.Cpu.XmmLo[0], Is.EqualTo(0x7fefffffffffffffUL), "RZ overflow: the largest finite");
        Assert.That(m.Cpu.Mxcsr & 0x3F, Is.EqualTo(0x28u));
        m = One(0x0010_0000_0000_0000, 0, 0x3FE0_0000_0000_0001, 0, 0x1f80, a => a.mulsd(xmm0, xmm1));
        Assert.That((m.Cpu.XmmLo[0], m.Cpu.Mxcsr), Is.EqualTo((0x8000000000000UL, 0x1fb0u)));
        m = One(0x0010_0000_0000_0000, 0, 0x3FE0_0000_0000_0001, 0, 0x9f80, a => a.mulsd(xmm0, xmm1));
        Assert.That((m.Cpu.XmmLo[0], m.Cpu.Mxcsr), Is.EqualTo((0UL, 0x9fb0u)));
    }

    [Test]
    public void NanRulesSdmAndQemu()
    {
        var m = One(0x7FF8_0000_0000_0001, 0, 0x7FF8_0000_0000_0002, 0, 0x1f80, a => a.addsd(xmm0, xmm1));
        Assert.That(m.Cpu.XmmLo[0], Is.EqualTo(0x7FF8_0000_0000_0001UL), "SDM: the first source");
        m = One(0x7FF8_0000_0000_0001, 0, 0x7FF8_0000_0000_0002, 0, 0x1f80, a => a.addsd(xmm0, xmm1), sdmNan: false);
        Assert.That(m.Cpu.XmmLo[0], Is.EqualTo(0x7FF8_0000_0000_0002UL), "x87 rule: the larger significand");
        m = One(0x7FF0_0000_0000_0000, 0, 0xFFF0_0000_0000_0000, 0, 0x1f80, a => a.addsd(xmm0, xmm1));
        Assert.That((m.Cpu.XmmLo[0], m.Cpu.Mxcsr), Is.EqualTo((0xFFF8_0000_0000_0000UL, 0x1f81u)), "default NaN");
        m = One(0, 0, 0x7FF8_0000_0000_0000, 0, 0x1f80, a => a.cvttsd2si(rax, xmm1));
        Assert.That(m[Reg.Rax], Is.EqualTo(0x8000_0000_0000_0000UL), "integer indefinite");
        m = One(0, 0, 0x41E0_0000_0000_0000, 0, 0x1f80, a => { a.mov(rbx, (long)D + 16); a.cvttsd2si(eax, __qword_ptr[rbx]); });
        Assert.That(m[Reg.Rax], Is.EqualTo(0x8000_0000UL), "32-bit indefinite from a memory source");
    }

    [Test]
    public void AnUnmaskedExceptionRaisesXmWithoutWriting()
    {
        var m = new TestMachine();
        m.WriteData(D, 0x1d80, 4);
        m.Load(a =>
        {
            a.mov(rbx, (long)D);
            a.ldmxcsr(__dword_ptr[rbx]);
            a.xorps(xmm1, xmm1);
            a.mov(eax, 0x3f800000);
            a.movd(xmm0, eax);
            a.divss(xmm0, xmm1);
            a.int3();
        });
        var e = m.Run();
        Assert.That(e.Vector, Is.EqualTo(19));
        Assert.That(m.Cpu.XmmLo[0], Is.EqualTo(0x3f800000UL));
        Assert.That(m.Cpu.Mxcsr, Is.EqualTo(0x1d84u));
    }

    [Test]
    public void AlignedFormsFaultOnMisalignedOperands()
    {
        var m = new TestMachine();
        m.Load(a => { a.mov(rbx, (long)D + 8); a.movups(xmm0, __xmmword_ptr[rbx]); a.movaps(xmm0, __xmmword_ptr[rbx]); a.int3(); });
        var e = m.Run();
        Assert.That((e.Vector, e.ErrorCode), Is.EqualTo((13, 0u)));
        m = new TestMachine();
        m.Load(a => { a.mov(rbx, (long)D + 8); a.paddd(xmm0, __xmmword_ptr[rbx]); a.int3(); });
        Assert.That(m.Run().Vector, Is.EqualTo(13));
    }

    [Test]
    public void TaskSwitchedRaisesNmAndAFeatureNotAdvertisedIsUd()
    {
        var m = new TestMachine();
        m.Cpu.TaskSwitched = true;
        m.Load(a => { a.addps(xmm0, xmm1); a.int3(); });
        Assert.That(m.Run().Vector, Is.EqualTo(7));
        m = new TestMachine();
        m.Cpu.VectorFeatures &= ~(1u << VFeatures.Aes);
        m.Load(a => { a.aesenc(xmm0, xmm1); a.int3(); });
        Assert.That(m.Run().Vector, Is.EqualTo(6));
    }

    [Test]
    public void FxsaveLayoutAndMmxTagWord()
    {
        var m = new TestMachine();
        m.Cpu.XmmLo[3] = 0x1111;
        m.Cpu.XmmHi[3] = 0x2222;
        m.Load(a =>
        {
            a.mov(rbx, (long)D);
            a.mov(rax, 0x1234);
            a.movq(mm2, rax);
            a.fxsave64(__[rbx]);
            a.emms();
            a.fxsave64(__[rbx + 512]);
            a.int3();
        });
        m.RunToEnd();
        Assert.That(m.ReadData(D, 2), Is.EqualTo(0x37FUL), "FCW");
        Assert.That(m.ReadData(D + 4, 1), Is.EqualTo(0xFFUL), "abridged FTW after an MMX op");
        Assert.That(m.ReadData(D + 24, 4), Is.EqualTo(0x1F80UL), "MXCSR");
        Assert.That(m.ReadData(D + 28, 4), Is.EqualTo(0xFFFFUL), "MXCSR_MASK");
        Assert.That(m.ReadData(D + 32 + 32), Is.EqualTo(0x1234UL), "ST2/MM2 significand (TOP = 0)");
        Assert.That(m.ReadData(D + 32 + 40, 2), Is.EqualTo(0xFFFFUL), "MM2 sign/exponent");
        Assert.That((m.ReadData(D + 160 + 48), m.ReadData(D + 168 + 48)), Is.EqualTo((0x1111UL, 0x2222UL)), "XMM3");
        Assert.That(m.ReadData(D + 512 + 4, 1), Is.EqualTo(0UL), "abridged FTW after emms");
    }

    [Test]
    public void XgetbvAndXsaveHeader()
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            a.xor(ecx, ecx);
            a.xgetbv();
            a.mov(rbx, (long)D);
            a.mov(eax, -1);
            a.mov(edx, -1);
            a.xsave64(__[rbx]);
            a.int3();
        });
        m.RunToEnd();
        Assert.That(m.ReadData(D + 512), Is.EqualTo(3UL), "XSTATE_BV");
        Assert.That(m.ReadData(D + 24, 4), Is.EqualTo(0x1F80UL));
    }
}
