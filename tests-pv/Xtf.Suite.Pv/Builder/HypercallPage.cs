using Xtf.Guest;

namespace Xtf.Suite.Pv.Builder;

/// <summary>
/// The hypercall page Xen writes at the HYPERCALL_PAGE note (docs/dom0.md §2.11): 128 stubs of 32
/// bytes, stub i = push rcx; push r11; mov eax, i; syscall; pop r11; pop rcx; ret, the rest of each
/// stub 0xCC; stub 23 (iret) = push rcx; push r11; push rax; mov eax, 23; syscall, then 0xCC.
/// </summary>
public sealed class BuilderHypercallPage : XtfTest
{
    public override string Name => "builder-hypercall-page";
    public override string Title => "dom0 builder: hypercall page stubs";
    public override string Category => "builder";

    public override void Body(GuestProgram g)
    {
        const long Fill = unchecked((long)0xCCCC_CCCC_CCCC_CCCCUL);
        var bad = g.Var("bad_stubs");
        var first = g.Var("first_bad", -1);
        var i = g.Var("i");
        g.For(i, 0, 128, () =>
        {
            var stub = Val.Const((long)GuestLayout.HypercallPage) + (i << 5);
            Val Q(int offset) => Val.At(stub, offset, 8);
            var ok = g.Var("stub_ok");
            g.If(i == 23,
                () => g.Set(ok, 0),
                () => g.If((Q(0) == ((i << 32) | 0xB8534151L)) & (Val.At(stub, 8, 4) == 0x5B41050FL) & (Val.At(stub, 12, 2) == 0xC359L)
                           & (Val.At(stub, 14, 2) == 0xCCCCL) & (Q(16) == Fill) & (Q(24) == Fill),
                    () => g.Set(ok, 1), () => g.Set(ok, 0)));
            g.If(i == 23, () => g.If((Q(0) == 0x0000_17B8_5053_4151L) & (Val.At(stub, 8, 4) == unchecked((long)0xCC05_0F00UL))
                                     & (Val.At(stub, 12, 4) == 0xCCCCCCCCL) & (Q(16) == Fill) & (Q(24) == Fill),
                () => g.Set(ok, 1)));
            g.If(ok == 0, () =>
            {
                g.Set(bad, bad + 1);
                g.If(first == -1, () => g.Set(first, i));
            });
        });
        g.ExpectEq(bad, 0, "every stub has Xen's bytes");
        g.If(bad != 0, () => g.Print("first bad stub %d: %016lx %016lx\n", first,
            Val.At(Val.Const((long)GuestLayout.HypercallPage) + (first << 5), 0), Val.At(Val.Const((long)GuestLayout.HypercallPage) + (first << 5), 8)));

        // The stubs work: xen_version through stub 17, called directly.
        g.ExpectEq(g.XenVersion(Xtf.Abi.XenVer.Version, 0), 0x00040011, "xen_version through the page");
        g.Success();
    }
}
