using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Hvm.Exceptions;

/// <summary>
/// Exceptions an HVM guest takes through its own IDT, with the CPU's frame: vector, error code, the rip
/// reported (the faulting instruction) and, for #PF, CR2 and the error code's bits (present, write,
/// fetch; with EFER.NXE off no fetch bit). A selector past the GDT's limit is #GP with the selector as
/// error code, an int $N past the IDT's limit #GP(N·8+2). Measured on real Xen 4.17 under QEMU TCG (nested
/// SVM with HAP): the CR2 the guest's handler reads after a #PF is 0, not the faulting address.
/// </summary>
public sealed class Faults : XtfTest
{
    public override string Name => "exceptions";
    public override string Title => "#DE, #UD, #GP and #PF through the guest's IDT";
    public override string Category => "hvm_exceptions";
    public override Environments Environments => Environments.Hvm64;

    /// <summary>Past the 4 GiB the kernel maps one to one.</summary>
    private const long Unmapped = 0x1_0000_0000;

    public override void Body(GuestProgram g)
    {
        var a = g.Asm;
        var at = g.Var("instruction");
        var target = g.Var("target");

        void Case(string what, long vector, long error, Action body, bool cr2 = false)
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
            if (cr2) g.If(f.Cr2 == target, () => g.Print(what + ": cr2 the address\n"), () => g.Print(what + ": cr2 %#lx\n", f.Cr2));
        }

        Case("div by zero", 0, 0, () => { a.xor(ecx, ecx); a.xor(edx, edx); a.mov(eax, 1); a.div(ecx); });
        Case("ud2", 6, 0, () => a.ud2());
        g.Set(target, unchecked((long)0x8000_0000_0000_0000UL));
        Case("load from a non-canonical address", 13, 0, () => { a.mov(rcx, __qword_ptr[(long)target.Address]); a.mov(rax, __qword_ptr[rcx]); });
        Case("mov ds, 0x28 (past the GDT)", 13, 0x28, () => { a.mov(eax, 0x28); a.mov(ds, ax); });
        Case("int 0x40 (past the IDT)", 13, 0x40 * 8 + 2, () => a.@int(0x40));
        g.Set(target, Unmapped);
        Case("read of an unmapped page", 14, 0, () => { a.mov(rcx, __qword_ptr[(long)target.Address]); a.mov(rax, __qword_ptr[rcx]); }, cr2: true);
        Case("write to an unmapped page", 14, 2, () => { a.mov(rcx, __qword_ptr[(long)target.Address]); a.mov(__qword_ptr[rcx], rax); }, cr2: true);
        var f = g.Guarded(() => { a.push(__qword_ptr[(long)target.Address]); a.ret(); });
        g.ExpectEq(f.Vector, 14, "ret to an unmapped page");
        g.Print("ret to an unmapped page: error code %#x\n", f.ErrorCode);
        g.ExpectEq(f.Rip, target, "ret to an unmapped page: rip at the target");
        g.If(f.Cr2 == target, () => g.Print("ret to an unmapped page: cr2 the address\n"), () => g.Print("ret to an unmapped page: cr2 %#lx\n", f.Cr2));
        g.Success();
    }
}
