using System.Diagnostics;
using Xtf.Hosting;
using Xtf.Sim.Builder;
using Xtf.Sim.Memory;

namespace Xtf.Sim;

/// <summary>Boots kernels on the deterministic simulator; the transcript has real Xen's serial-log shape.</summary>
public sealed class SimHost : ITestHost
{
    /// <exception cref="HostException">The options ask for a machine the simulator does not model (see <see cref="MachineProfile.MinMemoryMiB"/>).</exception>
    public SimHost(SimOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.MemoryMiB < MachineProfile.MinMemoryMiB || options.MemoryMiB > MaxMemoryMiB)
            throw new HostException($"--memory {options.MemoryMiB}: the simulator models {MachineProfile.MinMemoryMiB} to {MaxMemoryMiB} MiB");
        Options = options;
    }


    public SimOptions Options { get; }

    /// <summary>
    /// The largest --memory whose machine (RAM, with QEMU's hole below 4 GiB moving the rest above it)
    /// fits in <see cref="MachineMemory.MaxFrames"/>: 64512 MiB.
    /// </summary>
    public static int MaxMemoryMiB { get; } = MachineProfile.MaxMemoryMiBWithin(MachineMemory.MaxFrames);
    public string Name => "sim";

    /// <summary>What the Xen host adds to Xen's command line for a PVH dom0; the simulator prints the same.</summary>
    public const string PvhDom0CommandLine = "dom0=pvh dom0-iommu=none";

    private static string Join(string? a, string b) => string.IsNullOrWhiteSpace(a) ? b : a.Trim() + " " + b;

    public Task<Transcript> BootAsync(BootRequest request, CancellationToken cancellation = default) =>
        Task.Run(() => Boot(request), cancellation);

    public Transcript Boot(BootRequest request)
    {
        var o = Options with
        {
            Vcpus = Math.Max(1, request.Vcpus),
            Dom0CommandLine = request.Dom0CommandLine ?? Options.Dom0CommandLine,
            Pvh = request.Pvh,
            XenCommandLine = request.Pvh ? Join(Options.XenCommandLine, PvhDom0CommandLine) : Options.XenCommandLine,
        };
        var clock = Stopwatch.StartNew();
        var r = SimMachine.Run(request.Kernel, o);
        clock.Stop();
        return new Transcript(Name, request.Name, r.Serial, r.End, r.Detail, clock.Elapsed)
        {
            TraceHash = r.TraceHash,
            Trace = r.Trace,
            Seed = o.Seed,
            Instructions = r.Instructions,
        };
    }
}
