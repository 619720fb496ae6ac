using System.Buffers.Binary;
using Xtf.Abi;
using Xtf.Sim.Cpu;
using Xtf.Sim.Memory;

namespace Xtf.Sim.Xen;

/// <summary>
/// A 64-bit PV guest's descriptor tables and stack/segment-base hypercalls
/// (xen/arch/x86/pv/descriptor-tables.c, x86_64/mm.c): set_gdt, update_descriptor,
/// stack_switch, set_segment_base, and the GDT/LDT the CPU reads on a segment load: the guest's
/// own frames below entry 7168 and Xen's reserved page above (0xe000 on).
/// </summary>
public sealed class DescriptorTables
{
    /// <summary>FIRST_RESERVED_GDT_ENTRY: the guest's part of the GDT ends here (14 pages).</summary>
    public const int FirstReservedGdtEntry = 14 * 512;
    private const int EntriesPerFrame = 512;
    private const ulong SegmentP = 1UL << 15, SegmentS = 1UL << 12, SegmentDpl = 3UL << 13, SegmentType = 0xF00;

    /// <summary>
    /// Xen's reserved GDT page as a 64-bit Xen lays it out (xen/arch/x86/x86_64/gdt.S), from
    /// selector 0xe000: ring-0 code and data for Xen, the flat ring-3 compat code (0xe023), data
    /// (0xe02b) and 64-bit code (0xe033), ring-0 compat code, then the TSS and LDT system descriptors.
    /// </summary>
    private static readonly ulong[] ReservedGdt =
    [
        0,
        0x00AF_9B00_0000_FFFF,   // 0xe008 ring 0 code, 64-bit
        0x00CF_9300_0000_FFFF,   // 0xe010 ring 0 data
        0,
        0x00CF_FB00_0000_FFFF,   // 0xe023 ring 3 code, compatibility
        0x00CF_F300_0000_FFFF,   // 0xe02b ring 3 data
        0x00AF_FB00_0000_FFFF,   // 0xe033 ring 3 code, 64-bit
        0x00CF_9B00_0000_FFFF,   // 0xe038 ring 0 code, compatibility
        0x0000_8900_0000_0067,   // 0xe040 TSS (busy once loaded; a system descriptor either way)
        0,
        0x0000_8200_0000_0000,   // 0xe050 LDT
        0,
    ];

    private readonly Domain domain;
    private readonly GuestMemory guest;
    private readonly Mmu mmu;
    private readonly X86Interpreter cpu;

    public DescriptorTables(Domain domain, GuestMemory guest, Mmu mmu, X86Interpreter interpreter)
    {
        this.domain = domain;
        this.guest = guest;
        this.mmu = mmu;
        cpu = interpreter;
        foreach (var v in domain.Vcpus) v.Cpu.Descriptors = new VcpuTables(this, v);
    }

    private MachineMemory Memory => domain.Memory;

    // ------------------------------------------------------------ check_descriptor (xen/arch/x86/pv/descriptor-tables.c)

    /// <summary>
    /// check_descriptor for a 64-bit PV domain: not-present descriptors pass; present ones get DPL
    /// 3 (the guest kernel's RPL); code and data pass; type 0 passes (a call gate's upper half);
    /// a call gate passes with a target code selector the guest may use, its DPL moved into the
    /// selector's RPL and DPL 0; everything else fails. Fixes <paramref name="d"/> in place.
    /// </summary>
    public static bool CheckDescriptor(ref ulong d)
    {
        uint a = (uint)d, b = (uint)(d >> 32);
        if ((b & SegmentP) == 0) return true;
        uint dpl = (b >> 13) & 3;
        if (dpl < 3) dpl = 3;                                   // __fixup_guest_selector: GUEST_KERNEL_RPL is 3
        b = (b & ~(uint)SegmentDpl) | (dpl << 13);
        if ((b & SegmentS) == 0)
        {
            if ((b & SegmentType) == 0) return true;
            if ((b & SegmentType) != 0xC00) return false;       // only call gates among system descriptors
            ushort cs = (ushort)(a >> 16);
            if (!GuestGateSelectorOkay(cs)) return false;
            b &= ~(uint)SegmentDpl;
            cs = (ushort)((cs & ~3) | (int)dpl);
            a = (a & 0xFFFF) | ((uint)cs << 16);
            if ((b & 0xFF) != 0) return false;                  // reserved bits
        }
        d = a | ((ulong)b << 32);
        return true;
    }

    /// <summary>guest_gate_selector_okay: a GDT selector below the reserved area, Xen's flat ring-3 code selectors, or an LDT selector.</summary>
    private static bool GuestGateSelectorOkay(ushort sel) =>
        (sel & ~3) is 0xE030 or 0xE020 || (sel >> 3) < FirstReservedGdtEntry || (sel & 4) != 0;

    // ------------------------------------------------------------ set_gdt (xen/arch/x86/pv/descriptor-tables.c)

