using Xtf.Sim.Cpu;

namespace Xtf.Sim.Xen;

public sealed partial class PrivilegedOps
{
    /// <summary>
    /// xsetbv from the guest kernel (a #GP at CPL 3 that Xen emulates), as measured on Xen 4.17.7
    /// (docs/pv-abi.md §17): without the guest's CR4.OSXSAVE it is #UD; with it, ECX other than 0 or
    /// an invalid XCR0 (beyond the policy's maximum, x87 clear, AVX without SSE) is #GP(0), and a
    /// valid value is loaded. False: #GP(0) is delivered.
    /// </summary>
    private bool EmulateXsetbv(Vcpu v, out VmExit? inject)
    {
        inject = null;
        var c = v.Cpu;
        uint index = (uint)c[Reg.Rcx];
        ulong value = (c[Reg.Rdx] << 32) | (uint)c[Reg.Rax];
        if ((v.GuestCr4 & Cr4OsXsave) == 0)
        {
            inject = Ud("xsetbv without CR4.OSXSAVE");
            return true;
        }
        if (index != 0) return false;
        bool valid = (value & ~profile.GuestXcr0Max) == 0 && (value & 1) != 0 && ((value & 4) == 0 || (value & 2) != 0);
        if (!valid) return false;
        c.Xcr0 = value;
        return true;
    }
}
