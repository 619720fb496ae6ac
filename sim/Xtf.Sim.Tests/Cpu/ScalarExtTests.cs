using Iced.Intel;
using Xtf.Sim.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Sim.Tests.Cpu;

/// <summary>CRC32, MOVBE, RDRAND/RDSEED, BMI1, BMI2, ADX and their CPUID gates.</summary>
[Parallelizable(ParallelScope.All)]
public sealed class ScalarExtTests
{
    private const ulong Data = TestMachine.DataVa;

    private static TestMachine Run(Action<Assembler> build, Action<TestMachine>? setup = null)
    {
        var m = new TestMachine();
        setup?.Invoke(m);
        m.Load(build);
        m.RunToEnd();
        return m;
    }

    [Test]
    public void Crc32COfTheCheckStringIsE3069283()
    {
        var m = new TestMachine();
        m.Memory.Write(Data, "123456789"u8.ToArray());
        m.Load(a =>
        {
            a.mov(eax, -1);                                // CRC-32C: start with all ones, invert at the end
            a.mov(rsi, (long)Data);
            a.crc32(rax, __qword_ptr[rsi]);                // "12345678"
            a.crc32(eax, __byte_ptr[rsi + 8]);             // "9"
            a.not(eax);
            a.mov(ebx, -1);
            a.mov(ecx, 0x3231);                            // "12" as a word, then bytes
            a.crc32(ebx, cx);
            a.crc32(ebx, __dword_ptr[rsi + 2]);
            a.crc32(ebx, __word_ptr[rsi + 6]);
            a.mov(dl, 0x39);
            a.crc32(ebx, dl);
            a.not(ebx);
            a.int3();
        });
        m.RunToEnd();
        Assert.That(m[Reg.Rax], Is.EqualTo(0xE306_9283UL));
        Assert.That(m[Reg.Rbx], Is.EqualTo(0xE306_9283UL), "the same through r16, m32, m16 and r8 sources");
    }

    [Test]
    public void MovbeSwapsOnLoadAndStore()
    {
        var m = Run(a =>
        {
            a.mov(rsi, (long)Data);
            a.mov(rax, 0x1122_3344_5566_7788);
            a.movbe(__qword_ptr[rsi], rax);
            a.mov(rbx, __qword_ptr[rsi]);
            a.mov(rcx, -1L);
            a.movbe(cx, __word_ptr[rsi]);
            a.movbe(edx, __dword_ptr[rsi]);
            a.int3();
        });
        Assert.That(m[Reg.Rbx], Is.EqualTo(0x8877_6655_4433_2211UL));
        Assert.That(m[Reg.Rcx], Is.EqualTo(0xFFFF_FFFF_FFFF_1122UL), "16-bit form merges");
        Assert.That(m[Reg.Rdx], Is.EqualTo(0x1122_3344UL), "32-bit form zero-extends");
    }

    [Test]
    public void RdrandIsDeterministicPerSeedAndSetsOnlyCf()
    {
        ulong Value(ulong seed, out ulong flags)
        {
            var m = Run(a =>
            {
                a.xor(eax, eax);
                a.rdrand(rax);
                a.rdseed(rbx);
                a.int3();
            }, t => t.Platform.RandomSeed = seed);
            flags = m.Arith;
            return m[Reg.Rax];
        }
        ulong a1 = Value(7, out ulong f1), a2 = Value(7, out _), b = Value(8, out _);
        Assert.That(a1, Is.EqualTo(a2), "same seed, same value");
        Assert.That(a1, Is.Not.EqualTo(b), "another seed, another value");
        Assert.That(f1, Is.EqualTo(F.CF), "CF = 1, OF SF ZF AF PF = 0");
    }

    [TestCase(0xABUL, 0x0F0FUL, 0x0A0BUL)]
    [TestCase(0b101UL, 0x8000_0000_0000_0003UL, 0x8000_0000_0000_0001UL)]
    [TestCase(ulong.MaxValue, 0UL, 0UL)]
    public void PdepScattersTheLowBitsUnderTheMask(ulong src, ulong mask, ulong expected)
    {
        var m = Run(a =>
        {
            a.mov(rax, (long)src);
            a.mov(rbx, (long)mask);
            a.pdep(rcx, rax, rbx);
            a.int3();
        });
        Assert.That(m[Reg.Rcx], Is.EqualTo(expected));
    }

    [Test]
    public void PextGathersTheMaskedBits()
    {
        var m = Run(a =>
        {
            a.mov(rax, 0x1234_5678_9ABC_DEF0);
            a.mov(rbx, unchecked((long)0xFF00_0000_0000_00F0UL));
            a.pext(rcx, rax, rbx);
            a.mov(eax, 0xF0F0_F0F0u);
            a.mov(ebx, 0x8000_0001u);
            a.pext(edx, eax, ebx);
            a.int3();
        });
        Assert.That(m[Reg.Rcx], Is.EqualTo(0x12FUL), "0x12 from the top byte, 0xF from bits 4-7");
        Assert.That(m[Reg.Rdx], Is.EqualTo(0b10UL));
    }

