using System.Diagnostics;
using Xtf.Hosting;

namespace Xtf.Sim;

/// <summary>Boots kernels on the deterministic simulator; the transcript has real Xen's serial-log shape.</summary>
public sealed class SimHost(SimOptions options) : ITestHost
{
    public SimOptions Options { get; } = options;
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
