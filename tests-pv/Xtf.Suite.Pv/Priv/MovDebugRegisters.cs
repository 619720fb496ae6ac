using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Pv.Priv;

/// <summary>
/// mov to and from DR0-DR7 in guest kernel mode (docs/pv-abi.md §16.2): Xen emulates them after the
/// #GP with set_debugreg's checks. A value set_debugreg refuses (a non-canonical DR0, DR7.GD,
/// bit 32 of DR6) is #GP(0) at the mov; what is written reads back through the hypercall too.
/// </summary>
public sealed class MovDebugRegisters : XtfTest
{
    public override string Name => "priv-mov-debug-registers";
    public override string Title => "mov to/from %dr0-%dr7: emulated with set_debugreg's checks";
    public override string Category => "priv";

    public override void Body(GuestProgram g)
    {
        var a = g.Asm;
        var v = g.Var("dr_value");
        var got = g.Var("dr_got");
        var watched = g.Var("watched");

        var f = g.Guarded(() =>
        {
            a.mov(rax, __qword_ptr[(long)v.Address]);
            a.mov(dr7, rax);
        });
        g.ExpectEq(f.Vector, -1, "mov 0 to dr7");
        f = g.Guarded(() =>
        {
            a.mov(rax, dr6);
            a.mov(__qword_ptr[(long)got.Address], rax);
        });
        g.ExpectEq(f.Vector, -1, "mov from dr6");
        g.ExpectEq(got, 0xFFFF_0FF0L, "dr6");

        g.Set(v, watched.Address);
        f = g.Guarded(() =>
        {
            a.mov(rax, __qword_ptr[(long)v.Address]);
            a.mov(dr1, rax);
            a.mov(rcx, dr1);
            a.mov(__qword_ptr[(long)got.Address], rcx);
        });
        g.ExpectEq(f.Vector, -1, "mov to and from dr1");
        g.ExpectEq(got, (long)watched.Address, "dr1 reads back");
        g.ExpectEq(g.Hypercall(Xtf.Abi.Hypercall.GetDebugreg, 1), (long)watched.Address, "get_debugreg(1) sees the mov");

        g.Set(v, 0x0000_8000_0000_0000L);
        f = g.Guarded(() =>
        {
            a.mov(rax, __qword_ptr[(long)v.Address]);
            a.mov(dr0, rax);
        });
        g.ExpectEq(f.Vector, 13, "non-canonical dr0: #GP");
        g.ExpectEq(f.ErrorCode, 0, "non-canonical dr0: error code");

        g.Set(v, 0x2000);
        f = g.Guarded(() =>
        {
            a.mov(rax, __qword_ptr[(long)v.Address]);
            a.mov(dr7, rax);
        });
        g.ExpectEq(f.Vector, 13, "dr7.GD: #GP");

        g.Set(v, 0x1_0000_0000L);
        f = g.Guarded(() =>
        {
            a.mov(rax, __qword_ptr[(long)v.Address]);
            a.mov(dr6, rax);
        });
        g.ExpectEq(f.Vector, 13, "dr6 bit 32: #GP");

        g.Set(v, 0);
        f = g.Guarded(() =>
        {
            a.mov(rax, __qword_ptr[(long)v.Address]);
            a.mov(dr1, rax);
        });
        g.ExpectEq(f.Vector, -1, "dr1 = 0");
        g.Success();
    }
}
