using Iced.Intel;
using Xtf.Sim.Memory;

namespace Xtf.Sim.Cpu;

// Instruction fetch: the code TLB (virtual page -> decoded page), the decode cache lookups, and
// decoding on a cache miss (through the OpCompiler).
public sealed partial class X86Interpreter
{
    private readonly DecodeCache decodeCache;
    private readonly OpCompiler compiler = new();
    /// <summary>[0]: an instruction that crosses a page boundary (decoded every time); [1]: the fetch-fault marker.</summary>
    private readonly Op[] scratch = new Op[2];

    // The decoded page of the virtual page the run loop is in (a one-entry code TLB in front of itlb).
    private ulong curVpn = NoTag;
    private DecodedPage? curPage;

    /// <summary>Number of frames holding decoded code (for tests and diagnostics).</summary>
    internal int DecodedPageCount => decodeCache.Count;

    /// <summary>The decode cache, for invariant checks in tests.</summary>
    internal DecodeCache DecodeCache => decodeCache;

    /// <summary>The decoded-code page for the page holding <paramref name="rip"/>; null = fault recorded.</summary>
    private DecodedPage? CodePage(ulong rip)
    {
        ulong vpn = rip >> MachineMemory.PageShift;
        ref CodeEntry ce = ref itlb[(int)vpn & ItlbMask];
        if (ce.Tag == vpn && ce.Page is { } hit)
        {
            curVpn = vpn;
            curPage = hit;
            return hit;
        }
        if (!FetchTranslate(rip, out ulong mfn)) return null;
        var page = DecodedPageFor(mfn);
        ce.Tag = vpn;
        ce.Page = page;
        curVpn = vpn;
        curPage = page;
        return page;
    }

    private bool FetchTranslate(ulong va, out ulong mfn)
    {
        mfn = 0;
        if (!IsCanonical(va)) return Fault(13, 0, true);
        if (!walker.Walk(cpu.Cr3, va, AccessKind.Execute, cpu.Cpl == 3, out ulong maddr, out uint err, out _))
            return PageFault(va, err);
        mfn = maddr >> MachineMemory.PageShift;
        return true;
    }

    private DecodedPage DecodedPageFor(ulong mfn)
    {
        var page = decodeCache.Find(mfn, out var stale);
        if (stale is not null) ForgetCodePage(stale);
        if (page is not null) return page;
        stats.DecodedFrames++;
        page = decodeCache.Add(mfn, out var evicted);
        if (evicted is not null) ForgetCodePage(evicted);
        PurgeWriteTags(mfn);
        return page;
    }

    /// <summary>MachineMemory reports a write to a frame holding decoded code: forget its decodings.</summary>
    private void OnCodeWritten(ulong mfn)
    {
        stats.CodeInvalidations++;
        if (decodeCache.Drop(mfn) is { } page) ForgetCodePage(page);
    }

    /// <summary>Removes every code-TLB reference to a page the decode cache dropped.</summary>
    private void ForgetCodePage(DecodedPage page)
    {
        for (int i = 0; i < itlb.Length; i++)
        {
            if (itlb[i].Page == page)
            {
                itlb[i].Tag = NoTag;
                itlb[i].Page = null;
            }
        }
        if (curPage == page)
        {
            curPage = null;
            curVpn = NoTag;
        }
    }

    /// <summary>
    /// Gives every decoded page back (reset) for later interpreters, once the machine is done. The
    /// interpreter stays usable: it decodes again on the next fetch.
    /// </summary>
    public void ReleaseDecodedPages()
    {
        decodeCache.Release();
        FlushTlb();
    }

    /// <summary>Decodes the instruction at <paramref name="rip"/> into its cache slot (or the scratch slot when it crosses a page).</summary>
    private ref Op DecodeAt(DecodedPage page, ulong rip)
    {
        stats.Decodes++;
        int off = (int)(rip & MachineMemory.PageMask);
        if (!compiler.TryDecode(page.Frame, off, rip, out Instruction ins))
        {
            ulong next = (rip | MachineMemory.PageMask) + 1;
            if (!FetchTranslate(next, out ulong mfn2))
            {
                scratch[1].H = H.FetchFault;
                return ref scratch[1];
            }
            compiler.DecodeAcross(memory.Frame(mfn2), rip, out ins);
            ref Op s = ref scratch[0];
            OpCompiler.Compile(in ins, ref s);
            if (hvmDecode) HvmFilter(in ins, ref s);
            return ref s;
        }
        ref Op slot = ref page.Ops[off];
        page.NoteDecoded(off);          // before compiling: a reset must clear the slot whatever happens
        OpCompiler.Compile(in ins, ref slot);
        if (hvmDecode) HvmFilter(in ins, ref slot);
        return ref slot;
    }

    /// <summary>
    /// Decodes the instruction at <paramref name="va"/> as the CPU fetches it (through the page tables,
    /// with execute permission at <paramref name="cpu"/>'s privilege), for a hypervisor emulating an
    /// instruction that faulted (e.g. a privileged one that raised #GP). False when the bytes cannot be
    /// fetched or do not decode; no exit is recorded and no guest state changes (Accessed bits aside).
    /// </summary>
    public bool TryDecodeAt(CpuState cpu, ulong va, out Instruction instruction)
    {
        ArgumentNullException.ThrowIfNull(cpu);
        instruction = default;
        Span<byte> bytes = stackalloc byte[OpCompiler.MaxInstructionLength];
        int have = 0;
        bool user = cpu.Cpl == 3;
        while (have < OpCompiler.MaxInstructionLength)
        {
            ulong at = va + (ulong)have;
            if (!IsCanonical(at) || !walker.Walk(cpu.Cr3, at, AccessKind.Execute, user, out ulong maddr, out _, out _)) break;
            int n = Math.Min(OpCompiler.MaxInstructionLength - have, MachineMemory.PageSize - (int)(at & MachineMemory.PageMask));
            memory.Read(maddr, bytes.Slice(have, n));
            have += n;
        }
        if (have == 0) return false;
        return OpCompiler.TryDecodeBytes(bytes[..have], va, cpu.Hvm ? cpu.CodeBits : 64, out instruction);
    }

    /// <summary>Whether the interpreter executes this instruction (rather than raising #UD for it as unimplemented).</summary>
    public static bool IsImplemented(in Instruction ins) => OpCompiler.IsImplemented(in ins);
}
