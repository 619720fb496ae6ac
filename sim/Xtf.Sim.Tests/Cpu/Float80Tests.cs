using Iced.Intel;
using Xtf.Sim.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Sim.Tests.Cpu;

/// <summary>
/// The 80-bit soft-float (Float80.cs): properties against System.Double where a result is exact or
/// correctly rounded at 53 bits (PC 2 with binary64 operands gives IEEE binary64 results for + - * / sqrt
/// away from the exponent extremes), the rounding rules measured on QEMU TCG (docs/pv-abi.md §18.4),
/// and the interpreter's x87 arithmetic forms.
/// </summary>
[Parallelizable(ParallelScope.All)]
public sealed class Float80Tests
{
    private static Float80 F(double d)
    {
        int f = 0;
        return F80.FromBinary(BitConverter.DoubleToUInt64Bits(d), 52, 11, ref f);
    }

    private static double D(Float80 v)
    {
        int f = 0;
        return BitConverter.UInt64BitsToDouble(F80.ToBinary(v, 52, 11, F80.RcNearest, ref f));
    }

    private static IEnumerable<(double, double)> Pairs()
    {
        var rng = new Random(12345);
        for (int i = 0; i < 4000; i++)
        {
            double a = (rng.NextDouble() - 0.5) * Math.Pow(2, rng.Next(-60, 60));
            double b = (rng.NextDouble() - 0.5) * Math.Pow(2, rng.Next(-60, 60));
            if (a == 0 || b == 0) continue;
            yield return (a, b);
        }
    }

    [Test]
    public void AtDoublePrecisionTheFourRulesMatchIeeeBinary64()
    {
        foreach (var (a, b) in Pairs())
        {
            int f = 0;
            Assert.That(D(F80.Add(F(a), F(b), F80.RcNearest, 2, ref f)), Is.EqualTo(a + b), $"{a:R} + {b:R}");
            Assert.That(D(F80.Sub(F(a), F(b), F80.RcNearest, 2, ref f)), Is.EqualTo(a - b), $"{a:R} - {b:R}");
            Assert.That(D(F80.Mul(F(a), F(b), F80.RcNearest, 2, ref f)), Is.EqualTo(a * b), $"{a:R} * {b:R}");
            Assert.That(D(F80.Div(F(a), F(b), F80.RcNearest, 2, ref f)), Is.EqualTo(a / b), $"{a:R} / {b:R}");
            Assert.That(D(F80.Sqrt(F(Math.Abs(a)), F80.RcNearest, 2, ref f)), Is.EqualTo(Math.Sqrt(Math.Abs(a))), $"sqrt {a:R}");
        }
    }

    [Test]
    public void ExactResultsRaiseNoFlagsAndInexactOnesRaisePrecision()
    {
        int f = 0;
        var r = F80.Mul(F(1.5), F(-2.25), F80.RcNearest, 3, ref f);
        Assert.That(D(r), Is.EqualTo(-3.375));
        Assert.That(f, Is.Zero);
        r = F80.Div(F1, F(3), F80.RcNearest, 3, ref f);
        Assert.That(r, Is.EqualTo(new Float80(0xAAAA_AAAA_AAAA_AAABUL, 0x3FFD)));
        Assert.That(f, Is.EqualTo(F80.PE));
    }

    private static readonly Float80 F1 = F80.One;

    [TestCase(0, 0, 0xAAAAAB0000000000UL)]
    [TestCase(0, 1, 0xAAAAAA0000000000UL)]
    [TestCase(0, 2, 0xAAAAAB0000000000UL)]
    [TestCase(2, 0, 0xAAAAAAAAAAAAA800UL)]
    [TestCase(2, 2, 0xAAAAAAAAAAAAB000UL)]
    [TestCase(3, 0, 0xAAAAAAAAAAAAAAABUL)]
    [TestCase(3, 3, 0xAAAAAAAAAAAAAAAAUL)]
    public void OneThirdRoundsPerPrecisionAndRoundingControl(int pc, int rc, ulong mant)
    {
        int f = 0;
        var r = F80.Div(F1, F(3), rc, pc, ref f);
        Assert.That(r, Is.EqualTo(new Float80(mant, 0x3FFD)));
        Assert.That(f, Is.EqualTo(F80.PE), "PE only (no C1 for a round-up)");
    }

    [Test]
    public void OverflowGoesToInfinityOrTheLargestFiniteValuePerDirection()
    {
        var max = new Float80(ulong.MaxValue, 0x7FFE);
        int f = 0;
        Assert.That(F80.Mul(max, F(2), F80.RcNearest, 3, ref f), Is.EqualTo(F80.Inf(false)));
        Assert.That(f, Is.EqualTo(F80.OE | F80.PE));
        f = 0;
        Assert.That(F80.Mul(max, F(2), F80.RcZero, 3, ref f), Is.EqualTo(max));
        f = 0;
        Assert.That(F80.Mul(max, F(-2), F80.RcUp, 0, ref f), Is.EqualTo(new Float80(0xFFFF_FF00_0000_0000UL, 0xFFFE)));
    }

