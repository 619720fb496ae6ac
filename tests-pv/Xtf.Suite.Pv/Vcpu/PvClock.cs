using Iced.Intel;
using Xtf.Abi;
using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Pv.Vcpu;

/// <summary>
/// Guest-side readers for Xen's time: the current system time computed from a vcpu_time_info
/// (the pvclock formula), and small waiting loops built on it. Values are only compared in the
/// guest; tests never print them.
/// </summary>
public static class PvClock
{
    /// <summary>vCPU 0's vcpu_time_info inside the shared_info window.</summary>
    public static ulong TimeInfo(GuestProgram g, int vcpu = 0) =>
        g.SharedInfo.Address + (ulong)(SharedInfo.Layout.VcpuInfoAt(vcpu) + VcpuInfo.Layout.Time);

    /// <summary>
    /// Xen system time in ns now, from the vcpu_time_info at <paramref name="timeInfo"/>:
    /// system_time + ((tsc - tsc_timestamp) shifted by tsc_shift) * tsc_to_system_mul / 2^32,
    /// read under the version seqlock (retried while the version is odd or changes).
    /// </summary>
    public static Val Now(GuestProgram g, ulong timeInfo)
    {
        var result = g.Var("now");
        var a = g.Asm;
        var retry = a.CreateLabel();
        var negShift = a.CreateLabel();
        var doMul = a.CreateLabel();
        var noDelta = a.CreateLabel();
        var done = a.CreateLabel();
        a.mov(rsi, (long)timeInfo);
        a.Label(ref retry);
        a.mov(r8d, __dword_ptr[rsi + VcpuTimeInfo.Layout.Version]);
        a.pause();
        a.test(r8d, 1);
        a.jnz(retry);
        a.lfence();
        a.rdtsc();
        a.shl(rdx, 32);
        a.or(rax, rdx);
        a.mov(r9, __qword_ptr[rsi + VcpuTimeInfo.Layout.TscTimestamp]);
        a.mov(r10, __qword_ptr[rsi + VcpuTimeInfo.Layout.SystemTime]);
        a.mov(r11d, __dword_ptr[rsi + VcpuTimeInfo.Layout.TscToSystemMul]);
        a.movsx(ecx, __byte_ptr[rsi + VcpuTimeInfo.Layout.TscShift]);
        a.lfence();
        a.cmp(r8d, __dword_ptr[rsi + VcpuTimeInfo.Layout.Version]);
        a.jne(retry);
        a.sub(rax, r9);
        a.jb(noDelta);                                  // a TSC behind the stamp counts as 0
        a.test(ecx, ecx);
        a.js(negShift);
        a.shl(rax, cl);
        a.jmp(doMul);
        a.Label(ref negShift);
        a.neg(ecx);
        a.shr(rax, cl);
        a.Label(ref doMul);
        a.mul(r11);                                     // rdx:rax = delta * mul
        a.shrd(rax, rdx, 32);
        a.jmp(done);
        a.Label(ref noDelta);
        a.xor(eax, eax);
        a.Label(ref done);
        a.add(rax, r10);
        a.mov(__qword_ptr[(long)result.Address], rax);
        return result;
    }

    public static Val Now(GuestProgram g) => Now(g, TimeInfo(g));

    /// <summary>Spins until Xen system time reaches <paramref name="deadline"/> (ns).</summary>
    public static void SpinUntil(GuestProgram g, Val deadline)
    {
        var t = g.Var("spin_deadline");
        g.Set(t, deadline);
        g.While(Val.Const(1) == 1, () =>
        {
            g.If(Now(g).UGe(t), () => g.Break());
            g.Asm.pause();
        });
    }

    /// <summary>Spins for <paramref name="ns"/> nanoseconds of Xen system time.</summary>
    public static void SpinFor(GuestProgram g, long ns) => SpinUntil(g, Now(g) + ns);

    /// <summary>
    /// Spins until the condition holds or <paramref name="ns"/> of system time pass; returns 1 if
    /// it held. The condition is re-emitted inside the loop, so it may contain hypercalls.
    /// </summary>
    public static Val WaitFor(GuestProgram g, Func<Cond> condition, long ns)
    {
        var ok = g.Var("waitfor_ok");
        var end = g.Var("waitfor_end");
        g.Set(ok, 0);
        g.Set(end, Now(g) + ns);
        g.While(Val.Const(1) == 1, () =>
        {
            g.If(condition(), () => { g.Set(ok, 1); g.Break(); });
            g.If(Now(g).UGe(end), () => g.Break());
            g.Asm.pause();
        });
        return ok;
    }
}
