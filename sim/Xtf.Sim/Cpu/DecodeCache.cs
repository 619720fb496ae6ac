using System.Diagnostics;
using Xtf.Sim.Memory;

namespace Xtf.Sim.Cpu;

/// <summary>The pre-decoded instructions of one machine frame, indexed by page offset.</summary>
internal sealed class DecodedPage
{
    public readonly Op[] Ops = new Op[MachineMemory.PageSize];
    public ulong Mfn;
    public byte[] Frame = [];
    /// <summary>When the page became live (the cache's counter): the oldest is evicted first.</summary>
    public long Added;
    /// <summary>Offsets of the slots decoded so far, so that a reset clears only those.</summary>
    private ushort[] decoded = new ushort[32];
    private int decodedCount;

    /// <summary>Whether the page holds nothing: no decoded slot, no frame (as handed out for reuse).</summary>
    public bool IsReset => decodedCount == 0 && Frame.Length == 0;

    public void NoteDecoded(int offset)
    {
        if (decodedCount == decoded.Length) Array.Resize(ref decoded, decoded.Length * 2);
        decoded[decodedCount++] = (ushort)offset;
    }

    public void Reset()
    {
        for (int i = 0; i < decodedCount; i++) Ops[decoded[i]] = default;
        decodedCount = 0;
        Frame = [];
    }

    /// <summary>Whether every slot is undecoded (a full scan: for invariant checks only).</summary>
    public bool AllSlotsEmpty()
    {
        foreach (ref readonly Op op in Ops.AsSpan())
            if (op.H != H.None) return false;
        return true;
    }
}

/// <summary>
/// The decode cache: one <see cref="DecodedPage"/> per machine frame that holds code the interpreter has
/// run, keyed by machine frame number (never by virtual address, so aliases share one page). It marks
/// those frames as code in <see cref="MachineMemory"/>, drops a page when its frame is written, and recycles
/// dropped pages. It does not decode (that is <see cref="OpCompiler"/>) and knows nothing of virtual
/// addresses or TLBs: whoever holds references to a page learns of its drop from <see cref="Drop"/> or
/// <see cref="Find"/>.
/// </summary>
/// <remarks>
/// Limits: at most <see cref="LivePageLimit"/> live pages (128 KiB each; past it, <see cref="Add"/> drops the
/// oldest, which is decoded again if it runs again); at most
/// <see cref="FreePageLimit"/> reset pages are kept for reuse per cache, and at most
/// <see cref="SharedFreePageLimit"/> across caches (<see cref="Release"/>). A dropped page is not reset
/// at once: the instruction being executed may still refer to its ops; it is reset at the next
/// <see cref="Find"/>, before any new decoding.
/// Invariants (<see cref="CheckInvariants"/>): every live page is keyed by its own frame number and has
/// its frame; a dropped page is never live; every free page is reset.
/// </remarks>
internal sealed class DecodeCache
{
    /// <summary>Reset pages kept for reuse by one cache.</summary>
    public const int FreePageLimit = 32;

    /// <summary>Live pages at most: 1024 op tables of 128 KiB bound one run's decoded code to 128 MiB of host memory.</summary>
    public const int LivePageLimit = 1024;

    private long added;

    /// <summary>Reset pages kept for reuse across caches (machines), see <see cref="Release"/>.</summary>
    public const int SharedFreePageLimit = 64;

    private readonly MachineMemory memory;
    private readonly Dictionary<ulong, DecodedPage> live = new();
    private readonly Stack<DecodedPage> free = new();
    /// <summary>Dropped pages not yet reset (the current instruction may still be reading their ops).</summary>
    private readonly List<DecodedPage> retired = new();

    public DecodeCache(MachineMemory memory)
    {
        ArgumentNullException.ThrowIfNull(memory);
        this.memory = memory;
    }

    /// <summary>Number of frames holding decoded code.</summary>
    public int Count => live.Count;

    /// <summary>
    /// The live page of <paramref name="mfn"/>, or null. A page whose frame is no longer marked as code
    /// (unmarked behind the cache's back: its decodings may be stale) is dropped, returned in
    /// <paramref name="stale"/>, and null is returned.
    /// </summary>
    public DecodedPage? Find(ulong mfn, out DecodedPage? stale)
    {
        stale = null;
        RecycleRetired();
        if (!live.TryGetValue(mfn, out var page)) return null;
        if (memory.IsCode(mfn)) return page;
        stale = Drop(mfn);
        RecycleRetired();
        return null;
    }

