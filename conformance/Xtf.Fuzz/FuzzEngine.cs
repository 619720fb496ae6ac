using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Xtf.Hosting;
using Xtf.Sim;
using Xtf.Sim.Xen;

namespace Xtf.Fuzz;

/// <summary>The record lines one boot of the script kernel printed, by global step index.</summary>
public sealed record BatchRun(string Host, string?[] Records, string? Problem, TimeSpan Elapsed, string? TraceHash, Transcript? Transcript)
{
    /// <summary>SHA-256 of every record line, in order: what two runs of the same batch must share.</summary>
    public string RecordHash => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join("\n", Records)))).ToLowerInvariant();

    /// <summary>Simulator runs only: invariants of the simulator's own state broken around a hypercall (<see cref="HypervisorInvariants"/>).</summary>
    public IReadOnlyList<InternalViolation> Internal { get; init; } = [];
}

/// <summary>What disagreed, at which step of which case.</summary>
public sealed record Finding(string Kind, int Case, int Step, string Expected, string Actual)
{
    public override string ToString() => $"{Kind} at case {Case} step {Step}: expected '{Expected}', got '{Actual}'";
}

/// <summary>
/// Runs batches of fuzz cases through the script kernel on a host, checks them against the model,
/// the simulator's invariants and each other, and shrinks a failing case to its shortest form.
/// </summary>
public static class FuzzEngine
{
    /// <summary>Runs a batch on the simulator. The simulator seed only chooses interleavings; one vCPU runs, so it does not change the records.</summary>
    public static BatchRun RunSim(IReadOnlyList<FuzzCase> cases, PlantedBug bug = PlantedBug.None, ulong simSeed = SimOptions.DefaultSeed)
    {
        // A one-step case after the batch, so the kernel's reset also runs after the last case and the
        // invariant checker sees what closing that case's ports does (its record is not part of the run).
        var image = ScriptKernel.Build([.. cases, Sentinel], out ulong indexAddress, out ulong resetArgument);
        var invariants = new HypervisorInvariants(indexAddress, resetArgument);
        var host = new SimHost(new SimOptions { Seed = simSeed, KeepTraceText = false, Interposer = PlantedBugs.Interposer(bug), InstructionLimit = 4_000_000_000, Observer = invariants });
        var t = host.Boot(new BootRequest(image.Name, image.Bytes, ScriptKernel.Vcpus));
        return Parse("sim", t, cases) with { Internal = invariants.Violations };
    }

    private static readonly FuzzCase Sentinel = new([FuzzStep.Guest(StepKind.ClearPending, 0)]);

    public static async Task<BatchRun> RunHostAsync(ITestHost host, IReadOnlyList<FuzzCase> cases, TimeSpan? timeout = null, CancellationToken cancellation = default)
    {
        var image = ScriptKernel.Build(cases);
        var t = await host.BootAsync(new BootRequest(image.Name, image.Bytes, ScriptKernel.Vcpus, timeout), cancellation);
        return Parse(host.Name, t, cases);
    }

