using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Guest.Tests;

[TestFixture]
public sealed class ValTests
{
    private static void IsConstant(Val v, long expected)
    {
        Assert.That(v.Kind, Is.EqualTo(ValKind.Constant), v.ToString());
        Assert.That(v.Constant, Is.EqualTo(expected), v.ToString());
    }

    [Test]
    public void ArithmeticOnConstantsFolds()
    {
        IsConstant((Val)6 * 7, 42);
        IsConstant((Val)40 + 2, 42);
        IsConstant((Val)50 - 8, 42);
        IsConstant((Val)0xff & 0x2a, 42);
        IsConstant((Val)0x20 | 0x0a, 42);
        IsConstant((Val)0x55 ^ 0x7f, 42);
        IsConstant((Val)long.MaxValue + 1, long.MinValue);
        IsConstant((Val)long.MinValue * -1, long.MinValue);
    }

    [Test]
    public void ShiftsFold()
    {
        IsConstant((Val)21 << 1, 42);
        IsConstant((Val)84 >> 1, 42);
        IsConstant((Val)(-64) >> 3, (long)(0xFFFF_FFFF_FFFF_FFC0UL >> 3));   // >> is logical
        IsConstant(Val.Const(-64).Sar(3), -8);                                // Sar is arithmetic
        IsConstant((Val)1 << 63, long.MinValue);
        IsConstant((Val)1 << 64, 1);      // the count is masked to 6 bits, as the CPU does
        IsConstant((Val)1 << 65, 2);
        IsConstant(Val.Const(long.MinValue).Sar(63), -1);
    }

    [Test]
    public void UnaryOperatorsFold()
    {
        IsConstant(-(Val)42, -42);
        IsConstant(-Val.Const(long.MinValue), long.MinValue);
        IsConstant(~(Val)0, -1);
        IsConstant(~Val.Const(0x0f) & 0xff, 0xf0);
    }

    [Test]
    public void ImplicitConversions()
    {
        IsConstant(ulong.MaxValue, -1);
        IsConstant(0xdeadbeefu, 0xdeadbeef);
        IsConstant('A', 65);
        IsConstant(Hypercall.ConsoleIo, 18);
        IsConstant(SchedOp.Shutdown, 2);
        IsConstant(ShutdownReason.Crash, (int)ShutdownReason.Crash);
    }

    [Test]
    public void ExpressionsWithMemoryDoNotFold()
    {
        var m = Val.Mem(0x102000, name: "x");
        var sum = m + 1;
        Assert.That(sum.Kind, Is.EqualTo(ValKind.Binary));
        Assert.That(sum.Op, Is.EqualTo(BinaryOp.Add));
        Assert.That(sum.Left, Is.SameAs(m));
        Assert.That((-m).Kind, Is.EqualTo(ValKind.Unary));
        Assert.That((-m).UOp, Is.EqualTo(UnaryOp.Neg));
        Assert.That((~m).UOp, Is.EqualTo(UnaryOp.Not));
        Assert.That(m.Sar(2).Op, Is.EqualTo(BinaryOp.Sar));
        Assert.That((m >> 2).Op, Is.EqualTo(BinaryOp.Shr));
        Assert.That((m << 2).Op, Is.EqualTo(BinaryOp.Shl));
        Assert.That(sum.IsLValue, Is.False);
        Assert.That(m.IsLValue, Is.True);
        Assert.That(sum.ToString(), Is.EqualTo("(x Add 1)"));
    }

    [Test]
    public void AtOnAConstantPointerIsMemory()
    {
        var v = Val.At(Val.Const(0x102000), 0x10, 4, signed: true);
        Assert.That(v.Kind, Is.EqualTo(ValKind.Memory));
        Assert.That(v.Address, Is.EqualTo(0x102010UL));
        Assert.That(v.Width, Is.EqualTo(4));
        Assert.That(v.Signed, Is.True);

        var folded = Val.At((Val)0x102000 + 0x20, -8);
        Assert.That(folded.Kind, Is.EqualTo(ValKind.Memory), "a folded pointer expression is still a constant");
        Assert.That(folded.Address, Is.EqualTo(0x102018UL));
        Assert.That(folded.Width, Is.EqualTo(8));
    }

    [Test]
    public void AtThroughAVariableIsADeref()
    {
        var p = Val.Mem(0x102000, name: "p");
        var v = Val.At(p, 12, 2);
        Assert.That(v.Kind, Is.EqualTo(ValKind.Deref));
        Assert.That(v.Left, Is.SameAs(p));
        Assert.That(v.Offset, Is.EqualTo(12));
        Assert.That(v.Width, Is.EqualTo(2));
        Assert.That(v.IsLValue, Is.True);
    }

    [Test]
    public void FieldAndAsPreserveTheLocation()
    {
        var m = Val.Mem(0x102000, 8, name: "m");
        var f = m.Field(4, 2, signed: true);
        Assert.That((f.Kind, f.Address, f.Width, f.Signed), Is.EqualTo((ValKind.Memory, 0x102004UL, 2, true)));
        var a = m.As(1);
        Assert.That((a.Kind, a.Address, a.Width, a.Signed, a.Name), Is.EqualTo((ValKind.Memory, 0x102000UL, 1, false, "m")));

        var p = Val.Mem(0x102100, name: "p");
        var d = Val.At(p, 8, 4);
        var df = d.Field(4, 1);
        Assert.That((df.Kind, df.Offset, df.Width), Is.EqualTo((ValKind.Deref, 12, 1)));
        Assert.That(df.Left, Is.SameAs(p));
        var da = d.As(8, signed: true);
        Assert.That((da.Kind, da.Offset, da.Width, da.Signed), Is.EqualTo((ValKind.Deref, 8, 8, true)));
        Assert.That(da.Left, Is.SameAs(p));
    }

