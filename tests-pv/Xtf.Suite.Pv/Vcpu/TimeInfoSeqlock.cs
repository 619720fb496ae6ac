using Xtf.Abi;
using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Pv.Vcpu;

/// <summary>
/// vCPU 0's vcpu_time_info (docs/pv-abi.md §3.1, docs/dom0.md §2.12): the version is even when stable and the
/// fields read between two equal versions are plausible: system_time non-zero, a non-zero
/// multiplier, a small shift, a TSC stamp not ahead of the TSC, and a derived TSC frequency
/// between 10 MHz and 100 GHz. Nothing that varies between boots is printed.
/// </summary>
public sealed class TimeInfoSeqlock : XtfTest
{
    public override string Name => "time-info-seqlock";
    public override string Title => "vcpu_time_info: version seqlock and plausible fields";
    public override string Category => "time";

    public override void Body(GuestProgram g)
    {
        var ti = PvClock.TimeInfo(g);
        Val F(int off, int width, bool signed = false) => Val.Mem(ti + (ulong)off, width, signed);
        var ver = F(VcpuTimeInfo.Layout.Version, 4);

        var v1 = g.Var("v1");
        var v2 = g.Var("v2");
        var stamp = g.Var("stamp");
        var sys = g.Var("sys");
        var mul = g.Var("mul");
        var shift = g.Var("shift");
        var flags = g.Var("flags");
        var tries = g.Var("tries");

        // The reader's loop: version, fields, version again; retry while odd or changed.
        g.Set(tries, 0);
        g.While(Val.Const(1) == 1, () =>
        {
            g.Set(tries, tries + 1);
            g.Set(v1, ver);
            g.Set(stamp, F(VcpuTimeInfo.Layout.TscTimestamp, 8));
            g.Set(sys, F(VcpuTimeInfo.Layout.SystemTime, 8));
            g.Set(mul, F(VcpuTimeInfo.Layout.TscToSystemMul, 4));
            g.Set(shift, F(VcpuTimeInfo.Layout.TscShift, 1, signed: true));
            g.Set(flags, F(VcpuTimeInfo.Layout.Flags, 1));
            g.Set(v2, ver);
            g.If((v1 == v2) & v1.NoBits(1), () => g.Break());
            g.If(tries > 1000, () => g.Break());
        });
        g.Expect(tries <= 1000, "a stable (even, unchanged) version within 1000 reads");
        g.ExpectEq(v1 & 1, 0, "version is even when stable");
        g.Expect(v1 != 0, "version is non-zero: Xen filled the time info");
        g.Expect(sys != 0, "system_time is non-zero");
        g.Expect(mul != 0, "tsc_to_system_mul is non-zero");
        g.Expect((shift >= -8) & (shift <= 8), "tsc_shift within -8..8", "%d", shift);
        g.ExpectEq(flags & ~3L, 0, "only TSC_STABLE / GUEST_STOPPED may be set in flags");
        g.ExpectEq(flags & 2, 0, "GUEST_STOPPED is clear for a running guest");
        g.ExpectEq(F(VcpuTimeInfo.Layout.Pad0, 4) | F(VcpuTimeInfo.Layout.Pad1, 2), 0, "pad0 and pad1 are zero");

        // TSC at the last update must not be ahead of the TSC now.
        var tsc = g.Var("tsc");
        g.Asm.rdtsc();
        g.Asm.shl(rdx, 32);
        g.Asm.or(rax, rdx);
        g.Asm.mov(__qword_ptr[(long)tsc.Address], rax);
        g.Expect(stamp.ULe(tsc), "tsc_timestamp is not ahead of rdtsc");

        // Frequency (Hz) = (10^9 << 32) / mul, then shifted by -shift (10^9 << 32 fits 63 bits).
        var hz = g.Var("hz");
        var a = g.Asm;
        g.Set(hz, mul);
        g.If(mul != 0, () =>
        {
            a.mov(rcx, __qword_ptr[(long)hz.Address]);
            a.xor(edx, edx);
            a.mov(rax, 1_000_000_000L << 32);
            a.div(rcx);
            a.mov(__qword_ptr[(long)hz.Address], rax);
            g.If(shift < 0, () => g.Set(hz, hz.ShiftLeft(-shift)), () => g.Set(hz, hz.ShiftRight(shift)));
        });
        g.Expect(hz.UGe(10_000_000) & hz.ULe(100_000_000_000), "TSC frequency from mul/shift between 10 MHz and 100 GHz");

        // A later read never shows an older version.
        var v3 = g.Var("v3");
        g.Set(v3, ver);
        g.Expect(v3.UGe(v1), "version does not go backwards");
        g.Print("vcpu_time_info: stable version even, fields plausible\n");
        g.Success();
    }
}
