namespace Xtf.Sim.Builder;

/// <summary>
/// Xen could not build dom0 and panicked. <see cref="XenLines"/> are the lines Xen prints from
/// <c>*** Building a PV Dom0 ***</c> through the panic block (without the "(XEN) [time] " prefix and
/// without the final <c>Manual reset required ('noreboot' specified)</c>, which depends on the Xen
/// command line). The message is the key line: libelf's or the builder's message, else the panic text.
/// </summary>
public sealed class DomainBuildException : Exception
{
    public const string Stars = "****************************************";
    public const string CouldNotConstruct = "Could not construct domain 0";

    public DomainBuildException(string message, IReadOnlyList<string> xenLines) : base(message) => XenLines = xenLines;

    public IReadOnlyList<string> XenLines { get; }

    /// <summary>The text panic() prints for <paramref name="panicText"/> (xen/drivers/char/console.c): blank, stars, CPU, text (one or more lines), stars, blank.</summary>
    public static IReadOnlyList<string> PanicBlock(string panicText) => ["", Stars, "Panic on CPU 0:", .. panicText.Split('\n'), Stars, ""];
}
