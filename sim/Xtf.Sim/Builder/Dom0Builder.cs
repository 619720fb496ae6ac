using System.Buffers.Binary;
using System.IO.Compression;
using Xtf.Abi;
using Xtf.Sim.Memory;

namespace Xtf.Sim.Builder;

/// <summary>
/// Xen 4.17's internal PV dom0 builder (xen/arch/x86/pv/dom0_build.c, dom0_construct_pv), redone
/// step by step in Xen's order so that what the guest can see is byte-identical and Xen's log lines
/// (and its failures) come out as on real Xen. Specification: docs/dom0.md §2.
/// Not modelled: an initrd (QEMU's second module), INIT_P2M, BSD_SYMTAB "yes", bzImage wrapping.
/// </summary>
public sealed class Dom0Builder
{
    private const ulong Page = MachineMemory.PageSize;
    private const ulong StartInfoSize = StartInfo.Layout.Size;                 // 0x490
    private const ulong ConsoleInfoSize = Dom0VgaConsoleInfo.Layout.Size;      // 0x28
    private const ulong HypervisorVirtStart = 0xFFFF_8000_0000_0000, HypervisorVirtEnd = 0xFFFF_8800_0000_0000;
    /// <summary>(xen_processor_pmbits &lt;&lt; 8) &amp; SIF_PM_MASK: PX and CX on this machine (measured 0x303).</summary>
    private const uint PmFlags = 0x300;

    /// <summary>Xen's boot video state handed to dom0 (measured: VGA text mode 3, 80x25, font 16, cursor 0,0).</summary>
    public static Dom0VgaConsoleInfo MeasuredConsoleInfo { get; } = new()
    {
        VideoType = Dom0VgaConsoleInfo.TypeTextMode3, FontHeight = 16, CursorX = 0, CursorY = 0, Rows = 25, Columns = 80,
    };

    private readonly MachineProfile profile;
    private readonly MachineMemory memory;
    private readonly List<string> log = [];
    private readonly bool fillHypercallPage;
    /// <summary>Pages of the initial mapping Xen wrote through (their L1 entries get Dirty), by pfn.</summary>
    private bool[] dirtyPfns = [];

    private ulong vStart, vEnd, blockStartMfn;

    private Dom0Builder(MachineProfile profile, MachineMemory memory, bool fillHypercallPage)
    {
        this.profile = profile;
        this.memory = memory;
        this.fillHypercallPage = fillHypercallPage;
    }

    /// <summary>
    /// Builds dom0 from <paramref name="kernel"/> (the first multiboot module) into <paramref name="memory"/>.
    /// <paramref name="dom0CommandLine"/> is what follows the image name in the module string;
    /// <paramref name="xenCommandLine"/> (optional) supplies <c>-- extra</c>, <c>noapic</c> and <c>acpi=</c> (§1.3).
    /// <paramref name="fillHypercallPage"/> false (tests of a guest's boot checks only) leaves the image's
    /// hypercall page as the image has it, as if Xen had not filled it.
    /// </summary>
    /// <exception cref="DomainBuildException">Xen would panic; the exception carries Xen's lines.</exception>
    /// <exception cref="NotSupportedException">The image uses a feature this model does not implement.</exception>
    public static Dom0 Build(ReadOnlyMemory<byte> kernel, string dom0CommandLine, MachineProfile profile, MachineMemory memory,
        string? xenCommandLine = null, bool fillHypercallPage = true)
    {
        ArgumentNullException.ThrowIfNull(profile);
        ArgumentNullException.ThrowIfNull(memory);
        if (memory.FrameCount < profile.MachineFrames)
            throw new ArgumentException($"machine memory has 0x{memory.FrameCount:x} frames, the profile needs 0x{profile.MachineFrames:x}", nameof(memory));
        string cmdline = Dom0CommandLine.Cook(dom0CommandLine ?? "", xenCommandLine);
        return new Dom0Builder(profile, memory, fillHypercallPage).Construct(kernel, cmdline);
    }

