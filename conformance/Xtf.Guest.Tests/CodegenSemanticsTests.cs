using System.Text;
using Xtf.Abi;
using Xtf.Guest;
using static Xtf.Guest.Tests.ExecutionTests;

namespace Xtf.Guest.Tests;

/// <summary>
/// The expression, condition and statement emitter against a C# model of the same semantics:
/// every value is 64-bit, narrow loads extend as declared, &gt;&gt; is logical, Sar arithmetic.
/// </summary>
[TestFixture]
public sealed class CodegenSemanticsTests
{
    private static readonly long[] Interesting =
    [
        0, 1, -1, 2, -2, 0x7fffffff, -0x80000000L, 0x80000000L, 0xffffffffL, 0x100000000L,
        long.MaxValue, long.MinValue,
    ];

    private static readonly CondOp[] Comparisons =
    [
        CondOp.Eq, CondOp.Ne, CondOp.Lt, CondOp.Gt, CondOp.Le, CondOp.Ge,
        CondOp.ULt, CondOp.UGt, CondOp.ULe, CondOp.UGe, CondOp.AnyBits, CondOp.NoBits,
    ];

    private static Cond Compare(CondOp op, Val a, Val b) => op switch
    {
        CondOp.Eq => a == b, CondOp.Ne => a != b, CondOp.Lt => a < b, CondOp.Gt => a > b,
        CondOp.Le => a <= b, CondOp.Ge => a >= b, CondOp.ULt => a.ULt(b), CondOp.UGt => a.UGt(b),
        CondOp.ULe => a.ULe(b), CondOp.UGe => a.UGe(b), CondOp.AnyBits => a.AnyBits(b), _ => a.NoBits(b),
    };

    private static bool Model(CondOp op, long a, long b) => op switch
    {
        CondOp.Eq => a == b, CondOp.Ne => a != b, CondOp.Lt => a < b, CondOp.Gt => a > b,
        CondOp.Le => a <= b, CondOp.Ge => a >= b,
        CondOp.ULt => (ulong)a < (ulong)b, CondOp.UGt => (ulong)a > (ulong)b,
        CondOp.ULe => (ulong)a <= (ulong)b, CondOp.UGe => (ulong)a >= (ulong)b,
        CondOp.AnyBits => (a & b) != 0, _ => (a & b) == 0,
    };

