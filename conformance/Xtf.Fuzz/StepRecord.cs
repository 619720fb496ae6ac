using System.Globalization;

namespace Xtf.Fuzz;

/// <summary>
/// One record line of the script kernel, parsed: <c>@INDEX:RC [bHEX] [pW=V]... [mW=V]... [s0=V] [u0] [s1=V] [u1]</c>.
/// INDEX, W and V are hex; RC is the signed decimal return value; b is the reported buffer when
/// the call changed it; p/m are the pending and mask words that changed since the last record;
/// s and u are the selector and upcall_pending flags the step raised (the kernel clears them).
/// </summary>
public sealed record StepRecord(int Index, long Rc, byte[]? Buffer, (int Word, ulong Value)[] Pending, (int Word, ulong Value)[] Mask, ulong[] Selector, bool[] Upcall)
{
    public static StepRecord? TryParse(string? line)
    {
        if (line is null) return null;
        int at = line.IndexOf('@');
        if (at < 0) return null;
        var words = line[(at + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var head = words[0].Split(':');
        if (head.Length != 2 || !int.TryParse(head[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int index)
            || !long.TryParse(head[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long rc)) return null;
        byte[]? buffer = null;
        var pending = new List<(int, ulong)>();
        var mask = new List<(int, ulong)>();
        var sel = new ulong[ScriptKernel.Vcpus];
        var up = new bool[ScriptKernel.Vcpus];
        foreach (var w in words.Skip(1))
        {
            try
            {
                switch (w[0])
                {
                    case 'b': buffer = Convert.FromHexString(w[1..]); break;
                    case 'p' or 'm':
                    {
                        var kv = w[1..].Split('=');
                        var item = (int.Parse(kv[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture), ulong.Parse(kv[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                        (w[0] == 'p' ? pending : mask).Add(item);
                        break;
                    }
                    case 's': sel[w[1] - '0'] = ulong.Parse(w[3..], NumberStyles.HexNumber, CultureInfo.InvariantCulture); break;
                    case 'u': up[w[1] - '0'] = true; break;
                    default: return null;
                }
            }
            catch (Exception e) when (e is FormatException or OverflowException or IndexOutOfRangeException) { return null; }
        }
        return new StepRecord(index, rc, buffer, pending.ToArray(), mask.ToArray(), sel, up);
    }
}
