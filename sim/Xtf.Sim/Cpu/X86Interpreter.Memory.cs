using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Xtf.Sim.Memory;

namespace Xtf.Sim.Cpu;

// Guest memory as the CPU sees it: the data and code TLBs in front of the PageWalker, guest reads and
// writes (fast path on a TLB hit), Translate for the hypervisor model.
public sealed partial class X86Interpreter
{
    // ------------------------------------------------------------------ data TLB: direct-mapped, 4 KiB granular

    private const int TlbBits = 8, TlbSize = 1 << TlbBits, TlbMask = TlbSize - 1;
    private const int ItlbBits = 6, ItlbSize = 1 << ItlbBits, ItlbMask = ItlbSize - 1;
    private const ulong NoTag = ulong.MaxValue;

    /// <summary>One data-TLB slot: a virtual page's frame, with separate read and write permission tags.</summary>
    private struct TlbEntry
    {
        /// <summary>The virtual page number when reads at the TLB's privilege are allowed.</summary>
        public ulong ReadTag;
        /// <summary>The virtual page number when writes are allowed, the leaf is dirty and the frame holds no decoded code.</summary>
        public ulong WriteTag;
        public ulong Mfn;
        public byte[]? Frame;
    }

    /// <summary>One code-TLB slot: a virtual page's decoded page (see <see cref="DecodeCache"/>).</summary>
    private struct CodeEntry
    {
        public ulong Tag;
        public DecodedPage? Page;
    }

    private readonly TlbEntry[] tlb = new TlbEntry[TlbSize];
    private readonly CodeEntry[] itlb = new CodeEntry[ItlbSize];
    private ulong tlbCr3 = NoTag;
    private int tlbCpl = -1;

    /// <summary>The read-only M2P Xen maps at L4 slot 256 (set by the hypervisor model).</summary>
    public IMachphysWindow? MachphysWindow { get => walker.Window; set => walker.Window = value; }

    /// <summary>Drops every cached translation. Call after changing page tables or CR3.</summary>
    public void FlushTlb()
    {
        stats.TlbFlushes++;
        for (int i = 0; i < tlb.Length; i++)
        {
            tlb[i].ReadTag = NoTag;
            tlb[i].WriteTag = NoTag;
            tlb[i].Frame = null;
        }
        for (int i = 0; i < itlb.Length; i++)
        {
            itlb[i].Tag = NoTag;
            itlb[i].Page = null;
        }
        curVpn = NoTag;
        curPage = null;
    }

    /// <summary>Makes sure no write fast path points at <paramref name="mfn"/> (it now holds decoded code).</summary>
    private void PurgeWriteTags(ulong mfn)
    {
        for (int i = 0; i < tlb.Length; i++)
            if (tlb[i].Mfn == mfn) tlb[i].WriteTag = NoTag;
    }

    internal static bool IsCanonical(ulong va) => (ulong)((long)(va << 16) >> 16) == va;

    /// <summary>
    /// The translation the CPU does for an access, for the hypervisor model (copy_to/from_guest calls
    /// it with user = false). Sets Accessed/Dirty as hardware does. A non-canonical address gives false
    /// with error code 0xFFFFFFFF (the caller raises #GP).
    /// </summary>
    public bool Translate(CpuState cpu, ulong va, AccessKind kind, bool user, out ulong maddr, out uint pageFaultErrorCode)
    {
        ArgumentNullException.ThrowIfNull(cpu);
        if (!IsCanonical(va))
        {
            maddr = 0;
            pageFaultErrorCode = 0xFFFF_FFFF;
            return false;
        }
        return Translate(cpu.Cr3, va, kind, user, out maddr, out pageFaultErrorCode);
    }

    /// <summary>As <see cref="Translate(CpuState, ulong, AccessKind, bool, out ulong, out uint)"/>, through the tables at <paramref name="root"/>.</summary>
    public bool Translate(ulong root, ulong va, AccessKind kind, bool user, out ulong maddr, out uint pageFaultErrorCode)
    {
        if (!IsCanonical(va))
        {
            maddr = 0;
            pageFaultErrorCode = 0xFFFF_FFFF;
            return false;
        }
        return walker.Walk(root, va, kind, user, out maddr, out pageFaultErrorCode, out _);
    }

    // ------------------------------------------------------------------ raw frame access

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref byte FrameByte(byte[] frame, int offset) =>
        ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(frame), offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong LoadSized(ref byte p, int size) => size switch
    {
        8 => Unsafe.ReadUnaligned<ulong>(ref p),
        4 => Unsafe.ReadUnaligned<uint>(ref p),
        2 => Unsafe.ReadUnaligned<ushort>(ref p),
        _ => p,
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreSized(ref byte p, int size, ulong v)
    {
        switch (size)
        {
            case 8: Unsafe.WriteUnaligned(ref p, v); break;
            case 4: Unsafe.WriteUnaligned(ref p, (uint)v); break;
            case 2: Unsafe.WriteUnaligned(ref p, (ushort)v); break;
            default: p = (byte)v; break;
        }
    }

    // ------------------------------------------------------------------ guest data accesses

    /// <summary>Reads <paramref name="size"/> bytes (1, 2, 4, 8) at a linear address; false = fault recorded.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool Read(ulong va, int size, byte memFlags, out ulong value)
    {
        ulong vpn = va >> MachineMemory.PageShift;
        ref TlbEntry e = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(tlb), (int)vpn & TlbMask);
        uint off = (uint)va & (uint)MachineMemory.PageMask;
        if (e.ReadTag == vpn && off <= (uint)(MachineMemory.PageSize - size))
        {
            value = LoadSized(ref FrameByte(e.Frame!, (int)off), size);
            return true;
        }
        return ReadSlow(va, size, memFlags, false, out value);
    }

