using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Xtf.Elf;
using static Xtf.Elf.Tests.TestImages;

namespace Xtf.Elf.Tests;

/// <summary>Written images checked against binutils' readelf.</summary>
public partial class ReadelfTests
{
    private const string Readelf = "/usr/bin/readelf";

    [Test]
    public void XenPvKernel_HeaderAsReadelfShowsIt()
    {
        var output = Run(XenPvKernel(), "-hlnW");

        Assert.That(HeaderField(output, "Class"), Is.EqualTo("ELF64"));
        Assert.That(HeaderField(output, "Data"), Is.EqualTo("2's complement, little endian"));
        Assert.That(HeaderField(output, "Type"), Does.StartWith("EXEC"));
        Assert.That(HeaderField(output, "Machine"), Is.EqualTo("Advanced Micro Devices X86-64"));
        Assert.That(HeaderField(output, "Entry point address"), Is.EqualTo("0x100000"));
        Assert.That(HeaderField(output, "Number of program headers"), Is.EqualTo("2"));
        Assert.That(HeaderField(output, "Number of section headers"), Is.EqualTo("0"));
    }

    [Test]
    public void XenPvKernel_ProgramHeadersAsReadelfShowsThem()
    {
        var bytes = XenPvKernel();
        var rows = ProgramHeaderRows(Run(bytes, "-hlnW"));

        Assert.That(rows, Is.EqualTo(ElfImage.Parse(bytes).ProgramHeaders.Select(Row).ToList()));
        Assert.That(rows, Is.EqualTo(new[]
        {
            "LOAD 0x1000 0x100000 0x100000 0x2000 0x5000 RWE 0x1000",
            $"NOTE 0x1100 0x100100 0x100100 0x{NoteBytesLength:x} 0x{NoteBytesLength:x} R   0x4",
        }));
    }

    [TestCase("-hlnW")]
    [TestCase("-n")]
    public void XenPvKernel_NotesAsReadelfShowsThem(string options)
    {
        var output = Run(XenPvKernel(), options);

        Assert.That(output, Does.Contain($"Displaying notes found at file offset 0x00001100 with length 0x{NoteBytesLength:x8}:"));
        var notes = NoteRows(output);
        Assert.That(notes.Select(n => n.Owner), Is.All.EqualTo("Xen"));
        Assert.That(notes.Select(n => n.Description), Is.EqualTo(XenPvNotes.Select(n => ReadelfTypeText(n.Type))));
        Assert.That(notes.Select(n => n.Data), Is.EqualTo(XenPvNotes.Select(n => n.Descriptor)));
        Assert.That(notes.Take(6).Select(n => AsString(n.Data)), Is.EqualTo(new[]
        {
            "Xtf.NET", "0", "generic", "xen-3.0", "!writable_page_tables|pae_pgdir_above_4gb", "yes",
        }));
        Assert.That(notes[6].Data, Has.Length.EqualTo(8));
        Assert.That(BitConverter.ToUInt64(notes[6].Data), Is.EqualTo(HypercallPage));
    }

    [Test]
    public void StandaloneNoteSegmentAndSections_AsReadelfShowsThem()
    {
        var (bytes, _) = WithStandaloneNoteSegment();
        var output = Run(bytes, "-lnW");

        Assert.That(ProgramHeaderRows(output), Is.EqualTo(ElfImage.Parse(bytes).ProgramHeaders.Select(Row).ToList()));
        var notes = NoteRows(output);
        Assert.That(notes.Select(n => (n.Owner, n.Description)).TakeLast(2),
            Is.EqualTo(new[] { ("Xen", "NT_VERSION (version)"), ("GNU", "NT_GNU_BUILD_ID (unique build ID bitstring)") }));
        Assert.That(notes[^2].Data, Is.EqualTo(new byte[] { 0, 0, 0x10, 0 }));

        var withSections = Run(XenPvKernelWithSections(), "-SnW");
        Assert.That(withSections, Does.Contain("Displaying notes found in: .note.Xen"));
        Assert.That(withSections, Does.Match(@"\]\s+\.note\.Xen\s+NOTE\s+0*100100\s+0*1100\s"));
        Assert.That(NoteRows(withSections).Select(n => n.Data), Is.EqualTo(XenPvNotes.Select(n => n.Descriptor)));
    }

    /// <summary>readelf 2.40 has no names for Xen notes: types 1 and 2 get the generic core-note names.</summary>
    private static string ReadelfTypeText(uint type) => type switch
    {
        1 => "NT_VERSION (version)",
        2 => "NT_ARCH (architecture)",
        _ => $"Unknown note type: (0x{type:x8})",
    };

