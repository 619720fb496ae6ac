using Xtf.Abi;
using Xtf.Guest;
using Xtf.Hosting;
using Xtf.Sim;
using Xtf.Sim.Xen;

namespace Xtf.Testing;

/// <summary>
/// A generated kernel run on the simulator (<see cref="SimMachine"/>) as dom0, with the hooks the
/// generator's tests need: every hypercall logged with its five arguments, argument registers poisoned
/// on return like a debug Xen (code that relies on them surviving a hypercall is caught), and optional
/// results for made-up hypercall numbers (≥ 50) that tests use to observe generated code.
/// </summary>
public sealed record SimRun(string Output, BootEnd End, ShutdownReason? Reason, string? Detail, long Steps, IReadOnlyList<HypercallRecord> Hypercalls)
{
    /// <summary>Enough for any generated unit kernel; a runaway ends as <see cref="BootEnd.Timeout"/>.</summary>
    public const long StepLimit = 20_000_000;

    /// <summary>Runs <paramref name="image"/> on one vCPU with the default seed and 512 MiB.</summary>
    public static SimRun Boot(KernelImage image, bool fillHypercallPage = true, Func<ulong, ulong[], long?>? foreignHypercall = null)
    {
        var r = SimMachine.Run(image.Bytes, new SimOptions
        {
            InstructionLimit = StepLimit,
            KeepTraceText = false,
            FillHypercallPage = fillHypercallPage,
            ForeignHypercall = foreignHypercall,
            PoisonHypercallArguments = true,
            LogHypercalls = true,
        });
        var serial = ConsoleProtocol.SplitLines(r.Serial);
        var guest = serial.Where(l => !ConsoleProtocol.IsXenLine(l)).ToList();
        string output = guest.Count == 0 ? "" : string.Join("\n", guest) + "\n";
        var reason = r.End == BootEnd.Shutdown ? (ShutdownReason?)ConsoleProtocol.ShutdownReason(serial) : null;
        return new SimRun(output, r.End, reason, r.Detail, r.Instructions, r.Hypercalls);
    }

    /// <summary>Why the run did not end in a shutdown (runaway, Xen panic, simulator error); null when it did.</summary>
    public string? Fault => End == BootEnd.Shutdown ? null : $"{End}: {Detail}";

    /// <summary>The guest's console lines, as the runner sees them without Xen's lines.</summary>
    public IReadOnlyList<string> Lines => Output.TrimEnd('\n').Split('\n');

    public string Result => Lines.LastOrDefault(l => l.StartsWith("Test result: ", StringComparison.Ordinal)) ?? "(no result)";
}
