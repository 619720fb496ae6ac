using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Pv.Isa;

/// <summary>
/// One instruction on chosen inputs: xmm0 and xmm1 loaded from 16-byte values, MXCSR set, the
/// instruction run under an <see cref="IsaGuard"/>, then xmm0, MXCSR, the vector raised and the
/// arithmetic flags read back (MXCSR is then reset to 0x1f80).
/// </summary>
internal sealed class IsaCase
{
    private readonly GuestProgram g;
    private readonly IsaGuard guard;
    private readonly GuestBuffer io;

    public IsaCase(GuestProgram g)
    {
        this.g = g;
        guard = new IsaGuard(g);
        io = g.Alloc(128, 64, "isa_io");
    }

    public IsaGuard Guard => guard;
    public GuestBuffer Io => io;

    /// <summary>xmm0 low/high after the instruction.</summary>
    public Val Lo => io.U64(48);
    public Val Hi => io.U64(56);
    public Val Mxcsr => io.U32(64);
    public Val Flags => io.U64(72);
    public Val Vector { get; private set; } = Val.Const(-1);

    public void Run(ulong d0, ulong d1, ulong s0, ulong s1, uint mxcsr, Action instruction)
    {
        var a = g.Asm;
        g.Set(io.U64(0), (long)d0);
        g.Set(io.U64(8), (long)d1);
        g.Set(io.U64(16), (long)s0);
        g.Set(io.U64(24), (long)s1);
        g.Set(io.U32(32), mxcsr);
        g.Set(io.U32(36), 0x1f80);
        a.movdqu(xmm0, __xmmword_ptr[(long)io.Address]);
        a.movdqu(xmm1, __xmmword_ptr[(long)io.Address + 16]);
        a.ldmxcsr(__dword_ptr[(long)io.Address + 32]);
        Vector = guard.Try(() =>
        {
            instruction();
            a.pushfq();
            a.pop(rax);
            a.mov(__qword_ptr[(long)io.Address + 72], rax);
        });
        a.stmxcsr(__dword_ptr[(long)io.Address + 64]);
        a.ldmxcsr(__dword_ptr[(long)io.Address + 36]);
        a.movdqu(__xmmword_ptr[(long)io.Address + 48], xmm0);
    }

    /// <summary>Expects xmm0 (low, high), MXCSR and no exception.</summary>
    public void Expect(string what, ulong lo, ulong hi, uint mxcsr)
    {
        g.ExpectEq(Vector, -1, what + ": no exception");
        g.ExpectEq(Lo, (long)lo, what + ": xmm0 low");
        g.ExpectEq(Hi, (long)hi, what + ": xmm0 high");
        g.ExpectEq(Mxcsr, mxcsr, what + ": mxcsr");
    }

    public void Print(string what) => g.Print(GuestProgram.Escape(what) + ": vec %d lo %lx hi %lx mxcsr %x flags %x\n", Vector, Lo, Hi, Mxcsr, Flags & 0x8d5);
}
