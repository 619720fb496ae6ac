using Xtf.Abi;
using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Pv.Misc;

/// <summary>
/// Forced-emulation CPUID (docs/pv-abi.md §12): <c>ud2; .ascii "xen"</c> before <c>cpuid</c> makes Xen
/// answer from the domain's policy instead of delivering the #UD. Leaf 0 has the CPU's vendor (the same
/// as plain cpuid's) and a max leaf of at least 1, and a leaf beyond that max is all zeros; leaf
/// 0x40000000 says "XenVMMXenVMM" with max leaf 0x40000005 (Xen 4.17's default), 0x40000001 holds the
/// version xen_version reports, 0x40000002 one hypercall page at MSR 0x40000000 with the PV
/// PRESERVE_AD feature; leaves past the limit (0x40000006, and 0x40000100 for a non-Viridian
/// domain) are zeros; execution resumes after the cpuid.
/// </summary>
public sealed class CpuidForcedEmulation : XtfTest
{
    public override string Name => "misc-cpuid-forced-emulation";
    public override string Title => "Forced-emulation CPUID: vendor, Xen's hypervisor leaves";
    public override string Category => "misc";

    public override void Body(GuestProgram g)
    {
        var fep = Cpuid(g, "fep", forced: true);
        var raw = Cpuid(g, "raw", forced: false);

        fep.Run(0, 0);
        raw.Run(0, 0);
        g.Expect(fep.Eax >= 1, "leaf 0: max basic leaf at least 1", "eax %x", fep.Eax);
        g.Expect((fep.Ebx == raw.Ebx) & (fep.Ecx == raw.Ecx) & (fep.Edx == raw.Edx), "leaf 0: the vendor plain cpuid reports");
        var maxBasic = g.Var("max_basic");
        g.Set(maxBasic, fep.Eax);
        fep.Run(maxBasic + 1, 0);
        g.ExpectEq(fep.Eax | fep.Ebx | fep.Ecx | fep.Edx, 0, "the leaf after the max basic leaf is all zeros");

        fep.Run(0x4000_0000, 0);
        g.ExpectEq(fep.Eax, 0x4000_0005, "leaf 0x40000000: max hypervisor leaf");
        g.ExpectEq(fep.Ebx, 0x566e_6558, "leaf 0x40000000 ebx: \"XenV\"");
        g.ExpectEq(fep.Ecx, 0x6558_4d4d, "leaf 0x40000000 ecx: \"MMXe\"");
        g.ExpectEq(fep.Edx, 0x4d4d_566e, "leaf 0x40000000 edx: \"nVMM\"");

        fep.Run(0x4000_0001, 0);
        g.ExpectEq(fep.Eax, g.XenVersion(XenVer.Version, 0), "leaf 0x40000001: the version xen_version reports");
        g.ExpectEq(fep.Ebx | fep.Ecx | fep.Edx, 0, "leaf 0x40000001: ebx, ecx, edx zero");

        fep.Run(0x4000_0002, 0);
        g.ExpectEq(fep.Eax, 1, "leaf 0x40000002: one hypercall page");
        g.ExpectEq(fep.Ebx, 0x4000_0000, "leaf 0x40000002: hypercall-page MSR");
        g.ExpectEq(fep.Ecx & 1, 1, "leaf 0x40000002: MMU_PT_UPDATE_PRESERVE_AD for PV");

        fep.Run(0x4000_0006, 0);
        g.ExpectEq(fep.Eax | fep.Ebx | fep.Ecx | fep.Edx, 0, "leaf 0x40000006 (past the limit) is all zeros");
        fep.Run(0x4000_0100, 0);
        g.ExpectEq(fep.Eax | fep.Ebx | fep.Ecx | fep.Edx, 0, "leaf 0x40000100 (Viridian's base) is all zeros");
        g.Success();
    }

    /// <summary>One cpuid site: loads eax/ecx from variables, runs (with the prefix when forced), stores the four results.</summary>
    private sealed record CpuidSite(GuestProgram G, Val Leaf, Val Subleaf, Val Eax, Val Ebx, Val Ecx, Val Edx, Routine Routine)
    {
        public void Run(Val leaf, Val subleaf)
        {
            G.Set(Leaf, leaf);
            G.Set(Subleaf, subleaf);
            G.Call(Routine);
        }
    }

    private static CpuidSite Cpuid(GuestProgram g, string name, bool forced)
    {
        var leaf = g.Var($"{name}_leaf");
        var sub = g.Var($"{name}_subleaf");
        Val[] regs = [g.Var($"{name}_eax"), g.Var($"{name}_ebx"), g.Var($"{name}_ecx"), g.Var($"{name}_edx")];
        var a = g.Asm;
        var routine = g.Function($"{name}_cpuid", () =>
        {
            a.push(rbx);
            a.mov(eax, __dword_ptr[(long)leaf.Address]);
            a.mov(ecx, __dword_ptr[(long)sub.Address]);
            a.mov(ebx, 0x5a5a5a5a);
            a.mov(edx, 0x5a5a5a5a);
            if (forced) g.ForcedEmulation();   // ud2; .ascii "xen"
            a.cpuid();
            a.mov(__qword_ptr[(long)regs[0].Address], rax);
            a.mov(__qword_ptr[(long)regs[1].Address], rbx);
            a.mov(__qword_ptr[(long)regs[2].Address], rcx);
            a.mov(__qword_ptr[(long)regs[3].Address], rdx);
            a.pop(rbx);
            a.ret();
        });
        return new CpuidSite(g, leaf, sub, regs[0], regs[1], regs[2], regs[3], routine);
    }
}
