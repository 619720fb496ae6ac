using System.IO.Compression;
using ELFSharp.ELF;
using ELFSharp.ELF.Sections;
using ELFSharp.ELF.Segments;
using Xtf.Elf;

namespace Xtf.Runner;

/// <summary>Bad input named by the user (a kernel file that cannot be used): exit code 2.</summary>
public sealed class InputException(string message) : Exception(message);

/// <summary>
/// A kernel built elsewhere (for example by XTF's C framework). Judging how Xen treats a malformed
/// image is a use of the tool, so anything that can be a kernel is passed on as it is: what a strict
/// reader dislikes becomes one <see cref="Warnings"/> line. Refused (<see cref="InputException"/>)
/// is only what cannot be a kernel at all: a file that cannot be read, a directory, an empty file,
/// bytes that are not ELF (nor gzip-compressed ELF, nor a bzImage around either) and an image over
/// <see cref="MaxImageBytes"/>. A kernel with a PHYS32_ENTRY note and no PV notes is a PVH kernel
/// (<see cref="Pvh"/>): Xen boots it as a PVH dom0 (XTF's hvm32/hvm32pse/hvm32pae/hvm64 kernels). The inspection reads the ELF with ELFSharp; whatever it throws
/// becomes a warning, never an exception out of <see cref="Load"/>.
/// </summary>
public sealed record ForeignKernel(string Name, byte[] Bytes, bool Is32Bit, IReadOnlyList<string> Warnings, bool Pvh = false)
{
    /// <summary>
    /// The largest image (file, and gzip-decompressed ELF) the runner hands on: 128 MiB. Xen's own
    /// bound is memory: the module (and for gzip its decompressed size plus headroom) must fit the
    /// free heap, about 500 MiB at the default 512 MiB (docs/dom0.md §2.15); no PV kernel comes near.
    /// </summary>
    public const int MaxImageBytes = 128 << 20;

    public static ForeignKernel Load(string path)
    {
        byte[] bytes = ReadKernelFile(path);
        return Inspect(Path.GetFileName(path), bytes, path);
    }