    private static string Row(ProgramHeader ph)
    {
        string type = ph.Type switch { SegmentType.Load => "LOAD", SegmentType.Note => "NOTE", _ => ph.Type.ToString() };
        string flags = $"{(ph.Flags.HasFlag(SegmentFlags.R) ? 'R' : ' ')}{(ph.Flags.HasFlag(SegmentFlags.W) ? 'W' : ' ')}{(ph.Flags.HasFlag(SegmentFlags.X) ? 'E' : ' ')}";
        return $"{type} 0x{ph.Offset:x} 0x{ph.VirtualAddress:x} 0x{ph.PhysicalAddress:x} 0x{ph.FileSize:x} 0x{ph.MemorySize:x} {flags} 0x{ph.Align:x}";
    }

    private static string AsString(byte[] data)
    {
        Assert.That(data[^1], Is.Zero, "string note is NUL-terminated");
        return System.Text.Encoding.ASCII.GetString(data, 0, data.Length - 1);
    }

    private static string HeaderField(string output, string name)
    {
        var m = Regex.Match(output, $@"^  {Regex.Escape(name)}:\s+(.*?)\s*$", RegexOptions.Multiline);
        Assert.That(m.Success, $"readelf printed no '{name}' line:\n{output}");
        return m.Groups[1].Value;
    }

    /// <summary>Program header rows normalised to "TYPE 0xoff 0xva 0xpa 0xfilesz 0xmemsz FLG 0xalign".</summary>
    private static List<string> ProgramHeaderRows(string output) =>
        ProgramHeaderRow().Matches(output).Select(m =>
            $"{m.Groups[1].Value} {Hex(m.Groups[2])} {Hex(m.Groups[3])} {Hex(m.Groups[4])} {Hex(m.Groups[5])} {Hex(m.Groups[6])} {m.Groups[7].Value} {Hex(m.Groups[8])}")
        .ToList();

    private static string Hex(Group g) => $"0x{ulong.Parse(g.Value.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture):x}";

    [GeneratedRegex(@"^  ([A-Z_]+)\s+(0x[0-9a-f]+) (0x[0-9a-f]+) (0x[0-9a-f]+) (0x[0-9a-f]+) (0x[0-9a-f]+) (.{3}) (0x[0-9a-f]+)$", RegexOptions.Multiline)]
    private static partial Regex ProgramHeaderRow();

    private sealed record NoteRow(string Owner, int Size, string Description, byte[] Data);

    /// <summary>Note rows; with -W the "description data" follows on the same line, without it on the next.</summary>
    private static List<NoteRow> NoteRows(string output) =>
        NoteLine().Matches(output).Select(m =>
        {
            var data = m.Groups[4].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Select(h => byte.Parse(h, NumberStyles.HexNumber, CultureInfo.InvariantCulture)).ToArray();
            if (m.Groups[5].Success)
                data = Convert.FromHexString(m.Groups[5].Value);
            var row = new NoteRow(m.Groups[1].Value, int.Parse(m.Groups[2].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture),
                m.Groups[3].Value, data);
            Assert.That(row.Data, Has.Length.EqualTo(row.Size), $"data size of note {row}");
            return row;
        }).ToList();

    [GeneratedRegex(@"^  (\S+)\s+0x([0-9a-f]{8})\t([^\t\n]+?)\s*(?:\n)?\s*(?:description data: ((?:[0-9a-f]{2} )*)|Build ID: ([0-9a-f]+))\s*$", RegexOptions.Multiline)]
    private static partial Regex NoteLine();

    private static string Run(byte[] image, string options)
    {
        if (!File.Exists(Readelf))
            Assert.Inconclusive($"binutils' readelf is not installed at {Readelf}; cannot cross-check written images");
        string path = Path.Combine(Path.GetTempPath(), $"xtf-elf-{Guid.NewGuid():N}.elf");
        try
        {
            File.WriteAllBytes(path, image);
            var start = new ProcessStartInfo(Readelf) { RedirectStandardOutput = true, RedirectStandardError = true };
            start.ArgumentList.Add(options);
            start.ArgumentList.Add(path);
            start.Environment["LC_ALL"] = "C";
            using var process = Process.Start(start)!;
            var stderr = process.StandardError.ReadToEndAsync();
            string stdout = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            Assert.That(process.ExitCode, Is.Zero, $"readelf {options} failed: {stderr.Result}");
            Assert.That(stderr.Result, Is.Empty, "readelf warnings");
            return stdout;
        }
        finally
        {
            File.Delete(path);
        }
    }
}
