using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Hvm.Cpu;

/// <summary>
/// The CPUID an HVM guest sees (Xen's HVM policy over QEMU's <c>-cpu max</c>): the vendor, the basic and
/// extended leaves a kernel reads at boot. Leaf 1 sets the hypervisor bit (ecx bit 31).
/// </summary>
public sealed class CpuidLeaves : XtfTest
{
    public override string Name => "cpuid-leaves";
    public override string Title => "CPUID basic and extended leaves from an HVM guest";
    public override string Category => "hvm_cpu";
    public override Environments Environments => Environments.Hvm64;

    private static readonly (uint Leaf, uint Sub)[] Leaves =
    [
        (0, 0), (1, 0), (6, 0), (7, 0), (7, 1), (0xD, 0), (0xD, 1), (0x8000_0000, 0), (0x8000_0001, 0),
        (0x8000_0007, 0), (0x8000_0008, 0),
    ];

    public override void Body(GuestProgram g)
    {
        var a = g.Asm;
        var r = new[] { g.Var("eax"), g.Var("ebx"), g.Var("ecx"), g.Var("edx") };
        foreach (var (leaf, sub) in Leaves)
        {
            a.mov(eax, leaf);
            a.mov(ecx, sub);
            a.cpuid();
            a.mov(__dword_ptr[(long)r[0].Address], eax);
            a.mov(__dword_ptr[(long)r[1].Address], ebx);
            a.mov(__dword_ptr[(long)r[2].Address], ecx);
            a.mov(__dword_ptr[(long)r[3].Address], edx);
            g.Print($"leaf {leaf:x}.{sub}: %08x %08x %08x %08x\n", r[0], r[1], r[2], r[3]);
            if (leaf == 1) g.ExpectEq((r[2] >> 31) & 1, 1, "leaf 1 ecx: the hypervisor bit");
        }
        g.Success();
    }
}