    private DomainBuildException Fail(string? message, string panicText = DomainBuildException.CouldNotConstruct)
    {
        if (message is not null) log.Add(message);
        var lines = new List<string>(log);
        lines.AddRange(DomainBuildException.PanicBlock(panicText));
        return new DomainBuildException(message ?? panicText, lines);
    }

    private DomainBuildException Panic(string panicText) => Fail(null, panicText);

    private Dom0 Construct(ReadOnlyMemory<byte> module, string cmdline)
    {
        int moduleLength = module.Length;
        // xen/arch/x86/setup.c: modules are relocated before dom0 is built, leaving room to decompress.
        CheckRelocationHeadroom(module.Span);

        // xen/arch/x86/pv/dom0_build.c: dom0_construct_pv.
        log.Add("*** Building a PV Dom0 ***");
        var image = Gunzip(module);

        // xen/common/libelf/libelf-loader.c: elf_init, elf_parse_binary.
        var elf = XenElfBinary.Init(image, log) ?? throw Fail(PopLast());
        elf.ParseBinary();

        // xen/common/libelf/libelf-dominfo.c: elf_xen_parse (notes, note check, address calculation).
        var parms = LibElfDomInfo.Parse(elf, log);
        if (parms is null) throw Fail(log.Count > 1 ? PopLast() : null);

        // xen/arch/x86/pv/dom0_build.c: compatibility check.
        log.Add(" Xen  kernel: 64-bit, lsb");
        if (elf.Is32) throw Fail("Found 32-bit PV kernel, but CONFIG_PV32 missing");
        bool compatible = elf.Is64 && elf.Machine == XenElfBinary.EmX86_64 && !elf.Msb;
        string bits = elf.Is64 ? "64" : "??";
        log.Add($" Dom0 kernel: {bits}-bit{(parms.Pae != XenPaeMode.None ? ", PAE" : "")}, {(elf.Msb ? "msb" : "lsb")}, " +
                $"paddr {CHex(elf.PStart)} -> {CHex(elf.PEnd)}");
        if (!compatible) throw Fail("Mismatch between Xen and DOM0 kernel");
        if (parms.NotesPresent.Contains(LibElfDomInfo.NoteSupportedFeatures) && !parms.Supports((int)XenFeature.Dom0))
            throw Fail("Kernel does not support Dom0 operation");
        if (parms.BsdSymtab) throw new NotSupportedException("BSD_SYMTAB \"yes\": loading the symbol table after the kernel is not modelled");
        if (parms.P2mBase is not null) throw new NotSupportedException("INIT_P2M: a P2M outside the initial mapping is not modelled");

        // xen/arch/x86/dom0_build.c: dom0_compute_nr_pages.
        ulong nrPages = ComputeNrPages(parms);

        ulong vmAssist = parms.Pae == XenPaeMode.ExtCr3 ? 1UL << (int)VmAssistType.PaeExtendedCr3 : 0;

        // xen/arch/x86/pv/dom0_build.c: the virtual layout (no initrd: the ramdisk range is empty).
        vStart = parms.VirtBase!.Value;
        ulong vkernStart = parms.VirtKStart, vkernEnd = parms.VirtKEnd;
        ulong vinitrdStart = PageUp(vkernEnd), vinitrdEnd = vinitrdStart;
        ulong vphysmapStart = parms.UnmappedInitrd ? PageUp(vkernEnd) : PageUp(vinitrdEnd);
        ulong vphysmapEnd = unchecked(vphysmapStart + nrPages * 8);
        ulong vstartinfoStart = PageUp(vphysmapEnd);
        ulong vstartinfoEnd = unchecked(vstartinfoStart + StartInfoSize);
        ulong vptStart = PageUp(vstartinfoEnd);
        // The smallest n ≥ 2 whose mapping needs at most n tables. Tables needed never shrink as n
        // grows, so a failing n can jump straight to the count it needed (Xen steps by one).
        ulong nrPt = 2, vptEnd, vstackStart, vstackEnd;
        while (true)
        {
            vptEnd = unchecked(vptStart + nrPt * Page);
            vstackStart = vptEnd;
            vstackEnd = unchecked(vstackStart + Page);
            vEnd = unchecked((vstackEnd + (1UL << 22) - 1) & ~((1UL << 22) - 1));
            if (unchecked(vEnd - vstackEnd) < 512 << 10) vEnd = unchecked(vEnd + (1UL << 22));
            ulong needed = PvPageTables.TablesNeeded(vStart, vEnd);
            if (needed <= nrPt) break;
            nrPt = needed;
        }

        ulong count = unchecked(vEnd - vStart);
        int order = Dom0ChunkAllocator.OrderFromPages((count + Page - 1) / Page);
        if ((1UL << order) > nrPages) throw Panic("Domain 0 allocation is too small for kernel image");

        // The initial block: from the top of a free chunk (measured end; see MachineProfile).
        ulong blockPages = 1UL << order;
        ulong blockEndMfn = profile.AllocBlockEnd >> MachineMemory.PageShift;
        if (blockPages > blockEndMfn) throw Panic("Not enough RAM for domain 0 allocation");
        blockStartMfn = blockEndMfn - blockPages;
        ulong sharedInfoMfn = profile.SharedInfoAddress((ulong)moduleLength) >> MachineMemory.PageShift;
        if (sharedInfoMfn >= blockStartMfn && sharedInfoMfn < blockEndMfn)
            throw new NotSupportedException($"an order-{order} block below 0x{profile.AllocBlockEnd:x} would hold shared_info: not modelled");
        ulong totPages = blockPages;
        dirtyPfns = new bool[blockPages];   // the initial mapping is at most the block

        log.Add("PHYSICAL MEMORY ARRANGEMENT:");
        log.Add($" Dom0 alloc.:   {blockStartMfn << 12:x16}->{blockEndMfn << 12:x16}" +
                (totPages < nrPages ? $" ({nrPages - totPages} pages to be allocated)" : ""));
        log.Add("VIRTUAL MEMORY ARRANGEMENT:");
        log.Add($" Loaded kernel: {vkernStart:x16}->{vkernEnd:x16}");
        if (vinitrdEnd > vinitrdStart) log.Add($" Init. ramdisk: {vinitrdStart:x16}->{vinitrdEnd:x16}");
        log.Add($" Phys-Mach map: {vphysmapStart:x16}->{vphysmapEnd:x16}");
        ulong printedStartInfoEnd = vstartinfoEnd + ConsoleInfoSize;
        log.Add($" Start info:    {vstartinfoStart:x16}->{printedStartInfoEnd:x16}");
        log.Add($" Page tables:   {vptStart:x16}->{vptEnd:x16}");
        log.Add($" Boot stack:    {vstackStart:x16}->{vstackEnd:x16}");
        log.Add($" TOTAL:         {vStart:x16}->{vEnd:x16}");
        log.Add($" ENTRY ADDRESS: {parms.VirtEntry!.Value:x16}");

        if (vStart < HypervisorVirtEnd && vEnd > HypervisorVirtStart) throw Fail("DOM0 image overlaps with Xen private area.");

        // Bootstrap page tables in the block, right after the kernel, P2M and start info pages.
        ulong firstTableMfn = blockStartMfn + ((vptStart - vStart) >> MachineMemory.PageShift);
        var tables = PvPageTables.Build(memory, vStart, vEnd, firstTableMfn, pfn => blockStartMfn + pfn);
        if ((ulong)tables.Count != nrPt) throw new InvalidOperationException($"built {tables.Count} tables, sized {nrPt}");
        ulong cr3 = tables[0].Mfn << MachineMemory.PageShift;

        // mark_pv_pt_pages_rdonly: the table frames are mapped read-only.
        for (ulong i = 0; i < nrPt; i++)
        {
            ulong at = PvPageTables.L1EntryAddress(memory, cr3, vptStart + i * Page)!.Value;
            memory.WriteU64(at, memory.ReadU64(at) & ~PvPageTables.Rw);
        }

        // Mask all upcalls (xen/arch/x86/pv/dom0_build.c; shared_info was cleared when the domain was created).
        ulong sharedInfo = sharedInfoMfn << MachineMemory.PageShift;
        memory.Frame(sharedInfoMfn).AsSpan().Clear();
        for (int i = 0; i < PvLayout.LegacyMaxVcpus; i++)
            memory.WriteU8(sharedInfo + (ulong)SharedInfo.Layout.VcpuInfoAt(i) + VcpuInfo.Layout.EvtchnUpcallMask, 1);

        log.Add($"Dom0 has maximum {profile.Dom0Vcpus} VCPUs");

        // Now on dom0's page tables: load the image (xen/common/libelf/libelf-loader.c, elf_load_binary).
        LoadSegments(elf, vkernStart);

        if (parms.VirtHypercall is { } hypercall)
        {
            if (hypercall < vStart || hypercall >= vEnd) throw Fail("Invalid HYPERCALL_PAGE field in ELF notes.");
            // xen/arch/x86/pv/hypercall.c: hypercall_page_initialise.
            if (fillHypercallPage) WriteVirtual(hypercall, HypercallPage.Build());
        }

        // start_info: cleared, then filled.
        WriteVirtual(vstartinfoStart, new byte[Page]);

        // The P2M for the initial block (pfn i ↔ block frame i), then the rest of dom0's memory in chunks.
        var p2mRuns = new PhysToMachineMap.Builder();
        p2mRuns.Append(blockStartMfn, Math.Min(totPages, nrPages));
        ulong firstP2mPfn = p2mRuns.Count;

        // xen/arch/x86/pv/dom0_build.c: alloc_chunk until nr_pages are owned.
        var heap = new DomHeap(profile.FreeChunks);
        heap.Reserve(blockStartMfn, blockEndMfn);
        heap.Reserve(sharedInfoMfn, sharedInfoMfn + 1);
        KeepFreePages(heap, nrPages - totPages, sharedInfoMfn, blockEndMfn);
        var chunks = new Dom0ChunkAllocator(heap);
        while (p2mRuns.Count < nrPages)
        {
            var chunk = chunks.Next(nrPages - totPages) ?? throw Panic("Not enough RAM for DOM0 reservation");
            totPages += 1UL << chunk.Order;
            ulong pages = totPages - p2mRuns.Count;
            if (chunk.Mfn + pages > profile.MachineFrames)
                throw new InvalidOperationException($"heap model handed out mfns 0x{chunk.Mfn:x}+0x{pages:x} beyond the machine");
            p2mRuns.Append(chunk.Mfn, pages);
        }
        var p2m = p2mRuns.Build();
        WriteMfnList(vphysmapStart, p2m);

        var startInfo = new StartInfo
        {
            Magic = $"xen-3.0-x86_{(elf.Is64 ? 64 : 32)}{(parms.Pae != XenPaeMode.None ? "p" : "")}",
            NrPages = nrPages,
            SharedInfo = sharedInfo,
            Flags = (uint)(SifFlags.Privileged | SifFlags.InitDomain) | PmFlags,
            PtBase = vptStart,
            NrPtFrames = nrPt,
            MfnList = vphysmapStart,
            CmdLine = cmdline,
            FirstP2mPfn = firstP2mPfn,
            NrP2mFrames = 0,
            // fill_console_start_info found a VGA console: its info follows start_info.
            ConsoleInfoOff = (uint)StartInfoSize,
            ConsoleInfoSize = (uint)ConsoleInfoSize,
        };
        var siBytes = new byte[StartInfoSize + ConsoleInfoSize];
        startInfo.Write(siBytes);
        MeasuredConsoleInfo.Write(siBytes.AsSpan((int)StartInfoSize));
        WriteVirtual(vstartinfoStart, siBytes);

        // Back on Xen's tables: the wallclock (xen/common/time.c, update_domain_wallclock_time: version 0 → 1 → 2).
        memory.WriteU32(sharedInfo + SharedInfo.Layout.WcVersion, 2);
        memory.WriteU32(sharedInfo + SharedInfo.Layout.WcSec, (uint)profile.WallclockSec);
        memory.WriteU32(sharedInfo + SharedInfo.Layout.WcNsec, profile.WallclockNsec);
        memory.WriteU32(sharedInfo + SharedInfo.Layout.WcSecHi, (uint)(profile.WallclockSec >> 32));

        // The hardware set Dirty wherever Xen wrote through dom0's mappings (one walk per L1 table).
        ulong l1Region = ulong.MaxValue, l1Table = 0;
        for (ulong pfn = 0; pfn < (ulong)dirtyPfns.Length; pfn++)
        {
            if (!dirtyPfns[pfn]) continue;
            ulong va = vStart + pfn * Page;
            if (va >> 21 != l1Region)
            {
                l1Table = PvPageTables.L1EntryAddress(memory, cr3, va)!.Value & ~MachineMemory.PageMask;
                l1Region = va >> 21;
            }
            ulong at = l1Table + (ulong)PvPageTables.L1Index(va) * 8;
            memory.WriteU64(at, memory.ReadU64(at) | PvPageTables.Dirty);
        }

        // Initial register values.
        var vcpu0 = new VcpuBootState { Rip = parms.VirtEntry.Value, Rsp = vstackEnd, Rsi = vstartinfoStart, Cr3 = cr3 };
        if (parms.Requires((int)XenFeature.SupervisorModeKernel)) throw Panic("Dom0 requires supervisor-mode execution");

        return new Dom0
        {
            VirtStart = vStart, VirtEnd = vEnd, KernelStart = vkernStart, KernelEnd = vkernEnd,
            PhysmapStart = vphysmapStart, PhysmapEnd = vphysmapEnd, StartInfoVa = vstartinfoStart, StartInfoEnd = printedStartInfoEnd,
            PageTablesStart = vptStart, PageTablesEnd = vptEnd, BootStackVa = vstackStart, Entry = parms.VirtEntry.Value,
            NrPtFrames = nrPt, NrPages = nrPages, MaxVcpus = profile.Dom0Vcpus,
            AllocBlockStart = blockStartMfn << 12, AllocBlockEnd = blockEndMfn << 12, AllocOrder = order,
            P2mMap = p2m, M2p = new MachineToPhysMap(p2m), PageTableFrames = tables, Cr3 = cr3, SharedInfoMfn = sharedInfoMfn,
            StartInfo = startInfo, ConsoleInfo = MeasuredConsoleInfo, CommandLine = cmdline,
            BuildLog = log.ToArray(), Vcpu0 = vcpu0, VmAssist = vmAssist, Parms = parms,
            Notes = parms.HasGuestInfo ? null : new Xtf.Elf.XenNotes(parms.RawXenNotes),
            HypercallPageVa = parms.VirtHypercall,
        };
    }

