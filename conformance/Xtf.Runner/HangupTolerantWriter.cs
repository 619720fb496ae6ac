using System.Text;

namespace Xtf.Runner;

/// <summary>
/// The console as a long run writes to it: once a write fails (the terminal hung up, which is
/// what a SIGHUP usually means, or the reader of a pipe went away), the rest of the output is
/// dropped instead of failing the run, so losing the console never costs the run its records.
/// </summary>
public sealed class HangupTolerantWriter(TextWriter inner) : TextWriter
{
    private volatile bool lost;

    /// <summary>Whether a write has failed since.</summary>
    public bool Lost => lost;

    public override Encoding Encoding => inner.Encoding;
    public override IFormatProvider FormatProvider => inner.FormatProvider;
    public override string NewLine
    {
        get => inner.NewLine;
#pragma warning disable CS8765 // the base allows null and means "\n"
        set => inner.NewLine = value;
#pragma warning restore CS8765
    }

    private void Guard(Action write)
    {
        if (lost) return;
        try { write(); }
        catch (IOException) { lost = true; }
        catch (ObjectDisposedException) { lost = true; }
    }

    public override void Write(char value) => Guard(() => inner.Write(value));
    public override void Write(string? value) => Guard(() => inner.Write(value));
    public override void Write(char[] buffer, int index, int count) => Guard(() => inner.Write(buffer, index, count));
    public override void WriteLine(string? value) => Guard(() => inner.WriteLine(value));
    public override void WriteLine() => Guard(inner.WriteLine);
    public override void Flush() => Guard(inner.Flush);
}
