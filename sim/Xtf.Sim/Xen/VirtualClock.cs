namespace Xtf.Sim.Xen;

/// <summary>
/// Xen system time in nanoseconds, advanced only by guest instructions executed and by idle
/// skips to the next timer. Never the wall clock.
/// </summary>
public sealed class VirtualClock
{
    /// <summary>System time when dom0 starts: Xen's boot on QEMU took about 1.9 s before dom0 ran.</summary>
    public const ulong BootTime = 1_900_000_000;

    public VirtualClock(ulong nsPerInstruction = 1) => NsPerInstruction = nsPerInstruction;

    public ulong Now { get; private set; } = BootTime;
    public ulong NsPerInstruction { get; }

    public void AdvanceInstructions(long count)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count));
        Now += (ulong)count * NsPerInstruction;
    }

    /// <summary>Moves time forward to <paramref name="deadline"/> (idle); never backward.</summary>
    public void AdvanceTo(ulong deadline)
    {
        if (deadline > Now) Now = deadline;
    }

    /// <summary>TSC at 1 GHz, from system time (deterministic).</summary>
    public ulong Tsc => Now;
}

/// <summary>SplitMix64: small, seeded, and the same on every machine.</summary>
public sealed class SeededRandom(ulong seed)
{
    private ulong state = seed;

    public ulong Next()
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A value in [0, bound).</summary>
    public int Below(int bound) => bound <= 1 ? 0 : (int)(Next() % (ulong)bound);
}