    [Test]
    public void FieldAndAsNeedALocation()
    {
        Assert.Throws<InvalidOperationException>(() => Val.Const(1).Field(0));
        Assert.Throws<InvalidOperationException>(() => Val.Const(1).As(4));
        Assert.Throws<InvalidOperationException>(() => (Val.Mem(0x102000) + 1).Field(0));
        Assert.Throws<InvalidOperationException>(() => (-Val.Mem(0x102000)).As(4));
    }

    [TestCase(0)]
    [TestCase(3)]
    [TestCase(5)]
    [TestCase(16)]
    [TestCase(-1)]
    public void InvalidWidthsThrow(int width)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Val.Mem(0x102000, width));
        Assert.Throws<ArgumentOutOfRangeException>(() => Val.At(Val.Const(0x102000), 0, width));
        Assert.Throws<ArgumentOutOfRangeException>(() => Val.At(Val.Mem(0x102000), 0, width));
        Assert.Throws<ArgumentOutOfRangeException>(() => Val.Mem(0x102000).Field(0, width));
        Assert.Throws<ArgumentOutOfRangeException>(() => Val.Mem(0x102000).As(width));
    }

    [Test]
    public void SetOnANonLvalueThrows()
    {
        var e = Assert.Throws<ArgumentException>(() => Kernels.Build(g => g.Set(Val.Const(0x102000), 1)))!;
        Assert.That(e.Message, Does.Contain("cannot assign"));
        Assert.Throws<ArgumentException>(() => Kernels.Build(g =>
        {
            var v = g.Var("v");
            g.Set(v + 1, 2);
        }));
        Assert.Throws<ArgumentException>(() => Kernels.Build(g => g.Set(-g.Var("v"), 2)));
    }

    [Test]
    public void SetOnLvaluesBuilds() =>
        Assert.DoesNotThrow(() => Kernels.Build(g =>
        {
            var v = g.Var("v");
            var p = g.Var("p");
            var buf = g.Alloc(16);
            g.Set(v, 1);
            g.Set(buf.U8(3), v);
            g.Set(p, buf.Ptr);
            g.Set(Val.At(p, 8, 4), v + 1);
            g.Set(Val.At(Val.At(p), 0, 2), 7);
            g.Success();
        }));

    [Test]
    public void ComparisonsBuildConditions()
    {
        var x = Val.Mem(0x102000, name: "x");
        Assert.Multiple(() =>
        {
            Assert.That((x == 1).Op, Is.EqualTo(CondOp.Eq));
            Assert.That((x != 1).Op, Is.EqualTo(CondOp.Ne));
            Assert.That((x < 1).Op, Is.EqualTo(CondOp.Lt));
            Assert.That((x > 1).Op, Is.EqualTo(CondOp.Gt));
            Assert.That((x <= 1).Op, Is.EqualTo(CondOp.Le));
            Assert.That((x >= 1).Op, Is.EqualTo(CondOp.Ge));
            Assert.That(x.ULt(1).Op, Is.EqualTo(CondOp.ULt));
            Assert.That(x.UGt(1).Op, Is.EqualTo(CondOp.UGt));
            Assert.That(x.ULe(1).Op, Is.EqualTo(CondOp.ULe));
            Assert.That(x.UGe(1).Op, Is.EqualTo(CondOp.UGe));
            Assert.That(x.AnyBits(1).Op, Is.EqualTo(CondOp.AnyBits));
            Assert.That(x.NoBits(1).Op, Is.EqualTo(CondOp.NoBits));
            var c = x == 1;
            Assert.That(c.A, Is.SameAs(x));
            Assert.That(c.B!.Constant, Is.EqualTo(1));
        });
    }

    [Test]
    public void ConditionsCombine()
    {
        var x = Val.Mem(0x102000, name: "x");
        var a = x == 1;
        var b = x < 5;
        var and = a & b;
        var or = a | b;
        var not = !a;
        Assert.Multiple(() =>
        {
            Assert.That((and.Op, and.X, and.Y), Is.EqualTo((CondOp.And, a, b)));
            Assert.That((or.Op, or.X, or.Y), Is.EqualTo((CondOp.Or, a, b)));
            Assert.That((not.Op, not.X, not.Y), Is.EqualTo((CondOp.Not, a, (Cond?)null)));
            Assert.That(((a & b) | !a).ToString(), Is.EqualTo("((x Eq 1 && x Lt 5) || !(x Eq 1))"));
        });
    }

    [Test]
    public void CombinedConditionsEmit() =>
        Assert.DoesNotThrow(() => Kernels.Build(g =>
        {
            var x = g.Var("x", 3);
            var y = g.Var("y", -1);
            g.If(((x == 3) & (y < 0)) | !(x.UGe(y)), () => g.Print("yes\n"), () => g.Print("no\n"));
            g.If(!((x == 3) | (y == 3)) & x.AnyBits(2), () => g.Print("a\n"));
            g.While(!(x == 0) & (y != 0), () => g.Set(x, x - 1));
            g.Expect(!!(x == 0), "double negation");
            g.Success();
        }));

    [Test]
    public void ValEqualityIsReferenceEquality()
    {
        var a = Val.Const(1);
        var b = Val.Const(1);
        Assert.That(a.Equals(b), Is.False);
        Assert.That(a.Equals(a), Is.True);
    }
}
