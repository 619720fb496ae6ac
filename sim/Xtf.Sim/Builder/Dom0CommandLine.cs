using System.Text;

namespace Xtf.Sim.Builder;

/// <summary>
/// dom0's command line as Xen's create_dom0 cooks it (xen/arch/x86/setup.c, cmdline_cook and the
/// lines after it; docs/dom0.md §1.3).
/// </summary>
public static class Dom0CommandLine
{
    /// <summary>MAX_GUEST_CMDLINE: the result keeps at most 1023 bytes.</summary>
    public const int MaxBytes = 1023;

    /// <summary>
    /// <paramref name="moduleArguments"/> is what follows the image name in the multiboot module
    /// string (QEMU <c>-initrd "KERNEL args"</c>); <paramref name="xenCommandLine"/> is Xen's own
    /// command line, which may carry <c>-- extra</c>, <c>noapic</c> and <c>acpi=</c>. Returns the
    /// string as bytes in Latin-1 characters (non-Latin-1 input is taken as its UTF-8 bytes).
    /// </summary>
    public static string Cook(string moduleArguments, string? xenCommandLine = null)
    {
        ArgumentNullException.ThrowIfNull(moduleArguments);
        // cmdline_cook: the image name and the spaces around it were stripped; strip leading spaces.
        var s = new StringBuilder(moduleArguments.TrimStart(' '));
        string xen = xenCommandLine ?? "";
        int split = xen.IndexOf(" -- ", StringComparison.Ordinal);
        if (split >= 0)
        {
            // kextra: exactly one leading space, then the text after " -- ".
            s.Append(' ').Append(xen[(split + 4)..].TrimStart(' '));
            xen = xen[..split];
        }
        var options = xen.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (options.Contains("noapic") && !s.ToString().Contains("noapic", StringComparison.Ordinal))
            s.Append(" noapic");
        string? acpi = options.LastOrDefault(o => o.StartsWith("acpi=", StringComparison.Ordinal));
        if (acpi is { Length: > 5 } && !s.ToString().Contains("acpi=", StringComparison.Ordinal))
            s.Append(" acpi=").Append(acpi[5..]);
        return Truncate(s.ToString());
    }

    /// <summary>The bytes Xen copies (safe_strcpy into 1024 bytes), as Latin-1 characters.</summary>
    private static string Truncate(string s)
    {
        byte[] bytes = s.All(c => c <= '\u00FF') ? Encoding.Latin1.GetBytes(s) : Encoding.UTF8.GetBytes(s);
        if (bytes.Length > MaxBytes) bytes = bytes[..MaxBytes];
        int nul = Array.IndexOf(bytes, (byte)0);
        if (nul >= 0) bytes = bytes[..nul];
        return Encoding.Latin1.GetString(bytes);
    }
}
