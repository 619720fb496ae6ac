using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Pv.Isa;

/// <summary>
/// The vector state a PV dom0 kernel starts with (docs/pv-abi.md §17): XCR0 from xgetbv(0),
/// xgetbv(1), MXCSR, the FXSAVE image's control fields, and what Xen's emulation of xsetbv (a #GP
/// at CPL 3 that Xen emulates for the guest kernel) accepts, alignment faults, #NM with TS.
/// Measured on Xen 4.17.7 / QEMU 10 TCG: xsetbv is #UD until the guest sets CR4.OSXSAVE, then an
/// invalid XCR0 or ECX is #GP(0); xsavec is neither advertised nor #UD and stores nothing; ldmxcsr
/// of a reserved bit is not #GP.
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
        g.ExpectEq(Xgetbv(0, x0), -1, "xgetbv(0)");
        g.ExpectEq(x0, 3, "xcr0: x87 and SSE");
        g.ExpectEq(Xgetbv(1, x1), -1, "xgetbv(1)");
        g.ExpectEq(x1, 3, "xgetbv(1): both in use");
        g.ExpectEq(Xgetbv(2, x1), 13, "xgetbv(2): #GP");
        a.stmxcsr(__dword_ptr[(long)mx.Address]);
        g.ExpectEq(mx, 0x1f80, "initial mxcsr");
        a.fxsave64(__[(long)buf.Address]);
        g.ExpectEq(buf.U16(0), 0x37f, "fxsave fcw");
        g.ExpectEq(buf.U8(4), 0, "fxsave abridged ftw: all empty");
        g.ExpectEq(buf.U32(24), 0x1f80, "fxsave mxcsr");
        g.ExpectEq(buf.U32(28), 0xffff, "fxsave mxcsr_mask");
        Val Xsetbv(int ecxValue, long value) => guard.Try(() =>
        {
            a.mov(ecx, ecxValue);
            a.mov(eax, (int)value);
            a.xor(edx, edx);
            a.xsetbv();
        });
        // Without the guest's CR4.OSXSAVE xsetbv is #UD (Xen's emulator checks the guest's CR4).
        g.ExpectEq(Xsetbv(0, 7), 6, "xsetbv(7) without OSXSAVE: #UD");
        Xgetbv(0, x0);
        g.ExpectEq(x0, 3, "xcr0 unchanged");
        g.ExpectEq(Xsetbv(1, 3), 6, "xsetbv ecx=1 without OSXSAVE: #UD");
        g.Set(cr4, 0x660 | (1 << 18));
        g.ExpectEq(guard.Try(() => { a.mov(rax, __qword_ptr[(long)cr4.Address]); a.mov(Iced.Intel.AssemblerRegisters.cr4, rax); }), -1, "mov to cr4 with OSXSAVE");
        foreach (var (value, vec, after) in new (long, int, long)[] { (7, -1, 7), (1, -1, 1), (5, 13, 1), (0x1f, 13, 1), (0x207, 13, 1), (2, 13, 1), (3, -1, 3) })
        {
            g.ExpectEq(Xsetbv(0, value), vec, $"xsetbv({value:x})");
            Xgetbv(0, x0);
            g.ExpectEq(x0, after, $"xcr0 after xsetbv({value:x})");
        }
        g.ExpectEq(Xsetbv(1, 3), 13, "xsetbv ecx=1 with OSXSAVE: #GP");
        g.MemSet(buf.Ptr, 0, 1024);
        g.ExpectEq(guard.Try(() => { a.mov(eax, -1); a.mov(edx, -1); a.xsave64(__[(long)buf.Address]); }), -1, "xsave");
        g.ExpectEq(buf.U64(512), 3, "xsave xstate_bv");
        g.ExpectEq(buf.U64(520), 0, "xsave xcomp_bv");
        g.ExpectEq(buf.U32(24), 0x1f80, "xsave mxcsr");
        // xsavec: not advertised (leaf 0xd.1 EAX bit 1 clear), no #UD, stores nothing (QEMU TCG, measured).
        g.MemSet(buf.Ptr, 0xaa, 1024);
        g.ExpectEq(guard.Try(() => { a.mov(eax, -1); a.mov(edx, -1); a.xsavec64(__[(long)buf.Address]); }), -1, "xsavec");
        g.ExpectEq(buf.U64(512), unchecked((long)0xaaaa_aaaa_aaaa_aaaaUL), "xsavec stored nothing");
        g.ExpectEq(guard.Try(() => a.movaps(xmm0, __xmmword_ptr[(long)buf.Address + 8])), 13, "movaps misaligned: #GP");
        g.ExpectEq(guard.Try(() => a.movups(xmm0, __xmmword_ptr[(long)buf.Address + 8])), -1, "movups misaligned");
        g.ExpectEq(guard.Try(() => a.fxsave64(__[(long)buf.Address + 8])), 13, "fxsave misaligned: #GP");
        // ldmxcsr with a reserved bit: no #GP on QEMU TCG (the SDM says #GP(0)), measured.
        g.Set(mx, 0x11f80);
        g.ExpectEq(guard.Try(() => a.ldmxcsr(__dword_ptr[(long)mx.Address])), -1, "ldmxcsr reserved bit: no #GP");
        g.Set(mx, 0x1f80);
        a.ldmxcsr(__dword_ptr[(long)mx.Address]);
        g.ExpectEq(g.Hypercall(Xtf.Abi.Hypercall.FpuTaskswitch, 1), 0, "fpu_taskswitch(1)");
        g.ExpectEq(guard.Try(() => a.addps(xmm0, xmm1)), 7, "addps with TS: #NM");
        g.Success();
    }
}
