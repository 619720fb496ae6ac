namespace Xtf.Sim.Cpu;

/// <summary>How an HVM vCPU translates linear addresses (from CR0.PG, CR4.PAE, EFER.LMA).</summary>
public enum PagingMode : byte
{
    /// <summary>Long mode, 4 levels: what a PV guest always runs with (the default).</summary>
    Long = 0,
    /// <summary>CR0.PG = 0: linear = guest-physical.</summary>
    None,
    /// <summary>32-bit 2-level paging (4 MiB pages with CR4.PSE).</summary>
    TwoLevel,
    /// <summary>PAE: a 4-entry PDPT, 64-bit entries.</summary>
    Pae,
}

// The HVM vCPU's system state (docs/hvm.md §2). None of it is read by the PV paths: a PV vCPU keeps
// Hvm = false, CodeBits = 64 and Paging = Long.
public sealed partial class CpuState
{
    /// <summary>An HVM vCPU: CPL follows CS, system instructions at CPL 0 are emulated by the HVM model.</summary>
    public bool Hvm;
    /// <summary>Default operand/address size of the code segment: 16, 32 or 64 (the decoder's mode).</summary>
    public int CodeBits = 64;
    /// <summary>The translation the page walker uses.</summary>
    public PagingMode Paging;
    public ulong Cr0, Cr4, Efer;
    public ulong GdtrBase, IdtrBase;
    public ushort GdtrLimit, IdtrLimit;
    public ushort Tr, Ldtr;
    public ulong TrBase;
    public uint TrLimit = 0x67;
    /// <summary>Hidden segment bases (flat guests keep them 0).</summary>
    public ulong CsBase, SsBase, DsBase, EsBase;
    /// <summary>SS's default size (32-bit stack: ESP arithmetic); informative.</summary>
    public bool SsBig = true;
}