    /// <summary>do_set_gdt / pv_set_gdt.</summary>
    public long SetGdt(Vcpu v, ulong frameList, uint entries)
    {
        int nrFrames = (int)((entries + EntriesPerFrame - 1) / EntriesPerFrame);
        if (entries > FirstReservedGdtEntry) return -Errno.EINVAL;
        Span<ulong> frames = stackalloc ulong[16];
        Span<byte> raw = stackalloc byte[8 * 16];
        if (!guest.CopyFromGuest(v, frameList, raw[..(8 * nrFrames)])) return -Errno.EFAULT;
        for (int i = 0; i < nrFrames; i++) frames[i] = BinaryPrimitives.ReadUInt64LittleEndian(raw[(8 * i)..]);

        // Check the pages of the new GDT: each must take the seg_desc type (validating all 512 descriptors).
        int taken = 0;
        for (; taken < nrFrames; taken++)
            if (!mmu.GetPage(frames[taken]) || !TakeSegDescType(frames[taken])) break;
        if (taken < nrFrames)
        {
            while (taken-- > 0) mmu.PutSegDescType(frames[taken]);
            return -Errno.EINVAL;
        }
        DestroyGdt(v);
        for (int i = 0; i < nrFrames; i++) v.GdtFrames[i] = frames[i];
        v.GdtEntries = (int)entries;
        cpu.FlushTlb();
        return 0;
    }

    /// <summary>pv_destroy_gdt: drops the type references of the current GDT's frames.</summary>
    public void DestroyGdt(Vcpu v)
    {
        int nrFrames = (v.GdtEntries + EntriesPerFrame - 1) / EntriesPerFrame;
        for (int i = 0; i < nrFrames; i++) mmu.PutSegDescType(v.GdtFrames[i]);
        Array.Clear(v.GdtFrames);
        v.GdtEntries = 0;
    }

    /// <summary>get_page_type(PGT_seg_desc_page): the first reference validates every descriptor (alloc_segdesc_page).</summary>
    private bool TakeSegDescType(ulong mfn)
    {
        if (mmu.SegDescTypeCount(mfn) > 0)
        {
            mmu.GetSegDescType(mfn);
            return true;
        }
        if (!mmu.CanBeTyped(mfn, level: 0)) return false;
        for (int i = 0; i < EntriesPerFrame; i++)
        {
            ulong at = (mfn << 12) + (ulong)(8 * i);
            ulong d = Memory.ReadU64(at);
            if (!CheckDescriptor(ref d)) return false;
            Memory.WriteU64(at, d);
        }
        mmu.GetSegDescType(mfn);
        return true;
    }

    // ------------------------------------------------------------ update_descriptor (xen/arch/x86/pv/descriptor-tables.c)

    /// <summary>do_update_descriptor: an aligned guest-physical address, a valid descriptor, a frame that is a descriptor page or can be writable.</summary>
    public long UpdateDescriptor(Vcpu v, ulong gaddr, ulong desc)
    {
        if ((gaddr & 7) != 0 || !CheckDescriptor(ref desc)) return -Errno.EINVAL;
        ulong mfn = gaddr >> 12;                                    // a PV domain's gfn is its mfn
        if (!mmu.GetPage(mfn)) return -Errno.EINVAL;
        if (mmu.SegDescTypeCount(mfn) == 0 && !mmu.CanBeWritable(mfn)) return -Errno.EINVAL;
        ulong at = (mfn << 12) + (gaddr & 0xFFF);
        Memory.WriteU64(at, desc);
        return 0;
    }

    // ------------------------------------------------------------ stack_switch, set_segment_base (xen/arch/x86/x86_64/mm.c)

    /// <summary>do_stack_switch: the guest kernel's stack for bounce frames from user mode.</summary>
    public static long StackSwitch(Vcpu v, ulong ss, ulong sp)
    {
        v.KernelSs = ss | 3;     // fixup_guest_stack_selector
        v.KernelSp = sp;
        return 0;
    }

    /// <summary>do_set_segment_base: FS, the kernel's and the user's GS base, or the user GS from a selector.</summary>
    public long SetSegmentBase(Vcpu v, uint which, ulong value)
    {
        var c = v.Cpu;
        switch (which)
        {
            case 0:   // SEGBASE_FS
                if (!GuestMemory.IsCanonical(value)) return -Errno.EINVAL;
                c.FsBase = value;
                return 0;
            case 1:   // SEGBASE_GS_USER: the shadow GS base while the kernel runs
                if (!GuestMemory.IsCanonical(value)) return -Errno.EINVAL;
                if (v.KernelMode) v.ShadowGsBase = value; else c.GsBase = value;
                return 0;
            case 2:   // SEGBASE_GS_KERNEL
                if (!GuestMemory.IsCanonical(value)) return -Errno.EINVAL;
                if (v.KernelMode) c.GsBase = value; else v.ShadowGsBase = value;
                return 0;
            case 3:   // SEGBASE_GS_USER_SEL: load %gs (user) from the GDT/LDT; a faulting load leaves a null %gs
            {
                ushort sel = (ushort)value;
                if (sel > 3) sel |= 3;
                if (!TryLoadDataSelector(v, sel, out ulong b)) { sel = 0; b = 0; }
                c.Gs = sel;
                if (v.KernelMode) v.ShadowGsBase = b; else c.GsBase = b;
                return 0;
            }
            default:
                return -Errno.EINVAL;
        }
    }

