using Xtf.Abi;
using static Xtf.Abi.Tests.V;

namespace Xtf.Abi.Tests;

public class CallbackStructLayoutTests
{
    [Test]
    public void CallbackRegisterLayout()
    {
        // public/callback.h: { u16 type; u16 flags; xen_callback_t address @8 }, 16 bytes on x86-64.
        Spec.Layout<CallbackRegister>(("Size", 16), ("Type", 0), ("Flags", 2), ("Address", 8));
        var r = new CallbackRegister { Type = 4, Flags = W(1), Address = Q(1) };
        Spec.Codec(r, new Image(16).U16(0, 4).U16(2, W(1)).U64(8, Q(1)).ToArray());
    }

    [Test]
    public void CallbackUnregisterLayout()
    {
        // public/callback.h: { u16 type; u16 _unused; }, 4 bytes.
        Spec.Layout<CallbackUnregister>(("Size", 4), ("Type", 0));
        Spec.Codec(new CallbackUnregister { Type = 4 }, new Image(4).U16(0, 4).ToArray());
    }

    [Test]
    public void IretContextLayout()
    {
        // arch-x86/xen-x86_64.h: rax, r11, rcx, flags, rip, cs, rflags, rsp, ss, each a 64-bit word.
        Spec.Layout<IretContext>(("Size", 72), ("Rax", 0), ("R11", 8), ("Rcx", 16), ("Flags", 24), ("Rip", 32),
            ("Cs", 40), ("Rflags", 48), ("Rsp", 56), ("Ss", 64));
        var c = new IretContext { Rax = Q(1), R11 = Q(2), Rcx = Q(3), Flags = Q(4), Rip = Q(5), Cs = Q(6), Rflags = Q(7), Rsp = Q(8), Ss = Q(9) };
        Spec.Codec(c, new Image(72).U64(0, Q(1)).U64(8, Q(2)).U64(16, Q(3)).U64(24, Q(4)).U64(32, Q(5))
            .U64(40, Q(6)).U64(48, Q(7)).U64(56, Q(8)).U64(64, Q(9)).ToArray());
    }
}
