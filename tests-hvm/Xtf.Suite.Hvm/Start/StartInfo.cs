using Xtf.Abi;
using Xtf.Guest;
using L = Xtf.Abi.HvmStartInfo.Layout;

namespace Xtf.Suite.Hvm.Start;

/// <summary>
/// hvm_start_info as Xen's PVH dom0 builder writes it (docs/hvm.md; measured in docs/dom0.md §4.3): magic,
/// version 0 in Xen 4.17, flags PRIVILEGED|INITDOMAIN, no modules, no memory map (the guest asks
/// XENMEM_memory_map), a command line (empty here) and Xen's own RSDP; the structure sits after the
/// command line, right after the kernel's page-rounded end.
/// </summary>
public sealed class StartInfo : XtfTest
{
    public override string Name => "start-info";
    public override string Title => "hvm_start_info of a PVH dom0";
    public override string Category => "hvm_start";
    public override Environments Environments => Environments.Hvm64;

    public override void Body(GuestProgram g)
    {
        var si = g.StartInfo;
        g.ExpectEq(Val.At(si, L.Magic, 4), HvmStartInfo.MagicValue, "magic");
        g.ExpectEq(Val.At(si, L.Version, 4), 0, "version");
        g.ExpectEq(Val.At(si, L.Flags, 4), 3, "flags: SIF_PRIVILEGED | SIF_INITDOMAIN");
        g.ExpectEq(Val.At(si, L.NrModules, 4), 0, "nr_modules");
        g.ExpectEq(Val.At(si, L.ModlistPaddr), 0, "modlist_paddr");
        g.ExpectEq(Val.At(si, L.MemmapPaddr), 0, "memmap_paddr (Xen 4.17 gives none)");
        g.ExpectEq(Val.At(si, L.MemmapEntries, 4), 0, "memmap_entries");
        g.ExpectEq(Val.At(si, L.Reserved, 4), 0, "reserved");

        var kernelEnd = g.Var("kernel_end");
        g.Set(kernelEnd, (g.ImageEnd + 0xFFF) & ~0xFFFL);
        g.Print("start_info at kernel end + %#x\n", si - kernelEnd);
        var cmdline = Val.At(si, L.CmdlinePaddr);
        g.ExpectNe(cmdline, 0, "cmdline_paddr");
        g.Print("cmdline at kernel end + %#x: \"%s\"\n", cmdline - kernelEnd, cmdline);

        var rsdp = g.Var("rsdp");
        g.Set(rsdp, Val.At(si, L.RsdpPaddr));
        g.ExpectNe(rsdp, 0, "rsdp_paddr");
        g.Print("rsdp at %#x\n", rsdp);
        g.ExpectEq(Val.At(rsdp, 0), 0x2052_5450_2044_5352L, "the RSDP's signature \"RSD PTR \"");
        g.ExpectEq(Val.At(rsdp, 15, 1), 2, "the RSDP's revision");
        g.Success();
    }
}