    /// <summary>What a ring-3 data-segment load of <paramref name="sel"/> would give as base; false where it would fault.</summary>
    private bool TryLoadDataSelector(Vcpu v, ushort sel, out ulong b)
    {
        b = 0;
        if ((sel & ~3) == 0) return true;
        if (!Read(v, sel, out ulong d)) return false;
        bool system = (d & (1UL << 44)) == 0, code = (d & (1UL << 43)) != 0, rw = (d & (1UL << 41)) != 0;
        int dpl = (int)(d >> 45) & 3;
        if (system || (code && !rw) || (d & (1UL << 47)) == 0 || dpl < 3) return false;
        b = ((d >> 16) & 0xFF_FFFF) | ((d >> 32) & 0xFF00_0000);
        return true;
    }

    // ------------------------------------------------------------ what the CPU reads

    /// <summary>The descriptor a selector names in <paramref name="v"/>'s GDT (mapped frames, then Xen's page) or LDT.</summary>
    public bool Read(Vcpu v, ushort sel, out ulong d) => Locate(v, sel, out d, out _, out _) == DescriptorLookup.Found;

    private DescriptorLookup Locate(Vcpu v, ushort sel, out ulong d, out ulong machineAddress, out ulong faultAddress)
    {
        d = 0;
        machineAddress = 0;
        faultAddress = 0;
        int index = sel >> 3;
        if ((sel & 4) != 0)
        {
            // The LDT: the CPU's limit is the entry count; each page is read through Xen's shadow mapping,
            // made on the first use (handle_ldt_mapping_fault), and a page Xen cannot map is the guest's #PF.
            if ((uint)index >= v.LdtEntries) return DescriptorLookup.OutsideTable;
            uint offset = (uint)(8 * index);
            if (v.LdtShadow[offset >> 12] is not { } mfn && !MapLdtShadowPage(v, offset, out mfn))
            {
                faultAddress = v.LdtBase + offset;
                return DescriptorLookup.PageFault;
            }
            machineAddress = (mfn << 12) + (offset & 0xFFF);
            d = Memory.ReadU64(machineAddress);
            return DescriptorLookup.Found;
        }
        if (index >= FirstReservedGdtEntry)
        {
            int r = index - FirstReservedGdtEntry;
            if (r >= EntriesPerFrame) return DescriptorLookup.OutsideTable;
            d = r < ReservedGdt.Length ? ReservedGdt[r] : 0;
            return DescriptorLookup.Found;
        }
        int frame = index / EntriesPerFrame;
        int nrFrames = (v.GdtEntries + EntriesPerFrame - 1) / EntriesPerFrame;
        if (frame >= nrFrames) return DescriptorLookup.OutsideTable;   // unmapped: Xen turns the fault into #GP(sel)
        machineAddress = (v.GdtFrames[frame] << 12) + (ulong)(8 * (index % EntriesPerFrame));
        d = Memory.ReadU64(machineAddress);
        return DescriptorLookup.Found;
    }

    /// <summary>
    /// pv_map_ldt_shadow_page (xen/arch/x86/pv/mm.c): the LDT page at <paramref name="offset"/> must be
    /// present in the guest kernel's page tables (guest_get_eff_kern_l1e; its RW and U/S bits do not matter),
    /// be the domain's, and take the seg_desc type (every descriptor of the page passes check_descriptor,
    /// and no writable mapping holds it). Then Xen maps it in the vCPU's shadow area.
    /// </summary>
    private bool MapLdtShadowPage(Vcpu v, uint offset, out ulong mfn)
    {
        mfn = 0;
        ulong linear = v.LdtBase + offset;
        if (!cpu.Translate(v.GuestTable, linear, AccessKind.Read, false, out ulong ma, out _)) return false;
        ulong frame = ma >> 12;
        if (!mmu.GetPage(frame) || !TakeSegDescType(frame)) return false;
        v.LdtShadow[offset >> 12] = frame;
        mfn = frame;
        return true;
    }

    private void MarkAccessed(Vcpu v, ushort sel)
    {
        if (Locate(v, sel, out ulong d, out ulong ma, out _) != DescriptorLookup.Found || ma == 0) return;
        Memory.WriteU64(ma, d | (1UL << 40));
    }

    private sealed class VcpuTables(DescriptorTables tables, Vcpu v) : IDescriptorTables
    {
        public DescriptorLookup Read(ushort selector, out ulong descriptor, out ulong faultAddress) =>
            tables.Locate(v, selector, out descriptor, out _, out faultAddress);
        public void MarkAccessed(ushort selector) => tables.MarkAccessed(v, selector);
    }
}
