using Xtf.Guest;

namespace Xtf.Suite.Hvm.Start;

/// <summary>
/// vCPU 0 at the PHYS32_ENTRY of a PVH dom0 (docs/dom0.md §4.4): 32-bit protected mode with paging off
/// (CR0 PE|ET), CR3, CR4 and EFER zero, EFLAGS only its fixed bit, ebx the hvm_start_info address, every
/// other general register zero, every selector null (the hidden parts are flat).
/// </summary>
public sealed class EntryState : XtfTest
{
    public override string Name => "entry-state";
    public override string Title => "Registers at the PVH entry point";
    public override string Category => "hvm_start";
    public override Environments Environments => Environments.Hvm64;

    public override void Body(GuestProgram g)
    {
        var e = g.HvmEntry;
        g.ExpectEq(e.Cr0, 0x11, "cr0: PE | ET");
        g.ExpectEq(e.Cr3, 0, "cr3");
        g.ExpectEq(e.Cr4, 0, "cr4");
        g.ExpectEq(e.Efer, 0, "efer");
        g.ExpectEq(e.Eflags, 0x2, "eflags");
        g.ExpectEq(e.Ebx, g.StartInfo, "ebx: the hvm_start_info address");
        g.ExpectEq(e.Eax, 0, "eax");
        g.ExpectEq(e.Ecx, 0, "ecx");
        g.ExpectEq(e.Edx, 0, "edx");
        g.ExpectEq(e.Esi, 0, "esi");
        g.ExpectEq(e.Edi, 0, "edi");
        g.ExpectEq(e.Ebp, 0, "ebp");
        g.ExpectEq(e.Esp, 0, "esp");
        g.ExpectEq(e.Cs | e.Ds | e.Es | e.Ss | e.Fs | e.Gs, 0, "selectors");
        g.Success();
    }
}
