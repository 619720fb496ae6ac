using Xtf.Abi;
using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Pv.Priv;

/// <summary>
/// Control registers in guest kernel mode (docs/pv-abi.md §16.1): CR0 reads 0x80050033 with the
/// guest's own TS, which fpu_taskswitch (5), clts and a mov to CR0 change; a mov to CR0 that changes
/// another bit is #GP(0); CR4 reads 0x660 and takes FSGSBASE (the policy has it), after which
/// rdfsbase runs; wbinvd and invd are accepted.
/// </summary>
public sealed class ControlRegisters : XtfTest
{
    public override string Name => "priv-control-registers";
    public override string Title => "CR0.TS (fpu_taskswitch, clts, mov), CR4.FSGSBASE, wbinvd/invd";
    public override string Category => "priv";

    public override void Body(GuestProgram g)
    {
        var a = g.Asm;
        var cr0 = g.Var("cr0");
        var cr4 = g.Var("cr4");
        var v = g.Var("value");
        void ReadCr0() => g.Guarded(() => { a.mov(rax, Iced.Intel.AssemblerRegisters.cr0); a.mov(__qword_ptr[(long)cr0.Address], rax); });
        void ReadCr4() => g.Guarded(() => { a.mov(rax, Iced.Intel.AssemblerRegisters.cr4); a.mov(__qword_ptr[(long)cr4.Address], rax); });

        ReadCr0();
        g.ExpectEq(cr0, 0x8005_0033L, "initial cr0");
        g.ExpectEq(g.Hypercall(Hypercall.FpuTaskswitch, 1), 0, "fpu_taskswitch(1)");
        ReadCr0();
        g.ExpectEq(cr0, 0x8005_003bL, "cr0 after fpu_taskswitch(1)");
        var f = g.Guarded(() => a.clts());
        g.ExpectEq(f.Vector, -1, "clts");
        ReadCr0();
        g.ExpectEq(cr0, 0x8005_0033L, "cr0 after clts");
        g.Set(v, 0x8005_003bL);
        f = g.Guarded(() => { a.mov(rax, __qword_ptr[(long)v.Address]); a.mov(Iced.Intel.AssemblerRegisters.cr0, rax); });
        g.ExpectEq(f.Vector, -1, "mov to cr0 setting TS");
        ReadCr0();
        g.ExpectEq(cr0, 0x8005_003bL, "cr0 after mov with TS");
        g.Set(v, 0x8004_0033L);
        f = g.Guarded(() => { a.mov(rax, __qword_ptr[(long)v.Address]); a.mov(Iced.Intel.AssemblerRegisters.cr0, rax); });
        g.ExpectEq(f.Vector, 13, "mov to cr0 clearing WP: #GP");
        g.ExpectEq(g.Hypercall(Hypercall.FpuTaskswitch, 0), 0, "fpu_taskswitch(0)");
        ReadCr0();
        g.ExpectEq(cr0, 0x8005_0033L, "cr0 after fpu_taskswitch(0)");

        ReadCr4();
        g.ExpectEq(cr4, 0x660, "initial cr4");
        g.Set(v, 0x660 | (1 << 16));
        f = g.Guarded(() => { a.mov(rax, __qword_ptr[(long)v.Address]); a.mov(Iced.Intel.AssemblerRegisters.cr4, rax); });
        g.ExpectEq(f.Vector, -1, "mov to cr4 with FSGSBASE");
        ReadCr4();
        g.ExpectEq(cr4, 0x660 | (1 << 16), "cr4 with FSGSBASE");
        g.Set(v, 0x5a5a_5000L);
        a.mov(rax, __qword_ptr[(long)v.Address]);
        a.wrgsbase(rax);
        a.rdgsbase(rcx);
        a.mov(__qword_ptr[(long)cr0.Address], rcx);
        a.xor(eax, eax);
        a.wrgsbase(rax);
        g.ExpectEq(cr0, 0x5a5a_5000L, "rdgsbase after wrgsbase");
        g.Set(v, 0x660 | 0xFF_FF80);
        f = g.Guarded(() => { a.mov(rax, __qword_ptr[(long)v.Address]); a.mov(Iced.Intel.AssemblerRegisters.cr4, rax); });
        g.ExpectEq(f.Vector, -1, "mov to cr4 with other bits");
        ReadCr4();
        g.Print("cr4 after writing 0xffffe0: %p\n", cr4);
        g.Set(v, 0x660);
        g.Guarded(() => { a.mov(rax, __qword_ptr[(long)v.Address]); a.mov(Iced.Intel.AssemblerRegisters.cr4, rax); });
        ReadCr4();
        g.ExpectEq(cr4, 0x660, "cr4 restored");

        f = g.Guarded(() => { a.wbinvd(); a.invd(); });
        g.ExpectEq(f.Vector, -1, "wbinvd, invd");
        g.Success();
    }
}