    [Test]
    public void Bmi1ResultsAndFlags()
    {
        var m = Run(a =>
        {
            a.mov(eax, 0b1011_0100);
            a.blsi(ebx, eax); a.pushfq();              // 0b100, CF = 1 (source non-zero)
            a.blsmsk(ecx, eax); a.pushfq();            // 0b111
            a.blsr(edx, eax); a.pushfq();              // 0b1011_0000
            a.xor(esi, esi);
            a.blsr(edi, esi); a.pushfq();              // 0, CF = 1 (source zero), ZF = 1
            a.mov(r8d, 0x1234_5678);
            a.mov(r9d, 0x0804);                        // start 4, length 8
            a.bextr(r10d, r8d, r9d); a.pushfq();       // 0x67
            a.mov(r11d, -1);
            a.andn(r12d, r11d, r8d); a.pushfq();       // 0, ZF
            a.int3();
        });
        Assert.That(m[Reg.Rbx], Is.EqualTo(0b100UL));
        Assert.That(m[Reg.Rcx], Is.EqualTo(0b111UL));
        Assert.That(m[Reg.Rdx], Is.EqualTo(0b1011_0000UL));
        Assert.That(m[Reg.Rdi], Is.Zero);
        Assert.That(m[Reg.R10], Is.EqualTo(0x67UL));
        Assert.That(m[Reg.R12], Is.Zero);
        ulong sp = m[Reg.Rsp];
        ulong Fl(int i) => m.ReadData(sp + (ulong)(8 * (5 - i))) & (F.CF | F.ZF | F.SF | F.OF);
        Assert.That(F.Name(Fl(0)), Is.EqualTo("CF"), "blsi");
        Assert.That(F.Name(Fl(1)), Is.EqualTo("-"), "blsmsk");
        Assert.That(F.Name(Fl(2)), Is.EqualTo("-"), "blsr");
        Assert.That(F.Name(Fl(3)), Is.EqualTo("CF|ZF"), "blsr 0");
        Assert.That(F.Name(Fl(4)), Is.EqualTo("-"), "bextr");
        Assert.That(F.Name(Fl(5)), Is.EqualTo("ZF"), "andn");
    }

    [Test]
    public void Bmi2ShiftsRotateBzhiMulx()
    {
        var m = Run(a =>
        {
            a.mov(rax, unchecked((long)0x8000_0000_0000_0001UL));
            a.mov(ecx, 65);                            // count masked to 1
            a.sarx(rbx, rax, rcx);
            a.shrx(rdx, rax, rcx);
            a.shlx(rsi, rax, rcx);
            a.rorx(edi, eax, 4);                       // 32-bit: 0x1000_0000
            a.mov(r8, -1L);
            a.mov(r9d, 12);
            a.bzhi(r10, r8, r9); a.pushfq();           // 0xFFF, CF = 0
            a.mov(r9d, 64);
            a.bzhi(r11, r8, r9); a.pushfq();           // unchanged, CF = 1
            a.mov(rdx, -1L);
            a.mov(r12, -1L);
            a.mulx(r13, r14, r12);                     // (2^64-1)^2 = 0xFFFF...FFFE_0000...0001
            a.int3();
        });
        Assert.That(m[Reg.Rbx], Is.EqualTo(0xC000_0000_0000_0000UL));
        Assert.That(m[Reg.Rdx], Is.EqualTo(ulong.MaxValue), "rdx reloaded before mulx");
        Assert.That(m[Reg.Rsi], Is.EqualTo(2UL));
        Assert.That(m[Reg.Rdi], Is.EqualTo(0x1000_0000UL));
        Assert.That(m[Reg.R10], Is.EqualTo(0xFFFUL));
        Assert.That(m[Reg.R11], Is.EqualTo(ulong.MaxValue));
        Assert.That(m[Reg.R13], Is.EqualTo(0xFFFF_FFFF_FFFF_FFFEUL));
        Assert.That(m[Reg.R14], Is.EqualTo(1UL));
        ulong sp = m[Reg.Rsp];
        Assert.That(m.ReadData(sp + 8) & F.CF, Is.Zero, "bzhi 12: CF 0");
        Assert.That(m.ReadData(sp) & F.CF, Is.EqualTo(F.CF), "bzhi 64: CF 1");
    }

    [Test]
    public void AdcxAndAdoxUseSeparateCarryChains()
    {
        var m = Run(a =>
        {
            a.xor(eax, eax);                           // CF = OF = 0
            a.stc();
            a.mov(rbx, -1L);
            a.mov(rcx, 1);
            a.adcx(rbx, rcx);                          // -1 + 1 + 1 = 1, CF = 1
            a.mov(rdx, 5);
            a.adox(rdx, rcx);                          // 6, OF stays 0
            a.pushfq();
            a.int3();
        });
        Assert.That(m[Reg.Rbx], Is.EqualTo(1UL));
        Assert.That(m[Reg.Rdx], Is.EqualTo(6UL));
        Assert.That(m.ReadData(m[Reg.Rsp]) & (F.CF | F.OF), Is.EqualTo(F.CF));
    }

    [Test]
    public void AnAbsentFeatureIsUd()
    {
        var m = new TestMachine();
        m.Platform.Leaf7Ebx = 0;        // no BMI1/BMI2/ADX/RDSEED
        m.Platform.Ext1Ecx = 0;         // no LZCNT: lzcnt runs as bsr
        m.Load(a =>
        {
            a.mov(eax, 0x10);
            a.lzcnt(ebx, eax);
            a.pdep(rcx, rax, rax);
            a.int3();
        });
        var e = m.Run();
        Assert.That(e.Vector, Is.EqualTo(6));
        Assert.That(e.Detail, Is.EqualTo("cpuid: no BMI2"));
        Assert.That(m[Reg.Rbx], Is.EqualTo(4UL), "lzcnt without LZCNT is bsr");
    }
}
