using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Xtf.Sim.Memory;

namespace Xtf.Sim.Cpu;

/// <summary>The kinds of access a translation is for.</summary>
public enum AccessKind { Read, Write, Execute }

/// <summary>
/// The read-only machine-to-phys table Xen maps at L4 slot 256 of a PV guest's page tables
/// (RO_MPT_VIRT_START): user-readable, never writable. It lives outside guest memory, so the walker
/// hands out its pages by a machine address at or above <see cref="PageWalker.WindowBase"/>.
/// </summary>
public interface IMachphysWindow
{
    /// <summary>Whether the L4 table at <paramref name="l4Mfn"/> has the slot filled in.</summary>
    bool IsMapped(ulong l4Mfn);

    /// <summary>Bytes mapped from the start of the slot (whole pages).</summary>
    ulong MappedBytes { get; }

    /// <summary>Page <paramref name="index"/> of the table with its current entries (no allocation after the first use).</summary>
    byte[] Page(ulong index);
}

/// <summary>
/// The long-mode 4-level page walk through a PV guest's page tables in machine memory (entries hold
/// machine frame numbers, so CR3 is a machine address): permission checks with the hardware #PF error
/// code, and the Accessed/Dirty updates hardware makes. It caches nothing (the interpreter's TLBs do).
/// </summary>
internal sealed partial class PageWalker
{
    private const ulong PteP = 1, PteRw = 2, PteUs = 4, PteA = 0x20, PteD = 0x40, PtePs = 0x80, PteNx = 1UL << 63;
    private const ulong PteAddr = 0x000F_FFFF_FFFF_F000;

    private const uint PfP = 1, PfW = 2, PfU = 4, PfRsvd = 8, PfI = 16;

    private readonly MachineMemory memory;

    public PageWalker(MachineMemory memory)
    {
        ArgumentNullException.ThrowIfNull(memory);
        this.memory = memory;
    }

    /// <summary>Linear address of L4 slot 256 (RO_MPT_VIRT_START).</summary>
    public const ulong WindowVirtStart = 0xFFFF_8000_0000_0000;
    /// <summary>Machine addresses from here on name pages of the <see cref="IMachphysWindow"/>, not machine memory.</summary>
    public const ulong WindowBase = 1UL << 62;

    /// <summary>The read-only M2P the hypervisor model provides, or null (slot 256 is then walked like any other).</summary>
    public IMachphysWindow? Window { get; set; }

    /// <summary>The page behind a machine address the walk returned: machine memory or a window page.</summary>
    public byte[] FrameOf(ulong mfn) =>
        mfn >= (WindowBase >> MachineMemory.PageShift) ? Window!.Page(mfn - (WindowBase >> MachineMemory.PageShift)) : memory.Frame(mfn);

    /// <summary>Walks done over the walker's lifetime.</summary>
    public long Walks { get; private set; }

    /// <summary>
    /// The 4-level walk. On success sets Accessed in every entry used and Dirty in the leaf for writes
    /// (nothing is changed when the walk faults). <paramref name="fastWrite"/> tells whether a later write
    /// at the same privilege needs no walk (writable, user-accessible if user, leaf already dirty).
    /// </summary>
    public bool Walk(ulong cr3, ulong va, AccessKind kind, bool user, out ulong maddr, out uint error, out bool fastWrite)
    {
        if (Mode != PagingMode.Long) return WalkHvm(cr3, va, kind, user, out maddr, out error, out fastWrite);
        maddr = 0;
        fastWrite = false;
        Walks++;
        // The I/D bit is only reported with EFER.NXE (SDM 4.7); PV vCPUs always run with NXE on.
        uint errBase = (kind == AccessKind.Write ? PfW : 0) | (user ? PfU : 0) | (kind == AccessKind.Execute && (Nxe || !HvmVcpu) ? PfI : 0);
        if (Window is { } window && (va >> 39 & 0x1FF) == 256 && window.IsMapped(cr3 >> MachineMemory.PageShift))
            return WalkWindow(window, va, kind, errBase, out maddr, out error);
        Span<ulong> used = stackalloc ulong[4];
        ulong table = cr3 & PteAddr;
        bool rw = true, us = true, nx = false;
        int levels = 0;
        ulong leaf = 0;
        ulong frameCount = memory.FrameCount;
        for (int level = 4; level >= 1; level--)
        {
            int shift = 12 + 9 * (level - 1);
            ulong entryAddr = table + (((va >> shift) & 0x1FF) << 3);
            if ((entryAddr >> MachineMemory.PageShift) >= frameCount)
            {
                error = errBase | PfP | PfRsvd;   // a table beyond machine memory: treated as a reserved-bit fault
                return false;
            }
            ulong e = Unsafe.ReadUnaligned<ulong>(ref FrameByte(memory.Frame(entryAddr >> MachineMemory.PageShift), (int)(entryAddr & MachineMemory.PageMask)));
            if ((e & PteP) == 0)
            {
                error = errBase;
                return false;
            }
            bool large = (e & PtePs) != 0;
            if (large && level == 4
                || large && level == 3 && (e & 0x3FFF_E000UL) != 0
                || large && level == 2 && (e & 0x1F_E000UL) != 0)
            {
                error = errBase | PfP | PfRsvd;
                return false;
            }
            used[levels++] = entryAddr;
            if ((e & PteRw) == 0) rw = false;
            if ((e & PteUs) == 0) us = false;
            if ((e & PteNx) != 0) nx = true;
            if (level == 1 || large)
            {
                ulong pageMask = (1UL << shift) - 1;
                maddr = (e & PteAddr & ~pageMask) | (va & pageMask);
                leaf = e;
                break;
            }
            table = e & PteAddr;
        }

        if ((user && !us) || (kind == AccessKind.Write && !rw) || (kind == AccessKind.Execute && nx))
        {
            error = errBase | PfP;
            return false;
        }
        if ((maddr >> MachineMemory.PageShift) >= frameCount)
        {
            error = errBase | PfP | PfRsvd;   // a page beyond machine memory: treated as a reserved-bit fault
            return false;
        }

        for (int i = 0; i < levels; i++)
        {
            ulong ea = used[i];
            bool isLeaf = i == levels - 1;
            ulong set = PteA | (isLeaf && kind == AccessKind.Write ? PteD : 0);
            ref byte p = ref FrameByte(memory.Frame(ea >> MachineMemory.PageShift), (int)(ea & MachineMemory.PageMask));
            ulong e = Unsafe.ReadUnaligned<ulong>(ref p);
            if ((e & set) != set)
            {
                Unsafe.WriteUnaligned(ref p, e | set);
                memory.NoteWrite(ea >> MachineMemory.PageShift);
            }
        }
        fastWrite = rw && (!user || us) && ((leaf & PteD) != 0 || kind == AccessKind.Write);
        error = 0;
        return true;
    }

    /// <summary>
    /// Slot 256 with the read-only M2P: present and user-readable up to the mapped size, not present beyond,
    /// a protection fault for writes. Execution is refused too (Xen's mapping would allow it; nothing runs there).
    /// </summary>
    private static bool WalkWindow(IMachphysWindow window, ulong va, AccessKind kind, uint errBase, out ulong maddr, out uint error)
    {
        maddr = 0;
        ulong offset = va - WindowVirtStart;
        if (offset >= window.MappedBytes)
        {
            error = errBase;
            return false;
        }
        if (kind != AccessKind.Read)
        {
            error = errBase | PfP;
            return false;
        }
        maddr = WindowBase + offset;
        error = 0;
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref byte FrameByte(byte[] frame, int offset) =>
        ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(frame), offset);
}