    [Test]
    public void UnderflowNeedsATinyAndInexactResult()
    {
        var minNormal = new Float80(1UL << 63, 1);
        int f = 0;
        Assert.That(F80.Div(minNormal, F(2), F80.RcNearest, 3, ref f), Is.EqualTo(new Float80(1UL << 62, 0)));
        Assert.That(f, Is.Zero, "exact denormal: no UE");
        f = 0;
        Assert.That(F80.Div(new Float80((1UL << 63) | 1, 1), F(2), F80.RcNearest, 3, ref f), Is.EqualTo(new Float80(1UL << 62, 0)));
        Assert.That(f, Is.EqualTo(F80.UE | F80.PE));
        f = 0;
        // (1 - 2^-64) * 2^-16382 has 64 significant bits, so it stays tiny at full precision; the
        // denormal loses a bit and rounds up to the smallest normal: UE and PE (measured on QEMU TCG).
        Assert.That(F80.Mul(minNormal, new Float80(ulong.MaxValue, 0x3FFE), F80.RcNearest, 3, ref f), Is.EqualTo(minNormal));
        Assert.That(f, Is.EqualTo(F80.UE | F80.PE));
    }

    [Test]
    public void InvalidOperationsGiveTheNegativeDefaultNaN()
    {
        int f = 0;
        Assert.That(F80.Div(F(0), F(0), 0, 3, ref f), Is.EqualTo(F80.DefaultNaN));
        Assert.That(F80.Sub(F80.Inf(false), F80.Inf(false), 0, 3, ref f), Is.EqualTo(F80.DefaultNaN));
        Assert.That(F80.Sqrt(F(-1), 0, 3, ref f), Is.EqualTo(F80.DefaultNaN));
        Assert.That(F80.Add(new Float80(1UL << 62, 0x3FFF), F1, 0, 3, ref f), Is.EqualTo(F80.DefaultNaN), "unnormal");
        Assert.That(f, Is.EqualTo(F80.IE));
        f = 0;
        Assert.That(F80.Div(F(-1), F(0), 0, 3, ref f), Is.EqualTo(F80.Inf(true)));
        Assert.That(f, Is.EqualTo(F80.ZE));
    }

    [Test]
    public void NaNsPropagateByTheX87Rule()
    {
        var q5 = new Float80(0xC000_0000_0000_0005UL, 0x7FFF);
        var q9 = new Float80(0xC000_0000_0000_0009UL, 0x7FFF);
        var s9 = new Float80(0x8000_0000_0000_0009UL, 0x7FFF);
        int f = 0;
        Assert.That(F80.Add(q5, q9, 0, 3, ref f), Is.EqualTo(q9), "larger significand");
        Assert.That(F80.Add(s9, q5, 0, 3, ref f), Is.EqualTo(q5), "the QNaN before the SNaN");
        Assert.That(f, Is.EqualTo(F80.IE));
        f = 0;
        Assert.That(F80.Add(F1, s9, 0, 3, ref f), Is.EqualTo(new Float80(0xC000_0000_0000_0009UL, 0x7FFF)), "quieted");
        Assert.That(f, Is.EqualTo(F80.IE));
    }

    [TestCase(2.5, 0, 2.0)]
    [TestCase(3.5, 0, 4.0)]
    [TestCase(-2.5, 1, -3.0)]
    [TestCase(-2.5, 2, -2.0)]
    [TestCase(2.7, 3, 2.0)]
    [TestCase(0.5, 0, 0.0)]
    [TestCase(0.75, 0, 1.0)]
    public void RoundToIntegerFollowsTheRoundingControl(double v, int rc, double expected)
    {
        int f = 0;
        Assert.That(D(F80.RoundToInt(F(v), rc, 3, ref f)), Is.EqualTo(expected));
        Assert.That(f, Is.EqualTo(F80.PE));
    }

    [Test]
    public void IntegerConversionsRoundAndSaturateToTheIndefinite()
    {
        int f = 0;
        Assert.That(F80.ToInt(F(-2.5), 32, F80.RcNearest, ref f), Is.EqualTo(-2));
        Assert.That(F80.ToInt(F(2.5), 32, F80.RcUp, ref f), Is.EqualTo(3));
        Assert.That(f, Is.EqualTo(F80.PE));
        f = 0;
        Assert.That(F80.ToInt(F(2147483648.0), 32, F80.RcNearest, ref f), Is.EqualTo(int.MinValue));
        Assert.That(f, Is.EqualTo(F80.IE));
        f = 0;
        Assert.That(F80.ToInt(new Float80(1UL << 63, 0xBFFF + 63), 64, F80.RcNearest, ref f), Is.EqualTo(long.MinValue));
        Assert.That(f, Is.Zero);
        var rng = new Random(7);
        for (int i = 0; i < 2000; i++)
        {
            long v = rng.NextInt64(long.MinValue, long.MaxValue) >> rng.Next(0, 63);
            f = 0;
            Assert.That(F80.ToInt(F80.FromInt(v, 0, 3, ref f), 64, 0, ref f), Is.EqualTo(v));
            Assert.That(f, Is.Zero);
        }
    }

