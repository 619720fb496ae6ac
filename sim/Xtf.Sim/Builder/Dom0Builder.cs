using System.Buffers.Binary;
using System.IO.Compression;
using Xtf.Abi;
using Xtf.Elf;
using Xtf.Sim.Memory;

namespace Xtf.Sim.Builder;

/// <summary>
/// Xen 4.17's internal PV dom0 builder (xen/arch/x86/pv/dom0_build.c, dom0_construct_pv), redone
/// step by step in Xen's order so that what the guest can see is byte-identical and Xen's log lines
/// (and its failures) come out as on real Xen. Specification: docs/dom0.md §2.
/// Not modelled: an initrd (QEMU's second module),
/// a 1 GiB superpage for an INIT_P2M table (it needs 1 GiB of P2M), Xen's register dumps (a line says so).
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

    private ulong vStart, vEnd, blockStartMfn, cr3, vptStartVa, vptEndVa;
    private XenElfBinary? elf;

    private Dom0Builder(MachineProfile profile, MachineMemory memory, bool fillHypercallPage)
    {
        this.profile = profile;
        this.memory = memory;
        this.fillHypercallPage = fillHypercallPage;
    }

    /// <summary>
    /// Builds dom0 from <paramref name="kernel"/> (the first multiboot module) into <paramref name="memory"/>.
    /// <paramref name="dom0CommandLine"/> is what follows the image name in the module string;
    /// <paramref name="xenCommandLine"/> (optional) supplies <c>-- extra</c>, <c>noapic</c> and <c>acpi=</c> (docs/dom0.md §1.3).
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

    /// <summary>
    /// Xen gives up: <paramref name="message"/> (if any), then, for failures that leave through
    /// dom0_construct_pv's "out" label (<paramref name="brokenLine"/>), the problem libelf noted, then the panic.
    /// </summary>
    private DomainBuildException Fail(string? message, string panicText = DomainBuildException.CouldNotConstruct, bool brokenLine = false)
    {
        if (message is not null) log.Add(message);
        if (brokenLine && elf?.Broken is { } broken) log.Add(BrokenLine(broken));
        var lines = new List<string>(log);
        lines.AddRange(DomainBuildException.PanicBlock(panicText));
        return new DomainBuildException(message ?? panicText.Split('\n')[0], lines);
    }

    private DomainBuildException Panic(string panicText) => Fail(null, panicText);

    /// <summary>A decompressor's failure: its lines (none, one, or several separated by newlines), then the panic.</summary>
    private DomainBuildException DecompressorFailed(string lines)
    {
        if (lines.Length == 0) return Fail(null);
        var parts = lines.Split('\n');
        log.AddRange(parts[..^1]);
        return Fail(parts[^1]);
    }

    /// <summary>dom0_construct_pv's last words for an image libelf marked broken (printed also when the build succeeds).</summary>
    public static string BrokenLine(string problem) => $"Dom0 kernel broken ELF: {problem}";

    /// <summary>What Xen prints instead of a register dump it cannot be modelled for: the header, then a blank line (docs/dom0.md §3.4).</summary>
    public static readonly string[] RegisterDump =
    [
        "----[ Xen-4.17.7  x86_64  debug=n  Not tainted ]----",
        "(the register state, stack and call trace of Xen itself are not modelled)",
        "",
    ];

    /// <summary>A BUG_ON in dom0_construct_pv: the message, Xen's dump, the panic.</summary>
    private DomainBuildException Bug(int line)
    {
        string text = $"Xen BUG at arch/x86/pv/dom0_build.c:{line}";
        log.Add(text);
        log.AddRange(RegisterDump);
        return Panic(text);
    }

    private Dom0 Construct(ReadOnlyMemory<byte> module, string cmdline)
    {
        int moduleLength = module.Length;
        // xen/arch/x86/setup.c: modules are relocated before dom0 is built, leaving room to decompress.
        ulong headroom = RelocationHeadroom(module.Span);

        // xen/arch/x86/pv/dom0_build.c: dom0_construct_pv.
        log.Add("*** Building a PV Dom0 ***");
        var (image, imageSize) = XenBzImage.Parse(module, headroom, DecompressorFailed, Panic);

        // xen/common/libelf/libelf-loader.c: elf_init, elf_parse_binary.
        var elf = XenElfBinary.Init(image, imageSize, log) ?? throw Fail(PopLast());
        this.elf = elf;
        elf.ParseBinary();

        // xen/common/libelf/libelf-dominfo.c: elf_xen_parse (notes, note check, address calculation); failure goes to "out".
        var parms = LibElfDomInfo.Parse(elf, log);
        if (parms is null)
        {
            string? last = log.Count > 1 ? PopLast() : null;
            throw Fail(last, brokenLine: true);
        }

        // xen/arch/x86/pv/dom0_build.c: compatibility check.
        log.Add(" Xen  kernel: 64-bit, lsb");
        if (elf.Is32) throw Fail("Found 32-bit PV kernel, but CONFIG_PV32 missing");
        bool compatible = elf.Is64 && elf.Machine == XenElfBinary.EmX86_64 && !elf.Msb;
        string bits = elf.Is64 ? "64" : "??";
        log.Add($" Dom0 kernel: {bits}-bit{(parms.Pae != XenPaeMode.None ? ", PAE" : "")}, {(elf.Msb ? "msb" : "lsb")}, " +
                $"paddr {CHex(elf.PStart)} -> {CHex(elf.PEnd)}");
        if (elf.BsdSymtabPStart != 0) log.Add($" Dom0 symbol map {CHex(elf.BsdSymtabPStart)} -> {CHex(elf.BsdSymtabPEnd)}");
        if (!compatible) throw Fail("Mismatch between Xen and DOM0 kernel");
        if (parms.NotesPresent.Contains(LibElfDomInfo.NoteSupportedFeatures) && !parms.Supports((int)XenFeature.Dom0))
            throw Fail("Kernel does not support Dom0 operation");

        // xen/arch/x86/dom0_build.c: dom0_compute_nr_pages.
        ulong nrPages = ComputeNrPages(parms, (ulong)moduleLength);

        ulong vmAssist = parms.Pae == XenPaeMode.ExtCr3 ? 1UL << (int)VmAssistType.PaeExtendedCr3 : 0;

        // xen/arch/x86/pv/dom0_build.c: the virtual layout (no initrd: the ramdisk range is empty).
        vStart = parms.VirtBase!.Value;
        ulong vkernStart = parms.VirtKStart, vkernEnd = parms.VirtKEnd;
        ulong vinitrdStart = PageUp(vkernEnd), vinitrdEnd = vinitrdStart;
        ulong vphysmapStart = parms.UnmappedInitrd ? PageUp(vkernEnd) : PageUp(vinitrdEnd);
        // With INIT_P2M the P2M takes no room here; it is mapped at its own address later (setup_pv_physmap).
        ulong vphysmapEnd = parms.P2mBase is null ? unchecked(vphysmapStart + nrPages * 8) : vphysmapStart;
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
        if (parms.P2mBase is { } p2mBase)
        {
            vphysmapStart = p2mBase;
            vphysmapEnd = unchecked(p2mBase + nrPages * 8);
        }

        // The initial block: alloc_domheap_pages from the modelled heap (see MachineProfile.BuildHeap).
        ulong blockPages = 1UL << order;
        ulong sharedInfoMfn = profile.SharedInfoAddress((ulong)moduleLength) >> MachineMemory.PageShift;
        var heap = profile.BuildHeap((ulong)moduleLength, sharedInfoMfn);
        blockStartMfn = heap.Alloc(order) ?? throw Panic("Not enough RAM for domain 0 allocation");
        ulong blockEndMfn = blockStartMfn + blockPages;
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
        vptStartVa = vptStart;
        vptEndVa = vptEnd;
        if ((ulong)tables.Count != nrPt) throw new InvalidOperationException($"built {tables.Count} tables, sized {nrPt}");
        ulong cr3 = tables[0].Mfn << MachineMemory.PageShift;
        this.cr3 = cr3;

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
        if (!LoadSegments(elf, vkernStart, vkernEnd)) throw Fail("Failed to load the kernel binary", brokenLine: true);

        if (parms.VirtHypercall is { } hypercall)
        {
            if (hypercall < vStart || hypercall >= vEnd) throw Fail("Invalid HYPERCALL_PAGE field in ELF notes.");
            // xen/arch/x86/domain.c, init_hypercall_page: plain stores through dom0's mapping (no fault fixup).
            if (fillHypercallPage) StoreVirtual(hypercall, HypercallPage.Build(), "init_hypercall_page");
        }

        // start_info: cleared, then filled.
        WriteVirtual(vstartinfoStart, new byte[Page]);

        // The P2M for the initial block (pfn i ↔ block frame i), then the rest of dom0's memory in chunks.
        var p2mRuns = new PhysToMachineMap.Builder();
        p2mRuns.Append(blockStartMfn, Math.Min(totPages, nrPages));
        ulong firstP2mPfn = p2mRuns.Count;


        // INIT_P2M: the table gets its own frames and page tables outside the initial mapping; they take the next pfns.
        ulong nrP2mFrames = 0;
        if (parms.P2mBase is not null)
        {
            ulong before = p2mRuns.Count;
            SetUpPhysmap(heap, p2mRuns, vphysmapStart, vphysmapEnd, nrPages);
            nrP2mFrames = p2mRuns.Count - before;
            totPages += nrP2mFrames;
        }

        // xen/arch/x86/pv/dom0_build.c: alloc_chunk until nr_pages are owned.
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
        if (parms.P2mBase is null) WriteMfnList(vphysmapStart, p2m);
        else StoreVirtual(vphysmapStart, P2mBytes(p2m), "dom0_construct_pv");

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
            NrP2mFrames = nrP2mFrames,
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

        // The "out" label: a problem libelf noted on the way is printed, and the build still succeeds.
        if (elf.Broken is { } broken) log.Add(BrokenLine(broken));

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
    /// setup.c relocates the modules before dom0 is built, keeping bzimage_headroom's room in front of the
    /// kernel (<see cref="XenBzImage.Headroom"/>); Xen panics early when room and module do not fit the free heap
    /// (measured with garbage modules).
    /// </summary>
    private ulong RelocationHeadroom(ReadOnlySpan<byte> module)
    {
        ulong headroom = XenBzImage.Headroom(module);
        if (headroom + PageUp((ulong)module.Length) > profile.FreePages * Page)
        {
            const string text = "Not enough memory to relocate the dom0 kernel image";
            throw new DomainBuildException(text, DomainBuildException.PanicBlock(text));
        }
        return headroom;
    }

    /// <summary>dom0_compute_nr_pages (PV, no dom0_mem): F less a page per extra vCPU, less 1/16 capped at 128 MiB; then the legacy clip.</summary>
    private ulong ComputeNrPages(ElfDomParms parms, ulong moduleBytes)
    {
        ulong nr = profile.NrPagesFor(moduleBytes);
        if (parms.P2mBase is not null) return nr;   // a kernel with INIT_P2M maps its P2M itself: no clip
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

    /// <summary>
    /// elf_load_binary (libelf-loader.c): each loadable segment's file bytes, then zeros to p_memsz, at
    /// vkern_start + (p_paddr − pstart), through raw_copy_to_guest (xen/arch/x86/usercopy.c): sizes are cut
    /// to 32 bits, a fault stops the copy and fails the load. Segments may copy at most twice the kernel's
    /// extent in all; past that the image is marked broken and loading stops. Then the BSD symbol table.
    /// </summary>
    private bool LoadSegments(XenElfBinary elf, ulong vkernStart, ulong vkernEnd)
    {
        ulong remain = unchecked((vkernEnd - vkernStart) * 2);
        for (int i = 0; i < elf.PhNum; i++)
        {
            ulong ph = elf.PhdrAt(i)!.Value;
            if (!elf.AccessOk(ph, 1)) break;
            if (!elf.IsLoadable(ph)) continue;
            ulong paddr = elf.PPaddr(ph), offset = elf.POffset(ph), filesz = elf.PFilesz(ph), memsz = elf.PMemsz(ph);
            ulong dest = unchecked(vkernStart + (paddr - elf.PStart));
            if (remain < memsz)
            {
                elf.MarkBroken("program segments total to more than the input image size");
                break;
            }
            remain -= memsz;
            if (!CopyToGuest(dest, offset, (uint)filesz)) return false;
            if (!CopyToGuest(unchecked(dest + filesz), null, (uint)unchecked(memsz - filesz))) return false;
        }
        LoadBsdSyms(elf, vkernStart);
        return true;
    }

    /// <summary>
    /// copy_to_guest_pv / clear_guest_pv: <paramref name="length"/> bytes of the image from <paramref name="source"/>
    /// (zeros when null) to dom0's <paramref name="va"/>. The start must be outside Xen's area (access_ok); the copy
    /// runs page by page until a page is not writable in dom0's mapping, which fails it. Xen trusts dom0's image:
    /// source bytes past the end of the module are whatever follows it in memory; here they read as zero,
    /// up to the end of RAM, where the copy faults.
    /// </summary>
    private bool CopyToGuest(ulong va, ulong? source, uint length)
    {
        if (length == 0) return true;
        if (!(va < 1UL << 47 || va >= HypervisorVirtEnd)) return false;
        // The source is Xen's mapping of the module: an offset that runs past the machine's RAM faults
        // there (measured: a p_offset 2^39 beyond the image fails the load); nearer bytes read as zero here.
        ulong ramBytes = profile.RamFrames << MachineMemory.PageShift;
        bool sourceFaults = source is { } from && (from >= ramBytes || length > ramBytes - from);
        if (sourceFaults) length = (uint)Math.Min(length, source!.Value >= ramBytes ? 0 : ramBytes - source.Value);
        if (!CopyPages(va, source, length)) return false;
        return !sourceFaults;
    }

    private bool CopyPages(ulong va, ulong? source, uint length)
    {
        ulong done = 0;
        var chunk = new byte[Page];
        while (done < length)
        {
            ulong at = unchecked(va + done);
            if (!Writable(at)) return false;
            int inPage = (int)Math.Min(length - done, Page - (at & MachineMemory.PageMask));
            ulong pfn = (at - vStart) >> MachineMemory.PageShift;
            ulong maddr = ((blockStartMfn + pfn) << MachineMemory.PageShift) | (at & MachineMemory.PageMask);
            if (source is { } src) { elf!.CopyOut(unchecked(src + done), chunk.AsSpan(0, inPage)); memory.Write(maddr, chunk.AsSpan(0, inPage)); }
            else memory.Fill(maddr, 0, inPage);
            dirtyPfns[pfn] = true;
            done += (ulong)inPage;
        }
        return true;
    }

    /// <summary>A page Xen may write through dom0's initial mapping: inside [v_start, v_end) and not one of the read-only page tables.</summary>
    private bool Writable(ulong va) => va >= vStart && va < vEnd && !(va >= vptStartVa && va < vptEndVa);

    /// <summary>
    /// Plain stores by Xen to dom0's <paramref name="va"/> (no fault fixup): a page that is not writable is a
    /// fatal page fault in <paramref name="function"/> (measured: the dump, the page walk, the panic).
    /// A non-canonical address is a general protection fault.
    /// </summary>
    private void StoreVirtual(ulong va, ReadOnlySpan<byte> data, string function)
    {
        ulong done = 0;
        while (done < (ulong)data.Length)
        {
            ulong at = unchecked(va + done);
            int inPage = (int)Math.Min((ulong)data.Length - done, Page - (at & MachineMemory.PageMask));
            ulong? maddr = MappedWritable(at);
            if (maddr is null) throw FatalFault(at, function);
            memory.Write(maddr.Value, data.Slice((int)done, inPage));
            if (at >= vStart && at < vEnd) dirtyPfns[(at - vStart) >> MachineMemory.PageShift] = true;
            done += (ulong)inPage;
        }
    }

    /// <summary>The machine address behind a writable mapping of <paramref name="va"/> in dom0's tables, or null.</summary>
    private ulong? MappedWritable(ulong va)
    {
        if (!IsCanonical(va)) return null;
        ulong table = cr3;
        for (int level = 4; level >= 1; level--)
        {
            ulong e = memory.ReadU64(table + (ulong)((va >> (12 + 9 * (level - 1))) & 511) * 8);
            if ((e & PvPageTables.Present) == 0 || (e & PvPageTables.Rw) == 0) return null;
            if (level is 3 or 2 && (e & PvPageTables.Large) != 0)
            {
                ulong mask = (1UL << (12 + 9 * (level - 1))) - 1;
                return (e & PvPageTables.AddressMask & ~mask) | (va & mask);
            }
            table = e & PvPageTables.AddressMask;
            if (!memory.Contains(table)) return null;
        }
        return table | (va & MachineMemory.PageMask);
    }

    private static bool IsCanonical(ulong va) => va < 1UL << 47 || va >= 0xFFFF_8000_0000_0000;

    /// <summary>
    /// A fault in Xen while it builds dom0 (xen/arch/x86/traps.c, fatal_trap; measured for page faults): the
    /// register dump, for a page fault the walk of dom0's tables, then the panic.
    /// </summary>
    private DomainBuildException FatalFault(ulong va, string function)
    {
        log.AddRange(RegisterDump);
        if (!IsCanonical(va)) return Panic("GENERAL PROTECTION FAULT\n[error_code=0000]");
        log.Add($"Pagetable walk from {va:x16}:");
        ulong table = cr3;
        bool present = false;
        for (int level = 4; level >= 1; level--)
        {
            int index = (int)((va >> (12 + 9 * (level - 1))) & 511);
            ulong e = memory.ReadU64(table + (ulong)index * 8);
            log.Add($" L{level}[0x{index:x3}] = {e:x16} ffffffffffffffff");
            present = (e & PvPageTables.Present) != 0;
            if (!present || level is 3 or 2 && (e & PvPageTables.Large) != 0) break;
            table = e & PvPageTables.AddressMask;
        }
        _ = function;   // named in Xen's dump (not modelled)
        return Panic($"FATAL PAGE FAULT\n[error_code={(present ? 3 : 2):x4}]\nFaulting linear address: {va:x16}");
    }

    /// <summary>
    /// elf_load_bsdsyms (libelf-loader.c): after the kernel, a size word and an ELF header with three section
    /// headers (null, symbol table, string table), then both tables; each copy through raw_copy_to_guest.
    /// A copy that fails marks the image broken and stops (the build goes on).
    /// </summary>
    private void LoadBsdSyms(XenElfBinary elf, ulong vkernStart)
    {
        if (elf.BsdSymtabPStart == 0 || !elf.Is64) return;
        const int ehdrSize = ElfLayout.Ehdr.Size, shdrSize = ElfLayout.Shdr.HeaderSize, sections = XenElfBinary.BsdSymSections;
        ulong Dest(ulong addr) => unchecked(vkernStart + (addr - elf.PStart));
        ulong headerBase = elf.BsdSymtabPStart, elfHeaderBase = unchecked(headerBase + 4);
        ulong symtabBase = elf.RoundUp(unchecked(headerBase + 4 + 64 + sections * 64));   // sizeof(struct elf_sym_header), packed

        // The header is built in Xen's memory: the image's ELF header with a few fields changed, then the section headers.
        var header = new byte[4 + 64 + sections * 64];
        var eh = header.AsSpan(4, 64);
        if (elf.AccessOk(0, ehdrSize)) elf.CopyOut(0, eh[..ehdrSize]);
        BinaryPrimitives.WriteUInt16LittleEndian(eh[ElfLayout.Ehdr.EhSize..], ehdrSize);
        BinaryPrimitives.WriteUInt16LittleEndian(eh[ElfLayout.Ehdr.ShEntSize..], shdrSize);
        BinaryPrimitives.WriteUInt32LittleEndian(eh[ElfLayout.Ehdr.Version..], 1);
        BinaryPrimitives.WriteUInt64LittleEndian(eh[ElfLayout.Ehdr.ShOff..], 64);
        BinaryPrimitives.WriteUInt16LittleEndian(eh[ElfLayout.Ehdr.ShNum..], sections);
        BinaryPrimitives.WriteUInt64LittleEndian(eh[ElfLayout.Ehdr.PhOff..], 0);
        BinaryPrimitives.WriteUInt16LittleEndian(eh[ElfLayout.Ehdr.PhEntSize..], 0);
        BinaryPrimitives.WriteUInt16LittleEndian(eh[ElfLayout.Ehdr.PhNum..], 0);
        BinaryPrimitives.WriteUInt16LittleEndian(eh[ElfLayout.Ehdr.ShStrNdx..], 0);
        Span<byte> Section(int i) => header.AsSpan(4 + 64 + i * shdrSize, shdrSize);

        ulong symtab = elf.SymTab!.Value;
        if (elf.AccessOk(symtab, shdrSize)) elf.CopyOut(symtab, Section(1));
        uint link = BinaryPrimitives.ReadUInt32LittleEndian(Section(1)[ElfLayout.Shdr.Link..]);
        ulong symOffset = BinaryPrimitives.ReadUInt64LittleEndian(Section(1)[ElfLayout.Shdr.Offset..]);
        ulong symSize = BinaryPrimitives.ReadUInt64LittleEndian(Section(1)[ElfLayout.Shdr.Size..]);
        if (!CopyToGuest(Dest(symtabBase), symOffset, (uint)symSize))
        {
            elf.MarkBroken("unable to load symtab into guest memory");
            return;
        }
        BinaryPrimitives.WriteUInt64LittleEndian(Section(1)[ElfLayout.Shdr.Offset..], unchecked(symtabBase - elfHeaderBase));
        BinaryPrimitives.WriteUInt32LittleEndian(Section(1)[ElfLayout.Shdr.Link..], 2);
        ulong strtabBase = elf.RoundUp(unchecked(symtabBase + symSize));

        if (elf.ShdrAt(link) is { } strSh && elf.AccessOk(strSh, shdrSize)) elf.CopyOut(strSh, Section(2));
        else elf.MarkBroken(XenElfBinary.OutOfRange);
        if (BinaryPrimitives.ReadUInt32LittleEndian(Section(2)[ElfLayout.Shdr.Type..]) != XenElfBinary.ShtStrtab)
        {
            elf.MarkBroken("strtab not found");
            return;
        }
        ulong strOffset = BinaryPrimitives.ReadUInt64LittleEndian(Section(2)[ElfLayout.Shdr.Offset..]);
        ulong strSize = BinaryPrimitives.ReadUInt64LittleEndian(Section(2)[ElfLayout.Shdr.Size..]);
        if (!CopyToGuest(Dest(strtabBase), strOffset, (uint)strSize))
        {
            elf.MarkBroken("unable to load strtab into guest memory");
            return;
        }
        BinaryPrimitives.WriteUInt64LittleEndian(Section(2)[ElfLayout.Shdr.Offset..], unchecked(strtabBase - elfHeaderBase));
        BinaryPrimitives.WriteUInt32LittleEndian(header, (uint)unchecked(strtabBase + strSize - elfHeaderBase));

        int headerSize = 4 + 64;
        if (!CopyHeader(Dest(headerBase), header.AsSpan(0, headerSize)))
        {
            elf.MarkBroken("unable to load ELF headers into guest memory");
            return;
        }
        for (int i = 0; i < sections; i++)
        {
            if (!CopyHeader(Dest(unchecked(headerBase + (ulong)headerSize + (ulong)(shdrSize * i))), Section(i)))
            {
                elf.MarkBroken("unable to load ELF section header into guest memory");
                return;
            }
        }
    }

    /// <summary>raw_copy_to_guest of bytes Xen built itself.</summary>
    private bool CopyHeader(ulong va, ReadOnlySpan<byte> bytes)
    {
        if (!(va < 1UL << 47 || va >= HypervisorVirtEnd)) return false;
        for (int done = 0; done < bytes.Length;)
        {
            ulong at = unchecked(va + (ulong)done);
            if (!Writable(at)) return false;
            int inPage = (int)Math.Min((ulong)(bytes.Length - done), Page - (at & MachineMemory.PageMask));
            ulong pfn = (at - vStart) >> MachineMemory.PageShift;
            memory.Write(((blockStartMfn + pfn) << MachineMemory.PageShift) | (at & MachineMemory.PageMask), bytes.Slice(done, inPage));
            dirtyPfns[pfn] = true;
            done += inPage;
        }
        return true;
    }

    /// <summary>
    /// setup_pv_physmap (xen/arch/x86/pv/dom0_build.c): page tables and frames for an INIT_P2M table at
    /// [<paramref name="start"/>, <paramref name="end"/>), taken from the heap one page (or a 2 MiB superpage)
    /// at a time; each frame gets the next pfn. Xen's own populated L4 slots hit a BUG_ON (measured for slot 256).
    /// </summary>
    private void SetUpPhysmap(DomHeap heap, PhysToMachineMap.Builder p2mRuns, ulong start, ulong end, ulong nrPages)
    {
        if (vStart <= end && start <= vEnd) throw Panic("DOM0 P->M table overlaps initial mapping");
        const ulong superPage = 1UL << 21;
        bool allocated = false;
        while (start < end)
        {
            if (p2mRuns.Count + ((PageUp(end) - start) >> MachineMemory.PageShift) + 3 > nrPages)
                throw Panic("Dom0 allocation too small for initial P->M table");
            ulong? Take(int order)
            {
                var mfn = heap.Alloc(order);
                if (mfn is { } m) { p2mRuns.Append(m, 1UL << order); allocated = true; }
                else allocated = false;
                return mfn;
            }
            ulong NewTable(ulong at)
            {
                var mfn = Take(0) ?? throw Panic("Not enough RAM for DOM0 P->M table");
                memory.Fill(mfn << MachineMemory.PageShift, 0, (int)Page);
                memory.WriteU64(at, (mfn << MachineMemory.PageShift) | PvPageTables.UpperFlags);
                return mfn << MachineMemory.PageShift;
            }
            int l4 = PvPageTables.L4Index(start);
            if (l4 is 256 or 258 or 260 or 261 or 262) throw Bug(285);   // Xen's populated slots: their L1 entries are in use
            ulong l4e = memory.ReadU64(cr3 + (ulong)l4 * 8);
            ulong l3 = (l4e & PvPageTables.Present) != 0 ? l4e & PvPageTables.AddressMask : NewTable(cr3 + (ulong)l4 * 8);
            ulong l3at = l3 + (ulong)PvPageTables.L3Index(start) * 8;
            ulong l3e = memory.ReadU64(l3at);
            ulong l2 = (l3e & PvPageTables.Present) != 0 ? l3e & PvPageTables.AddressMask : NewTable(l3at);
            ulong l2at = l2 + (ulong)PvPageTables.L2Index(start) * 8;
            ulong l2e = memory.ReadU64(l2at);
            if ((l2e & PvPageTables.Present) == 0)
            {
                if ((start & (superPage - 1)) == 0 && end >= start + superPage && Take(9) is { } big)
                {
                    memory.WriteU64(l2at, (big << MachineMemory.PageShift) | PvPageTables.L1Flags | PvPageTables.Dirty | PvPageTables.Large);
                    start += superPage;
                    continue;
                }
                l2e = (NewTable(l2at) & PvPageTables.AddressMask) | PvPageTables.UpperFlags;
            }
            ulong l1at = (l2e & PvPageTables.AddressMask) + (ulong)PvPageTables.L1Index(start) * 8;
            if (memory.ReadU64(l1at) != 0) throw Bug(285);
            var page = Take(0);
            if (page is null) break;
            memory.WriteU64(l1at, (page.Value << MachineMemory.PageShift) | PvPageTables.L1Flags | PvPageTables.Dirty);
            start = (start + Page) & ~MachineMemory.PageMask;
        }
        if (!allocated) throw Panic("Not enough RAM for DOM0 P->M table");
    }

    /// <summary>The mfn_list's bytes: nr_pages little-endian MFNs.</summary>
    private static byte[] P2mBytes(PhysToMachineMap p2m)
    {
        var bytes = new byte[p2m.Count * 8];
        p2m.WriteEntries(0, bytes);
        return bytes;
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
        // Frames Xen already wrote (a hypercall page placed inside the table) get the entries written over
        // them now; each run of untouched frames is produced when first touched.
        ulong run = 0;
        for (ulong k = 0; k <= pages; k++)
        {
            if (k < pages && !memory.IsAllocated(firstMfn + k)) continue;
            if (k > run)
            {
                ulong first = firstMfn + run;
                memory.Provide(first, k - run, (mfn, frame) => p2m.WriteEntries((mfn - firstMfn) * (Page / 8), frame));
            }
            if (k < pages)
            {
                ulong entries = Math.Min(Page / 8, p2m.Count - k * (Page / 8));
                var entryBytes = new byte[entries * 8];
                p2m.WriteEntries(k * (Page / 8), entryBytes);
                memory.Write((firstMfn + k) << MachineMemory.PageShift, entryBytes);
            }
            run = k + 1;
        }
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

    private static ulong PageUp(ulong x) => unchecked((x + Page - 1) & ~(Page - 1));

    /// <summary>printf's %#x: 0x-prefixed lowercase hex, except that zero prints as "0".</summary>
    private static string CHex(ulong v) => v == 0 ? "0" : $"0x{v:x}";
}
