using Xtf.Hosting;

namespace Xtf.Sim;

/// <summary>
/// What one simulated run has used of its instruction budget and its <see cref="GuestLimits"/>, and the
/// first limit it passed. The parts of the machine that spend (the console, the trace, the serial log)
/// report here; the run loop stops the run once <see cref="MustStop"/>. Nothing here reads a clock.
/// </summary>
public sealed class RunMeter(GuestLimits limits, long instructionLimit)
{
    private ConsoleCount console;

    /// <summary>A meter that never stops a run on budget (for rigs that drive the hypervisor by hand).</summary>
    public static RunMeter Unbudgeted() => new(GuestLimits.Default, long.MaxValue);

    public GuestLimits Limits => limits;
    public long InstructionLimit => instructionLimit;

    /// <summary>Guest instructions executed (the run loop keeps this current between slices).</summary>
    public long Executed { get; set; }

    /// <summary>Instructions' worth of hypervisor work charged to the budget (console output).</summary>
    public long Charged { get; private set; }

    /// <summary>The budget spent so far: what the guest executed and what its hypercalls were charged.</summary>
    public long Spent => Executed + Charged;

    public bool BudgetSpent => Spent >= instructionLimit;

    /// <summary>The message of the first limit passed; null while within every limit.</summary>
    public string? Passed { get; private set; }

    /// <summary>A limit was passed or the budget is spent: the run ends at the next chance (Xen's preemption points).</summary>
    public bool MustStop => Passed is not null || BudgetSpent;

    public ConsoleCount Console => console;

    public void Charge(long instructions)
    {
        if (instructions < 0) throw new ArgumentOutOfRangeException(nameof(instructions));
        Charged += instructions;
    }

    /// <summary>Records that a limit was passed; the first one stays.</summary>
    public void Pass(string message) => Passed ??= message;

    /// <summary>Counts guest console output; returns how many of <paramref name="bytes"/> fit, recording the limit passed when not all did.</summary>
    public int CountConsole(ReadOnlySpan<byte> bytes)
    {
        int n = console.Add(bytes, limits, out string? passed);
        if (passed is not null) Pass(passed);
        return n;
    }
}
