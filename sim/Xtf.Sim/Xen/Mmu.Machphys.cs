using System.Buffers.Binary;
using Xtf.Sim.Cpu;

namespace Xtf.Sim.Xen;

/// <summary>
/// The read-only machine-to-phys table at RO_MPT_VIRT_START (L4 slot 256; xen/arch/x86/x86_64/mm.c,
/// paging_init): Xen maps it user-readable in 2 MiB pieces covering every machine frame; entries of
/// frames the domain does not own read as INVALID_M2P_ENTRY (all ones, Xen's fill value).
/// </summary>
public sealed partial class Mmu : IMachphysWindow
{
    private const ulong InvalidM2pEntry = ulong.MaxValue;
    private const int EntriesPerPage = 512;

    // Pages of the window as the guest last saw them; refilled on every TLB fill.
    private byte[]?[]? windowPages;

    /// <summary>max_page entries of 8 bytes, rounded up to 2 MiB.</summary>
    public ulong MappedBytes => (Memory.FrameCount * 8 + (1UL << 21) - 1) & ~((1UL << 21) - 1);

    public bool IsMapped(ulong l4Mfn) => pages.TryGetValue(l4Mfn, out var p) && p.RoMpt;

    public byte[] Page(ulong index)
    {
        windowPages ??= new byte[]?[MappedBytes / 4096];
        var page = windowPages[index] ??= new byte[4096];
        ulong first = index * EntriesPerPage;
        for (int i = 0; i < EntriesPerPage; i++)
        {
            ulong mfn = first + (ulong)i;
            ulong value = domain.M2p.TryGetValue(mfn, out ulong pfn) ? pfn : InvalidM2pEntry;
            BinaryPrimitives.WriteUInt64LittleEndian(page.AsSpan(8 * i, 8), value);
        }
        return page;
    }
}
