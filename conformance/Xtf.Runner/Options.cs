using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Xtf.Runner;

/// <summary>A bad command line: reported as one line naming the command, exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>
/// The kinds of option the xtf commands declare (System.CommandLine symbols). Each checks its value
/// while the command line is parsed and says what it wants in a message that names the option.
/// Every command builds its own instances, so an option belongs to the commands that declare it.
/// </summary>
internal static class CommandOptions
{
    /// <summary>One of a fixed set of words (completed by the shell).</summary>
    public static Option<string> Choice(string name, string description, string fallback, params string[] values)
    {
        var option = new Option<string>(name)
        {
            Description = description,
            HelpName = string.Join('|', values),
            DefaultValueFactory = _ => fallback,
            CustomParser = r => Parse(r, name, (string text, out string v) => values.Contains(v = text, StringComparer.Ordinal), Words(values), out string v) ? v : fallback,
        };
        option.CompletionSources.Add(values);
        return option;
    }

    /// <summary>A whole number from <paramref name="min"/> to <paramref name="max"/>.</summary>
    public static Option<int> WholeNumber(string name, string description, int fallback, int min, int max, string helpName = "N") => new(name)
    {
        Description = description,
        HelpName = helpName,
        DefaultValueFactory = _ => fallback,
        CustomParser = r => Parse(r, name, WholeNumberFrom(min, max), $"a whole number from {min} to {max}", out int v) ? v : fallback,
    };

    /// <summary>A whole number from <paramref name="min"/> to <paramref name="max"/>, or nothing when absent.</summary>
    public static Option<int?> OptionalWholeNumber(string name, string description, int min, int max, string helpName = "N") => new(name)
    {
        Description = description,
        HelpName = helpName,
        CustomParser = r => Parse(r, name, WholeNumberFrom(min, max), $"a whole number from {min} to {max}", out int v) ? v : null,
    };

    /// <summary>A number of seconds: more than 0, at most <paramref name="max"/>.</summary>
    public static Option<double> Seconds(string name, string description, double fallback, double max = 3600) => new(name)
    {
        Description = description,
        HelpName = "SECONDS",
        DefaultValueFactory = _ => fallback,
        CustomParser = r => Parse(r, name, PositiveUpTo(max),
            $"a number of seconds greater than 0 and at most {max.ToString(CultureInfo.InvariantCulture)}", out double v) ? v : fallback,
    };

    /// <summary>A positive number (a ratio, a limit) below <paramref name="max"/>.</summary>
    public static Option<double> Positive(string name, string description, double fallback, double max = 1e6) => new(name)
    {
        Description = description,
        HelpName = "X",
        DefaultValueFactory = _ => fallback,
        CustomParser = r => Parse(r, name, PositiveUpTo(max), "a positive number", out double v) ? v : fallback,
    };

    /// <summary>A 64-bit seed: decimal or 0x hex; nothing when absent (the default is shown in hex in the description).</summary>
    public static Option<ulong?> Seed(string name, string description, ulong fallback) => new(name)
    {
        Description = $"{description} [default: 0x{fallback:x}]",
        HelpName = "N",
        CustomParser = r => Parse(r, name, TryParseNumber, "a number (decimal or 0x hex)", out ulong v) ? v : null,
    };

    /// <summary>A positive 64-bit count.</summary>
    public static Option<long> Count(string name, string description, long fallback, string what) => new(name)
    {
        Description = description,
        HelpName = "N",
        DefaultValueFactory = _ => fallback,
        CustomParser = r => Parse(r, name, (string text, out long v) => long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out v) && v > 0,
            $"a positive number of {what}", out long v) ? v : fallback,
    };

    /// <summary>Free text (a path, a command line), or nothing when absent.</summary>
    public static Option<string?> Text(string name, string description, string helpName, params string[] aliases) => new(name, aliases)
    {
        Description = description,
        HelpName = helpName,
    };

    /// <summary>Free text with a default.</summary>
    public static Option<string> TextWithDefault(string name, string description, string helpName, string fallback, params string[] aliases) => new(name, aliases)
    {
        Description = description,
        HelpName = helpName,
        DefaultValueFactory = _ => fallback,
    };

    /// <summary>An option that takes no value.</summary>
    public static Option<bool> Flag(string name, string description) => new(name)
    {
        Description = description,
        Arity = ArgumentArity.Zero,
    };

    /// <summary>Positional words (test globs, folders). A word that starts with '-' is an option this command does not have.</summary>
    public static Argument<string[]> Words(string name, string description)
    {
        var words = new Argument<string[]>(name) { Description = description, Arity = ArgumentArity.ZeroOrMore };
        words.Validators.Add(r =>
        {
            if (r.Tokens.FirstOrDefault(t => LooksLikeOption(t.Value)) is { } t) r.AddError($"unknown option {t.Value}");
        });
        return words;
    }

    /// <summary>-x or --xyz: an option's name, not a word.</summary>
    public static bool LooksLikeOption(string word) => word.Length > 1 && word[0] == '-';

    /// <summary>An optional value of a structured kind (a shard, a replay target), or nothing when absent.</summary>
    public static Option<T?> Optional<T>(string name, string description, string helpName, TryParser<T> parse, string rule) where T : struct => new(name)
    {
        Description = description,
        HelpName = helpName,
        CustomParser = r => Parse(r, name, parse, rule, out T v) ? v : null,
    };

    /// <summary>Decimal, or hex with 0x.</summary>
    public static bool TryParseNumber(string text, out ulong value)
    {
        bool hex = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase);
        return ulong.TryParse(hex ? text[2..] : text, hex ? NumberStyles.HexNumber : NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    public delegate bool TryParser<T>(string text, out T value);

    /// <summary>The option's value, parsed; false and an error naming the option and the rule when it does not parse.</summary>
    private static bool Parse<T>(ArgumentResult r, string name, TryParser<T> parse, string rule, out T value)
    {
        value = default!;
        if (r.Tokens.Count == 0) return false;
        string text = r.Tokens[^1].Value;
        if (parse(text, out value)) return true;
        r.AddError($"{name} must be {rule}, not '{text}'");
        return false;
    }

    private static TryParser<int> WholeNumberFrom(int min, int max) => (string text, out int v) =>
        int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out v) && v >= min && v <= max;

    private static TryParser<double> PositiveUpTo(double max) => (string text, out double v) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out v) && double.IsFinite(v) && v > 0 && v <= max;

    private static string Words(string[] values) => values.Length == 1 ? values[0] : string.Join(", ", values[..^1]) + " or " + values[^1];
}
