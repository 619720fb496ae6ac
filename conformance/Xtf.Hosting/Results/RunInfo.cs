namespace Xtf.Hosting;

/// <summary>What a whole run shares and every result record repeats: the seed and the real host's versions.</summary>
public sealed record RunInfo(string Seed, string? XenVersion, string? QemuVersion, string? XenCommandLine, string? Shard)
{
    /// <summary>The Xen version a simulator record names: the model, not a build.</summary>
    public const string SimulatorModel = "4.17.7 (simulator model)";
}
