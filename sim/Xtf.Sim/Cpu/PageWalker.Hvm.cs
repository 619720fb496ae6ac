using System.Runtime.CompilerServices;
using Xtf.Sim.Memory;

namespace Xtf.Sim.Cpu;

// The HVM vCPU's translations other than 4-level long mode: paging off, 32-bit 2-level paging (4 MiB
// pages with CR4.PSE) and PAE (docs/hvm.md §2). Guest-physical addresses index the domain's memory
// directly (the PVH model's p2m is the identity), so table entries are used as they are.
internal sealed partial class PageWalker
{
    /// <summary>The translation in force; <see cref="PagingMode.Long"/> for PV and 64-bit HVM guests.</summary>
    public PagingMode Mode { get; set; }
    /// <summary>CR4.PSE (2-level only), CR0.WP, EFER.NXE.</summary>
    public bool Pse { get; set; }
    public bool Wp { get; set; } = true;
    public bool Nxe { get; set; }
    /// <summary>An HVM vCPU's walk: the fetch bit of a #PF error code follows <see cref="Nxe"/>.</summary>
    public bool HvmVcpu { get; set; }

    private const ulong HvmPteP = 1, HvmPteRw = 2, HvmPteUs = 4, HvmPteA = 0x20, HvmPteD = 0x40, HvmPtePs = 0x80;
    private const uint HPfP = 1, HPfW = 2, HPfU = 4, HPfRsvd = 8, HPfI = 16;

    private bool WalkHvm(ulong cr3, ulong va, AccessKind kind, bool user, out ulong maddr, out uint error, out bool fastWrite)
    {
        Walks++;
        maddr = 0;
        fastWrite = false;
        ulong frames = memory.FrameCount;
        uint errBase = (kind == AccessKind.Write ? HPfW : 0) | (user ? HPfU : 0) | (kind == AccessKind.Execute && Nxe ? HPfI : 0);
        va = (uint)va;
        if (Mode == PagingMode.None)
        {
            maddr = va;
            if ((va >> MachineMemory.PageShift) >= frames)
            {
                error = HPfRsvd;   // nothing behind the address in the model
                return false;
            }
            fastWrite = true;
            error = 0;
            return true;
        }
        Span<ulong> used = stackalloc ulong[3];
        Span<byte> widths = stackalloc byte[3];
        int levels = 0;
        bool rw = true, us = true, nx = false;
        ulong leaf = 0;
        int shift;
        ulong table;
        if (Mode == PagingMode.Pae)
        {
            ulong pdpteAddr = (cr3 & 0xFFFF_FFE0) + ((va >> 30) & 3) * 8;
            if ((pdpteAddr >> MachineMemory.PageShift) >= frames) { error = errBase | HPfP | HPfRsvd; return false; }
            ulong pdpte = ReadEntry(pdpteAddr, 8);
            if ((pdpte & HvmPteP) == 0) { error = errBase; return false; }
            table = pdpte & 0x000F_FFFF_FFFF_F000;
            for (int level = 2; level >= 1; level--)
            {
                shift = 12 + 9 * (level - 1);
                ulong ea = table + (((va >> shift) & 0x1FF) << 3);
                if ((ea >> MachineMemory.PageShift) >= frames) { error = errBase | HPfP | HPfRsvd; return false; }
                ulong e = ReadEntry(ea, 8);
                if ((e & HvmPteP) == 0) { error = errBase; return false; }
                used[levels] = ea; widths[levels++] = 8;
                if ((e & HvmPteRw) == 0) rw = false;
                if ((e & HvmPteUs) == 0) us = false;
                if (Nxe && (e & (1UL << 63)) != 0) nx = true;
                bool large = level == 2 && (e & HvmPtePs) != 0;
                if (level == 1 || large)
                {
                    ulong pageMask = (1UL << shift) - 1;
                    maddr = (e & 0x000F_FFFF_FFFF_F000 & ~pageMask) | (va & pageMask);
                    leaf = e;
                    break;
                }
                table = e & 0x000F_FFFF_FFFF_F000;
            }
        }
        else
        {
            table = cr3 & 0xFFFF_F000;
            for (int level = 2; level >= 1; level--)
            {
                shift = 12 + 10 * (level - 1);
                ulong ea = table + (((va >> shift) & 0x3FF) << 2);
                if ((ea >> MachineMemory.PageShift) >= frames) { error = errBase | HPfP | HPfRsvd; return false; }
                ulong e = ReadEntry(ea, 4);
                if ((e & HvmPteP) == 0) { error = errBase; return false; }
                used[levels] = ea; widths[levels++] = 4;
                if ((e & HvmPteRw) == 0) rw = false;
                if ((e & HvmPteUs) == 0) us = false;
                bool large = level == 2 && Pse && (e & HvmPtePs) != 0;
                if (level == 1 || large)
                {
                    ulong pageMask = (1UL << shift) - 1;
                    maddr = (e & 0xFFFF_F000 & ~pageMask) | (va & pageMask);
                    leaf = e;
                    break;
                }
                table = e & 0xFFFF_F000;
            }
        }
        bool writeOk = rw || (!user && !Wp);
        if ((user && !us) || (kind == AccessKind.Write && !writeOk) || (kind == AccessKind.Execute && nx))
        {
            error = errBase | HPfP;
            return false;
        }
        if ((maddr >> MachineMemory.PageShift) >= frames)
        {
            error = errBase | HPfP | HPfRsvd;
            return false;
        }
        for (int i = 0; i < levels; i++)
        {
            ulong ea = used[i];
            ulong set = HvmPteA | (i == levels - 1 && kind == AccessKind.Write ? HvmPteD : 0);
            ulong e = ReadEntry(ea, widths[i]);
            if ((e & set) != set)
            {
                if (widths[i] == 8) memory.WriteU64(ea, e | set);
                else memory.WriteU32(ea, (uint)(e | set));
            }
        }
        fastWrite = writeOk && (!user || us) && ((leaf & HvmPteD) != 0 || kind == AccessKind.Write);
        error = 0;
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong ReadEntry(ulong addr, int width) => width == 8 ? memory.ReadU64(addr) : memory.ReadU32(addr);
}
