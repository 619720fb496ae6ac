namespace Xtf.Runner;

/// <summary>A bad command line: reported as one line, exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>Parsed command-line options: --name value, --name=value, flags and positional words.</summary>
public sealed class Options
{
    private readonly Dictionary<string, string> values = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<string>> all = new(StringComparer.Ordinal);
    private readonly HashSet<string> flags = new(StringComparer.Ordinal);

    public List<string> Positional { get; } = new();

    public static Options Parse(IReadOnlyList<string> args, ISet<string> valued, ISet<string> flagNames)
    {
        var o = new Options();
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            if (arg == "--") { o.Positional.AddRange(args.Skip(i + 1)); break; }
            if (arg.Length == 2 && arg[0] == '-' && arg[1] != '-') arg = "-" + arg;   // -o is --o
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
            {
                if (arg.StartsWith('-') && arg.Length > 1) throw new UsageException($"unknown option {arg}");
                o.Positional.Add(arg);
                continue;
            }
            string name = arg[2..];
            string? inline = null;
            int eq = name.IndexOf('=');
            if (eq >= 0) { inline = name[(eq + 1)..]; name = name[..eq]; }
            if (valued.Contains(name))
            {
                string value = inline ?? (i + 1 < args.Count ? args[++i] : throw new UsageException($"--{name} needs a value"));
                o.values[name] = value;
                if (!o.all.TryGetValue(name, out var list)) o.all[name] = list = new List<string>();
                list.Add(value);
            }
            else if (flagNames.Contains(name))
            {
                if (inline is not null) throw new UsageException($"--{name} takes no value");
                o.flags.Add(name);
            }
            else throw new UsageException($"unknown option --{name}");
        }
        return o;
    }

    public string? Get(string name) => values.GetValueOrDefault(name);
    public bool Has(string name) => flags.Contains(name);
    /// <summary>Every value of a repeated option, in order (the last one is what <see cref="Get"/> returns).</summary>
    public IReadOnlyList<string> GetAll(string name) => all.TryGetValue(name, out var list) ? list : [];

    public int GetInt(string name, int fallback, int min, int max)
    {
        var s = Get(name);
        if (s is null) return fallback;
        if (!int.TryParse(s, out int v) || v < min || v > max)
            throw new UsageException($"--{name} must be a whole number from {min} to {max}, not '{s}'");
        return v;
    }

    public double GetSeconds(string name, double fallback)
    {
        var s = Get(name);
        if (s is null) return fallback;
        if (!double.TryParse(s, System.Globalization.CultureInfo.InvariantCulture, out double v) || v <= 0 || v > 3600)
            throw new UsageException($"--{name} must be a number of seconds from 0 to 3600, not '{s}'");
        return v;
    }
}
