using Xtf.Abi;
using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Hvm.Start;

/// <summary>
/// Xen's CPUID leaves as an HVM guest reads them with a plain <c>cpuid</c> (docs/dom0.md §4.5): base
/// 0x40000000 ("XenVMMXenVMM", max leaf 0x40000005), the version xen_version gives, one hypercall page
/// at MSR 0x40000000 and (unlike PV) no feature bits in ecx; leaves past the limit read zeros.
/// </summary>
public sealed class CpuidXenLeaves : XtfTest
{
    public override string Name => "cpuid-xen-leaves";
    public override string Title => "CPUID: Xen's hypervisor leaves from an HVM guest";
    public override string Category => "hvm_start";
    public override Environments Environments => Environments.Hvm64;

    public override void Body(GuestProgram g)
    {
        var r = new[] { g.Var("eax"), g.Var("ebx"), g.Var("ecx"), g.Var("edx") };
        void Cpuid(uint leaf)
        {
            var a = g.Asm;
            a.mov(eax, leaf);
            a.xor(ecx, ecx);
            a.cpuid();
            a.mov(__dword_ptr[(long)r[0].Address], eax);
            a.mov(__dword_ptr[(long)r[1].Address], ebx);
            a.mov(__dword_ptr[(long)r[2].Address], ecx);
            a.mov(__dword_ptr[(long)r[3].Address], edx);
        }

        Cpuid(0x4000_0000);
        g.ExpectEq(r[0], 0x4000_0005, "leaf 0x40000000: max leaf");
        g.ExpectEq(r[1], 0x566e_6558, "leaf 0x40000000 ebx: \"XenV\"");
        g.ExpectEq(r[2], 0x6558_4d4d, "leaf 0x40000000 ecx: \"MMXe\"");
        g.ExpectEq(r[3], 0x4d4d_566e, "leaf 0x40000000 edx: \"nVMM\"");
        Cpuid(0x4000_0001);
        g.ExpectEq(r[0], g.XenVersion(XenVer.Version, 0), "leaf 0x40000001: the version xen_version reports");
        Cpuid(0x4000_0002);
        g.ExpectEq(r[0], 1, "leaf 0x40000002: one hypercall page");
        g.ExpectEq(r[1], 0x4000_0000, "leaf 0x40000002: the hypercall-page MSR");
        g.ExpectEq(r[2], 0, "leaf 0x40000002 ecx: no PV features for HVM");
        g.ExpectEq(r[3], 0, "leaf 0x40000002 edx");
        Cpuid(0x4000_0004);
        g.Print("leaf 0x40000004: %08x %08x %08x %08x\n", r[0], r[1], r[2], r[3]);
        Cpuid(0x4000_0005);
        g.Print("leaf 0x40000005: %08x %08x %08x %08x\n", r[0], r[1], r[2], r[3]);
        Cpuid(0x4000_0006);
        g.ExpectEq(r[0] | r[1] | r[2] | r[3], 0, "leaf 0x40000006 (past the limit)");
        Cpuid(0x4000_0100);
        g.ExpectEq(r[0] | r[1] | r[2] | r[3], 0, "leaf 0x40000100 (no second base)");
        g.Success();
    }
}