    private string PopLast()
    {
        string last = log[^1];
        log.RemoveAt(log.Count - 1);
        return last;
    }

    /// <summary>
    /// xen/arch/x86/bzimage.c, bzimage_headroom, as used by setup.c: a module that is not ELF is taken
    /// for a compressed kernel whose last four bytes give the decompressed size; Xen panics early when
    /// that much room cannot be found (measured with garbage modules). The threshold here is the free heap.
    /// </summary>
    private void CheckRelocationHeadroom(ReadOnlySpan<byte> module)
    {
        bool elf = module.Length >= 4 && module[0] == 0x7f && module[1] == 'E' && module[2] == 'L' && module[3] == 'F';
        if (elf || module.Length < 4) return;
        ulong headroom = BinaryPrimitives.ReadUInt32LittleEndian(module[^4..]);
        headroom += IsGzip(module) ? (headroom >> 12) + 32768 + 18 : (ulong)module.Length;
        headroom = PageUp(headroom);
        if (headroom + PageUp((ulong)module.Length) > profile.FreePages * Page)
        {
            var lines = DomainBuildException.PanicBlock("Not enough memory to relocate the dom0 kernel image");
            throw new DomainBuildException("Not enough memory to relocate the dom0 kernel image", lines);
        }
    }

    private static bool IsGzip(ReadOnlySpan<byte> s) => s.Length >= 2 && s[0] == 0x1f && s[1] == 0x8b;

