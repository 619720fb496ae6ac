using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Pv.Isa;

/// <summary>
/// The vector state a PV dom0 kernel starts with (docs/pv-abi.md §17): XCR0 from xgetbv(0),
/// xgetbv(1), MXCSR, the FXSAVE image's control fields, and what Xen's emulation of xsetbv (a #GP
/// at CPL 3 that Xen emulates for the guest kernel) accepts.
/// </summary>
public sealed class VectorState : XtfTest
{
    public override string Name => "isa-vector-state";
    public override string Title => "XCR0, MXCSR, FXSAVE image, xsetbv emulation";
    public override string Category => "isa";

    public override void Body(GuestProgram g)
    {
        var a = g.Asm;
        var guard = new IsaGuard(g);
        var x0 = g.Var("xcr0");
        var x1 = g.Var("xinuse");
        var mx = g.Var("mxcsr");
        var cr4 = g.Var("cr4");
        var buf = g.Alloc(1024, 64, "fx");
        Val Xgetbv(int ecxValue, Val into) => guard.Try(() =>
        {
            a.mov(ecx, ecxValue);
            a.xgetbv();
            a.shl(rdx, 32);
            a.or(rax, rdx);
            a.mov(__qword_ptr[(long)into.Address], rax);
        });
        Xgetbv(0, x0);
        var f1 = Xgetbv(1, x1);
        g.Print("xgetbv1 vec %d\n", f1);
        var f2 = Xgetbv(2, x1);
        g.Print("xgetbv2 vec %d\n", f2);
        a.stmxcsr(__dword_ptr[(long)mx.Address]);
        g.Print("xcr0 %x xinuse %x mxcsr %x\n", x0, x1, mx);
        a.fxsave64(__[(long)buf.Address]);
        g.Print("fcw %x fsw %x ftw %x mxcsr %x mask %x\n", buf.U16(0), buf.U16(2), buf.U8(4), buf.U32(24), buf.U32(28));
        void Series(string tag)
        {
            foreach (long value in new long[] { 3, 7, 1, 5, 0x1f, 0x207, 2, 3 })
            {
                var r = guard.Try(() =>
                {
                    a.mov(ecx, 0);
                    a.mov(eax, (int)value);
                    a.xor(edx, edx);
                    a.xsetbv();
                });
                Xgetbv(0, x0);
                g.Print($"{tag} xsetbv({value:x}): vec %d xcr0 %x\n", r, x0);
            }
            var r2 = guard.Try(() => { a.mov(ecx, 1); a.mov(eax, 3); a.xor(edx, edx); a.xsetbv(); });
            g.Print($"{tag} xsetbv ecx=1: vec %d\n", r2);
        }
        Series("cr4=660");
        g.Set(cr4, 0x660 | (1 << 18));
        var w = guard.Try(() => { a.mov(rax, __qword_ptr[(long)cr4.Address]); a.mov(Iced.Intel.AssemblerRegisters.cr4, rax); });
        var rd = guard.Try(() => { a.mov(rax, Iced.Intel.AssemblerRegisters.cr4); a.mov(__qword_ptr[(long)cr4.Address], rax); });
        g.Print("mov cr4 OSXSAVE vec %d read %d cr4 %x\n", w, rd, cr4);
        Series("osxsave");
        // xsave header after xsave with xcr0=3
        g.MemSet(buf.Ptr, 0, 1024);
        var xs = guard.Try(() => { a.mov(eax, -1); a.mov(edx, -1); a.xsave64(__[(long)buf.Address]); });
        g.Print("xsave vec %d bv %x comp %x mxcsr %x mask %x\n", xs, buf.U64(512), buf.U64(520), buf.U32(24), buf.U32(28));
        var xc = guard.Try(() => { a.mov(eax, -1); a.mov(edx, -1); a.xsavec64(__[(long)buf.Address]); });
        g.Print("xsavec vec %d\n", xc);
        // #NM with TS
        g.ExpectEq(g.Hypercall(Xtf.Abi.Hypercall.FpuTaskswitch, 1), 0, "ts");
        var nm = guard.Try(() => a.addps(xmm0, xmm1));
        g.Print("addps with TS: vec %d\n", nm);
        // #XM: unmask ZE and divide by zero
        g.Set(mx, 0x1f80 & ~0x200);
        a.ldmxcsr(__dword_ptr[(long)mx.Address]);
        a.xorps(xmm1, xmm1);
        a.mov(eax, 0x3f800000);
        a.movd(xmm0, eax);
        var xm = guard.Try(() => a.divss(xmm0, xmm1));
        a.stmxcsr(__dword_ptr[(long)mx.Address]);
        g.Print("divss by 0 unmasked: vec %d mxcsr %x\n", xm, mx);
        g.Success();
    }
}
