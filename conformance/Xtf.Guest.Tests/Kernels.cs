using Xtf.Guest;

namespace Xtf.Guest.Tests;

/// <summary>Hand-written kernels for the generator's tests.</summary>
internal static class Kernels
{
    /// <summary>A kernel for a hand-written body.</summary>
    public static KernelImage Build(Action<GuestProgram> body, string title = "unit") =>
        KernelBuilder.Build("test-pv64-unit", title, body);

    /// <summary>
    /// Small bodies that between them use each part of the generator (printk, variables and control
    /// flow, hypercalls with five arguments, an event callback, checks, a panic), for the image checks
    /// of <see cref="Xtf.Testing"/> that each suite also applies to all of its kernels.
    /// </summary>
    private static readonly Dictionary<string, Action<GuestProgram>> CorpusBodies = new(StringComparer.Ordinal)
    {
        ["empty"] = _ => { },
        ["success"] = g => g.Success(),
        ["print"] = g =>
        {
            var n = g.Var("n", 42);
            g.Print("Hello %d %x\n", n, n + 1);
            g.Success();
        },
        ["loop"] = g =>
        {
            var i = g.Var("i");
            var sum = g.Var("sum");
            g.While(i < 10, () =>
            {
                g.Set(sum, sum + i);
                g.Set(i, i + 1);
            });
            g.If(sum == 45, () => g.Success(), () => g.Failure("sum %d", sum));
        },
        ["hypercall"] = g =>
        {
            var v = g.Var("v", 5);
            g.Hypercall(Abi.Hypercall.MmuextOp, v, 0x11, v + 1, 0x33, v + 2);
            g.Success();
        },
        ["event-callback"] = g =>
        {
            var x = g.Var("x");
            var cb = g.EventCallback("cb", () =>
            {
                g.Set(x, x + 1);
                g.If(x == 2, () => g.Print("two %d\n", x));
            });
            g.SetEventCallback(cb);
            g.Success();
        },
        ["checks"] = g =>
        {
            var v = g.Var("v", -22);
            g.ExpectEq(v, -22, "EINVAL");
            g.ExpectNe(v, 5, "not five");
            g.Warning("careful %d", v);
            g.Success();
        },
        ["panic"] = g => g.Panic("bad %d thing", 42),
    };

    /// <summary>Names of the corpus kernels, for TestCaseSource.</summary>
    public static IEnumerable<string> CorpusNames() => CorpusBodies.Keys;

    public static string CorpusTitle(string name) => $"Corpus: {name}";

    /// <summary>A fresh build of a corpus kernel, named test-pv64-corpus-&lt;name&gt;.</summary>
    public static KernelImage BuildCorpus(string name) =>
        KernelBuilder.Build($"test-pv64-corpus-{name}", CorpusTitle(name), CorpusBodies[name]);

    private static readonly Dictionary<string, KernelImage> Built = new(StringComparer.Ordinal);

    /// <summary>A corpus kernel, built once.</summary>
    public static KernelImage Corpus(string name)
    {
        lock (Built)
        {
            if (!Built.TryGetValue(name, out var image))
                Built[name] = image = BuildCorpus(name);
            return image;
        }
    }
}
