using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Hvm.Hypercalls;

/// <summary>
/// The hypercall page Xen writes for an HVM guest when the guest names a page in the MSR of CPUID leaf
/// 0x40000002 (docs/dom0.md §4.5): 0xcc everywhere, and per 32-byte stub <c>mov eax, N</c>, the vendor's
/// hypercall instruction (vmmcall on AMD, vmcall on Intel) and <c>ret</c>; stub 23 (iret) is ud2. A
/// write with the low 12 bits set is refused.
/// </summary>
public sealed class HypercallPage : XtfTest
{
    public override string Name => "hypercall-page";
    public override string Title => "The HVM hypercall page";
    public override string Category => "hvm_hypercall";
    public override Environments Environments => Environments.Hvm64;

    public override void Body(GuestProgram g)
    {
        const long page = (long)GuestLayout.HypercallPage;
        foreach (int n in new[] { 0, 18, 29, 55 })
        {
            long stub = page + 32 * n;
            g.ExpectEq(Val.Mem((ulong)stub, 1), 0xB8, $"stub {n}: mov eax");
            g.ExpectEq(Val.Mem((ulong)stub + 1, 4), n, $"stub {n}: the hypercall number");
            g.ExpectEq(Val.Mem((ulong)stub + 5, 2), 0x010F, $"stub {n}: 0f 01");
            g.ExpectEq(Val.Mem((ulong)stub + 8, 1), 0xC3, $"stub {n}: ret");
            g.ExpectEq(Val.Mem((ulong)stub + 9, 1), 0xCC, $"stub {n}: int3 after it");
            g.ExpectEq(Val.Mem((ulong)stub + 31, 1), 0xCC, $"stub {n}: int3 at its end");
        }
        g.Print("hypercall instruction: 0f 01 %02x\n", Val.Mem((ulong)page + 7, 1));
        g.ExpectEq(Val.Mem((ulong)page + 32 * 23, 2), 0x0B0F, "stub 23 (iret): ud2");
        g.ExpectEq(Val.Mem((ulong)page + 32 * 23 + 2, 1), 0xCC, "stub 23: int3 after the ud2");
        g.ExpectEq(Val.Mem((ulong)page + 4095, 1), 0xCC, "the page's last byte");

        var a = g.Asm;
        var f = g.Guarded(() =>
        {
            a.mov(ecx, 0x4000_0000);
            a.mov(eax, (int)(page | 1));
            a.xor(edx, edx);
            a.wrmsr();
        });
        g.Print("wrmsr(0x40000000, page | 1): vector %d error %#x\n", f.Vector, f.ErrorCode);
        g.ExpectEq(g.XenVersion(Abi.XenVer.Version, 0) >> 16, 4, "hypercalls still work");
        g.Success();
    }
}
