using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;

namespace Xtf.Runner;

/// <summary>
/// The xtf command tree (System.CommandLine): every command declares its own options and arguments,
/// so `xtf run --help` shows run's options only and an option another command has is refused.
/// A parse error becomes one line that names the command; tab completion goes through the
/// <c>[suggest]</c> directive and the script <c>xtf completion bash</c> prints.
/// </summary>
internal static class XtfCommandLine
{
    /// <summary>No response files: a word starting with '@' is a word.</summary>
    public static readonly ParserConfiguration Parser = new() { ResponseFileTokenReplacer = null };

    public static RootCommand Build(TextWriter stdout, TextWriter stderr)
    {
        var root = new RootCommand("xtf: build, run and report Xen conformance tests (XTF-style) on the simulator and on real Xen")
        {
            HelpName = "xtf",   // also when the runner is hosted in-process (tests)
        };
        foreach (var version in root.Options.OfType<VersionOption>().ToList()) root.Options.Remove(version);   // xtf --version is answered before parsing
        var notes = new Dictionary<Command, string>();
        void Add(Command command, string exitCodes)
        {
            root.Subcommands.Add(command);
            notes[command] = exitCodes;
        }
        const string usage = "2 bad usage or input (one line on stderr), 1 internal error";
        Add(XtfCli.ListCommand(stdout), "Exit codes: 0 listed; 2 no test matches, or bad usage; 1 internal error.");
        Add(XtfCli.RunCommand(stdout, stderr), $"Exit codes (worst result wins): 0 SUCCESS, 3 SKIP, 4 ERROR, 5 FAILURE, 6 CRASH, 7 DIVERGED;\n  {usage};\n  128 + signal when interrupted (130 SIGINT, 143 SIGTERM, 129 SIGHUP or a parent that died).");
        Add(XtfCli.BuildCommand(stdout), $"Exit codes: 0 written; {usage}.");
        Add(ReportCommands.ReportCommand(stdout, stderr), $"Exit codes: 0 written; {ReportCommands.AllureMissing} written without the Allure HTML (allure or node missing, or allure failed);\n  {ReportCommands.IncompleteRun} a run it read did not complete (wins over {ReportCommands.AllureMissing}); {usage}.");
        Add(ReportCommands.CompareCommand(stdout, stderr), $"Exit codes: 0 nothing regressed; {ReportCommands.Regressed} a new failure or a changed transcript (or an internal error);\n  {ReportCommands.IncompleteRun} a run did not complete; 2 bad usage or input (one line on stderr).");
        Add(Doctor.Command(stdout), "Exit codes: 0 ready for real Xen; 1 not ready (each gap is printed with its fix).");
        Add(Bench.Command(stdout), $"Exit codes: 0 measured; {usage}.");
        Add(FuzzCommand.Command(stdout, stderr), $"Exit codes: 0 clean, 5 model disagreement, 7 sim and real Xen diverged, 6 a boot lost records;\n  {usage}.");
        Add(CompletionCommand(stdout), "Exit codes: 0 printed; 2 an unknown shell.");

        var help = root.Options.OfType<HelpOption>().Single();
        help.Action = new HelpWithExitCodes((HelpAction)help.Action!, notes);
        return root;
    }

    /// <summary>"xtf run" for the run command, "xtf" for the root.</summary>
    public static string Name(Command command) => command is RootCommand ? "xtf" : $"xtf {command.Name}";

