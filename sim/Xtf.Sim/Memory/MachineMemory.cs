using System.Buffers.Binary;

namespace Xtf.Sim.Memory;

/// <summary>
/// The simulated machine's RAM, addressed by machine address (MFN &lt;&lt; 12 | offset). Frames are
/// allocated, zeroed, on first touch, so a 512 MiB machine costs only what the guest uses.
/// Writes to frames that hold decoded code are reported through <see cref="CodeWritten"/>, so the
/// interpreter can drop stale decodings.
/// </summary>
public sealed class MachineMemory
{
    public const int PageShift = 12;
    public const int PageSize = 1 << PageShift;
    public const ulong PageMask = PageSize - 1;

    private readonly byte[]?[] frames;
    private readonly bool[] codeFrames;

    public MachineMemory(ulong frameCount)
    {
        if (frameCount == 0 || frameCount > (1UL << 24)) throw new ArgumentOutOfRangeException(nameof(frameCount), "1 .. 2^24 frames (64 GiB)");
        FrameCount = frameCount;
        frames = new byte[]?[frameCount];
        codeFrames = new bool[frameCount];
    }

    public ulong FrameCount { get; }

    /// <summary>Called with the MFN when a frame marked as holding code is written.</summary>
    public Action<ulong>? CodeWritten { get; set; }

    public int AllocatedFrames { get; private set; }

    public bool IsAllocated(ulong mfn) => mfn < FrameCount && frames[mfn] is not null;

    public bool Contains(ulong maddr) => (maddr >> PageShift) < FrameCount;

    /// <summary>The 4 KiB backing a frame, allocated zeroed on first use. Callers that write must call <see cref="NoteWrite"/>.</summary>
    public byte[] Frame(ulong mfn)
    {
        if (mfn >= FrameCount) throw new ArgumentOutOfRangeException(nameof(mfn), $"mfn 0x{mfn:x} is beyond the machine's 0x{FrameCount:x} frames");
        var f = frames[mfn];
        if (f is null)
        {
            f = new byte[PageSize];
            frames[mfn] = f;
            AllocatedFrames++;
        }
        return f;
    }

    public void MarkCode(ulong mfn) => codeFrames[mfn] = true;
    public void UnmarkCode(ulong mfn) => codeFrames[mfn] = false;
    public bool IsCode(ulong mfn) => mfn < FrameCount && codeFrames[mfn];

    /// <summary>Reports a write to a frame (by any writer) so decoded code in it is invalidated.</summary>
    public void NoteWrite(ulong mfn)
    {
        if (codeFrames[mfn])
        {
            codeFrames[mfn] = false;
            CodeWritten?.Invoke(mfn);
        }
    }

    public ulong ReadU64(ulong maddr) => BinaryPrimitives.ReadUInt64LittleEndian(Span(maddr, 8));
    public uint ReadU32(ulong maddr) => BinaryPrimitives.ReadUInt32LittleEndian(Span(maddr, 4));
    public ushort ReadU16(ulong maddr) => BinaryPrimitives.ReadUInt16LittleEndian(Span(maddr, 2));
    public byte ReadU8(ulong maddr) => Span(maddr, 1)[0];

    public void WriteU64(ulong maddr, ulong v) { BinaryPrimitives.WriteUInt64LittleEndian(Span(maddr, 8), v); NoteWrite(maddr >> PageShift); }
    public void WriteU32(ulong maddr, uint v) { BinaryPrimitives.WriteUInt32LittleEndian(Span(maddr, 4), v); NoteWrite(maddr >> PageShift); }
    public void WriteU16(ulong maddr, ushort v) { BinaryPrimitives.WriteUInt16LittleEndian(Span(maddr, 2), v); NoteWrite(maddr >> PageShift); }
    public void WriteU8(ulong maddr, byte v) { Span(maddr, 1)[0] = v; NoteWrite(maddr >> PageShift); }

    /// <summary>Copies bytes in, across frame boundaries if needed.</summary>
    public void Write(ulong maddr, ReadOnlySpan<byte> data)
    {
        while (data.Length > 0)
        {
            int inPage = Math.Min(data.Length, PageSize - (int)(maddr & PageMask));
            data[..inPage].CopyTo(Span(maddr, inPage));
            NoteWrite(maddr >> PageShift);
            data = data[inPage..];
            maddr += (ulong)inPage;
        }
    }

    public void Read(ulong maddr, Span<byte> into)
    {
        while (into.Length > 0)
        {
            int inPage = Math.Min(into.Length, PageSize - (int)(maddr & PageMask));
            Span(maddr, inPage).CopyTo(into);
            into = into[inPage..];
            maddr += (ulong)inPage;
        }
    }

    public void Fill(ulong maddr, byte value, int length)
    {
        while (length > 0)
        {
            int inPage = Math.Min(length, PageSize - (int)(maddr & PageMask));
            Span(maddr, inPage).Fill(value);
            NoteWrite(maddr >> PageShift);
            length -= inPage;
            maddr += (ulong)inPage;
        }
    }

    /// <summary>A span inside one frame.</summary>
    public Span<byte> Span(ulong maddr, int length)
    {
        int offset = (int)(maddr & PageMask);
        if (offset + length > PageSize) throw new ArgumentOutOfRangeException(nameof(length), $"0x{maddr:x}+{length} crosses a frame");
        return Frame(maddr >> PageShift).AsSpan(offset, length);
    }
}
