using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Hvm.Cpu;

/// <summary>
/// Traps an HVM guest takes through its IDT with rip after the instruction: int3 (CC), int $3 (CD 03) and
/// icebp (F1, #DB), and a single step with EFLAGS.TF (#DB after the next instruction, DR6.BS set).
/// </summary>
public sealed class Breakpoints : XtfTest
{
    public override string Name => "breakpoints";
    public override string Title => "#BP and #DB traps: int3, int $3, icebp, single step";
    public override string Category => "hvm_exceptions";
    public override Environments Environments => Environments.Hvm64;

    public override void Body(GuestProgram g)
    {
        var a = g.Asm;
        var after = g.Var("after");
        void Case(string what, long vector, Action trap)
        {
            var f = g.Guarded(() =>
            {
                var next = a.CreateLabel();
                a.lea(rax, __[next]);
                a.mov(__qword_ptr[(long)after.Address], rax);
                trap();
                a.Label(ref next);
                a.nop();
            });
            g.ExpectEq(f.Vector, vector, what);
            g.If(f.Rip == after, () => g.Print(what + ": rip after the instruction\n"),
                () => g.Print(what + ": rip %p, after %p\n", f.Rip, after));
        }
        Case("int3", 3, () => a.int3());
        Case("int $3", 3, () => a.db(0xCD, 0x03));
        Case("icebp", 1, () => a.db(0xF1));
        var status = g.Var("dr6");
        Case("single step", 1, () =>
        {
            a.pushfq();
            a.or(__qword_ptr[rsp], 0x100);
            a.popfq();                                     // the trap comes after the instruction that follows
        });
        var a2 = g.Asm;
        a2.mov(rax, dr6);
        a2.mov(__qword_ptr[(long)status.Address], rax);
        g.Print("dr6 %#lx\n", status);
        g.Success();
    }
}
