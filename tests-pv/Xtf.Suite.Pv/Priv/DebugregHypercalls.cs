using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Priv;

/// <summary>
/// set_debugreg (8) and get_debugreg (9) (docs/pv-abi.md §16.2): the initial values (DR0-3 zero, DR6
/// 0xffff0ff0, DR7 0x400); DR0-3 take a canonical address outside Xen's range (else -EPERM); DR6/DR7
/// take 32 bits (else -EINVAL) with their reserved bits forced; DR7.GD and an I/O breakpoint without
/// CR4.DE are -EPERM; DR4/DR5 alias DR6/DR7 while CR4.DE is clear; DR8 and up are -ENODEV.
/// </summary>
public sealed class DebugregHypercalls : XtfTest
{
    public override string Name => "priv-debugreg-hypercalls";
    public override string Title => "set_debugreg / get_debugreg: values, reserved bits, refusals";
    public override string Category => "priv";

    private Val Set(GuestProgram g, int reg, Val value) => g.Hypercall(Hypercall.SetDebugreg, reg, value);
    private Val Get(GuestProgram g, int reg) => g.Hypercall(Hypercall.GetDebugreg, reg);

    public override void Body(GuestProgram g)
    {
        for (int i = 0; i < 4; i++) g.ExpectEq(Get(g, i), 0, $"initial dr{i}");
        g.ExpectEq(Get(g, 6), 0xFFFF_0FF0L, "initial dr6");
        g.ExpectEq(Get(g, 7), 0x400, "initial dr7");

        var target = g.Var("watched");
        g.ExpectEq(Set(g, 0, target.Address), 0, "set dr0 to a guest address");
        g.ExpectEq(Get(g, 0), (long)target.Address, "dr0 reads back");
        g.ExpectEq(Set(g, 3, 0x0000_7FFF_FFFF_FFF8L), 0, "set dr3 to the top of the lower half");
        g.ExpectEq(Set(g, 1, 0x0000_8000_0000_0000L), -Errno.EPERM, "dr1 non-canonical");
        g.ExpectEq(Set(g, 2, unchecked((long)0xFFFF_8000_0000_0000)), -Errno.EPERM, "dr2 at Xen's range");
        g.ExpectEq(Set(g, 2, unchecked((long)0xFFFF_87FF_FFFF_FFF8)), -Errno.EPERM, "dr2 at the end of Xen's range");
        g.ExpectEq(Set(g, 2, unchecked((long)0xFFFF_8800_0000_0000)), 0, "dr2 just above Xen's range");
        g.ExpectEq(Get(g, 2), unchecked((long)0xFFFF_8800_0000_0000), "dr2 reads back");

        g.ExpectEq(Set(g, 6, 0x1_0000_0000L), -Errno.EINVAL, "dr6 with bit 32");
        g.ExpectEq(Set(g, 6, 0), 0, "dr6 = 0");
        g.Print("dr6 after writing 0: %p\n", Get(g, 6));
        g.ExpectEq(Set(g, 6, 0x400F), 0, "dr6 = B0-B3 | BS");
        g.Print("dr6 after writing 0x400f: %p\n", Get(g, 6));
        g.ExpectEq(Set(g, 4, 0), 0, "dr4 (alias of dr6 without CR4.DE)");
        g.Print("dr6 after writing dr4 = 0: %p\n", Get(g, 4));

        g.ExpectEq(Set(g, 7, 0x1_0000_0000L), -Errno.EINVAL, "dr7 with bit 32");
        g.ExpectEq(Set(g, 7, 0x2000), -Errno.EPERM, "dr7.GD");
        g.ExpectEq(Set(g, 7, 0x2_0002), -Errno.EPERM, "dr7 I/O breakpoint without CR4.DE");
        g.ExpectEq(Set(g, 7, 0x2_0000), 0, "dr7 I/O type in a disabled slot");
        g.ExpectEq(Set(g, 7, 0), 0, "dr7 = 0");
        g.Print("dr7 after writing 0: %p\n", Get(g, 7));
        g.ExpectEq(Set(g, 7, 0xD800), 0, "dr7 reserved bits 11, 12, 14, 15");
        g.Print("dr7 after writing 0xd800: %p\n", Get(g, 7));
        g.ExpectEq(Set(g, 5, 0x1_0000), 0, "dr5 (alias of dr7 without CR4.DE)");
        g.Print("dr7 after writing dr5 = 0x10000: %p\n", Get(g, 5));
        g.ExpectEq(Set(g, 7, 0), 0, "dr7 = 0 again");

        g.ExpectEq(Set(g, 8, 0), -Errno.ENODEV, "set dr8");
        g.ExpectEq(Get(g, 8), -Errno.ENODEV, "get dr8");
        g.ExpectEq(Get(g, -1), -Errno.ENODEV, "get dr -1");
        for (int i = 0; i < 4; i++) g.ExpectEq(Set(g, i, 0), 0, $"dr{i} = 0");
        g.Success();
    }
}
