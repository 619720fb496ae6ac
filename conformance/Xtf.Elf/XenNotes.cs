using System.Text;

namespace Xtf.Elf;

/// <summary>
/// Xen's interpretation of the notes owned by "Xen" (docs/pv-abi.md §11.2): numeric notes of
/// 1, 2, 4 or 8 bytes are little-endian values, any other size reads as 0; a string note must be
/// NUL-terminated inside its descriptor, otherwise it is skipped and the image is broken. Later
/// notes of the same type override earlier ones; other owners and unknown types are ignored; at
/// most <see cref="MaxNotesScanned"/> notes are looked at.
/// </summary>
public sealed class XenNotes
{
    public const int MaxNotesScanned = 65536;

    private readonly List<string> problems = [];

    public XenNotes(IEnumerable<ElfNote> notes)
    {
        ArgumentNullException.ThrowIfNull(notes);
        int index = 0;
        foreach (var note in notes.Take(MaxNotesScanned))
        {
            if (note.Name == ElfNote.XenOwner)
            {
                HasAnyXenNote = true;
                Apply(index, note);
            }
            index++;
        }
    }

    public ulong? Entry { get; private set; }
    public ulong? HypercallPage { get; private set; }
    public ulong? VirtBase { get; private set; }
    public ulong? PaddrOffset { get; private set; }
    public ulong? InitP2m { get; private set; }
    public ulong? ModStartPfn { get; private set; }
    public ulong? HvStartLow { get; private set; }
    public ulong? SupportedFeatures { get; private set; }
    public ulong? Phys32Entry { get; private set; }

    public string? XenVersion { get; private set; }
    public string? GuestOs { get; private set; }
    public string? GuestVersion { get; private set; }
    public string? Loader { get; private set; }
    public string? PaeMode { get; private set; }
    public string? Features { get; private set; }
    public string? BsdSymtab { get; private set; }

    /// <summary>True when at least one note has the owner name "Xen".</summary>
    public bool HasAnyXenNote { get; }

    /// <summary>True when a note was skipped as malformed; see <see cref="Problems"/>.</summary>
    public bool Broken => problems.Count > 0;

    public IReadOnlyList<string> Problems => problems;

    private void Apply(int index, ElfNote note)
    {
        switch ((XenElfNote)note.Type)
        {
            case XenElfNote.Entry: Entry = Numeric(note.Descriptor); break;
            case XenElfNote.HypercallPage: HypercallPage = Numeric(note.Descriptor); break;
            case XenElfNote.VirtBase: VirtBase = Numeric(note.Descriptor); break;
            case XenElfNote.PaddrOffset: PaddrOffset = Numeric(note.Descriptor); break;
            case XenElfNote.InitP2m: InitP2m = Numeric(note.Descriptor); break;
            case XenElfNote.ModStartPfn: ModStartPfn = Numeric(note.Descriptor); break;
            case XenElfNote.HvStartLow: HvStartLow = Numeric(note.Descriptor); break;
            case XenElfNote.SupportedFeatures: SupportedFeatures = Numeric(note.Descriptor); break;
            case XenElfNote.Phys32Entry: Phys32Entry = Numeric(note.Descriptor); break;
            case XenElfNote.XenVersion: XenVersion = String(index, note) ?? XenVersion; break;
            case XenElfNote.GuestOs: GuestOs = String(index, note) ?? GuestOs; break;
            case XenElfNote.GuestVersion: GuestVersion = String(index, note) ?? GuestVersion; break;
            case XenElfNote.Loader: Loader = String(index, note) ?? Loader; break;
            case XenElfNote.PaeMode: PaeMode = String(index, note) ?? PaeMode; break;
            case XenElfNote.Features: Features = String(index, note) ?? Features; break;
            case XenElfNote.BsdSymtab: BsdSymtab = String(index, note) ?? BsdSymtab; break;
            default: break; // INFO, L1_MFN_VALID, SUSPEND_CANCEL and unknown types: not interpreted
        }
    }

    private static ulong Numeric(byte[] desc)
    {
        if (desc.Length is not (1 or 2 or 4 or 8))
            return 0;
        ulong value = 0;
        for (int i = desc.Length - 1; i >= 0; i--)
            value = (value << 8) | desc[i];
        return value;
    }

    private string? String(int index, ElfNote note)
    {
        int nul = Array.IndexOf(note.Descriptor, (byte)0);
        if (nul < 0)
        {
            problems.Add($"note {index} (Xen type {note.Type}, {(XenElfNote)note.Type}): string of " +
                         $"{note.Descriptor.Length} bytes is not NUL-terminated; skipped");
            return null;
        }
        return Encoding.UTF8.GetString(note.Descriptor, 0, nul);
    }
}
