using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Pv.Desc;

/// <summary>
/// The vector, error code, reported rip and CR2 a PV kernel is given for faults it causes itself:
/// a return to a non-canonical address, a fetch from Xen's own area and from an unmapped address,
/// int $N through an empty trap-table slot (#GP with the IDT bit), a far return to a null
/// selector, ud2 and a divide by zero. Measured on real Xen under QEMU TCG: a branch to a
/// non-canonical address faults with rip at the target (Intel would report the branch); a fetch
/// fault in guest kernel mode has error code 0x10 (instruction fetch, Xen clearing the user bit
/// of its ring-3 kernel) whether the address is Xen's or unmapped.
/// </summary>
public sealed class FaultReports : XtfTest
{
    public override string Name => "desc-fault-reports";
    public override string Title => "Vector, error code, rip and CR2 of faults the kernel causes";
    public override string Category => "desc";

    public override void Body(GuestProgram g)
    {
        var a = g.Asm;
        var target = g.Var("target");
        var at = g.Var("instruction");

        void Case(string what, long vector, long error, Action body, bool withCr2 = false)
        {
            var f = g.Guarded(() =>
            {
                var here = a.CreateLabel();
                a.lea(rax, __[here]);
                a.mov(__qword_ptr[(long)at.Address], rax);
                a.Label(ref here);
                body();
            });
            g.ExpectEq(f.Vector, vector, what);
            g.ExpectEq(f.ErrorCode, error, what + ": error code");
            g.If(f.Rip == at, () => g.Print(what + ": rip at the instruction\n"),
                () => g.If(f.Rip == target, () => g.Print(what + ": rip at the target\n"),
                    () => g.Print(what + ": rip %p, instruction %p\n", f.Rip, at)));
            if (withCr2) g.Print(what + ": cr2 %p\n", f.Cr2);
        }

        // The suite's kernels make no indirect jumps (an image check), so the branches are rets to a pushed target.
        void RetTo() { a.push(__qword_ptr[(long)target.Address]); a.ret(); }
        g.Set(target, unchecked((long)0x0000_8000_0000_0000UL));
        Case("ret to non-canonical", 13, 0, RetTo);
        g.Set(target, unchecked((long)0xFFFF_82D0_4000_0000UL));
        Case("ret into Xen", 14, 0x10, RetTo, withCr2: true);
        g.Set(target, 0x0000_7000_0000_0000L);
        Case("ret to unmapped", 14, 0x10, RetTo, withCr2: true);
        Case("int 0x81", 13, 0x81 * 8 + 2, () => a.@int(0x81));
        g.Set(target, 0x1000);
        Case("lretq to a null selector", 13, 0, () => { a.push(0); a.push(__qword_ptr[(long)target.Address]); a.db(0x48, 0xCB); });
        Case("ud2", 6, 0, () => a.ud2());
        Case("div by zero", 0, 0, () => { a.xor(ecx, ecx); a.xor(edx, edx); a.mov(eax, 1); a.div(ecx); });
        g.Success();
    }
}
