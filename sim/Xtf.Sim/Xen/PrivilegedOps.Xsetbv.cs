using Xtf.Sim.Cpu;

namespace Xtf.Sim.Xen;

public sealed partial class PrivilegedOps
{
    /// <summary>
    /// xsetbv from the guest kernel (a #GP at CPL 3 that Xen emulates), as measured on Xen 4.17.7
    /// (docs/pv-abi.md §17): without the guest's CR4.OSXSAVE, ECX = 0 is skipped with no effect and
    /// any other ECX is #UD; with it, ECX other than 0 is #GP(0), a valid XCR0 within the policy's
    /// maximum (x87 set, AVX only with SSE) is loaded, and an invalid value is skipped with no effect.
    /// False: #GP(0) is delivered.
    /// </summary>
    private bool EmulateXsetbv(Vcpu v, out VmExit? inject)
    {
        inject = null;
        var c = v.Cpu;
        uint index = (uint)c[Reg.Rcx];
        ulong value = (c[Reg.Rdx] << 32) | (uint)c[Reg.Rax];
        if ((v.GuestCr4 & Cr4OsXsave) == 0)
        {
            if (index != 0) inject = Ud("xsetbv without CR4.OSXSAVE");
            return true;
        }
        if (index != 0) return false;
        bool valid = (value & ~profile.GuestXcr0Max) == 0 && (value & 1) != 0 && ((value & 4) == 0 || (value & 2) != 0);
        if (valid) c.Xcr0 = value;
        return true;
    }
}
