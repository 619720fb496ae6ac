using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Hvm.Cpu;

/// <summary>
/// Control-register and EFER writes from 64-bit mode, where the architecture refuses leaving long mode
/// or paging: clearing CR4.PAE, CR0.PG or CR0.PE, a reserved CR4 or CR0 bit, and
/// clearing EFER.LME are #GP(0); toggling CR0.WP and reloading CR3 work. Measured: reading or writing CR8
/// is #GP(0) here, and setting CR0.NW without CD is not refused but crashes the domain (docs/hvm.md).
/// </summary>
public sealed class ControlRegisters : XtfTest
{
    public override string Name => "cr-writes";
    public override string Title => "Control-register and EFER writes in long mode";
    public override string Category => "hvm_cpu";
    public override Environments Environments => Environments.Hvm64;

    public override void Body(GuestProgram g)
    {
        var a = g.Asm;
        var v = g.Var("value");
        void Read(string what, Action load)
        {
            load();
            a.mov(__qword_ptr[(long)v.Address], rax);
            g.Print(what + " %#lx\n", v);
        }
        void Refused(string what, Action write)
        {
            var f = g.Guarded(write);
            g.ExpectEq(f.Vector, 13, what);
            g.ExpectEq(f.ErrorCode, 0, what + ": error code");
        }

        Read("cr0", () => a.mov(rax, cr0));
        Read("cr4", () => a.mov(rax, cr4));
        Read("efer", () => { a.mov(ecx, 0xC000_0080); a.rdmsr(); a.shl(rdx, 32); a.or(rax, rdx); });

        Refused("clear CR4.PAE", () => { a.mov(rax, cr4); a.and(eax, ~0x20); a.mov(cr4, rax); });
        Refused("set CR4 bit 31", () => { a.mov(rax, cr4); a.bts(rax, 31); a.mov(cr4, rax); });
        Refused("clear CR0.PG", () => { a.mov(rax, cr0); a.btr(rax, 31); a.mov(cr0, rax); });
        Refused("clear CR0.PE", () => { a.mov(rax, cr0); a.btr(rax, 0); a.mov(cr0, rax); });
        Refused("set CR0 bit 63", () => { a.mov(rax, cr0); a.bts(rax, 63); a.mov(cr0, rax); });
        Refused("clear EFER.LME", () => { a.mov(ecx, 0xC000_0080); a.rdmsr(); a.btr(eax, 8); a.wrmsr(); });
        Refused("set EFER bit 20", () => { a.mov(ecx, 0xC000_0080); a.rdmsr(); a.bts(eax, 20); a.wrmsr(); });

        var f = g.Guarded(() => { a.mov(rax, cr0); a.xor(eax, 1 << 16); a.mov(cr0, rax); a.xor(eax, 1 << 16); a.mov(cr0, rax); });
        g.ExpectEq(f.Vector, -1, "toggle CR0.WP twice");
        f = g.Guarded(() => { a.mov(rax, cr3); a.mov(cr3, rax); });
        g.ExpectEq(f.Vector, -1, "reload CR3");
        // CR8 (the TPR) is measured #GP(0) for both a read and a write on this machine (Xen with HAP on QEMU's SVM).
        f = g.Guarded(() => { a.mov(rax, cr8); a.mov(__qword_ptr[(long)v.Address], rax); });
        g.Print("read CR8: vector %d error %#x\n", f.Vector, f.ErrorCode);
        f = g.Guarded(() => { a.xor(eax, eax); a.mov(cr8, rax); });
        g.Print("write CR8: vector %d error %#x\n", f.Vector, f.ErrorCode);
        Read("cr0 after", () => a.mov(rax, cr0));
        g.Success();
    }
}
