using System.Diagnostics;
using Xtf.Hosting;
using Xtf.Sim.Builder;

namespace Xtf.Sim;

/// <summary>Boots kernels on the deterministic simulator; the transcript has real Xen's serial-log shape.</summary>
public sealed class SimHost : ITestHost
{
    /// <exception cref="HostException">The options ask for a machine the simulator does not model (see <see cref="MachineProfile.MinMemoryMiB"/>).</exception>
    public SimHost(SimOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.MemoryMiB < MachineProfile.MinMemoryMiB || options.MemoryMiB > MachineProfile.MaxMemoryMiB)
            throw new HostException($"--memory {options.MemoryMiB}: the simulator models {MachineProfile.MinMemoryMiB} to {MachineProfile.MaxMemoryMiB} MiB");
        Options = options;
    }


    public SimOptions Options { get; }
    public string Name => "sim";

    public Task<Transcript> BootAsync(BootRequest request, CancellationToken cancellation = default) =>
        Task.Run(() => Boot(request), cancellation);

    public Transcript Boot(BootRequest request)
    {
        var o = Options with
        {
            Vcpus = Math.Max(1, request.Vcpus),
            Dom0CommandLine = request.Dom0CommandLine ?? Options.Dom0CommandLine,
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