    /// <summary>
    /// The one line that says what is wrong with the command line: an unknown command, an unknown
    /// option (or one that belongs to other commands), a missing or repeated value, or the first
    /// value an option refused.
    /// </summary>
    public static string FirstError(ParseResult parsed, RootCommand root)
    {
        var command = parsed.CommandResult.Command;
        // A word the parser could not place, or an option-like word a command's positional words refused.
        string? stray = parsed.UnmatchedTokens.FirstOrDefault()
            ?? parsed.Errors.Select(e => e.SymbolResult).OfType<ArgumentResult>().SelectMany(a => a.Tokens).Select(t => t.Value)
                .FirstOrDefault(CommandOptions.LooksLikeOption);
        if (stray is { } word)
        {
            if (!CommandOptions.LooksLikeOption(word))
                return command is RootCommand ? $"unknown command '{word}'" : $"unexpected argument '{word}'";
            string name = word.Split('=', ':')[0];
            var owners = root.Subcommands.Where(c => c != command && c.Options.Any(o => o.Name == name || o.Aliases.Contains(name)))
                .Select(c => c.Name).ToList();
            if (command is RootCommand) return $"unknown option {word}: options go after the command";
            return owners.Count > 0
                ? $"{name} is not an option of {command.Name} (it belongs to {string.Join(", ", owners)})"
                : $"unknown option {word}";
        }
        foreach (var error in parsed.Errors)
        {
            if (error.SymbolResult is OptionResult option)
            {
                string name = option.Option.Name;
                int max = option.Option.Arity.MaximumNumberOfValues;
                if (option.Tokens.Count == 0 && option.Option.Arity.MinimumNumberOfValues > 0) return $"{name} needs a value";
                if (option.Tokens.Count > max) return max == 1 ? $"{name} is given more than once" : $"{name} is given more than {max} times";
            }
            if (error.SymbolResult is CommandResult { Command: RootCommand }) return "which command? (list, run, build, report, compare, doctor, bench, fuzz, completion)";
            return error.Message;
        }
        return "bad command line";
    }

    /// <summary>
    /// "--verbose=yes": the parser splits a flag and its would-be value into the flag and a word; the
    /// word would then be taken for a test name. Such a flag is refused, naming it.
    /// </summary>
    public static string? FlagGivenAValue(IEnumerable<string> args, ParseResult parsed)
    {
        var flags = parsed.CommandResult.Command.Options.Where(o => o.Arity.MaximumNumberOfValues == 0)
            .SelectMany(o => o.Aliases.Append(o.Name)).ToHashSet(StringComparer.Ordinal);
        foreach (string arg in args.TakeWhile(a => a != "--"))
        {
            int eq = arg.IndexOfAny(['=', ':']);
            if (eq > 0 && CommandOptions.LooksLikeOption(arg) && flags.Contains(arg[..eq])) return $"{arg[..eq]} takes no value";
        }
        return null;
    }

    /// <summary>Tab completion: the [suggest] directive answers; this script asks it for bash.</summary>
    public const string BashScript = """
        # xtf tab completion for bash. Enable it with:  eval "$(xtf completion bash)"
        # (or save it as ~/.local/share/bash-completion/completions/xtf). It asks xtf itself, through
        # System.CommandLine's [suggest] directive, for the commands, options, values and test names.
        _xtf_complete()
        {
            local IFS=$'\n'
            local words
            words=$("${COMP_WORDS[0]}" "[suggest:${COMP_POINT}]" "${COMP_LINE}" 2>/dev/null) || return 0
            COMPREPLY=( $(compgen -W "$words" -- "${COMP_WORDS[COMP_CWORD]}") )
        }
        complete -o default -o bashdefault -F _xtf_complete xtf
        """;

    private static Command CompletionCommand(TextWriter stdout)
    {
        var shell = new Argument<string>("SHELL") { Description = "the shell (bash)", Arity = ArgumentArity.ExactlyOne };
        shell.CompletionSources.Add("bash");
        shell.Validators.Add(r =>
        {
            if (r.Tokens.Count == 1 && r.Tokens[0].Value != "bash") r.AddError($"no completion script for '{r.Tokens[0].Value}' (there is one for bash)");
        });
        var command = new Command("completion", "Print the tab-completion script for a shell: eval \"$(xtf completion bash)\"") { shell };
        command.SetAction(_ =>
        {
            stdout.WriteLine(BashScript);
            return 0;
        });
        return command;
    }

    /// <summary>System.CommandLine's help for a command, then that command's exit codes; the root's help is the overview.</summary>
    private sealed class HelpWithExitCodes(HelpAction help, IReadOnlyDictionary<Command, string> exitCodes) : SynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parseResult)
        {
            var output = parseResult.InvocationConfiguration.Output;
            var command = parseResult.CommandResult.Command;
            if (command is RootCommand)
            {
                output.WriteLine(XtfCli.Usage);
                return 0;
            }
            help.Invoke(parseResult);
            if (exitCodes.TryGetValue(command, out var text)) output.WriteLine(text);
            return 0;
        }
    }
}