    /// <summary>The file's bytes, read with a bound: a device like /dev/zero ends at the limit, not in an out-of-memory.</summary>
    public static byte[] ReadKernelFile(string path)
    {
        if (Directory.Exists(path)) throw new InputException($"cannot read kernel {path}: it is a directory");
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            var bytes = ReadAtMost(file, MaxImageBytes, out bool more);
            if (more) throw new InputException($"{path}: not a usable kernel: larger than the {MaxImageBytes >> 20} MiB image limit");
            if (bytes.Length == 0) throw new InputException($"{path}: not a usable kernel: the file is empty");
            return bytes;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new InputException($"cannot read kernel {path}: {e.Message}");
        }
    }

    /// <summary>Checks <paramref name="bytes"/> as a kernel; <paramref name="what"/> names it in messages (the path).</summary>
    public static ForeignKernel Inspect(string name, byte[] bytes, string what)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        if (bytes.Length == 0) throw new InputException($"{what}: not a usable kernel: the file is empty");
        if (bytes.Length > MaxImageBytes) throw new InputException($"{what}: not a usable kernel: larger than the {MaxImageBytes >> 20} MiB image limit");

        var warnings = new List<string>();
        byte[] elf = bytes;
        string inside = "";
        if (BzImage.HasHeader(bytes))
        {
            if (BzImagePayload(bytes, what) is not { } payload)
                return new ForeignKernel(name, bytes, false, [$"{what}: {BzImageProblem(bytes)}; passed to Xen as it is"]);
            elf = payload;
            inside = " inside the bzImage";
            if (!IsElf(elf) && !IsGzip(elf) && Xtf.Sim.Builder.XenBzImage.FormatOf(elf) is { } format)
                return new ForeignKernel(name, bytes, false, [$"{what}: a bzImage with a {format} payload, not inspected; passed to Xen as it is"]);
        }
        if (IsGzip(elf))
        {
            elf = Gunzip(elf, what, warnings);
            if (elf.Length == 0)
                return new ForeignKernel(name, bytes, false, [$"{what}: {string.Join("; ", warnings)}; passed to Xen as it is"]);
            inside += " inside the gzip stream";
        }
        if (!IsElf(elf))
            throw new InputException($"{what}: not a usable kernel: not an ELF image{inside}");

        var problems = new List<string>(warnings);
        bool is32 = elf.Length > 4 && elf[4] == ElfLayout.ELFCLASS32, pvh = false;
        try
        {
            Examine(elf, problems, ref is32, ref pvh, what);
        }
        catch (InputException) { throw; }
        catch (Exception e)
        {
            // ELFSharp met something it cannot read: a malformed header is for Xen to judge.
            problems.Add($"its ELF headers cannot be read ({e.GetType().Name}: {e.Message})");
        }
        var lines = problems.Count == 0 ? [] : new[] { $"{what}: {string.Join("; ", problems)}; passed to Xen as it is" };
        // A PVH kernel's ELF class says nothing about its mode: Xen enters it in 32-bit protected mode.
        return new ForeignKernel(name, bytes, is32 && !pvh, lines, pvh);
    }

    private static void Examine(byte[] image, List<string> problems, ref bool is32, ref bool pvh, string what)
    {
        if (image.Length > ElfLayout.Ident.Data && image[ElfLayout.Ident.Data] == ElfLayout.ELFDATA2MSB) problems.Add("it is big-endian");
        using var stream = new MemoryStream(WithoutExtendedSectionCount(image), writable: false);
        if (!ELFReader.TryLoad(stream, false, out IELF? elf) || elf is null)
        {
            problems.Add($"ELF class {image[ElfLayout.Ident.Class]} is neither 32- nor 64-bit");
            return;
        }
        using (elf)
        {
            is32 = elf.Class == Class.Bit32;
            var notes = XenNotesOf(elf, problems);
            bool pvNotes = notes.Overlaps([(ulong)XenElfNote.GuestOs, (ulong)XenElfNote.Loader, (ulong)XenElfNote.XenVersion,
                (ulong)XenElfNote.Entry, (ulong)XenElfNote.HypercallPage]);
            pvh = notes.Contains((ulong)XenElfNote.Phys32Entry) && !pvNotes;

            if (elf.Type != FileType.Executable) problems.Add($"ELF type {(ushort)elf.Type} ({elf.Type}) is not EXEC (2)");
            var expected = is32 ? Machine.Intel386 : Machine.AMD64;
            // Xen's PVH builder takes ELF32 and ELF64 of either machine (XTF's hvm64 kernels are ELF32 for x86-64).
            if (!pvh && elf.Machine != expected) problems.Add($"machine {MachineName(elf.Machine)} in an ELF{(is32 ? 32 : 64)} image is not {MachineName(expected)}");
            if (!elf.Segments.Any(s => s.Type == ELFSharp.ELF.Segments.SegmentType.Load)) problems.Add("it has no loadable segment");
            var (offset, size) = elf.Segments.Select(Extent).FirstOrDefault(e => e.Offset < 0 || e.Size < 0 || e.Offset > image.Length - e.Size);
            if (size != 0 || offset != 0) problems.Add($"a segment at file offset {offset} of {size} bytes runs past the end of the file");
            if (notes.Count == 0 && !HasSection(elf, "__xen_guest")) problems.Add("it has no Xen ELF notes");
        }
    }

    /// <summary>
    /// ELFSharp reads e_shnum = 0 as "the count is in section header 0" even when e_shoff is 0 (no sections,
    /// as our writer and many linkers leave it), and then parses the ELF header as sections. Its view of
    /// such an image gets an all-zero section header 0 appended, which says "no sections". Little-endian only.
    /// </summary>
    private static byte[] WithoutExtendedSectionCount(byte[] image)
    {
        bool is64 = image.Length > ElfLayout.Ident.Class && image[ElfLayout.Ident.Class] == ElfLayout.ELFCLASS64;
        int shoffAt = is64 ? ElfLayout.Ehdr.ShOff : ElfLayout.Ehdr32.ShOff, shnumAt = is64 ? ElfLayout.Ehdr.ShNum : ElfLayout.Ehdr32.ShNum;
        if (image.Length < shnumAt + 2 || image[shnumAt] != 0 || image[shnumAt + 1] != 0 || image[ElfLayout.Ident.Data] != ElfLayout.ELFDATA2LSB) return image;
        int at = (image.Length + 7) & ~7;
        var view = new byte[at + ElfLayout.Shdr.HeaderSize];
        image.CopyTo(view, 0);
        if (is64) BitConverter.TryWriteBytes(view.AsSpan(shoffAt, 8), (ulong)at);
        else BitConverter.TryWriteBytes(view.AsSpan(shoffAt, 4), (uint)at);
        return view;
    }

    /// <summary>The types of the Xen notes in the PT_NOTE segments, else in the SHT_NOTE sections (libelf's order of search).</summary>
    private static HashSet<ulong> XenNotesOf(IELF elf, List<string> problems)
    {
        var types = new HashSet<ulong>();
        foreach (var segment in elf.Segments)
        {
            if (segment is not INoteSegment notes) continue;
            try
            {
                foreach (var n in notes.Notes)
                    if (n.Name == ElfNote.XenOwner) types.Add(n.Type);
            }
            catch (Exception e)
            {
                problems.Add($"a note segment cannot be read ({e.Message})");
            }
        }
        if (types.Count > 0 || !elf.HasSectionHeader) return types;
        try
        {
            foreach (var section in elf.GetSections<INoteSection>())
                if (section.NoteName == ElfNote.XenOwner && section is NoteSection<ulong> n64) types.Add(n64.NoteType);
                else if (section.NoteName == ElfNote.XenOwner && section is NoteSection<uint> n32) types.Add(n32.NoteType);
        }
        catch (Exception e)
        {
            problems.Add($"a note section cannot be read ({e.Message})");
        }
        return types;
    }

    private static (long Offset, long Size) Extent(ISegment s) => s switch
    {
        Segment<ulong> s64 => (s64.Offset, s64.FileSize),
        Segment<uint> s32 => (s32.Offset, s32.FileSize),
        _ => (0, 0),
    };

    private static bool HasSection(IELF elf, string name)
    {
        try { return elf.HasSectionHeader && elf.Sections.Any(s => s.Name == name); }
        catch (Exception) { return false; }
    }

    private static string MachineName(Machine m) => m switch
    {
        Machine.AMD64 => "x86-64 (62)",
        Machine.Intel386 => "i386 (3)",
        _ => $"{m} ({(ushort)m})",
    };

    /// <summary>
    /// A bzImage's payload (docs/dom0.md §2.16): null when Xen cannot get to it (a protocol older than 2.08,
    /// or a payload that is not inside the file), which is for Xen to judge (<see cref="BzImageProblem"/>).
    /// </summary>
    private static byte[]? BzImagePayload(byte[] bytes, string what)
    {
        if (BzImage.ReadVersion(bytes) < BzImage.MinimumVersion) return null;
        ulong start = BzImage.PayloadStart(bytes), length = BzImage.ReadPayloadLength(bytes);
        if (start > (ulong)bytes.Length || length > (ulong)bytes.Length - start) return null;
        return bytes[(int)start..(int)(start + length)];
    }

    private static string BzImageProblem(byte[] bytes)
    {
        ushort v = BzImage.ReadVersion(bytes);
        if (v < BzImage.MinimumVersion) return $"a bzImage of boot protocol {v >> 8}.{v & 0xff:d2}, older than the 2.08 Xen needs";
        return $"a bzImage whose payload ({BzImage.ReadPayloadLength(bytes)} bytes at file offset {BzImage.PayloadStart(bytes)}) is not inside the file";
    }

    internal static bool IsElf(byte[] b) => b.Length >= 4 && b[0] == 0x7f && b[1] == 'E' && b[2] == 'L' && b[3] == 'F';

    /// <summary>gzip's magic as Xen's gzip_check reads it (xen/common/gunzip.c): 1f 8b, or 1f 9e.</summary>
    internal static bool IsGzip(byte[] b) => b.Length >= 2 && b[0] == 0x1f && b[1] is 0x8b or 0x9e;

    /// <summary>At most <see cref="MaxImageBytes"/> of the decompressed stream; empty (and a warning) when the stream is corrupt.</summary>
    private static byte[] Gunzip(byte[] bytes, string what, List<string> warnings)
    {
        try
        {
            using var gz = new GZipStream(new MemoryStream(bytes, writable: false), CompressionMode.Decompress);
            var inner = ReadAtMost(gz, MaxImageBytes, out bool more);
            if (more) throw new InputException($"{what}: not a usable kernel: it decompresses to more than the {MaxImageBytes >> 20} MiB image limit");
            return inner;
        }
        catch (InvalidDataException e)
        {
            warnings.Add($"its gzip stream is corrupt ({e.Message})");
            return [];
        }
    }

    /// <summary>Up to <paramref name="limit"/> bytes; <paramref name="more"/> tells whether the stream had more.</summary>
    private static byte[] ReadAtMost(Stream s, int limit, out bool more)
    {
        var output = new MemoryStream();
        var buffer = new byte[1 << 16];
        while (output.Length <= limit)
        {
            int n = s.Read(buffer, 0, (int)Math.Min(buffer.Length, limit + 1 - output.Length));
            if (n == 0) break;
            output.Write(buffer, 0, n);
        }
        more = output.Length > limit;
        return more ? [] : output.ToArray();
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
