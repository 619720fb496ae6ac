using Iced.Intel;
using Xtf.Abi;
using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Pv.Vcpu;

/// <summary>
/// Guest-side readers for Xen's time: the current system time computed from a vcpu_time_info
/// (the pvclock formula), and small waiting loops built on it. Values are only compared in the
/// guest; tests never print them. What Xen guarantees about these times, and so what a test may
/// compare, is in docs/timing.md.
/// </summary>
public static class PvClock
{
    /// <summary>
    /// How long (Xen system time) a test waits for something Xen must make happen (another vCPU
    /// reaching a state, a timer that must fire) before it calls the absence a failure. It only
    /// turns a hang into a message: no check asserts that Xen acts within it, and a run that
    /// passes never waits this long (docs/timing.md, "Waiting").
    /// </summary>
    public const long Patience = 5_000_000_000;

    /// <summary>
    /// Pins the calling vCPU (vCPU 0) to pCPU 0 with SCHEDOP_pin_override (hardware domain only).
    /// Xen keeps one system-time line per pCPU and orders NOW() only within one pCPU (no
    /// TSC_STABLE flag on these hosts); a vCPU that moves to another pCPU can see its clock step
    /// back. Tests that compare vCPU 0's clock with Xen's timers or entry times on a machine with
    /// more than one pCPU call this first, so every time they compare comes from pCPU 0's clock
    /// (docs/timing.md, "One clock per pCPU").
    /// </summary>
    public static void StayOnPcpu0(GuestProgram g)
    {
        var arg = g.Alloc(SchedPinOverride.Layout.Size, 4, "pin_vcpu0");
        g.Set(arg.U32(SchedPinOverride.Layout.Pcpu), 0);
        g.ExpectEq(g.SchedOp(SchedOp.PinOverride, arg.Ptr), 0, "SCHEDOP_pin_override(pCPU 0): one clock for vCPU 0");
    }

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
    public static Val WaitFor(GuestProgram g, Func<Cond> condition, long ns = Patience)
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

    /// <summary>The larger of two unsigned 64-bit values, as a fresh guest variable.</summary>
    public static Val Max(GuestProgram g, Val a, Val b, string name = "max")
    {
        var m = g.Var(name);
        g.Set(m, a);
        g.If(b.UGt(m), () => g.Set(m, b));
        return m;
    }

    /// <summary>
    /// Runs <paramref name="attempt"/> up to <paramref name="tries"/> times until it returns 1.
    /// An attempt returns 0 when the guest's own clock shows that its premise did not hold
    /// (the host held the vCPU so long that a deadline passed before the step that had to come
    /// first), and then it is repeated; its checks only run when the premise held. A Xen that
    /// breaks the behaviour fails every attempt. Returns 1 if one attempt's premise held.
    /// </summary>
    public static Val Attempts(GuestProgram g, int tries, Func<Val> attempt)
    {
        var ok = g.Var("attempt_ok");
        var n = g.Var("attempt_n");
        g.Set(ok, 0);
        g.Set(n, 0);
        g.While(n < tries, () =>
        {
            g.Set(ok, attempt());
            g.If(ok == 1, () => g.Break());
            g.Set(n, n + 1);
        });
        return ok;
    }
}