    /// <summary>xen/arch/x86/bzimage.c, bzimage_parse: a gzip-compressed module is decompressed first.</summary>
    private ReadOnlyMemory<byte> Gunzip(ReadOnlyMemory<byte> module)
    {
        if (!IsGzip(module.Span)) return module;
        try
        {
            using var input = new MemoryStream(module.ToArray());
            using var gz = new GZipStream(input, CompressionMode.Decompress);
            using var output = new MemoryStream();
            gz.CopyTo(output);
            return output.ToArray();
        }
        catch (InvalidDataException)
        {
            throw Fail(null);
        }
    }

    /// <summary>dom0_compute_nr_pages (PV, no dom0_mem): F less a page per extra vCPU, less 1/16 capped at 128 MiB; then the legacy clip.</summary>
    private ulong ComputeNrPages(ElfDomParms parms)
    {
        ulong nr = profile.NrPages;
        // Legacy Linux clip: the P2M must fit below the top of the address space.
        ulong vend = PageUp(parms.VirtKEnd);
        ulong vstart = parms.VirtBase!.Value;
        ulong end = unchecked(vend + nr * 8);
        if (end > vstart) end = unchecked(end + (end - vstart));
        if (end <= vstart)
        {
            nr = unchecked(0UL - vend) / 16;
            log.Add($"Dom0 memory clipped to {nr} pages");
        }
        return nr;
    }

