using System.Numerics;
using System.Runtime.CompilerServices;

namespace Xtf.Sim.Cpu;

/// <summary>How the six arithmetic flags are to be derived from the recorded operation (lazy flags).</summary>
internal enum FlagOp : byte
{
    /// <summary>FAux holds CF, PF, AF, ZF, SF, OF in their rflags bit positions.</summary>
    Eager,
    /// <summary>res = a + b.</summary>
    Add,
    /// <summary>res = a + b + FAux (carry in, 0 or 1).</summary>
    Adc,
    /// <summary>res = a - b (also cmp, neg with a = 0).</summary>
    Sub,
    /// <summary>res = a - b - FAux (borrow in, 0 or 1).</summary>
    Sbb,
    /// <summary>and, or, xor, test: CF = OF = 0, AF = 0 (undefined by the manuals; hardware clears it).</summary>
    Logic,
    /// <summary>res = a + 1, CF preserved in FAux bit 0.</summary>
    Inc,
    /// <summary>res = a - 1, CF preserved in FAux bit 0.</summary>
    Dec,
    /// <summary>ZF, SF, PF from res; CF, AF, OF taken from FAux (shifts, multiplies).</summary>
    Result,
}

/// <summary>
/// One vCPU's architectural state as the interpreter sees it: a 64-bit long-mode CPU with paging on,
/// CR0.WP = 1 and EFER.NXE = 1. The arithmetic flags are computed lazily from the last flag-setting
/// operation; <see cref="Rflags"/> materialises them.
/// </summary>
public sealed partial class CpuState
{
    public const ulong FlagCf = 1UL << 0, FlagPf = 1UL << 2, FlagAf = 1UL << 4, FlagZf = 1UL << 6,
        FlagSf = 1UL << 7, FlagTf = 1UL << 8, FlagIf = 1UL << 9, FlagDf = 1UL << 10, FlagOf = 1UL << 11,
        FlagIopl = 3UL << 12, FlagNt = 1UL << 14, FlagRf = 1UL << 16, FlagVm = 1UL << 17, FlagAc = 1UL << 18,
        FlagVif = 1UL << 19, FlagVip = 1UL << 20, FlagId = 1UL << 21;

    /// <summary>The six arithmetic status flags.</summary>
    public const ulong ArithmeticFlags = FlagCf | FlagPf | FlagAf | FlagZf | FlagSf | FlagOf;

    /// <summary>The general-purpose registers in encoding order (index with <see cref="Reg"/>).</summary>
    public readonly ulong[] Gpr = new ulong[16];

    public ulong Rip;
    public ushort Cs, Ss, Ds, Es, Fs, Gs;
    public ulong FsBase, GsBase;

    /// <summary>Machine address of the L4 table (PV page tables hold machine frame numbers).</summary>
    public ulong Cr3;

    /// <summary>Current privilege level: 3 for a 64-bit PV guest, whose kernel runs in ring 3.</summary>
    public int Cpl = 3;

    /// <summary>The GDT and LDT segment loads read; null: only null selectors and Xen's flat ring-3 ones exist.</summary>
    public IDescriptorTables? Descriptors;

    /// <summary>The linear address of the last page fault.</summary>
    public ulong Cr2;

    // ---- debug registers (the values Xen loads for the vCPU: v->arch.dr[0..3], dr6, dr7)

    /// <summary>DR0-DR3: breakpoint linear addresses.</summary>
    public ulong Dr0, Dr1, Dr2, Dr3;
    /// <summary>DR6 as the guest reads it (its reset value 0xffff0ff0).</summary>
    public ulong Dr6 = DefaultDr6;
    /// <summary>DR7: breakpoint enables (L/G bits 0-7), RW/LEN fields (bits 16-31). Reset value 0x400.</summary>
    public ulong Dr7 = DefaultDr7;
    /// <summary>DR6 status bits (B0-B3, BS) of the #DB the interpreter raised last; the hypervisor model merges and clears them.</summary>
    public ulong PendingDr6;

    public const ulong DefaultDr6 = 0xFFFF_0FF0, DefaultDr7 = 0x400;

    /// <summary>DR0-DR3 by number.</summary>
    public ulong Dr(int i) => i switch { 0 => Dr0, 1 => Dr1, 2 => Dr2, _ => Dr3 };

