using System.Globalization;
using System.Text;

namespace Xtf.Fuzz;

/// <summary>What one script step does: a hypercall, or a guest write to its own event bits in shared_info.</summary>
public enum StepKind : byte
{
    Hypercall = 0,
    /// <summary>The guest sets a port's mask bit (Args[0] = port).</summary>
    MaskPort = 1,
    /// <summary>The guest clears a port's mask bit directly, without EVTCHNOP_unmask.</summary>
    ClearMask = 2,
    /// <summary>The guest clears a port's pending bit (acknowledging it).</summary>
    ClearPending = 3,
}

/// <summary>
/// One step of a fuzz sequence: a hypercall number and five arguments. An argument whose bit is set
/// in <see cref="BufferArgs"/> is an offset into the step's scratch buffer, which the kernel fills
/// with <see cref="Buffer"/> (after zeroing <see cref="ZeroBytes"/> bytes) before the call; the
/// first <see cref="ReportBytes"/> bytes of that buffer are printed when the call changed them.
/// </summary>
public sealed record FuzzStep
{
    public const int MaxBuffer = 256;
    public const int MaxZero = 8192;

    public StepKind Kind { get; init; }
    public int Hypercall { get; init; }
    public ulong[] Args { get; init; } = new ulong[5];
    public byte BufferArgs { get; init; }
    public byte[] Buffer { get; init; } = [];
    public int ZeroBytes { get; init; }
    public int ReportBytes { get; init; }

    public bool IsBufferArg(int i) => (BufferArgs & (1 << i)) != 0;

    public static FuzzStep Call(int hypercall, params FuzzArg[] args)
    {
        var values = new ulong[5];
        byte bufferArgs = 0;
        for (int i = 0; i < args.Length; i++)
        {
            values[i] = args[i].Value;
            if (args[i].InBuffer) bufferArgs |= (byte)(1 << i);
        }
        return new FuzzStep { Kind = StepKind.Hypercall, Hypercall = hypercall, Args = values, BufferArgs = bufferArgs };
    }

    public static FuzzStep Guest(StepKind kind, int port) =>
        new() { Kind = kind, Args = [(ulong)port, 0, 0, 0, 0] };

    // ------------------------------------------------------------ text form (corpus files, replay)

    /// <summary>One line: <c>hc NR ARG... [buf=HEX] [zero=N] [report=N]</c>, or <c>mask|unmaskbit|clearpending PORT</c>. A buffer argument is <c>&amp;OFFSET</c>.</summary>
    public override string ToString()
    {
        switch (Kind)
        {
            case StepKind.MaskPort: return $"mask {Args[0]}";
            case StepKind.ClearMask: return $"unmaskbit {Args[0]}";
            case StepKind.ClearPending: return $"clearpending {Args[0]}";
        }
        var sb = new StringBuilder($"hc {Hypercall}");
        int last = 4;
        while (last >= 0 && Args[last] == 0 && !IsBufferArg(last)) last--;
        for (int i = 0; i <= last; i++) sb.Append(' ').Append(IsBufferArg(i) ? $"&{Args[i]}" : $"0x{Args[i]:x}");
        if (Buffer.Length > 0) sb.Append(" buf=").Append(Convert.ToHexString(Buffer).ToLowerInvariant());
        if (ZeroBytes > 0) sb.Append(" zero=").Append(ZeroBytes);
        if (ReportBytes > 0) sb.Append(" report=").Append(ReportBytes);
        return sb.ToString();
    }

    public static FuzzStep Parse(string line)
    {
        var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (words.Length == 0) throw new FormatException("empty step");
        int Port() => words.Length == 2 && int.TryParse(words[1], out int p) && p is >= 0 and < 4096
            ? p : throw new FormatException($"'{line}': expected one port 0..4095");
        switch (words[0])
        {
            case "mask": return Guest(StepKind.MaskPort, Port());
            case "unmaskbit": return Guest(StepKind.ClearMask, Port());
            case "clearpending": return Guest(StepKind.ClearPending, Port());
            case "hc": break;
            default: throw new FormatException($"'{line}': unknown step '{words[0]}'");
        }
        if (words.Length < 2 || !int.TryParse(words[1], out int nr) || nr is < 0 or >= 128)
            throw new FormatException($"'{line}': expected a hypercall number 0..127");
        var args = new ulong[5];
        byte bufferArgs = 0;
        int n = 0;
        byte[] buffer = [];
        int zero = 0, report = 0;
        foreach (var w in words.Skip(2))
        {
            if (w.StartsWith("buf=", StringComparison.Ordinal)) buffer = Convert.FromHexString(w[4..]);
            else if (w.StartsWith("zero=", StringComparison.Ordinal)) zero = int.Parse(w[5..], CultureInfo.InvariantCulture);
            else if (w.StartsWith("report=", StringComparison.Ordinal)) report = int.Parse(w[7..], CultureInfo.InvariantCulture);
            else
            {
                if (n >= 5) throw new FormatException($"'{line}': more than 5 arguments");
                if (w.StartsWith('&')) { args[n] = ulong.Parse(w[1..], CultureInfo.InvariantCulture); bufferArgs |= (byte)(1 << n); }
                else if (w.StartsWith("0x", StringComparison.Ordinal)) args[n] = ulong.Parse(w[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                else throw new FormatException($"'{line}': argument '{w}' is neither 0xHEX nor &OFFSET");
                n++;
            }
        }
        var step = new FuzzStep { Hypercall = nr, Args = args, BufferArgs = bufferArgs, Buffer = buffer, ZeroBytes = zero, ReportBytes = report };
        step.Validate();
        return step;
    }

    /// <summary>Limits the kernel relies on; a generator or a corpus file that breaks them is refused.</summary>
    public void Validate()
    {
        if (Args.Length != 5) throw new FormatException("a step has 5 arguments");
        if (Buffer.Length > MaxBuffer) throw new FormatException($"buffer above {MaxBuffer} bytes");
        if (ZeroBytes is < 0 or > MaxZero) throw new FormatException($"zero= must be 0..{MaxZero}");
        if (ReportBytes < 0 || ReportBytes > Math.Max(Buffer.Length, ZeroBytes) || ReportBytes > 64) throw new FormatException("report= beyond the buffer or above 64");
        for (int i = 0; i < 5; i++)
            if (IsBufferArg(i) && Args[i] >= MaxZero) throw new FormatException("a buffer offset beyond the scratch area");
    }
}

/// <summary>An argument: a literal value, or an offset into the step's scratch buffer.</summary>
public readonly record struct FuzzArg(ulong Value, bool InBuffer)
{
    public static FuzzArg Lit(long value) => new(unchecked((ulong)value), false);
    public static FuzzArg Lit(ulong value) => new(value, false);
    public static FuzzArg Buf(int offset = 0) => new((ulong)offset, true);
    public static implicit operator FuzzArg(long value) => Lit(value);
    public static implicit operator FuzzArg(int value) => Lit(value);
}

/// <summary>A sequence of steps that runs from a reset state.</summary>
public sealed record FuzzCase(IReadOnlyList<FuzzStep> Steps)
{
    public override string ToString() => string.Join("\n", Steps.Select(s => s.ToString()));

    public static FuzzCase Parse(string text)
    {
        var steps = new List<FuzzStep>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            steps.Add(FuzzStep.Parse(line));
        }
        return new FuzzCase(steps);
    }
}
