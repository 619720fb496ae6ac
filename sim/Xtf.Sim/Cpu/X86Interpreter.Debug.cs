using System.Runtime.CompilerServices;
using Xtf.Sim.Memory;

namespace Xtf.Sim.Cpu;

// Hardware breakpoints (DR0-DR3 with DR7): instruction breakpoints are faults checked before an
// instruction runs (unless RF), data breakpoints traps after the instruction that touched the
// watched bytes. Nothing is checked while DR7 enables no breakpoint: the run loop is unchanged and
// the data TLB fast path stays. With a breakpoint armed, Run executes one instruction per call and
// pages holding a watched address never get fast-path TLB tags, so every access to them reaches the
// slow path, where the watch is checked.
public sealed partial class X86Interpreter
{
    /// <summary>Any breakpoint enabled in DR7 (L0-3/G0-3) for the current run.</summary>
    private bool bpArmed;
    /// <summary>Any data (write or read/write) breakpoint enabled for the current run.</summary>
    private bool watchArmed;
    /// <summary>DR6 B0-B3 bits of data breakpoints hit by the instruction running.</summary>
    private ulong watchHits;
    // The breakpoint set the TLB was filled under (a change flushes it).
    private ulong armedDr7, armedDr0, armedDr1, armedDr2, armedDr3;

    /// <summary>DR7 R/W field of breakpoint <paramref name="i"/>: 0 execute, 1 write, 2 I/O, 3 read/write.</summary>
    private static int BpType(ulong dr7, int i) => (int)(dr7 >> (16 + 4 * i)) & 3;

    /// <summary>DR7 LEN field as a byte count: 1, 2, 8, 4.</summary>
    private static ulong BpLength(ulong dr7, int i) => ((dr7 >> (18 + 4 * i)) & 3) switch { 0 => 1, 1 => 2, 2 => 8, _ => 4 };

    private static bool BpEnabled(ulong dr7, int i) => ((dr7 >> (2 * i)) & 3) != 0;

    /// <summary>At the start of a run: arms the breakpoints DR7 enables; flushes the TLB when the watched set changed.</summary>
    private void ArmBreakpoints(CpuState c)
    {
        ulong dr7 = c.Dr7;
        bpArmed = (dr7 & 0xFF) != 0;
        bool watch = false;
        if (bpArmed)
            for (int i = 0; i < 4; i++)
                if (BpEnabled(dr7, i) && (BpType(dr7, i) & 1) != 0) watch = true;
        if (watch || watchArmed)
        {
            if (watch != watchArmed || dr7 != armedDr7 || c.Dr0 != armedDr0 || c.Dr1 != armedDr1 || c.Dr2 != armedDr2 || c.Dr3 != armedDr3)
                FlushTlb();
        }
        watchArmed = watch;
        armedDr7 = dr7;
        armedDr0 = c.Dr0; armedDr1 = c.Dr1; armedDr2 = c.Dr2; armedDr3 = c.Dr3;
        watchHits = 0;
    }

    /// <summary>DR6 B bits of the instruction breakpoints at <paramref name="rip"/> (0: none, or RF set).</summary>
    private ulong InstructionBreakpoints(CpuState c, ulong rip)
    {
        if ((c.FlagsRest & CpuState.FlagRf) != 0) return 0;
        ulong dr7 = c.Dr7, hits = 0;
        for (int i = 0; i < 4; i++)
            if (BpEnabled(dr7, i) && BpType(dr7, i) == 0 && c.Dr(i) == rip) hits |= 1UL << i;
        return hits;
    }

    /// <summary>Whether a page holds a watched address (its accesses must take the slow path).</summary>
    private bool IsWatchedPage(ulong vpn)
    {
        var c = cpu;
        ulong dr7 = c.Dr7;
        for (int i = 0; i < 4; i++)
        {
            if (!BpEnabled(dr7, i) || (BpType(dr7, i) & 1) == 0) continue;
            ulong a = c.Dr(i) & ~(BpLength(dr7, i) - 1);
            if ((a >> MachineMemory.PageShift) == vpn || ((a + BpLength(dr7, i) - 1) >> MachineMemory.PageShift) == vpn) return true;
        }
        return false;
    }

    /// <summary>Records the data breakpoints an access of <paramref name="size"/> bytes at <paramref name="va"/> hits.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void CheckWatch(ulong va, int size, bool write)
    {
        var c = cpu;
        ulong dr7 = c.Dr7;
        for (int i = 0; i < 4; i++)
        {
            if (!BpEnabled(dr7, i)) continue;
            int type = BpType(dr7, i);
            if (type == 1 ? !write : type != 3) continue;
            ulong len = BpLength(dr7, i);
            ulong a = c.Dr(i) & ~(len - 1);
            if (va < a + len && a < va + (ulong)size) watchHits |= 1UL << i;
        }
    }
}
