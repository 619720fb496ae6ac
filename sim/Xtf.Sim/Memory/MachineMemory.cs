using System.Buffers.Binary;

namespace Xtf.Sim.Memory;

/// <summary>
/// The simulated machine's RAM, addressed by machine address (MFN &lt;&lt; 12 | offset). Frames are
/// allocated on first touch (read or write), so a 512 MiB machine costs only what is used: an
/// untouched frame reads as zero, unless a range was given a <see cref="FrameFill"/> with
/// <see cref="Provide"/>, whose content is then produced when the frame is first touched.
/// The frame table is two-level (2 MiB groups), so creating a machine allocates almost nothing.
/// Writes to frames that hold decoded code are reported through <see cref="CodeWritten"/>, so the
/// interpreter can drop stale decodings.
/// </summary>
public sealed class MachineMemory
{
    /// <summary>The most frames one simulated machine has (64 GiB of machine addresses).</summary>
    public const ulong MaxFrames = 1UL << 24;

    public const int PageShift = 12;
    public const int PageSize = 1 << PageShift;
    public const ulong PageMask = PageSize - 1;

    /// <summary>Frames per group of the frame table (2 MiB).</summary>
    private const int GroupShift = 9, GroupSize = 1 << GroupShift;
    private const ulong GroupMask = GroupSize - 1;
    /// <summary>At most this many lazily produced ranges (the dom0 builder registers one).</summary>
    public const int MaxProvidedRanges = 64;

    private readonly byte[]?[]?[] groups;
    private readonly ulong[] codeBits;
    private readonly List<(ulong First, ulong Count, FrameFill Fill)> provided = [];

    /// <summary>Produces the content of frame <paramref name="mfn"/> into <paramref name="frame"/> (4 KiB, zeroed).</summary>
    public delegate void FrameFill(ulong mfn, Span<byte> frame);

    public MachineMemory(ulong frameCount)
    {
        if (frameCount == 0 || frameCount > MaxFrames) throw new ArgumentOutOfRangeException(nameof(frameCount), "1 .. 2^24 frames (64 GiB)");
        FrameCount = frameCount;
        groups = new byte[]?[]?[(frameCount + GroupMask) >> GroupShift];
        codeBits = new ulong[(frameCount + 63) / 64];
    }

    public ulong FrameCount { get; }

    /// <summary>Called with the MFN when a frame marked as holding code is written.</summary>
    public Action<ulong>? CodeWritten { get; set; }

    /// <summary>Frames materialised so far (touched, or produced from a provided range).</summary>
    public int AllocatedFrames { get; private set; }

    /// <summary>
    /// At most this many frames are materialised (host memory for one run); touching one more throws
    /// <see cref="MemoryLimitException"/>. Default: no limit beyond the machine's size.
    /// </summary>
    public int MaterialisedFrameLimit { get; init; } = int.MaxValue;

    public bool IsAllocated(ulong mfn) => mfn < FrameCount && groups[mfn >> GroupShift]?[mfn & GroupMask] is not null;

    public bool Contains(ulong maddr) => (maddr >> PageShift) < FrameCount;

    /// <summary>
    /// Frames [<paramref name="firstMfn"/>, + <paramref name="count"/>) are produced by
    /// <paramref name="fill"/> when first touched instead of reading as zero. None of them may be
    /// materialised yet: the result is the same as writing fill's bytes now.
    /// </summary>
    public void Provide(ulong firstMfn, ulong count, FrameFill fill)
    {
        ArgumentNullException.ThrowIfNull(fill);
        if (count == 0) return;
        if (firstMfn >= FrameCount || count > FrameCount - firstMfn)
            throw new ArgumentOutOfRangeException(nameof(count), $"frames 0x{firstMfn:x}+0x{count:x} are beyond the machine's 0x{FrameCount:x}");
        if (provided.Count == MaxProvidedRanges) throw new InvalidOperationException($"more than {MaxProvidedRanges} provided ranges");
        foreach (var (first, n, _) in provided)
            if (firstMfn < first + n && first < firstMfn + count) throw new InvalidOperationException($"frames 0x{firstMfn:x}+0x{count:x} are already provided");
        for (ulong m = firstMfn; m < firstMfn + count; m++)
            if (IsAllocated(m)) throw new InvalidOperationException($"frame 0x{m:x} is already materialised");
        provided.Add((firstMfn, count, fill));
    }

    /// <summary>The 4 KiB backing a frame, materialised on first use. Callers that write must call <see cref="NoteWrite"/>.</summary>
    public byte[] Frame(ulong mfn)
    {
        if (mfn >= FrameCount) throw new ArgumentOutOfRangeException(nameof(mfn), $"mfn 0x{mfn:x} is beyond the machine's 0x{FrameCount:x} frames");
        var g = groups[mfn >> GroupShift];
        if (g is not null && g[mfn & GroupMask] is { } f) return f;
        return Materialise(mfn);
    }

    private byte[] Materialise(ulong mfn)
    {
        if (AllocatedFrames >= MaterialisedFrameLimit) throw new MemoryLimitException(MaterialisedFrameLimit);
        var g = groups[mfn >> GroupShift] ??= new byte[]?[GroupSize];
        var f = new byte[PageSize];
        foreach (var (first, n, fill) in provided)
        {
            if (mfn >= first && mfn - first < n)
            {
                fill(mfn, f);
                break;
            }
        }
        g[mfn & GroupMask] = f;
        AllocatedFrames++;
        return f;
    }

    public void MarkCode(ulong mfn) => codeBits[mfn >> 6] |= 1UL << (int)(mfn & 63);
    public void UnmarkCode(ulong mfn) => codeBits[mfn >> 6] &= ~(1UL << (int)(mfn & 63));
    public bool IsCode(ulong mfn) => mfn < FrameCount && (codeBits[mfn >> 6] & (1UL << (int)(mfn & 63))) != 0;

    /// <summary>Reports a write to a frame (by any writer) so decoded code in it is invalidated.</summary>
    public void NoteWrite(ulong mfn)
    {
        ref ulong bits = ref codeBits[mfn >> 6];
        ulong bit = 1UL << (int)(mfn & 63);
        if ((bits & bit) != 0)
        {
            bits &= ~bit;
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

/// <summary>A frame beyond <see cref="MachineMemory.MaterialisedFrameLimit"/> was touched.</summary>
public sealed class MemoryLimitException(int frames)
    : Exception($"more than {frames} frames of guest memory materialised")
{
    public int Frames { get; } = frames;
}