    /// <summary>elf_load_binary: each loadable segment's file bytes, then zeros to p_memsz, at vkern_start + (p_paddr − pstart).</summary>
    private void LoadSegments(XenElfBinary elf, ulong vkernStart)
    {
        for (int i = 0; i < elf.PhNum; i++)
        {
            ulong ph = elf.PhdrAt(i)!.Value;
            if (!elf.AccessOk(ph, 1)) break;
            if (!elf.IsLoadable(ph)) continue;
            ulong paddr = elf.PPaddr(ph), offset = elf.POffset(ph), filesz = elf.PFilesz(ph), memsz = elf.PMemsz(ph);
            if (filesz > memsz) throw Fail("Failed to load the kernel binary");
            ulong dest = unchecked(vkernStart + (paddr - elf.PStart));
            // Xen trusts dom0's image: bytes past the end of the module are whatever follows it in
            // memory. Here they read as zero.
            ulong inImage = offset < elf.Size ? Math.Min(filesz, elf.Size - offset) : 0;
            if (inImage > 0) WriteVirtual(dest, elf.Image.Slice((int)offset, (int)inImage));
            ZeroVirtual(dest + inImage, filesz - inImage);
            ZeroVirtual(dest + filesz, memsz - filesz);
        }
    }

    /// <summary>
    /// The mfn_list at <paramref name="va"/> (page-aligned, in the initial block): what Xen writes entry
    /// by entry, produced lazily. Its frames are handed to machine memory as a provided range, so the
    /// bytes appear when the guest (or anyone) first touches them, equal to an eager copy; the pages
    /// are marked dirty as Xen's writes would leave them.
    /// </summary>
    private void WriteMfnList(ulong va, PhysToMachineMap p2m)
    {
        if ((va & MachineMemory.PageMask) != 0) throw new InvalidOperationException($"mfn_list at 0x{va:x} is not page-aligned");
        ulong bytes = p2m.Count * 8;
        if (bytes == 0) return;
        ulong endVa = va + bytes;
        if (va < vStart || endVa > vEnd) throw new InvalidOperationException($"mfn_list 0x{va:x}-0x{endVa:x} outside dom0's initial mapping");
        ulong firstPfn = (va - vStart) >> MachineMemory.PageShift;
        ulong pages = (bytes + Page - 1) >> MachineMemory.PageShift;
        ulong firstMfn = blockStartMfn + firstPfn;
        memory.Provide(firstMfn, pages, (mfn, frame) => p2m.WriteEntries((mfn - firstMfn) * (Page / 8), frame));
        for (ulong k = 0; k < pages; k++) dirtyPfns[firstPfn + k] = true;
    }

