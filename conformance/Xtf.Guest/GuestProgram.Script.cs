using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Guest;

// Hypercalls whose number the guest computes at run time: for kernels that execute scripts of
// hypercalls read from their data (the fuzzer's script-executor kernel).
public sealed partial class GuestProgram
{
    /// <summary>Number of stubs in the hypercall page; a computed number is reduced modulo this.</summary>
    public const int HypercallStubs = (int)(GuestLayout.PageSize / GuestLayout.StubSize);

    /// <summary>
    /// Performs the hypercall whose number <paramref name="nr"/> evaluates to at run time, through
    /// its stub in the hypercall page; returns rax. The number is masked to 0..127 so a bad script
    /// can never call outside the page.
    /// </summary>
    public Val HypercallByNumber(Val nr, params Val[] args)
    {
        if (args.Length > ArgRegs.Length) throw new ArgumentException("a hypercall takes at most 5 arguments", nameof(args));
        LoadRax(nr);
        a.push(rax);
        LoadArgs(args);
        a.pop(rax);
        a.and(eax, HypercallStubs - 1);
        a.shl(eax, 5);
        a.add(rax, (int)GuestLayout.HypercallPage);
        a.call(rax);
        var rc = Temp("hypercall");
        StoreRax(rc);
        return rc;
    }
}