    public void SetDr(int i, ulong value)
    {
        switch (i)
        {
            case 0: Dr0 = value; break;
            case 1: Dr1 = value; break;
            case 2: Dr2 = value; break;
            default: Dr3 = value; break;
        }
    }

    // ---- what the hardware shows or enforces for this vCPU (set by the hypervisor model)

    /// <summary>Hardware CR4.FSGSBASE while the vCPU runs: rd/wr{fs,gs}base execute at CPL 3 (else #UD).</summary>
    public bool FsGsBaseEnabled;
    /// <summary>Hardware CR0.TS while the vCPU runs: x87/MMX/SSE instructions raise #NM.</summary>
    public bool TaskSwitched;
    /// <summary>What sidt, sgdt, sldt, str and smsw store at CPL 3 without UMIP: the hypervisor's own registers.</summary>
    public ulong IdtBase, GdtBase, MachineStatusWord;
    public ushort IdtLimit, GdtLimit, LdtSelector, TaskRegister;
    /// <summary>IA32_TSC_AUX, which rdtscp returns in ecx.</summary>
    public uint TscAux;

    // Lazy flags: every rflags bit except the arithmetic ones lives in FlagsRest.
    internal ulong FlagsRest = 2;
    internal FlagOp FOp = FlagOp.Eager;
    internal ulong FA, FB, FRes, FSign = 1UL << 63, FAux;

    public ulong this[Reg r]
    {
        get => Gpr[(int)r];
        set => Gpr[(int)r] = value;
    }

    /// <summary>RFLAGS: the arithmetic flags are materialised on read; bit 1 always reads as 1.</summary>
    public ulong Rflags
    {
        get => (FlagsRest & ~ArithmeticFlags) | ArithFlags() | 2;
        set
        {
            FlagsRest = (value & ~ArithmeticFlags) | 2;
            FOp = FlagOp.Eager;
            FAux = value & ArithmeticFlags;
        }
    }

    /// <summary>A copy of the architectural state (registers, flags, segments, control registers).</summary>
    public CpuState Clone()
    {
        var c = (CpuState)MemberwiseClone();
        System.Runtime.CompilerServices.Unsafe.AsRef(in c.Gpr) = (ulong[])Gpr.Clone();   // MemberwiseClone shares the arrays
        c.CloneExtendedState(this);
        return c;
    }

    /// <summary>Copies <paramref name="other"/>'s state into this one.</summary>
    public void CopyFrom(CpuState other)
    {
        Array.Copy(other.Gpr, Gpr, 16);
        Rip = other.Rip;
        Cs = other.Cs; Ss = other.Ss; Ds = other.Ds; Es = other.Es; Fs = other.Fs; Gs = other.Gs;
        FsBase = other.FsBase; GsBase = other.GsBase;
        Cr3 = other.Cr3; Cpl = other.Cpl; Cr2 = other.Cr2; Descriptors = other.Descriptors;
        Dr0 = other.Dr0; Dr1 = other.Dr1; Dr2 = other.Dr2; Dr3 = other.Dr3; Dr6 = other.Dr6; Dr7 = other.Dr7;
        PendingDr6 = other.PendingDr6; FsGsBaseEnabled = other.FsGsBaseEnabled; TaskSwitched = other.TaskSwitched;
        IdtBase = other.IdtBase; GdtBase = other.GdtBase; MachineStatusWord = other.MachineStatusWord;
        IdtLimit = other.IdtLimit; GdtLimit = other.GdtLimit; LdtSelector = other.LdtSelector; TaskRegister = other.TaskRegister;
        TscAux = other.TscAux;
        FlagsRest = other.FlagsRest; FOp = other.FOp;
        FA = other.FA; FB = other.FB; FRes = other.FRes; FSign = other.FSign; FAux = other.FAux;
        CopyExtendedState(other);
    }

    // ------------------------------------------------------------------ lazy flag evaluation

    internal ulong ArithFlags()
    {
        if (FOp == FlagOp.Eager) return FAux & ArithmeticFlags;
        ulong f = 0;
        if (CF()) f |= FlagCf;
        if (PF()) f |= FlagPf;
        if (AF()) f |= FlagAf;
        if (FRes == 0) f |= FlagZf;
        if ((FRes & FSign) != 0) f |= FlagSf;
        if (OF()) f |= FlagOf;
        return f;
    }

