using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv;

/// <summary>
/// Checks the framework itself inside the guest: arithmetic, comparisons, loops, pointers,
/// memory routines and printk conversions. A runner test compares the printed lines exactly.
/// </summary>
public sealed class Selftest : XtfTest
{
    public override string Name => "selftest";
    public override string Title => "Framework self test";
    public override string Category => "framework";

    public static readonly string[] ExpectedLines =
    [
        "printk: -42|42|deadbeef|00001234|0xff|Z|str|-22 (-EINVAL)|5|-38 (-ENOSYS)",
        "printk: -9223372036854775808|18446744073709551615|0x0000000000001000|0|%",
        "start_info magic: xen-3.0-x86_64p",
    ];

    public override void Body(GuestProgram g)
    {
        g.Print("printk: %d|%u|%x|%08x|%#x|%c|%s|%e|%e|%e\n",
            -42, 42, 0xdeadbeef, 0x1234, 255, 'Z', g.Str("str"), -Errno.EINVAL, 5, -Errno.ENOSYS);
        g.Print("printk: %d|%u|%p|%x|%%\n", long.MinValue, ulong.MaxValue, 0x1000, 0);

        var a = g.Var("a", 6);
        var b = g.Var("b", 7);
        g.ExpectEq(a * b, 42, "6 * 7");
        g.ExpectEq((a << 4) + (b >> 1) - 3, 96, "shifts");
        g.ExpectEq(-a, -6, "negation");
        g.ExpectEq(~a & 0xff, 0xf9, "not/and");
        g.ExpectEq((a | b) ^ 1, 6, "or/xor");
        g.ExpectEq(Val.Const(-64).Sar(3), -8, "arithmetic shift");
        g.Expect(a < b, "signed less-than");
        g.Expect(Val.Const(-1).UGt(b), "unsigned greater-than");
        g.Expect((a == 6) & (b != 6), "and of conditions");
        g.Expect((a == 0) | (b == 7), "or of conditions");
        g.Expect(!(a > b), "not of a condition");

        var i = g.Var("i");
        var sum = g.Var("sum");
        g.For(i, 0, 100, () => g.Set(sum, sum + i));
        g.ExpectEq(sum, 4950, "sum of 0..99");

        g.Set(i, 0);
        g.While(Val.Const(1) == 1, () =>
        {
            g.Set(i, i + 1);
            g.If(i == 10, () => g.Break());
        });
        g.ExpectEq(i, 10, "while with break");

        var buf = g.Alloc(64, name: "scratch");
        g.MemSet(buf.Ptr, 0x5a, 64);
        g.ExpectEq(buf.U64(56), 0x5a5a5a5a5a5a5a5aL, "memset");
        g.MemCopy(buf.Ptr, g.Str("xtf"), 4);
        g.Expect(g.BytesAre(buf.Ptr, "xtf\0"), "memcpy then memcmp");
        g.ExpectNe(g.MemCmp(buf.Ptr, g.Str("xtg"), 3), 0, "memcmp of different bytes");

        // Pointers: start_info is reached through the address Xen passed in rsi.
        g.Print("start_info magic: %s\n", g.StartInfo);
        var nrPages = Val.At(g.StartInfo, StartInfo.Layout.NrPages);
        g.Expect(nrPages > 0, "start_info.nr_pages is non-zero");
        var ptr = g.Var("ptr");
        g.Set(ptr, buf.Ptr);
        g.Set(Val.At(ptr, 8, 4), 0x11223344);
        g.ExpectEq(buf.U32(8), 0x11223344, "store through a pointer");
        g.ExpectEq(Val.At(ptr, 8, 2), 0x3344, "16-bit load through a pointer");
        g.ExpectEq(Val.At(ptr, 11, 1, signed: false), 0x11, "byte load through a pointer");
        g.Set(buf.U8(0), 0x80);
        g.ExpectEq(buf.Field(0, 1, signed: true), -128, "sign-extended byte");
        g.Success();
    }
}
