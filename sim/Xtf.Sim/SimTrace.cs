using System.Security.Cryptography;
using System.Text;

namespace Xtf.Sim;

/// <summary>
/// What a simulated run did, in order: console bytes, hypercalls with their results, exceptions,
/// events, scheduling and shutdown. Its SHA-256 is the run's fingerprint: the same seed and image
/// give the same hash on any machine.
/// </summary>
public sealed class SimTrace
{
    private readonly StringBuilder text = new();
    private readonly IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private int lines;
    private long bytes;
    private string? finalHash;

    /// <summary>Keep the readable text (costs memory); the hash is always computed.</summary>
    public bool KeepText { get; init; } = true;

    /// <summary>
    /// The run's meter: once the trace passes <see cref="Hosting.GuestLimits.TraceBytes"/> (counted as text,
    /// kept or not) it learns that the trace limit was passed, and no more text is kept; the hash still
    /// covers every line. Null: no limit (rigs that drive the hypervisor by hand).
    /// </summary>
    public RunMeter? Meter { get; init; }

    public string Text => text.ToString();
    public int Lines => lines;

    /// <summary>Characters of trace text so far (newlines included), kept or not.</summary>
    public long Bytes => bytes;

    public string Hash => finalHash ??= Convert.ToHexString(hash.GetHashAndReset()).ToLowerInvariant();

    private void Add(string line)
    {
        if (finalHash is not null) throw new InvalidOperationException("trace already hashed");
        hash.AppendData(Encoding.UTF8.GetBytes(line + "\n"));
        lines++;
        bytes += line.Length + 1;
        if (Meter is { } m && bytes > m.Limits.TraceBytes)
        {
            m.Pass(m.Limits.TracePassed);
            return;
        }
        if (KeepText) text.Append(line).Append('\n');
    }

    public void Hypercall(int vcpu, ulong nr, ulong a1, ulong a2, ulong a3, long? rc) =>
        Add($"v{vcpu} hypercall {nr}({a1:x}, {a2:x}, {a3:x}) = {(rc is { } r ? r.ToString() : "-")}");

    public void Console(ReadOnlySpan<byte> bytes) => Add("console " + Convert.ToHexString(bytes));
    public void Exception(int vcpu, int vector, uint? error, ulong rip, string? detail) =>
        Add($"v{vcpu} exception {vector}{(error is { } e ? $"[{e:x}]" : "")} at {rip:x}{(detail is null ? "" : " " + detail)}");
    public void Mode(int vcpu, string change, ulong rip) => Add($"v{vcpu} {change} at {rip:x}");
    public void Upcall(int vcpu, ulong rip) => Add($"v{vcpu} upcall at {rip:x}");
    public void Event(int port, int vcpu) => Add($"event {port} -> v{vcpu}");
    public void Schedule(int vcpu, ulong now) => Add($"schedule v{vcpu} at {now}");
    public void Timer(int vcpu, string which, ulong now) => Add($"v{vcpu} timer {which} at {now}");
    public void Shutdown(int code) => Add($"shutdown {code}");
    public void Note(string what) => Add(what);
}