    [Test]
    public void RemainderIsExactWithTheQuotientBits()
    {
        int f = 0;
        Assert.That(D(F80.Rem(F(11), F(3), true, out ulong q, ref f)), Is.EqualTo(2.0));
        Assert.That(q, Is.EqualTo(3UL));
        Assert.That(D(F80.Rem(F(11), F(3), false, out q, ref f)), Is.EqualTo(-1.0));
        Assert.That(q, Is.EqualTo(4UL));
        Assert.That(D(F80.Rem(F(5), F(2), false, out _, ref f)), Is.EqualTo(1.0), "tie to the even quotient");
        foreach (var (a, b) in Pairs())
        {
            double expected = Math.IEEERemainder(a, b);
            if (Math.Abs(Math.ILogB(a) - Math.ILogB(b)) > 60) continue;
            Assert.That(D(F80.Rem(F(a), F(b), false, out _, ref f)), Is.EqualTo(expected), $"{a:R} rem {b:R}");
            Assert.That(D(F80.Rem(F(a), F(b), true, out _, ref f)), Is.EqualTo(Math.Abs(a) < Math.Abs(b) && Math.ILogB(a) < Math.ILogB(b) ? a : a % b), $"{a:R} fmod {b:R}");
        }
        Assert.That(f & ~F80.PE, Is.Zero);
    }

    [Test]
    public void StoresToBinary32RoundPerDirection()
    {
        var third = new Float80(0xAAAA_AAAA_AAAA_AAABUL, 0x3FFD);
        int f = 0;
        Assert.That(F80.ToBinary(third, 23, 8, F80.RcNearest, ref f), Is.EqualTo((ulong)BitConverter.SingleToUInt32Bits(1f / 3)));
        Assert.That(F80.ToBinary(third, 23, 8, F80.RcUp, ref f), Is.EqualTo((ulong)BitConverter.SingleToUInt32Bits(1f / 3)));
        Assert.That(F80.ToBinary(third, 23, 8, F80.RcDown, ref f), Is.EqualTo((ulong)BitConverter.SingleToUInt32Bits(1f / 3) - 1));
        f = 0;
        Assert.That(F80.ToBinary(new Float80(1UL << 63, 0x3FFF - 149), 23, 8, 0, ref f), Is.EqualTo(1UL), "2^-149 exact");
        Assert.That(f, Is.Zero);
        Assert.That(F80.ToBinary(new Float80(1UL << 63, 0x3FFF + 200), 23, 8, F80.RcZero, ref f), Is.EqualTo(0x7F7F_FFFFUL));
        Assert.That(f, Is.EqualTo(F80.OE | F80.PE));
    }

    [Test]
    public void TheInterpreterRunsTheArithmeticForms()
    {
        var m = new TestMachine();
        const ulong data = TestMachine.DataVa;
        m.Load(a =>
        {
            a.fninit();
            a.fld1();
            a.mov(__dword_ptr[data], 3);
            a.fidiv(__dword_ptr[data]);          // 1/3
            a.fld(st0);
            a.fadd(st0, st1);                    // 2/3
            a.fsubrp(st1, st0);                  // 2/3 - 1/3
            a.fsqrt();
            a.fst(__qword_ptr[data + 0x10]);
            a.fistp(__dword_ptr[data + 0x20]);
            a.fldpi();
            a.fstp(__tword_ptr[data + 0x30]);
            a.fnstsw(ax);
            a.int3();
        });
        m.RunToEnd();
        Assert.That(BitConverter.UInt64BitsToDouble(m.ReadData(data + 0x10)), Is.EqualTo(Math.Sqrt(1.0 / 3)).Within(1e-15));
        Assert.That(m.ReadData(data + 0x20, 4), Is.EqualTo(1UL));
        Assert.That(m.ReadData(data + 0x30), Is.EqualTo(0xC90F_DAA2_2168_C235UL));
        Assert.That(m[Reg.Rax] & 0xFFFF, Is.EqualTo(0x0020UL), "PE, TOP 0");
    }

    [Test]
    public void ArithmeticAllocatesNothing()
    {
        int f = 0;
        var x = F(1.25);
        F80.Div(x, F(3), 0, 3, ref f);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            x = F80.Add(F80.Div(F80.Mul(x, F(1.0001), 0, 3, ref f), F(1.00005), 0, 3, ref f), F(1e-9), 0, 3, ref f);
            x = F80.Sqrt(F80.Mul(x, x, 0, 3, ref f), 0, 3, ref f);
        }
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
    }
}
