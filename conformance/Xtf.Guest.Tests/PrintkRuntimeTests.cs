using Xtf.Abi;
using Xtf.Guest;
using static Xtf.Guest.Tests.ExecutionTests;

namespace Xtf.Guest.Tests;

/// <summary>What the guest's printk prints, conversion by conversion, run in the simulator (<see cref="SimRun"/>).</summary>
[TestFixture]
public sealed class PrintkRuntimeTests
{
    [TestCase(0L, "0")]
    [TestCase(1L, "1")]
    [TestCase(-1L, "-1")]
    [TestCase(9L, "9")]
    [TestCase(10L, "10")]
    [TestCase(-10L, "-10")]
    [TestCase(1234567890123L, "1234567890123")]
    [TestCase(long.MaxValue, "9223372036854775807")]
    [TestCase(long.MinValue, "-9223372036854775808")]
    public void SignedDecimal(long value, string expected)
    {
        Assert.That(Printed("%d", value), Is.EqualTo(expected));
        Assert.That(Printed("%ld", value), Is.EqualTo(expected));
        Assert.That(Printed("%i", value), Is.EqualTo(expected));
    }

    [TestCase(0UL, "0")]
    [TestCase(7UL, "7")]
    [TestCase(10000000000000000000UL, "10000000000000000000")]
    [TestCase(ulong.MaxValue, "18446744073709551615")]
    public void UnsignedDecimal(ulong value, string expected)
    {
        Assert.That(Printed("%u", value), Is.EqualTo(expected));
        Assert.That(Printed("%lu", value), Is.EqualTo(expected));
    }

    [TestCase("%x", 0L, "0")]
    [TestCase("%x", 0xabcdefL, "abcdef")]
    [TestCase("%x", -1L, "ffffffffffffffff")]
    [TestCase("%lx", 0x123456789L, "123456789")]
    [TestCase("%08x", 0x1234L, "00001234")]
    [TestCase("%08x", 0x123456789L, "123456789")]
    [TestCase("%02x", 5L, "05")]
    [TestCase("%016lx", 0L, "0000000000000000")]
    [TestCase("%016lx", long.MinValue, "8000000000000000")]
    [TestCase("%#x", 255L, "0xff")]
    [TestCase("%#lx", 0xdeadbeefL, "0xdeadbeef")]
    [TestCase("%p", 0x1000L, "0x0000000000001000")]
    [TestCase("%p", -1L, "0xffffffffffffffff")]
    public void Hex(string format, long value, string expected) =>
        Assert.That(Printed(format, value), Is.EqualTo(expected));

    [Test]
    public void Characters() =>
        Assert.That(Printed("[%c%c%c]", 'A', ' ', '~'), Is.EqualTo("[A ~]"));

    [Test]
    public void Strings()
    {
        var lines = Body(Run(g =>
        {
            g.Print("<%s>\n", g.Str("hello"));
            g.Print("<%s>\n", g.Str(""));
            g.Print("<%s|%s>\n", g.Str("a"), g.Str("bc"));
            var p = g.Var("p");
            g.Set(p, g.Str("through a variable"));
            g.Print("<%s>\n", p);
            g.Success();
        }));
        Assert.That(lines, Is.EqualTo(new[] { "<hello>", "<>", "<a|bc>", "<through a variable>" }));
    }

    [TestCase(0L, "0")]
    [TestCase(5L, "5")]
    [TestCase(-1L, "-1 (-EPERM)")]
    [TestCase(-22L, "-22 (-EINVAL)")]
    [TestCase(-38L, "-38 (-ENOSYS)")]
    [TestCase(-95L, "-95 (-EOPNOTSUPP)")]
    [TestCase(-110L, "-110 (-ETIMEDOUT)")]
    [TestCase(-4L, "-4")]                 // EINTR: not in the suite's errno table
    [TestCase(-133L, "-133")]
    [TestCase(-134L, "-134")]
    [TestCase(-1000L, "-1000")]
    [TestCase(long.MinValue, "-9223372036854775808")]
    public void ErrnoValues(long value, string expected) =>
        Assert.That(Printed("%e", value), Is.EqualTo(expected));

    [Test]
    public void EveryKnownErrnoHasItsName()
    {
        var all = Errno.All.ToList();
        var lines = Body(Run(g =>
        {
            foreach (int e in all) g.Print("%e\n", -e);
            g.Success();
        }));
        Assert.That(lines, Is.EqualTo(all.Select(e => $"-{e} (-{Errno.Name(e)})").ToList()));
    }

    [Test]
    public void PercentAndLiteralsAroundConversions() =>
        Assert.That(Printed("%%%d%% of %u, x=%x.", 50, 8, 255), Is.EqualTo("%50% of 8, x=ff."));

    [Test]
    public void NarrowFieldsAreExtendedAsDeclared()
    {
        var lines = Body(Run(g =>
        {
            var b = g.Alloc(8, name: "b");
            g.Set(b.U64(), unchecked((long)0x8000_ffff_0000_ff80UL));
            g.Print("%d %d %d %d\n", b.Field(0, 1, signed: true), b.Field(0, 2, signed: true), b.Field(2, 4, signed: true), b.Field(0, 8, signed: true));
            g.Print("%u %u %u\n", b.U8(0), b.U16(0), b.U32(2));
            g.Print("%x %x\n", b.U8(1), b.S32(4));
            g.Success();
        }));
        Assert.That(lines, Is.EqualTo(new[]
        {
            $"-128 -128 {unchecked((int)0xffff_0000)} {unchecked((long)0x8000_ffff_0000_ff80UL)}",
            $"128 65408 {0xffff_0000u}",
            "ff ffffffff8000ffff",
        }));
    }

    [Test]
    public void ALineLongerThanTheBufferIsNotBroken()
    {
        string text = new string('a', 700) + new string('b', 400);
        var run = Run(g =>
        {
            g.Print(text);           // no newline: the line buffer (512) fills and is flushed twice
            g.Print("|%d\n", 7);
            g.Success();
        });
        Assert.That(Body(run), Is.EqualTo(new[] { text + "|7" }));
        // Each console write is at most one line buffer.
        Assert.That(run.Hypercalls.Where(h => h.Number == (int)Hypercall.ConsoleIo).Select(h => h.Args[1]),
            Has.All.LessThanOrEqualTo(512UL).And.All.Positive);
    }

    [Test]
    public void ValuesAreEvaluatedAtRunTime()
    {
        var lines = Body(Run(g =>
        {
            var i = g.Var("i");
            g.For(i, 0, 3, () => g.Print("%d:%x:%u\n", i, i * 16, i + 100));
            g.Success();
        }));
        Assert.That(lines, Is.EqualTo(new[] { "0:0:100", "1:10:101", "2:20:102" }));
    }

    // ---------------------------------------------------------------- differences from C's printf

    [Test]
    public void WidthWithoutZeroFlagPads() =>
        Assert.That(Printed("[%5d|%4x|%3u]", 42, 0xab, 7), Is.EqualTo("[   42|  ab|  7]"));

    [Test]
    public void ZeroPaddedDecimal() =>
        Assert.That(Printed("%02d:%03u", 5, 7), Is.EqualTo("05:007"));

    [Test]
    public void AlternateFormWidthIncludesThePrefix() =>
        Assert.That(Printed("%#08x", 0xff), Is.EqualTo("0x0000ff"));

    [Test]
    public void ShortModifiersTruncate() =>
        Assert.That(Printed("%hhx %hx", 0x1ff, 0x12345), Is.EqualTo("ff 2345"));
}
