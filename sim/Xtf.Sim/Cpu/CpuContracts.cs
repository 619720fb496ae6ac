namespace Xtf.Sim.Cpu;

/// <summary>Register numbers in x86 encoding order.</summary>
public enum Reg { Rax, Rcx, Rdx, Rbx, Rsp, Rbp, Rsi, Rdi, R8, R9, R10, R11, R12, R13, R14, R15 }

/// <summary>Why the interpreter stopped and handed control to the hypervisor model.</summary>
public enum ExitKind
{
    /// <summary>The instruction budget is used up; rip is the next instruction.</summary>
    Budget,
    /// <summary>syscall executed: rip is past it, rcx = that rip, r11 = rflags (as hardware does).</summary>
    Syscall,
    /// <summary>A fault or trap: see Vector, ErrorCode, Cr2. Faults leave rip at the instruction and state as before it.</summary>
    Exception,
    /// <summary>pause executed (rip is past it): a spin-wait hint the scheduler may use.</summary>
    Pause,
}

/// <summary>One VM exit. No allocation: a struct.</summary>
public readonly record struct VmExit(
    ExitKind Kind,
    long Executed,
    int Vector = 0,
    uint ErrorCode = 0,
    bool HasErrorCode = false,
    ulong Cr2 = 0,
    bool SoftwareInterrupt = false,
    string? Detail = null);

/// <summary>Values the interpreter asks the hypervisor model for (cpuid, rdtsc): injected, deterministic.</summary>
public interface ICpuPlatform
{
    /// <summary>CPUID as the guest should see it.</summary>
    (uint Eax, uint Ebx, uint Ecx, uint Edx) Cpuid(uint leaf, uint subleaf);

    /// <summary>The TSC value now (derived from virtual time).</summary>
    ulong Rdtsc();

    /// <summary>
    /// A value for rdrand (<paramref name="rdseed"/> false) or rdseed: from a deterministic source seeded
    /// with the run's seed, so that a run repeats exactly.
    /// </summary>
    ulong RandomNumber(bool rdseed);
}

/// <summary>Counters kept by the interpreter, for diagnosing slow runs. Plain data: no effect on execution.</summary>
public record struct InterpreterStatistics
{
    public long InstructionsRetired { get; set; }
    public long Runs { get; set; }
    public long BudgetExits { get; set; }
    public long SyscallExits { get; set; }
    public long PauseExits { get; set; }
    public long ExceptionExits { get; set; }
    public long PageFaults { get; set; }
    public long TlbFlushes { get; set; }
    public long PageWalks { get; set; }
    /// <summary>Instructions decoded (each address once while its frame is unchanged).</summary>
    public long Decodes { get; set; }
    /// <summary>Frames whose decoded code was dropped because something wrote to them.</summary>
    public long CodeInvalidations { get; set; }
    /// <summary>Frames that got a decode cache.</summary>
    public long DecodedFrames { get; set; }
}

/// <summary>
/// The descriptor tables a vCPU's segment loads read (its GDT, with the hypervisor's reserved
/// entries, and its LDT): supplied by the hypervisor model, per vCPU.
/// </summary>
public enum DescriptorLookup
{
    Found,
    /// <summary>The selector's index is past the table's limit: #GP(selector).</summary>
    OutsideTable,
    /// <summary>The table's page cannot be mapped: #PF, error code 0.</summary>
    PageFault,
}

public interface IDescriptorTables
{
    /// <summary>
    /// The 8-byte descriptor <paramref name="selector"/> names (TI picks the LDT). Outside the table the
    /// CPU reports #GP(selector); where the table's page cannot be reached it reports #PF with error
    /// code 0 (an implicit supervisor read of a page not present) at <paramref name="faultAddress"/>.
    /// </summary>
    DescriptorLookup Read(ushort selector, out ulong descriptor, out ulong faultAddress);

    /// <summary>Sets the descriptor's accessed bit, as the CPU does when it loads it.</summary>
    void MarkAccessed(ushort selector);
}

public static class DescriptorTablesExtensions
{
    /// <summary>The descriptor, when the lookup finds one (a page fault counts as not found).</summary>
    public static bool TryRead(this IDescriptorTables tables, ushort selector, out ulong descriptor) =>
        tables.Read(selector, out descriptor, out _) == DescriptorLookup.Found;
}
