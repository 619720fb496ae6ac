using Xtf.Guest;

namespace Xtf.Guest.Tests;

/// <summary>printk formats are checked when the kernel is generated, not when it runs.</summary>
[TestFixture]
public sealed class PrintkFormatTests
{
    private static ArgumentException Rejects(string format, params Val[] args) =>
        Assert.Throws<ArgumentException>(() => Kernels.Build(g => g.Print(format, args)))!;

    private static void Accepts(string format, params Val[] args) =>
        Assert.DoesNotThrow(() => Kernels.Build(g => { g.Print(format, args); g.Success(); }), format);

    [TestCase("%q")]
    [TestCase("value %y\n")]
    [TestCase("%lq")]
    public void UnsupportedConversionThrows(string format)
    {
        var e = Rejects(format, 1);
        Assert.That(e.Message, Does.Contain("unsupported conversion"));
        Assert.That(e.Message, Does.Contain(format), "the message names the format");
    }

    [TestCase("%-5d")]
    [TestCase("%+d")]
    [TestCase("% d")]
    public void UnsupportedFlagThrows(string format)
    {
        var e = Rejects(format, 1);
        Assert.That(e.Message, Does.Contain("flag is not supported"));
        Assert.That(e.Message, Does.Contain(format), "the message names the format");
    }

    [TestCase("%5s")]
    [TestCase("%3c")]
    public void WidthOnANonNumericConversionThrows(string format)
    {
        var e = Rejects(format, 1);
        Assert.That(e.Message, Does.Contain("field widths are supported for"));
    }

    [Test]
    public void MissingArgumentThrows()
    {
        var e = Rejects("a=%d b=%d\n", 1);
        Assert.That(e.Message, Does.Contain("no argument for %d"));
        Assert.That(e.Message, Does.Contain("a=%d b=%d"));
    }

    [Test]
    public void MissingArgumentWithNoArgumentsThrows() =>
        Assert.That(Rejects("%s").Message, Does.Contain("no argument"));

    [Test]
    public void UnusedArgumentThrows()
    {
        var e = Rejects("only %d\n", 1, 2, 3);
        Assert.That(e.Message, Does.Contain("2 unused argument"));
    }

    [Test]
    public void ArgumentsWithNoConversionsThrow() =>
        Assert.That(Rejects("100%% plain\n", 7).Message, Does.Contain("unused"));

    [TestCase("ends in %")]
    [TestCase("%")]
    public void TrailingPercentThrows(string format) =>
        Assert.That(Rejects(format).Message, Does.Contain("ends in '%'"));

    [TestCase("%0")]
    [TestCase("%08")]
    [TestCase("%#")]
    [TestCase("%l")]
    [TestCase("%ll")]
    public void IncompleteConversionThrows(string format) =>
        Assert.That(Rejects(format, 1).Message, Does.Contain("incomplete conversion"));

    [TestCase("caf\u00e9\n")]
    [TestCase("\u2014 dash")]
    [TestCase("bell \a")]
    [TestCase("cr\r\n")]
    [TestCase("nul \0")]
    [TestCase("del \u007f")]
    public void NonAsciiOrControlTextThrows(string format)
    {
        var e = Rejects(format);
        Assert.That(e.Message, Does.Contain("printable ASCII"));
    }

    [Test]
    public void NonAsciiTitleThrows() =>
        Assert.Throws<ArgumentException>(() => Kernels.Build(g => g.Success(), "Gr\u00fc\u00dfe"));

    [Test]
    public void NonAsciiInResultMessagesThrows()
    {
        Assert.Throws<ArgumentException>(() => Kernels.Build(g => g.Failure("\u00e9chec")));
        Assert.Throws<ArgumentException>(() => Kernels.Build(g => g.ExpectEq(1, 2, "\u00e9gal")));
    }

    [Test]
    public void PercentPercentIsALiteral()
    {
        Accepts("100%%\n");
        Accepts("%%d is not a conversion\n");
        Accepts("%%%d%%\n", 5);
    }

    [TestCase("%d")]
    [TestCase("%i")]
    [TestCase("%u")]
    [TestCase("%x")]
    [TestCase("%08x")]
    [TestCase("%016lx")]
    [TestCase("%#x")]
    [TestCase("%p")]
    [TestCase("%c")]
    [TestCase("%e")]
    [TestCase("%ld")]
    [TestCase("%lld")]
    [TestCase("%lu")]
    [TestCase("%llx")]
    [TestCase("%zu")]
    [TestCase("%zx")]
    [TestCase("%li")]
    [TestCase("%#08lx")]
    public void SupportedConversionsAreAccepted(string conversion) =>
        Accepts($"[{conversion}]\n", 42);

    [Test]
    public void StringConversionIsAccepted() =>
        Assert.DoesNotThrow(() => Kernels.Build(g => { g.Print("%s\n", g.Str("text")); g.Success(); }));

    [Test]
    public void TabAndNewlineAreAllowed() => Accepts("a\tb\n");

    [Test]
    public void EverythingAtOnce() =>
        Accepts("%d|%i|%u|%x|%08x|%#x|%p|%c|%e|%ld|%llu|%zx|%%\n", -1, 2, 3, 4, 5, 6, 7, 'c', -22, 8, 9, 10);

    [Test]
    public void EscapeDoublesPercent()
    {
        Assert.That(GuestProgram.Escape("50% done"), Is.EqualTo("50%% done"));
        Assert.DoesNotThrow(() => Kernels.Build(g => { g.Print(GuestProgram.Escape("%s %d %") + "\n"); g.Success(); }));
    }

    [Test]
    public void ResultHelpersValidateTheirFormatsToo()
    {
        Assert.Throws<ArgumentException>(() => Kernels.Build(g => g.Failure("bad %q")));
        Assert.Throws<ArgumentException>(() => Kernels.Build(g => g.Skip("needs %d")));
        Assert.Throws<ArgumentException>(() => Kernels.Build(g => g.Error("extra", 1)));
        Assert.Throws<ArgumentException>(() => Kernels.Build(g => g.Warning("trailing %")));
        Assert.Throws<ArgumentException>(() => Kernels.Build(g => g.Panic("%q")));
        Assert.Throws<ArgumentException>(() => Kernels.Build(g => g.Expect(Val.Const(1) == 1, "x", "detail %d")));
    }

    [Test]
    public void ExpectMessagesEscapePercentInTheDescription() =>
        Assert.DoesNotThrow(() => Kernels.Build(g =>
        {
            g.ExpectEq(1, 1, "100% sure");
            g.ExpectNe(1, 2, "%d is not a format here");
            g.Expect(Val.Const(1) == 1, "50%");
            g.Success();
        }));
}