    /// <summary>Reads the record lines ("@INDEX:RC ...", possibly after console_io output) out of a transcript.</summary>
    public static BatchRun Parse(string host, Transcript t, IReadOnlyList<FuzzCase> cases)
    {
        int total = cases.Sum(c => c.Steps.Count);
        var records = new string?[total];
        bool finished = false;
        foreach (var line in t.Lines)
        {
            if (line.StartsWith("(XEN)", StringComparison.Ordinal)) continue;
            if (line.StartsWith("fuzz: ", StringComparison.Ordinal)) finished = true;
            int at = line.IndexOf('@');
            if (at < 0) continue;
            int colon = line.IndexOf(':', at);
            if (colon < 0 || !int.TryParse(line.AsSpan(at + 1, colon - at - 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int index)) continue;
            if (index >= 0 && index < total && records[index] is null) records[index] = line;
        }
        string? problem = null;
        int missing = records.Count(r => r is null);
        if (!finished || missing > 0)
            problem = $"{missing} of {total} records missing; boot ended {t.End}{(t.EndDetail is null ? "" : ": " + t.EndDetail)}";
        if (t.EndDetail?.Contains("simulator internal error", StringComparison.Ordinal) == true) problem = t.EndDetail;
        return new BatchRun(host, records, problem, t.Elapsed, t.TraceHash, t);
    }

    /// <summary>Compares a run with the model's prediction, and checks the guest-visible invariants of the run itself.</summary>
    public static List<Finding> Check(IReadOnlyList<FuzzCase> cases, BatchRun run, string kind = "model-vs-sim")
    {
        var expected = XenModel.Run(cases);
        var findings = new List<Finding>();
        int index = 0;
        for (int c = 0; c < cases.Count; c++)
        {
            for (int s = 0; s < cases[c].Steps.Count; s++, index++)
            {
                string actual = run.Records[index] ?? "(no record)";
                if (actual != expected[index])
                {
                    findings.Add(new Finding(kind, c, s, expected[index], actual));
                    index += cases[c].Steps.Count - s;
                    break;
                }
            }
        }
        findings.AddRange(Invariants(cases, run));
        findings.AddRange(InternalFindings(cases, run));
        if (run.Problem is not null && findings.Count == 0) findings.Add(new Finding("run", -1, -1, "every record", run.Problem));
        return findings;
    }

    /// <summary>Compares two hosts record by record (differential testing).</summary>
    public static List<Finding> Compare(IReadOnlyList<FuzzCase> cases, BatchRun a, BatchRun b)
    {
        var findings = new List<Finding>();
        int index = 0;
        for (int c = 0; c < cases.Count; c++)
            for (int s = 0; s < cases[c].Steps.Count; s++, index++)
                if (a.Records[index] != b.Records[index])
                {
                    findings.Add(new Finding($"{a.Host}-vs-{b.Host}", c, s, a.Records[index] ?? "(no record)", b.Records[index] ?? "(no record)"));
                    index += cases[c].Steps.Count - s;
                    break;
                }
        return findings;
    }

    /// <summary>
    /// Invariants that must hold after every step whatever the model says: a selector bit only for a
    /// word holding a pending unmasked port; VCPUOP_is_up and the runstate agree (offline ⇔ down).
    /// </summary>
    public static List<Finding> Invariants(IReadOnlyList<FuzzCase> cases, BatchRun run)
    {
        var findings = new List<Finding>();
        int index = 0;
        var pending = new ulong[64];
        var mask = new ulong[64];
        for (int c = 0; c < cases.Count; c++)
        {
            Array.Clear(pending);
            Array.Clear(mask);
            var isUp = new Dictionary<uint, bool>();
            var offline = new Dictionary<uint, bool>();
            for (int s = 0; s < cases[c].Steps.Count; s++, index++)
            {
                var r = StepRecord.TryParse(run.Records[index]);
                if (r is null) continue;
                foreach (var (w, v) in r.Pending) pending[w] = v;
                foreach (var (w, v) in r.Mask) mask[w] = v;
                for (int vcpu = 0; vcpu < r.Selector.Length; vcpu++)
                    for (int w = 0; w < 64; w++)
                        if ((r.Selector[vcpu] & (1UL << w)) != 0 && (pending[w] & ~mask[w]) == 0)
                            findings.Add(new Finding("invariant: selector without a pending unmasked port", c, s, $"word {w} has a pending unmasked port", run.Records[index]!));
                var step = cases[c].Steps[s];
                if (step.Kind == StepKind.Hypercall && step.Hypercall == (int)Abi.Hypercall.VcpuOp && step.Args[1] < ScriptKernel.Vcpus)
                {
                    uint vcpu = (uint)step.Args[1];
                    if (step.Args[0] == (ulong)Abi.VcpuOp.IsUp && r.Rc is 0 or 1) isUp[vcpu] = r.Rc == 1;
                    if (step.Args[0] == (ulong)Abi.VcpuOp.GetRunstateInfo && r.Rc == 0 && step.IsBufferArg(2))
                        offline[vcpu] = r.Buffer is { Length: 4 } b ? BitConverter.ToInt32(b) == (int)Abi.RunState.Offline : false;
                    if (isUp.TryGetValue(vcpu, out bool up) && offline.TryGetValue(vcpu, out bool off) && up == off)
                        findings.Add(new Finding("invariant: is_up disagrees with the runstate", c, s, $"is_up {(up ? 1 : 0)} with runstate {(off ? "offline" : "not offline")}", run.Records[index]!));
                }
                if (findings.Count > 0) return findings;
            }
        }
        return findings;
    }

    /// <summary>
    /// The simulator's own invariants (<see cref="HypervisorInvariants"/>), first broken one per case,
    /// as findings of kind "invariant: RULE"; one before the first case is a run problem (case -1).
    /// </summary>
    public static List<Finding> InternalFindings(IReadOnlyList<FuzzCase> cases, BatchRun run)
    {
        var findings = new List<Finding>();
        var seen = new HashSet<int>();
        foreach (var v in run.Internal)
        {
            var (c, s) = Locate(cases, v.StepIndex);
            if (c < 0) { findings.Add(new Finding("invariant: " + v.Rule, -1, -1, "simulator invariants hold", v.Detail)); continue; }
            if (seen.Add(c))
                findings.Add(new Finding("invariant: " + v.Rule, c, s, v.Rule.StartsWith("is_up", StringComparison.Ordinal) ? "is_up and runstate agree" : "no " + v.Rule, v.Detail));
        }
        return findings;
    }

    /// <summary>The case and step of a global step index; (-1, -1) outside the batch.</summary>
    private static (int Case, int Step) Locate(IReadOnlyList<FuzzCase> cases, int index)
    {
        if (index < 0) return (-1, -1);
        for (int c = 0; c < cases.Count; c++)
        {
            if (index < cases[c].Steps.Count) return (c, index);
            index -= cases[c].Steps.Count;
        }
        return (-1, -1);
    }

    // ------------------------------------------------------------ shrinking

    /// <summary>
    /// Shrinks a failing case. Each round builds every candidate at once and runs them all in one
    /// boot: the case with one step removed, with two steps removed, and with one port number
    /// replaced by a smaller one everywhere (removing an allocation renumbers the ports after it).
    /// The round keeps the smallest candidate that still fails (fewest steps, then smallest port
    /// numbers); it stops at a fixed point or after <paramref name="maxRounds"/> boots.
    /// </summary>
    public static FuzzCase Shrink(FuzzCase failing, Func<IReadOnlyList<FuzzCase>, bool[]> failsEach, int maxRounds = 40)
    {
        var current = failing;
        for (int round = 0; round < maxRounds; round++)
        {
            var candidates = new List<FuzzCase>();
            int n = current.Steps.Count;
            for (int i = 0; i < n && n > 1; i++)
                candidates.Add(new FuzzCase(current.Steps.Where((_, k) => k != i).ToList()));
            for (int i = 0; i < n && n > 2 && n <= 12; i++)
                for (int j = i + 1; j < n; j++)
                    candidates.Add(new FuzzCase(current.Steps.Where((_, k) => k != i && k != j).ToList()));
            foreach (uint v in PortValues(current).Where(v => v >= 2))
                for (uint w = 1; w < v && w <= 8; w++)
                    candidates.Add(new FuzzCase(current.Steps.Select(st => Renumber(st, v, w)).ToList()));
            if (candidates.Count == 0) break;
            var fails = failsEach(candidates);
            int best = -1;
            for (int k = 0; k < candidates.Count; k++)
                if (fails[k] && Smaller(candidates[k], best < 0 ? current : candidates[best])) best = k;
            if (best < 0) break;
            current = candidates[best];
        }
        return current;
    }

    private static bool Smaller(FuzzCase a, FuzzCase b) =>
        a.Steps.Count < b.Steps.Count || (a.Steps.Count == b.Steps.Count && PortWeight(a) < PortWeight(b));

    private static long PortWeight(FuzzCase c) => PortWords(c).Sum(x => (long)x);

    /// <summary>Port-like numbers (1..4095) in a case: guest bit-step ports and 4-byte words of event-channel buffers.</summary>
    private static IEnumerable<uint> PortWords(FuzzCase c)
    {
        foreach (var s in c.Steps)
        {
            if (s.Kind != StepKind.Hypercall) { yield return (uint)s.Args[0]; continue; }
            if (s.Hypercall != (int)Abi.Hypercall.EventChannelOp) continue;
            for (int o = 0; o + 4 <= s.Buffer.Length; o += 4)
            {
                uint v = BitConverter.ToUInt32(s.Buffer, o);
                if (v is >= 1 and < 4096) yield return v;
            }
        }
    }

    private static IEnumerable<uint> PortValues(FuzzCase c) => PortWords(c).Distinct().Order();

    private static FuzzStep Renumber(FuzzStep s, uint from, uint to)
    {
        if (s.Kind != StepKind.Hypercall)
            return s.Args[0] == from ? s with { Args = [to, s.Args[1], s.Args[2], s.Args[3], s.Args[4]] } : s;
        if (s.Hypercall != (int)Abi.Hypercall.EventChannelOp) return s;
        var b = (byte[])s.Buffer.Clone();
        for (int o = 0; o + 4 <= b.Length; o += 4)
            if (BitConverter.ToUInt32(b, o) == from) BitConverter.GetBytes(to).CopyTo(b, o);
        return s with { Buffer = b };
    }

    /// <summary>For each case, whether it fails the model check on its own (all cases in one simulator boot).</summary>
    public static bool[] FailsOnSim(IReadOnlyList<FuzzCase> cases, PlantedBug bug)
    {
        var run = RunSim(cases, bug);
        var expected = XenModel.Run(cases);
        var result = new bool[cases.Count];
        int index = 0;
        for (int c = 0; c < cases.Count; c++)
            for (int s = 0; s < cases[c].Steps.Count; s++, index++)
                if (run.Records[index] != expected[index]) result[c] = true;
        var invariantFailures = Invariants(cases, run);
        invariantFailures.AddRange(InternalFindings(cases, run));
        foreach (var f in invariantFailures) if (f.Case >= 0) result[f.Case] = true;
        return result;
    }
}