    /// <summary>Prints '1' or '0' for a condition, through If (branch when false) and If(!c) (branch when true).</summary>
    private static void Bits(GuestProgram g, Cond c)
    {
        g.If(c, () => g.Print("1"), () => g.Print("0"));
        g.If(!c, () => g.Print("0"), () => g.Print("1"));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void ComparisonsMatchTheModel(bool rightInMemory)
    {
        var expected = new List<string>();
        var run = Run(g =>
        {
            var a = g.Var("a");
            var b = g.Var("b");
            foreach (long x in Interesting)
            foreach (long y in Interesting)
            {
                g.Set(a, x);
                g.Set(b, y);
                var line = new StringBuilder();
                foreach (var op in Comparisons)
                {
                    Bits(g, Compare(op, a, rightInMemory ? b : Val.Const(y)));
                    bool m = Model(op, x, y);
                    line.Append(m ? "11" : "00");
                }
                g.Print("\n");
                expected.Add(line.ToString());
            }
            g.Success();
        });
        var lines = Body(run);
        for (int n = 0; n < expected.Count; n++)
        {
            long x = Interesting[n / Interesting.Length], y = Interesting[n % Interesting.Length];
            Assert.That(lines[n], Is.EqualTo(expected[n]), $"a={x} b={y}; ops {string.Join(",", Comparisons)} each as If(c) and If(!c)");
        }
    }

    [Test]
    public void CombinationsMatchTheModel()
    {
        var expected = new StringBuilder();
        var run = Run(g =>
        {
            var x = g.Var("x");
            var y = g.Var("y");
            foreach (bool p in new[] { false, true })
            foreach (bool q in new[] { false, true })
            {
                g.Set(x, p ? 1 : 0);
                g.Set(y, q ? 1 : 0);
                Cond P = x == 1, Q = y != 0;
                Bits(g, P & Q); expected.Append(p && q ? "11" : "00");
                Bits(g, P | Q); expected.Append(p || q ? "11" : "00");
                Bits(g, !P & Q); expected.Append(!p && q ? "11" : "00");
                Bits(g, P | !Q); expected.Append(p || !q ? "11" : "00");
                Bits(g, !(P & Q)); expected.Append(!(p && q) ? "11" : "00");
                Bits(g, !(P | Q)); expected.Append(!(p || q) ? "11" : "00");
                Bits(g, (P & Q) | (!P & !Q)); expected.Append(p == q ? "11" : "00");
                Bits(g, (P | Q) & !(P & Q)); expected.Append(p != q ? "11" : "00");
                Bits(g, !!P); expected.Append(p ? "11" : "00");
                g.Print("\n");
                expected.Append('\n');
            }
            g.Success();
        });
        Assert.That(string.Join("\n", Body(run)) + "\n", Is.EqualTo(expected.ToString()));
    }

    // ---------------------------------------------------------------- expressions

    private sealed class Model2(Func<ulong, int, ulong> read)
    {
        public long Eval(Val v) => v.Kind switch
        {
            ValKind.Constant => v.Constant,
            ValKind.Memory => Load(v.Address, v.Width, v.Signed),
            ValKind.Deref => Load((ulong)(Eval(v.Left!) + v.Offset), v.Width, v.Signed),
            ValKind.Unary => v.UOp == UnaryOp.Neg ? unchecked(-Eval(v.Left!)) : ~Eval(v.Left!),
            _ => Binary(v.Op, Eval(v.Left!), Eval(v.Right!)),
        };

        private long Load(ulong address, int width, bool signed)
        {
            ulong raw = read(address, width);
            if (width == 8) return (long)raw;
            int bits = width * 8;
            return signed ? (long)(raw << (64 - bits)) >> (64 - bits) : (long)raw;
        }

        private static long Binary(BinaryOp op, long a, long b) => op switch
        {
            BinaryOp.Add => unchecked(a + b),
            BinaryOp.Sub => unchecked(a - b),
            BinaryOp.Mul => unchecked(a * b),
            BinaryOp.And => a & b,
            BinaryOp.Or => a | b,
            BinaryOp.Xor => a ^ b,
            BinaryOp.Shl => a << (int)(b & 63),
            BinaryOp.Shr => (long)((ulong)a >> (int)(b & 63)),
            _ => a >> (int)(b & 63),
        };
    }

    [Test]
    public void RandomExpressionsMatchTheModel()
    {
        var rng = new Random(20240501);
        var exprs = new List<Val>();
        byte[] data = [];
        ulong dataBase = GuestLayout.DataBase;
        var run = Run(g =>
        {
            var words = Enumerable.Range(0, 4).Select(n => g.Var($"w{n}", rng.NextInt64(long.MinValue, long.MaxValue))).ToList();
            var ptr = g.Var("ptr", (long)words[1].Address);
            var count = g.Var("count", 13);
            long[] constants = [0, 1, -1, 3, 7, 63, 64, 0x7fffffff, -0x80000000L, 0x80000000L, 0x123456789abL, long.MinValue];

            Val Leaf()
            {
                switch (rng.Next(6))
                {
                    case 0: return constants[rng.Next(constants.Length)];
                    case 1: return rng.NextInt64(-1000, 1000);
                    case 2:
                    {
                        int width = new[] { 1, 2, 4, 8 }[rng.Next(4)];
                        return words[rng.Next(words.Count)].Field(rng.Next(0, 9 - width), width, rng.Next(2) == 0);
                    }
                    case 3:
                    {
                        int width = new[] { 1, 2, 4, 8 }[rng.Next(4)];
                        return Val.At(ptr, rng.Next(-8, 16 - width), width, rng.Next(2) == 0);
                    }
                    case 4: return count;
                    default: return words[rng.Next(words.Count)];
                }
            }

            Val Tree(int depth)
            {
                if (depth == 0 || rng.Next(4) == 0) return Leaf();
                int pick = rng.Next(13);
                if (pick == 11) return -Tree(depth - 1);
                if (pick == 12) return ~Tree(depth - 1);
                var l = Tree(depth - 1);
                switch (pick)
                {
                    case 0: return l + Tree(depth - 1);
                    case 1: return l - Tree(depth - 1);
                    case 2: return l * Tree(depth - 1);
                    case 3: return l & Tree(depth - 1);
                    case 4: return l | Tree(depth - 1);
                    case 5: return l ^ Tree(depth - 1);
                    case 6: return l << rng.Next(0, 70);
                    case 7: return l >> rng.Next(0, 70);
                    case 8: return l.Sar(rng.Next(0, 70));
                    case 9: return rng.Next(2) == 0 ? l.ShiftLeft(Tree(depth - 1)) : l.ShiftRight(Tree(depth - 1) + count);
                    default: return Val.At(ptr, 0, 8) + l;
                }
            }

            for (int n = 0; n < 300; n++)
            {
                var e = Tree(4);
                exprs.Add(e);
                g.Print("%016lx\n", e);
            }
            data = g.Data.ToArray();
            g.Success();
        });

        var model = new Model2((address, width) =>
        {
            ulong v = 0;
            for (int b = width - 1; b >= 0; b--) v = (v << 8) | data[(int)(address - dataBase) + b];
            return v;
        });
        var lines = Body(run);
        Assert.That(lines, Has.Count.EqualTo(exprs.Count));
        for (int n = 0; n < exprs.Count; n++)
            Assert.That(lines[n], Is.EqualTo(model.Eval(exprs[n]).ToString("x16")), $"expression {n}: {exprs[n]}");
    }

    [Test]
    public void StoresOfEveryWidthTouchOnlyTheirBytes()
    {
        var lines = Body(Run(g =>
        {
            var b = g.Alloc(24, name: "b");
            var p = g.Var("p");
            g.Set(p, b.Ptr);
            g.Set(b.U64(0), -1);
            g.Set(b.U8(1), 0x1234);              // truncated to 0x34
            g.Set(b.U16(2), 0x56789);            // 0x6789
            g.Set(b.U32(4), 0x1_2345_6789L);     // 0x23456789
            g.Print("%016lx\n", b.U64(0));
            g.Set(Val.At(p, 8), 0x1111111111111111);
            g.Set(Val.At(p, 9, 1), 0xab);
            g.Set(Val.At(p, 10, 2), 0xcdef);
            g.Set(Val.At(p, 12, 4), -2);
            g.Print("%016lx\n", b.U64(8));
            g.Set(Val.At(p + 16, 0, 8), Val.At(p, 12, 4, signed: true) * 3);   // pointer expression, signed source
            g.Print("%d\n", b.U64(16));
            var pp = g.Var("pp");
            g.Set(pp, p.Address);
            g.Set(Val.At(Val.At(pp), 20, 1), 0x7f);                              // pointer loaded through a pointer
            g.Print("%x\n", b.U8(20));
            g.Success();
        }));
        Assert.That(lines, Is.EqualTo(new[] { "23456789678934ff", "fffffffecdefab11", "-6", "7f" }));
    }

    [Test]
    public void HypercallArgumentsArriveInTheRightRegisters()
    {
        var run = Run(g =>
        {
            var v = g.Var("v", 1000);
            var p = g.Var("p");
            var buf = g.Alloc(16, name: "buf");
            g.Set(p, buf.Ptr);
            g.Set(buf.U64(8), 77);
            // Mixed constants, variables, expressions and pointer loads, in every position.
            g.Hypercall((Hypercall)50, v, 2, v * 3, Val.At(p, 8), -5);
            g.Hypercall((Hypercall)51, -1, v + 1, 0, 0x1_0000_0000L, v);
            g.Hypercall((Hypercall)52, Val.At(p, 8, 1), Val.At(p, 8, 1) + v, 9);
            g.Hypercall((Hypercall)53);
            g.Success();
        });
        var calls = run.Hypercalls.Where(h => h.Number >= 50).ToList();
        Assert.That(calls.Select(c => c.Number), Is.EqualTo(new[] { 50, 51, 52, 53 }));
        Assert.That(calls[0].Args, Is.EqualTo(new ulong[] { 1000, 2, 3000, 77, unchecked((ulong)-5L) }));
        Assert.That(calls[1].Args, Is.EqualTo(new ulong[] { ulong.MaxValue, 1001, 0, 0x1_0000_0000, 1000 }));
        Assert.That(calls[2].Args.Take(3), Is.EqualTo(new ulong[] { 77, 1077, 9 }));
    }

    [Test]
    public void HypercallResultsAreKeptPerCall()
    {
        var run = SimRun.Boot(Kernels.Build(g =>
        {
            var r1 = g.Hypercall((Hypercall)50, 1);
            var r2 = g.Hypercall((Hypercall)51, 2);
            g.Print("%d %d %d\n", r1, r2, r1 + r2);
            g.Success();
        }), foreignHypercall: (nr, args) => (long)nr * 10 + (long)args[0]);
        Assert.That(Body(run), Is.EqualTo(new[] { "501 512 1013" }));
    }

    [Test]
    public void MemoryRoutines()
    {
        var lines = Body(Run(g =>
        {
            var a = g.Alloc(32, name: "a");
            var b = g.Alloc(32, name: "b");
            var n = g.Var("n", 5);
            g.MemSet(a.Ptr, 0x41, 31);
            g.Print("%s\n", a.Ptr);
            g.MemCopy(b.Ptr, g.Str("hello, world"), n + 1);
            g.Print("%s\n", b.Ptr);
            g.Print("%d %d %d\n", g.MemCmp(a.Ptr, b.Ptr, 0), g.MemCmp(b.Ptr, g.Str("help"), 3), g.MemCmp(b.Ptr, g.Str("help"), 4));
            g.Print("%d %d\n", g.MemCmp(b.Ptr, g.Str("hello,"), n + 1), g.MemCmp(b.Ptr, g.Str("hello!"), n + 1));
            g.If(g.BytesAre(b.Addr(1), "ello"), () => g.Print("yes\n"), () => g.Print("no\n"));
            g.Success();
        }));
        Assert.That(lines, Is.EqualTo(new[] { new string('A', 31), "hello,", "0 0 1", "0 1", "yes" }));
    }

    [Test]
    public void LoopsBreakAndContinue()
    {
        var lines = Body(Run(g =>
        {
            var i = g.Var("i");
            var j = g.Var("j");
            var sum = g.Var("sum");
            g.For(i, 0, 10, () =>
            {
                g.If((i & 1) == 1, () => g.Continue());
                g.If(i == 8, () => g.Break());
                g.For(j, 0, i, () => g.Set(sum, sum + 1));
                g.Print("%d ", i);
            });
            g.Print("sum=%d\n", sum);
            g.For(i, 5, -5, () => g.Print("never\n"));
            g.For(i, -3, 0, () => g.Print("%d,", i));
            g.Print("\n");
            g.Set(i, 0);
            g.While(i.ULt(3), () => { g.Set(i, i + 1); g.If(i == 2, () => g.Continue()); g.Print("w%d", i); });
            g.Print("\n");
            g.Success();
        }));
        Assert.That(lines, Is.EqualTo(new[] { "0 2 4 6 sum=12", "-3,-2,-1,", "w1w3" }));
    }

    [Test]
    public void BreakOutsideALoopIsRejected() =>
        Assert.Throws<InvalidOperationException>(() => Kernels.Build(g => g.Break()));

    [Test]
    public void RoutinesCallAndReturn()
    {
        var lines = Body(Run(g =>
        {
            var x = g.Var("x");
            var twice = g.Function("twice", () => { g.Set(x, x * 2); g.Return(); });
            var show = g.Function("show", () => { g.Print("x=%d\n", x); g.Return(); });
            g.Set(x, 3);
            g.Call(twice);
            g.Call(show);
            g.Call(twice);
            g.Call(twice);
            g.Call(show);
            var addr = g.AddressOf(twice);
            g.If(addr.ULt(0x100000), () => g.Print("1\n"), () => g.Print("0\n"));
            g.Success();
        }));
        Assert.That(lines, Is.EqualTo(new[] { "x=6", "x=24", "0" }));
    }

    [Test]
    public void AddressOfResolvesToTheRoutine()
    {
        Routine? r = null;
        ulong slot = 0;
        var image = Kernels.Build(g =>
        {
            r = g.Function("target", () => g.Return());
            slot = g.AddressOf(r).Address;
            g.Success();
        });
        var k = new LoadedKernel(image);
        Assert.That(k.U64(slot), Is.EqualTo(image.Symbols["target"]));
        Assert.That(k.InCode(image.Symbols["target"]));
    }

    [Test]
    public void RoutinesCanCallEachOther()
    {
        var lines = Body(Run(g =>
        {
            var depth = g.Var("depth");
            Routine? inner = null;
            var outer = g.Function("outer", () => { g.Print("outer\n"); g.Call(inner!); g.Return(); });
            inner = g.Function("inner", () => { g.Print("inner\n"); g.Return(); });
            g.Call(outer);
            g.Success();
        }));
        Assert.That(lines, Is.EqualTo(new[] { "outer", "inner" }));
    }

    [Test]
    public void ARoutineDeclaredInsideARoutineIsEmitted()
    {
        var lines = Body(Run(g =>
        {
            var outer = g.Function("outer", () =>
            {
                var helper = g.Function("helper", () => { g.Print("helper\n"); g.Return(); });
                g.Call(helper);
                g.Return();
            });
            g.Call(outer);
            g.Success();
        }));
        Assert.That(lines, Is.EqualTo(new[] { "helper" }));
    }

    [Test]
    public void BackToBackLabelsAssemble() =>
        Assert.That(Body(Run(g =>
        {
            var x = g.Var("x", 1);
            // Nested Ifs with empty branches bind several labels at one spot.
            g.If(x == 1, () => g.If(x == 2, () => { }, () => g.If(x == 3, () => { })));
            var a = g.NewLabel("a");
            var b = g.NewLabel("b");
            g.Mark(a);
            g.Mark(b);
            g.Print("ok\n");
            g.Success();
        })), Is.EqualTo(new[] { "ok" }));

    [Test]
    public void StartInfoIsReachableThroughThePointer()
    {
        var lines = Body(Run(g =>
        {
            g.Print("%s %u\n", g.StartInfo, Val.At(g.StartInfo, StartInfo.Layout.NrPages));
            g.Success();
        }));
        // Real Xen's start_info on 512 MiB, one vCPU: the magic of a 64-bit PAE kernel and the
        // measured nr_pages (docs/dom0.md §2.3), which the dom0 builder reproduces.
        Assert.That(lines, Is.EqualTo(new[] { "xen-3.0-x86_64p 120442" }));
    }
}