    internal bool CF() => FOp switch
    {
        FlagOp.Add => FRes < FA,
        FlagOp.Adc => FRes < FA || (FAux != 0 && FRes == FA),
        FlagOp.Sub => FA < FB,
        FlagOp.Sbb => FA < FB || (FAux != 0 && FA == FB),
        FlagOp.Logic => false,
        _ => (FAux & FlagCf) != 0,   // Eager, Result, Inc, Dec
    };

    internal bool ZF() => FOp == FlagOp.Eager ? (FAux & FlagZf) != 0 : FRes == 0;

    internal bool SF() => FOp == FlagOp.Eager ? (FAux & FlagSf) != 0 : (FRes & FSign) != 0;

    internal bool PF() => FOp == FlagOp.Eager ? (FAux & FlagPf) != 0 : (BitOperations.PopCount((uint)FRes & 0xFF) & 1) == 0;

    internal bool AF() => FOp switch
    {
        FlagOp.Eager or FlagOp.Result => (FAux & FlagAf) != 0,
        FlagOp.Logic => false,
        _ => ((FA ^ FB ^ FRes) & 0x10) != 0,
    };

    internal bool OF() => FOp switch
    {
        FlagOp.Add or FlagOp.Adc or FlagOp.Inc => ((FA ^ FRes) & (FB ^ FRes) & FSign) != 0,
        FlagOp.Sub or FlagOp.Sbb or FlagOp.Dec => ((FA ^ FB) & (FA ^ FRes) & FSign) != 0,
        FlagOp.Logic => false,
        _ => (FAux & FlagOf) != 0,
    };

    internal bool DF => (FlagsRest & FlagDf) != 0;

    /// <summary>Evaluates an x86 condition code (the low nibble of Jcc/SETcc/CMOVcc).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool Cond(int cc)
    {
        bool r;
        if (FOp == FlagOp.Sub)
        {
            // cmp/sub: compare the operands directly (signed compare = unsigned compare with the sign flipped).
            switch (cc >> 1)
            {
                case 1: r = FA < FB; break;
                case 2: r = FA == FB; break;
                case 3: r = FA <= FB; break;
                case 6: r = (FA ^ FSign) < (FB ^ FSign); break;
                case 7: r = (FA ^ FSign) <= (FB ^ FSign); break;
                default: r = CondSlow(cc >> 1); break;
            }
        }
        else if (FOp == FlagOp.Logic)
        {
            switch (cc >> 1)
            {
                case 0 or 1: r = false; break;
                case 2 or 3: r = FRes == 0; break;
                case 4 or 6: r = (FRes & FSign) != 0; break;
                case 7: r = FRes == 0 || (FRes & FSign) != 0; break;
                default: r = CondSlow(cc >> 1); break;
            }
        }
        else r = CondSlow(cc >> 1);
        return r ^ ((cc & 1) != 0);
    }

    private bool CondSlow(int c) => c switch
    {
        0 => OF(),
        1 => CF(),
        2 => ZF(),
        3 => CF() || ZF(),
        4 => SF(),
        5 => PF(),
        6 => SF() != OF(),
        _ => ZF() || SF() != OF(),
    };

    // ------------------------------------------------------------------ flag recording

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void SetFlags(FlagOp op, ulong a, ulong b, ulong res, ulong sign)
    {
        FOp = op;
        FA = a;
        FB = b;
        FRes = res;
        FSign = sign;
    }

    /// <summary>ZF, SF, PF from <paramref name="res"/>; CF, AF, OF as given (rflags bit positions).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void SetResultFlags(ulong res, ulong sign, ulong cfAfOf)
    {
        FOp = FlagOp.Result;
        FRes = res;
        FSign = sign;
        FAux = cfAfOf;
    }

    /// <summary>Replaces the arithmetic flags in <paramref name="mask"/> with <paramref name="bits"/>, keeping the rest.</summary>
    internal void SetArithBits(ulong mask, ulong bits)
    {
        FAux = (ArithFlags() & ~mask) | (bits & mask);
        FOp = FlagOp.Eager;
    }
}