    /// <summary>A write by Xen through dom0's initial mapping: to the block frame behind each page, marking the page dirty.</summary>
    private void WriteVirtual(ulong va, ReadOnlySpan<byte> data)
    {
        while (data.Length > 0)
        {
            if (va < vStart || va >= vEnd) throw new InvalidOperationException($"write to 0x{va:x} outside dom0's initial mapping");
            ulong pfn = (va - vStart) >> MachineMemory.PageShift;
            int inPage = (int)Math.Min((ulong)data.Length, Page - (va & MachineMemory.PageMask));
            memory.Write(((blockStartMfn + pfn) << MachineMemory.PageShift) | (va & MachineMemory.PageMask), data[..inPage]);
            dirtyPfns[pfn] = true;
            data = data[inPage..];
            va += (ulong)inPage;
        }
    }

    /// <summary>
    /// The measured heaps hold exactly the pages dom0 still needs after its initial block. For a
    /// kernel module smaller than the measured sizes (under 9 pages), the measured shared_info rule
    /// can put shared_info inside one of the small chunks near the relocated module, whose real
    /// positions for such sizes were not measured; on real Xen the total stays the same (nr_pages
    /// follows from F alone, docs/dom0.md §2.3). Keep that invariant: hand the heap the missing
    /// pages from the highest frames below the top reserve that no chunk holds. Only the P2M's last
    /// entries depend on this choice.
    /// </summary>
    private void KeepFreePages(DomHeap heap, ulong needed, ulong sharedInfoMfn, ulong blockEndMfn)
    {
        if (heap.FreePages >= needed || !profile.FreeChunksMeasured) return;
        ulong missing = needed - heap.FreePages;
        if (missing > 16) throw new InvalidOperationException($"the measured heap lacks {missing} pages: not a shared_info collision");
        ulong candidate = profile.LowRamFrames - 0x20 - 0x400;
        for (int bound = 0; missing > 0; bound++)
        {
            if (bound > 4096 || candidate == 0) throw new InvalidOperationException("no spare frame below the heap's top reserve");
            candidate--;
            if (candidate == sharedInfoMfn || candidate >= blockStartMfn && candidate < blockEndMfn || heap.Holds(candidate)) continue;
            heap.AddFrame(candidate);
            missing--;
        }
    }

    /// <summary>Zeros written by Xen through dom0's initial mapping (as <see cref="WriteVirtual"/> with zero bytes).</summary>
    private void ZeroVirtual(ulong va, ulong length)
    {
        while (length > 0)
        {
            if (va < vStart || va >= vEnd) throw new InvalidOperationException($"write to 0x{va:x} outside dom0's initial mapping");
            ulong pfn = (va - vStart) >> MachineMemory.PageShift;
            int inPage = (int)Math.Min(length, Page - (va & MachineMemory.PageMask));
            memory.Fill(((blockStartMfn + pfn) << MachineMemory.PageShift) | (va & MachineMemory.PageMask), 0, inPage);
            dirtyPfns[pfn] = true;
            length -= (ulong)inPage;
            va += (ulong)inPage;
        }
    }

    private static ulong PageUp(ulong x) => unchecked((x + Page - 1) & ~(Page - 1));

    /// <summary>printf's %#x: 0x-prefixed lowercase hex, except that zero prints as "0".</summary>
    private static string CHex(ulong v) => v == 0 ? "0" : $"0x{v:x}";
}
