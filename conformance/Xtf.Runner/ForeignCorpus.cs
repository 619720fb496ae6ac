using System.Buffers.Binary;
using System.IO.Compression;
using Xtf.Elf;
using Xtf.Guest;

namespace Xtf.Runner;

/// <summary>One kernel of a foreign corpus: its name (the file name) and where it is.</summary>
public sealed record CorpusKernel(string Name, string Path);

/// <summary>
/// The kernels of a folder for `xtf run --kernel-dir DIR`. A kernel is a regular file, anywhere below
/// DIR, whose bytes are an ELF image or a gzip-compressed ELF image, and not a relocatable object (ELF
/// type 1, the .o files of a build). That covers XTF's layout (tests/&lt;name&gt;/test-&lt;env&gt;-&lt;name&gt;
/// beside .cfg, .o, .d, main.c, info.json and Makefile) and a flat folder of kernels with any names.
/// Every other file is not part of the corpus; the scan counts them. A kernel's name is its file
/// name (XTF's names are unique): two kernels with one name are bad input.
/// </summary>
public static class ForeignCorpus
{
    /// <summary>Where several --kernel options put their run: RESULTS/foreign/kernels/.</summary>
    public const string KernelsFolderName = "kernels";

    /// <summary>What a scan found: the kernels (by name), the other files, and the files that could not be read.</summary>
    public sealed record Scan(string Folder, IReadOnlyList<CorpusKernel> Kernels, int OtherFiles, IReadOnlyList<string> Unreadable)
    {
        /// <summary>"39 kernel(s); 120 other file(s) are not kernels" and the unreadable count when there are any.</summary>
        public string Describe() =>
            $"{Kernels.Count} kernel(s); {OtherFiles} other file(s) are not kernels" + (Unreadable.Count > 0 ? $"; {Unreadable.Count} could not be read" : "");
    }

    /// <summary>What a file is to the corpus.</summary>
    public enum Kind { Kernel, NotAKernel, Unreadable }

    /// <summary>The folder's kernels, sorted by name. A missing folder, a file, or a folder without a kernel is bad input.</summary>
    public static Scan Find(string dir)
    {
        if (File.Exists(dir)) throw new InputException($"--kernel-dir {dir}: a file, not a folder (--kernel FILE runs one kernel)");
        if (!Directory.Exists(dir)) throw new InputException($"--kernel-dir {dir}: no such folder");
        var options = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = 0, ReturnSpecialDirectories = false };
        var kernels = new List<CorpusKernel>();
        var unreadable = new List<string>();
        int others = 0;
        IEnumerable<string> files;
        try
        {
            files = Directory.EnumerateFiles(dir, "*", options).Order(StringComparer.Ordinal).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InputException($"--kernel-dir {dir}: cannot list it: {e.Message}");
        }
        foreach (string file in files)
        {
            switch (Classify(file, out _))
            {
                case Kind.Kernel: kernels.Add(new CorpusKernel(Path.GetFileName(file), file)); break;
                case Kind.Unreadable: unreadable.Add(file); break;
                default: others++; break;
            }
        }
        if (kernels.GroupBy(k => k.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new InputException($"--kernel-dir {dir}: two kernels named {twice.Key}: {string.Join(" and ", twice.Take(2).Select(k => k.Path))}");
        if (kernels.Count == 0)
            throw new InputException($"--kernel-dir {dir}: no kernel in it (no ELF or gzip-compressed ELF file; {others} other file(s))");
        return new Scan(dir, kernels.OrderBy(k => k.Name, StringComparer.Ordinal).ToList(), others, unreadable);
    }

    /// <summary>The kernels the globs name (by file name); every glob must match one. No globs: all of them.</summary>
    public static IReadOnlyList<CorpusKernel> Select(Scan scan, IReadOnlyList<string> globs)
    {
        if (globs.Count == 0) return scan.Kernels;
        var patterns = globs.Select(g => (Glob: g, Regex: TestCatalog.Glob(g))).ToList();
        if (patterns.FirstOrDefault(p => !scan.Kernels.Any(k => p.Regex.IsMatch(k.Name))) is { Glob: not null } none)
            throw new UsageException($"no kernel in {scan.Folder} matches {none.Glob}" +
                                     (XtfCli.Catalog.Select([none.Glob]).Count > 0 ? " (suite tests do not mix with --kernel-dir)" : ""));
        return scan.Kernels.Where(k => patterns.Any(p => p.Regex.IsMatch(k.Name))).ToList();
    }

    /// <summary>The foreign folder a corpus run writes: RESULTS/foreign/&lt;the folder's own name&gt;.</summary>
    public static string FolderName(string dir)
    {
        string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir)));
        return name.Length == 0 ? "root" : name;
    }

    /// <summary>
    /// Whether a file is a kernel, by its first bytes: ELF (not a relocatable object), a bzImage, or gzip whose
    /// stream starts with such an ELF header. <paramref name="reason"/> says why not.
    /// </summary>
    public static Kind Classify(string path, out string reason)
    {
        byte[] head;
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 4096);
            head = ReadHead(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            reason = $"cannot read kernel {path}: {e.Message}";
            return Kind.Unreadable;
        }
        if (head.Length == 0)
        {
            reason = $"{path}: not a usable kernel: the file is empty";
            return Kind.NotAKernel;
        }
        if (BzImage.HasHeader(head))
        {
            // A bzImage (docs/dom0.md §2.16): its payload is for Load (and Xen) to judge.
            reason = "";
            return Kind.Kernel;
        }
        if (ForeignKernel.IsGzip(head))
        {
            try
            {
                using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 4096);
                using var gz = new GZipStream(file, CompressionMode.Decompress);
                head = ReadHead(gz);
            }
            catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
            {
                reason = $"{path}: not a usable kernel: its gzip stream cannot be read ({e.Message})";
                return Kind.NotAKernel;
            }
        }
        if (!ForeignKernel.IsElf(head))
        {
            reason = $"{path}: not a usable kernel: not an ELF image";
            return Kind.NotAKernel;
        }
        if (head.Length >= 18 && ElfType(head) == 1)
        {
            reason = $"{path}: not a usable kernel: a relocatable object (ELF type 1), not an executable";
            return Kind.NotAKernel;
        }
        reason = "";
        return Kind.Kernel;
    }

    private static ushort ElfType(byte[] head) =>
        head[5] == 2 ? BinaryPrimitives.ReadUInt16BigEndian(head.AsSpan(16)) : BinaryPrimitives.ReadUInt16LittleEndian(head.AsSpan(16));

    /// <summary>The first bytes: enough for an ELF header and for a bzImage's setup header.</summary>
    private static byte[] ReadHead(Stream s)
    {
        var head = new byte[BzImage.HeaderEnd];
        int n = 0;
        while (n < head.Length)
        {
            int got = s.Read(head, n, head.Length - n);
            if (got == 0) break;
            n += got;
        }
        return head[..n];
    }
}