    /// <summary>The read half of a read-modify-write: needs write permission (the #PF has W set).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool ReadForWrite(ulong va, int size, byte memFlags, out ulong value)
    {
        ulong vpn = va >> MachineMemory.PageShift;
        ref TlbEntry e = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(tlb), (int)vpn & TlbMask);
        uint off = (uint)va & (uint)MachineMemory.PageMask;
        if (e.WriteTag == vpn && off <= (uint)(MachineMemory.PageSize - size))
        {
            value = LoadSized(ref FrameByte(e.Frame!, (int)off), size);
            return true;
        }
        return ReadSlow(va, size, memFlags, true, out value);
    }

    /// <summary>Writes <paramref name="size"/> bytes; both pages of a straddling access are checked before anything is written.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool Write(ulong va, int size, byte memFlags, ulong value)
    {
        ulong vpn = va >> MachineMemory.PageShift;
        ref TlbEntry e = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(tlb), (int)vpn & TlbMask);
        uint off = (uint)va & (uint)MachineMemory.PageMask;
        if (e.WriteTag == vpn && off <= (uint)(MachineMemory.PageSize - size))
        {
            StoreSized(ref FrameByte(e.Frame!, (int)off), size, value);
            return true;
        }
        return WriteSlow(va, size, memFlags, value);
    }

    /// <summary>Checks that a write of <paramref name="size"/> bytes would not fault (used before multi-write instructions).</summary>
    private bool ProbeWrite(ulong va, int size, byte memFlags) => ReadForWrite(va, Math.Min(size, 8), memFlags, out _)
        && (size <= 8 || ReadForWrite(va + 8, size - 8, memFlags, out _));

    private bool NonCanonical(byte memFlags) =>
        (memFlags & Op.MfStack) != 0 && !NonCanonicalStackIsGp ? Fault(12, 0, true) : Fault(13, 0, true);

    /// <summary>Walks for a data access and fills the TLB slot; false = #PF recorded.</summary>
    private bool FillData(ulong va, bool write, out byte[] frame, out ulong mfn)
    {
        bool user = cpu.Cpl == 3;
        if (!walker.Walk(cpu.Cr3, va, write ? AccessKind.Write : AccessKind.Read, user, out ulong maddr, out uint err, out bool fastWrite))
        {
            frame = null!;
            mfn = 0;
            return PageFault(va, err);
        }
        mfn = maddr >> MachineMemory.PageShift;
        frame = maddr < PageWalker.WindowBase ? memory.Frame(mfn) : walker.FrameOf(mfn);   // the read-only M2P lives outside memory
        ulong vpn = va >> MachineMemory.PageShift;
        ref TlbEntry e = ref tlb[(int)vpn & TlbMask];
        if (e.ReadTag != vpn || e.Mfn != mfn) e.WriteTag = NoTag;
        e.ReadTag = vpn;
        e.Mfn = mfn;
        e.Frame = frame;
        e.WriteTag = fastWrite && !memory.IsCode(mfn) ? vpn : NoTag;
        if (watchArmed && IsWatchedPage(vpn)) e.ReadTag = e.WriteTag = NoTag;   // every access checks the watch
        return true;
    }

    private bool ReadSlow(ulong va, int size, byte memFlags, bool forWrite, out ulong value)
    {
        value = 0;
        if (!IsCanonical(va) || !IsCanonical(va + (ulong)size - 1)) return NonCanonical(memFlags);
        if (!FillData(va, forWrite, out byte[] f1, out _)) return false;
        if (watchArmed) CheckWatch(va, size, forWrite);
        int off = (int)(va & MachineMemory.PageMask);
        if (off + size <= MachineMemory.PageSize)
        {
            value = LoadSized(ref FrameByte(f1, off), size);
            return true;
        }
        ulong va2 = (va | MachineMemory.PageMask) + 1;
        if (!FillData(va2, forWrite, out byte[] f2, out _)) return false;
        int n1 = MachineMemory.PageSize - off;
        ulong v = 0;
        for (int i = 0; i < size; i++)
        {
            byte b = i < n1 ? f1[off + i] : f2[i - n1];
            v |= (ulong)b << (8 * i);
        }
        value = v;
        return true;
    }

    private bool WriteSlow(ulong va, int size, byte memFlags, ulong value)
    {
        if (!IsCanonical(va) || !IsCanonical(va + (ulong)size - 1)) return NonCanonical(memFlags);
        if (!FillData(va, true, out byte[] f1, out ulong m1)) return false;
        if (watchArmed) CheckWatch(va, size, true);
        int off = (int)(va & MachineMemory.PageMask);
        if (off + size <= MachineMemory.PageSize)
        {
            StoreSized(ref FrameByte(f1, off), size, value);
            memory.NoteWrite(m1);
            return true;
        }
        ulong va2 = (va | MachineMemory.PageMask) + 1;
        if (!FillData(va2, true, out byte[] f2, out ulong m2)) return false;
        int n1 = MachineMemory.PageSize - off;
        for (int i = 0; i < size; i++)
        {
            byte b = (byte)(value >> (8 * i));
            if (i < n1) f1[off + i] = b;
            else f2[i - n1] = b;
        }
        memory.NoteWrite(m1);
        memory.NoteWrite(m2);
        return true;
    }
}