    /// <summary>
    /// A new, empty page for <paramref name="mfn"/> (which has none); marks the frame as code. With
    /// <see cref="LivePageLimit"/> pages live, the oldest is dropped first and returned in <paramref name="evicted"/>.
    /// </summary>
    public DecodedPage Add(ulong mfn, out DecodedPage? evicted)
    {
        Debug.Assert(!live.ContainsKey(mfn), "a frame has at most one decoded page");
        evicted = live.Count >= LivePageLimit ? Drop(Oldest()) : null;
        var page = free.Count > 0 ? free.Pop() : RentShared() ?? new DecodedPage();
        Debug.Assert(page.IsReset, "a reused page holds no decodings");
        page.Mfn = mfn;
        page.Frame = memory.Frame(mfn);
        page.Added = added++;
        live[mfn] = page;
        memory.MarkCode(mfn);
        return page;
    }

    /// <summary>A new, empty page for <paramref name="mfn"/>; see <see cref="Add(ulong, out DecodedPage?)"/>.</summary>
    public DecodedPage Add(ulong mfn) => Add(mfn, out _);

    private ulong Oldest()
    {
        ulong oldest = 0;
        long stamp = long.MaxValue;
        foreach (var (mfn, page) in live)
        {
            if (page.Added < stamp)
            {
                stamp = page.Added;
                oldest = mfn;
            }
        }
        return oldest;
    }

    /// <summary>Forgets the decodings of <paramref name="mfn"/>; returns the page dropped, or null when there was none.</summary>
    public DecodedPage? Drop(ulong mfn)
    {
        if (!live.Remove(mfn, out var page)) return null;
        // The instruction being executed may still refer to this page's ops: reset it only at the next Find.
        retired.Add(page);
        return page;
    }

    private void RecycleRetired()
    {
        if (retired.Count == 0) return;
        foreach (var p in retired)
        {
            if (free.Count >= FreePageLimit) break;
            p.Reset();
            free.Push(p);
        }
        retired.Clear();
    }

    /// <summary>
    /// Reset pages (every slot default) given back by caches whose machine finished. A page's op table
    /// is 128 KiB, on the large-object heap: reusing them across the short runs of a test suite avoids a
    /// full garbage collection every few runs. Pages hold no guest state once reset.
    /// </summary>
    private static readonly Stack<DecodedPage> SharedFree = new();

    private static DecodedPage? RentShared()
    {
        lock (SharedFree) return SharedFree.Count > 0 ? SharedFree.Pop() : null;
    }

    /// <summary>
    /// Resets every page (live, dropped and free) and gives them back for later caches, once the machine
    /// is done. The cache stays usable and empty. Frames stay marked as code (a later write reports to
    /// the owner, which finds nothing to drop).
    /// </summary>
    public void Release()
    {
        var pages = new List<DecodedPage>(live.Count + retired.Count + free.Count);
        foreach (var mfn in live.Keys.Order()) pages.Add(live[mfn]);
        pages.AddRange(retired);
        foreach (var p in pages) p.Reset();
        pages.AddRange(free);
        live.Clear();
        retired.Clear();
        free.Clear();
        lock (SharedFree)
            foreach (var p in pages)
                if (SharedFree.Count < SharedFreePageLimit) SharedFree.Push(p);
    }

    /// <summary>Throws when an invariant does not hold (for tests and debugging; scans every free page).</summary>
    public void CheckInvariants()
    {
        if (live.Count > LivePageLimit) throw new InvalidOperationException($"{live.Count} live pages, limit {LivePageLimit}");
        foreach (var (mfn, page) in live)
        {
            if (page.Mfn != mfn) throw new InvalidOperationException($"decoded page of mfn 0x{page.Mfn:x} keyed as 0x{mfn:x}");
            if (page.Frame.Length != MachineMemory.PageSize) throw new InvalidOperationException($"decoded page of mfn 0x{mfn:x} has no frame");
        }
        foreach (var page in retired)
            if (live.TryGetValue(page.Mfn, out var p) && ReferenceEquals(p, page))
                throw new InvalidOperationException($"dropped page of mfn 0x{page.Mfn:x} is still live");
        if (free.Count > FreePageLimit) throw new InvalidOperationException($"{free.Count} free pages, limit {FreePageLimit}");
        foreach (var page in free)
            if (!page.IsReset || !page.AllSlotsEmpty()) throw new InvalidOperationException("a free decoded page is not reset");
    }
}
