using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Hvm.Cpu;

/// <summary>
/// rdmsr from an HVM guest through Xen's MSR policy (hvm/hvm.c hvm_msr_read_intercept, then the vendor's):
/// the value of each MSR a kernel commonly reads, or #GP where Xen refuses it; a write to STAR reads back.
/// </summary>
public sealed class Msrs : XtfTest
{
    public override string Name => "msrs";
    public override string Title => "rdmsr and wrmsr through Xen's HVM MSR policy";
    public override string Category => "hvm_cpu";
    public override Environments Environments => Environments.Hvm64;

    private static readonly uint[] Indices =
    [
        0x1B, 0x3A, 0x8B, 0xFE, 0x174, 0x175, 0x176, 0x179, 0x17A, 0x1A0, 0x1D9, 0x277, 0x2FF, 0x40000000,
        0xC0000080, 0xC0000081, 0xC0000082, 0xC0000083, 0xC0000084, 0xC0000100, 0xC0000101, 0xC0000102,
        0xC0000103, 0xC0010114, 0xC0010117, 0x12345678,
    ];

    public override void Body(GuestProgram g)
    {
        var a = g.Asm;
        var value = g.Var("value");
        foreach (uint msr in Indices)
        {
            var f = g.Guarded(() =>
            {
                a.mov(ecx, msr);
                a.rdmsr();
                a.shl(rdx, 32);
                a.or(rax, rdx);
                a.mov(__qword_ptr[(long)value.Address], rax);
            });
            g.If(f.Vector == -1, () => g.Print($"msr {msr:x}: %#lx\n", value),
                () => g.Print($"msr {msr:x}: vector %d error %#x\n", f.Vector, f.ErrorCode));
        }
        var w = g.Guarded(() => { a.mov(ecx, 0xC000_0081); a.mov(eax, 0); a.mov(edx, 0x0023_0010); a.wrmsr(); a.rdmsr(); a.mov(__dword_ptr[(long)value.Address], edx); });
        g.ExpectEq(w.Vector, -1, "write STAR");
        g.ExpectEq(value.As(4), 0x0023_0010, "STAR reads back");
        g.Success();
    }
}
