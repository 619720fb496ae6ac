using Xtf.Elf;

namespace Xtf.Runner;

/// <summary>Bad input named by the user (a kernel file that cannot be used): exit code 2.</summary>
public sealed class InputException(string message) : Exception(message);

/// <summary>A kernel built elsewhere (for example by XTF's C framework), checked before it is booted.</summary>
public sealed record ForeignKernel(string Name, byte[] Bytes, bool Is32Bit)
{
    public static ForeignKernel Load(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new InputException($"cannot read kernel {path}: {e.Message}");
        }
        ElfImage elf;
        try { elf = ElfImage.Parse(bytes); }
        catch (ElfFormatException e) { throw new InputException($"{path}: not a usable kernel: {e.Message}"); }
        if (elf.FileType != ElfFileType.ET_EXEC) throw new InputException($"{path}: not a usable kernel: ELF type {elf.FileType} is not EXEC");
        bool is64 = elf.Class == ElfClass.Elf64;
        if (is64 ? elf.Machine != ElfMachine.X86_64 : elf.Machine != ElfMachine.X86)
            throw new InputException($"{path}: not a usable kernel: machine {elf.Machine} is not x86");
        if (!elf.Xen.HasAnyXenNote) throw new InputException($"{path}: not a usable kernel: it has no Xen ELF notes");
        string name = Path.GetFileName(path);
        return new ForeignKernel(name, bytes, !is64);
    }
}

/// <summary>Reads the Kconfig file Debian installs next to the hypervisor.</summary>
public static class XenConfig
{
    /// <summary>True/false when a config file is found beside the image, null when unknown.</summary>
    public static bool? HasPv32(string xenPath)
    {
        string baseName = xenPath.EndsWith(".gz", StringComparison.Ordinal) ? xenPath[..^3] : xenPath;
        string config = baseName + ".config";
        if (!File.Exists(config)) return null;
        foreach (var line in File.ReadLines(config))
        {
            if (line.StartsWith("CONFIG_PV32=y", StringComparison.Ordinal)) return true;
            if (line.StartsWith("# CONFIG_PV32 is not set", StringComparison.Ordinal)) return false;
        }
        return false;
    }
}
