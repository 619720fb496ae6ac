using Xtf.Abi;
using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Pv.Desc;

/// <summary>
/// The iret hypercall (23) back to guest kernel mode (a CS whose RPL is not 3: RPL 3 means user
/// mode) with frames Xen passes on to the CPU's own iretq (docs/pv-abi.md §16.6): Xen forces RPL 3
/// on CS and SS, so CS 0xe030 returns through 0xe033; a null CS or SS, or a segment of the wrong
/// kind, makes the return fault and the guest gets #GP.
/// </summary>
public sealed class IretFrames : XtfTest
{
    public override string Name => "desc-iret-frames";
    public override string Title => "iret hypercall frames: forced RPL, faulting returns";
    public override string Category => "desc";

    public override void Body(GuestProgram g)
    {
        var a = g.Asm;
        var csv = g.Var("iret_cs");
        var ssv = g.Var("iret_ss");
        var target = g.Var("iret_rip");
        var seenCs = g.Var("seen_cs");

        void Case(string what, long csValue, long ssValue, long vector, long error)
        {
            g.Set(csv, csValue);
            g.Set(ssv, ssValue);
            var f = g.Guarded(() =>
            {
                var back = a.CreateLabel();
                a.lea(rax, __[back]);
                a.mov(__qword_ptr[(long)target.Address], rax);
                a.mov(rax, rsp);
                a.push(__qword_ptr[(long)ssv.Address]);
                a.push(rax);                                   // rsp: as before the frame
                a.push(0x202);                                 // rflags
                a.push(__qword_ptr[(long)csv.Address]);
                a.push(__qword_ptr[(long)target.Address]);
                a.push(0);                                     // flags
                a.jmp(GuestLayout.StubAddress((int)Hypercall.Iret));
                a.Label(ref back);
                a.mov(eax, cs);
                a.mov(__qword_ptr[(long)seenCs.Address], rax);
            });
            g.ExpectEq(f.Vector, vector, what);
            if (vector >= 0)
            {
                g.ExpectEq(f.ErrorCode, error, what + ": error code");
                g.If(f.Rip == target, () => g.Print(what + ": rip at the return target\n"), () => g.Print(what + ": rip %p\n", f.Rip));
            }
            else g.ExpectEq(seenCs, 0xe033, what + ": cs after the return");
        }

        Case("cs 0xe030, ss 0xe028 (RPL forced to 3)", 0xe030, 0xe028, -1, 0);
        Case("cs 0xe032, ss 0xe02a", 0xe032, 0xe02a, -1, 0);
        Case("cs 0 (null)", 0, 0xe02b, 13, 0);
        Case("cs 0xe028 (a data segment)", 0xe028, 0xe02b, 13, 0xe028);
        Case("cs 0xe008 (Xen's ring-0 code)", 0xe008, 0xe02b, 13, 0xe008);
        Case("ss 0 (null)", 0xe030, 0, 13, 0);
        Case("ss 0xe030 (a code segment)", 0xe030, 0xe030, 13, 0xe030);
        g.Success();
    }
}
