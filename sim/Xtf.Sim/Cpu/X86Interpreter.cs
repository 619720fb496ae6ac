using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Xtf.Sim.Memory;

namespace Xtf.Sim.Cpu;

/// <summary>
/// An x86-64 interpreter for 64-bit PV guest code: long mode, paging through the guest's own 4-level
/// tables (machine frame numbers, as PV page tables hold), CR0.WP = 1, EFER.NXE = 1. Its job is
/// execution: the run loop, lazy flags, the TLBs and guest memory accesses, exits. Instructions are
/// compiled once by <see cref="OpCompiler"/> into a compact form kept per machine frame by
/// <see cref="DecodeCache"/>; translations come from <see cref="PageWalker"/>.
/// A guest can never make <see cref="Run"/> throw: anything it cannot execute is a #UD exit.
/// </summary>
public sealed partial class X86Interpreter
{
    private readonly MachineMemory memory;
    private readonly ICpuPlatform platform;
    private readonly PageWalker walker;
    private CpuState cpu = new();

    // The pending exit, filled by whatever stops the run.
    private ExitKind xKind;
    private int xVector;
    private uint xError;
    private bool xHasError;
    private ulong xCr2;
    private bool xSoft;
    private string? xDetail;

    private const int StOk = 0, StFault = 1, StExit = 2, StIncomplete = 3, StFlagsChanged = 4;

    public X86Interpreter(MachineMemory memory, ICpuPlatform platform)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(platform);
        this.memory = memory;
        this.platform = platform;
        walker = new PageWalker(memory);
        decodeCache = new DecodeCache(memory);
        memory.CodeWritten += OnCodeWritten;
        FlushTlb();
    }

    /// <summary>Instructions retired over the interpreter's lifetime.</summary>
    public long InstructionsRetired { get; private set; }

    /// <summary>
    /// Runs <paramref name="cpu"/> until an exit or until <paramref name="budget"/> instructions retired.
    /// A rep string instruction runs in chunks; an unfinished chunk counts against the budget (but is not
    /// retired) and leaves rip at the instruction with the registers updated, as an interrupt would.
    /// </summary>
    public VmExit Run(CpuState cpu, long budget)
    {
        ArgumentNullException.ThrowIfNull(cpu);
        if (budget <= 0) return new VmExit(ExitKind.Budget, 0);
        stats.Runs++;
        this.cpu = cpu;
        if (cpu.Hvm) PrepareHvm(cpu);
        if (cpu.Cr3 != tlbCr3 || cpu.Cpl != tlbCpl)
        {
            FlushTlb();
            tlbCr3 = cpu.Cr3;
            tlbCpl = cpu.Cpl;
        }
        VmExit exit;
        instructionRip = cpu.Rip;
        runRetired = 0;
        try
        {
            exit = RunCore(cpu, budget);
        }
        catch (Exception e) when (e is not OutOfMemoryException and not MemoryLimitException)
        {
            // An interpreter bug: the guest sees a #UD at the instruction being executed.
            cpu.Rip = instructionRip;
            exit = new VmExit(ExitKind.Exception, runRetired, Vector: 6, Detail: $"internal: {e.GetType().Name}: {e.Message}");
        }
        InstructionsRetired += exit.Executed;
        switch (exit.Kind)
        {
            case ExitKind.Budget: stats.BudgetExits++; break;
            case ExitKind.Syscall: stats.SyscallExits++; break;
            case ExitKind.Pause: stats.PauseExits++; break;
            default:
                stats.ExceptionExits++;
                if (exit.Vector == 14) stats.PageFaults++;
                break;
        }
        return exit;
    }

    private InterpreterStatistics stats;

    /// <summary>Counters for diagnosing slow runs (exits, walks, decodes, invalidations).</summary>
    public InterpreterStatistics Statistics => stats with { InstructionsRetired = InstructionsRetired, PageWalks = walker.Walks };

    /// <summary>
    /// Whether pause ends the run with <see cref="ExitKind.Pause"/> (default). A scheduler with a
    /// single runnable vCPU can turn it off: pause then just retires, and spin-wait loops run
    /// without an exit per iteration.
    /// </summary>
    public bool ExitOnPause { get; set; } = true;

    /// <summary>
    /// A measured fact of the modelled CPU: every non-canonical data access is #GP(0), also through
    /// rsp/rbp or SS (QEMU TCG; Intel and AMD raise #SS(0) for stack-segment accesses). Default false.
    /// </summary>
    public bool NonCanonicalStackIsGp { get; set; }

    /// <summary>A measured fact of the modelled CPU: wrfsbase/wrgsbase accept a non-canonical value (QEMU TCG) instead of #GP(0).</summary>
    public bool WrBaseSkipsCanonicalCheck { get; set; }

    /// <summary>
    /// A measured fact of the modelled CPU: a near branch (jmp, jcc, call, ret, loop, jrcxz) to a
    /// non-canonical address completes and the fetch there is #GP(0) with rip at the target (QEMU
    /// TCG), instead of #GP(0) at the branch (Intel). A call has pushed its return address by then.
    /// </summary>
    public bool BranchFaultsAtTarget { get; set; }

    // Where the run is, for the exception boundary in Run (kept out of RunCore's locals so that
    // the loop's locals stay in registers).
    private ulong instructionRip;
    private long runRetired;

    private VmExit RunCore(CpuState c, long budget)
    {
        // steps = instructions retired + unfinished rep chunks (which count against the budget only).
        long steps = 0, incomplete = 0, limit = budget, lastIncomplete = -1;
        bool stepTrap = (c.FlagsRest & CpuState.FlagTf) != 0;
        if (stepTrap) limit = 1;
        ArmBreakpoints(c);
        if (bpArmed)
        {
            // One instruction per run while a breakpoint is armed: an instruction breakpoint is a
            // fault before it, a data breakpoint a trap after it.
            limit = 1;
            if (InstructionBreakpoints(c, c.Rip) is var ib and not 0)
            {
                c.PendingDr6 = ib;
                return new VmExit(ExitKind.Exception, 0, Vector: 1, Detail: "instruction breakpoint");
            }
        }
        ref ulong R = ref MemoryMarshal.GetArrayDataReference(c.Gpr);
        while (steps < limit)
        {
            ulong rip = c.Rip;
            instructionRip = rip;
            runRetired = steps - incomplete;
            DecodedPage? page = curPage;
            if ((rip >> MachineMemory.PageShift) != curVpn || page is null)
            {
                page = CodePage(rip);
                if (page is null) goto Fault;
            }
            ref Op op = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(page.Ops), (int)(rip & MachineMemory.PageMask));
            if (op.H == H.None) op = ref DecodeAt(page, rip);
            c.Rip = rip + op.Len;

            switch (op.H)
            {
                case H.MovRR:
                    SetR(ref R, op.A, op.Size, GetR(ref R, op.B, op.Size));
                    break;
                case H.MovRM:
                {
                    if (!Read(EA(ref op, ref R), op.Size, op.MemFlags, out ulong v)) goto Fault;
                    SetR(ref R, op.A, op.Size, v);
                    break;
                }
                case H.MovMR:
                    if (!Write(EA(ref op, ref R), op.Size, op.MemFlags, GetR(ref R, op.B, op.Size))) goto Fault;
                    break;
                case H.MovRI:
                    SetR(ref R, op.A, op.Size, op.Imm);
                    break;
                case H.MovMI:
                    if (!Write(EA(ref op, ref R), op.Size, op.MemFlags, op.Imm)) goto Fault;
                    break;
                case H.Lea:
                    SetR(ref R, op.A, op.Size, EA(ref op, ref R));
                    break;

                case H.AddRR: AluRR(c, ref op, ref R, 0); break;
                case H.OrRR: AluRR(c, ref op, ref R, 1); break;
                case H.AdcRR: AluRR(c, ref op, ref R, 2); break;
                case H.SbbRR: AluRR(c, ref op, ref R, 3); break;
                case H.AndRR: AluRR(c, ref op, ref R, 4); break;
                case H.SubRR: AluRR(c, ref op, ref R, 5); break;
                case H.XorRR: AluRR(c, ref op, ref R, 6); break;
                case H.CmpRR: AluRR(c, ref op, ref R, 7); break;
                case H.AddRI: AluRI(c, ref op, ref R, 0); break;
                case H.OrRI: AluRI(c, ref op, ref R, 1); break;
                case H.AdcRI: AluRI(c, ref op, ref R, 2); break;
                case H.SbbRI: AluRI(c, ref op, ref R, 3); break;
                case H.AndRI: AluRI(c, ref op, ref R, 4); break;
                case H.SubRI: AluRI(c, ref op, ref R, 5); break;
                case H.XorRI: AluRI(c, ref op, ref R, 6); break;
                case H.CmpRI: AluRI(c, ref op, ref R, 7); break;
                case H.AddRM: if (!AluRM(c, ref op, ref R, 0)) goto Fault; break;
                case H.OrRM: if (!AluRM(c, ref op, ref R, 1)) goto Fault; break;
                case H.AdcRM: if (!AluRM(c, ref op, ref R, 2)) goto Fault; break;
                case H.SbbRM: if (!AluRM(c, ref op, ref R, 3)) goto Fault; break;
                case H.AndRM: if (!AluRM(c, ref op, ref R, 4)) goto Fault; break;
                case H.SubRM: if (!AluRM(c, ref op, ref R, 5)) goto Fault; break;
                case H.XorRM: if (!AluRM(c, ref op, ref R, 6)) goto Fault; break;
                case H.CmpRM: if (!AluRM(c, ref op, ref R, 7)) goto Fault; break;
                case H.AluMR:
                case H.AluMI:
                {
                    int s = op.Size;
                    ulong ea = EA(ref op, ref R);
                    ulong src = op.H == H.AluMI ? op.Imm : GetR(ref R, op.B, s);
                    if (op.Aux == 7)
                    {
                        if (!Read(ea, s, op.MemFlags, out ulong d)) goto Fault;
                        Alu(c, 7, d, src, s);
                    }
                    else
                    {
                        if (!ReadForWrite(ea, s, op.MemFlags, out ulong d)) goto Fault;
                        ulong saveA = c.FA, saveB = c.FB, saveR = c.FRes, saveS = c.FSign, saveX = c.FAux;
                        FlagOp saveOp = c.FOp;
                        ulong r = Alu(c, op.Aux, d, src, s);
                        if (!Write(ea, s, op.MemFlags, r))
                        {
                            c.FOp = saveOp; c.FA = saveA; c.FB = saveB; c.FRes = saveR; c.FSign = saveS; c.FAux = saveX;
                            goto Fault;
                        }
                    }
                    break;
                }

                case H.TestRR:
                {
                    int s = op.Size;
                    c.SetFlags(FlagOp.Logic, 0, 0, GetR(ref R, op.A, s) & GetR(ref R, op.B, s), SignBit(s));
                    break;
                }
                case H.TestRI:
                {
                    int s = op.Size;
                    c.SetFlags(FlagOp.Logic, 0, 0, GetR(ref R, op.A, s) & op.Imm, SignBit(s));
                    break;
                }
                case H.TestMR:
                case H.TestMI:
                {
                    int s = op.Size;
                    if (!Read(EA(ref op, ref R), s, op.MemFlags, out ulong v)) goto Fault;
                    ulong src = op.H == H.TestMI ? op.Imm : GetR(ref R, op.B, s);
                    c.SetFlags(FlagOp.Logic, 0, 0, v & src, SignBit(s));
                    break;
                }

                case H.IncDecR:
                {
                    int s = op.Size;
                    ulong v = GetR(ref R, op.A, s);
                    SetR(ref R, op.A, s, IncDec(c, op.Aux, v, s));
                    break;
                }

                case H.Jcc:
                    if (c.Cond(op.Aux))
                    {
                        ulong t = c.Rip + (ulong)op.Disp;
                        if (!IsCanonical(t) && !BranchFaultsAtTarget) goto GpFault;
                        c.Rip = t;
                    }
                    break;
                case H.Jmp:
                {
                    ulong t = c.Rip + (ulong)op.Disp;
                    if (!IsCanonical(t) && !BranchFaultsAtTarget) goto GpFault;
                    c.Rip = t;
                    break;
                }
                case H.JmpR:
                {
                    ulong t = Unsafe.Add(ref R, op.A);
                    if (!IsCanonical(t) && !BranchFaultsAtTarget) goto GpFault;
                    c.Rip = t;
                    break;
                }
                case H.JmpM:
                {
                    if (!Read(EA(ref op, ref R), 8, op.MemFlags, out ulong t)) goto Fault;
                    if (!IsCanonical(t) && !BranchFaultsAtTarget) goto GpFault;
                    c.Rip = t;
                    break;
                }
                case H.Call:
                case H.CallR:
                case H.CallM:
                {
                    ulong t;
                    if (op.H == H.Call) t = c.Rip + (ulong)op.Disp;
                    else if (op.H == H.CallR) t = Unsafe.Add(ref R, op.A);
                    else if (!Read(EA(ref op, ref R), 8, op.MemFlags, out t)) goto Fault;
                    if (!IsCanonical(t) && !BranchFaultsAtTarget) goto GpFault;
                    ulong sp = Unsafe.Add(ref R, 4) - 8;
                    if (!Write(sp, 8, Op.MfStack, c.Rip)) goto Fault;
                    Unsafe.Add(ref R, 4) = sp;
                    c.Rip = t;
                    break;
                }
                case H.Ret:
                {
                    ulong sp = Unsafe.Add(ref R, 4);
                    if (!Read(sp, 8, Op.MfStack, out ulong t)) goto Fault;
                    if (!IsCanonical(t) && !BranchFaultsAtTarget) goto GpFault;
                    Unsafe.Add(ref R, 4) = sp + 8;
                    c.Rip = t;
                    break;
                }
                case H.PushR:
                {
                    int s = op.Size;
                    ulong v = GetR(ref R, op.A, s);
                    ulong sp = Unsafe.Add(ref R, 4) - (ulong)s;
                    if (!Write(sp, s, Op.MfStack, v)) goto Fault;
                    Unsafe.Add(ref R, 4) = sp;
                    break;
                }
                case H.PushI:
                {
                    int s = op.Size;
                    ulong sp = Unsafe.Add(ref R, 4) - (ulong)s;
                    if (!Write(sp, s, Op.MfStack, op.Imm)) goto Fault;
                    Unsafe.Add(ref R, 4) = sp;
                    break;
                }
                case H.PopR:
                {
                    int s = op.Size;
                    ulong sp = Unsafe.Add(ref R, 4);
                    if (!Read(sp, s, Op.MfStack, out ulong v)) goto Fault;
                    Unsafe.Add(ref R, 4) = sp + (ulong)s;
                    SetR(ref R, op.A, s, v);   // pop rsp: the popped value wins
                    break;
                }
                case H.Nop:
                    break;

                case H.MovzxRR:
                    SetR(ref R, op.A, op.Size, GetR(ref R, op.B, op.Aux));
                    break;
                case H.MovzxRM:
                {
                    if (!Read(EA(ref op, ref R), op.Aux, op.MemFlags, out ulong v)) goto Fault;
                    SetR(ref R, op.A, op.Size, v);
                    break;
                }
                case H.MovsxRR:
                    SetR(ref R, op.A, op.Size, SignExtend(GetR(ref R, op.B, op.Aux), op.Aux));
                    break;
                case H.MovsxRM:
                {
                    if (!Read(EA(ref op, ref R), op.Aux, op.MemFlags, out ulong v)) goto Fault;
                    SetR(ref R, op.A, op.Size, SignExtend(v, op.Aux));
                    break;
                }

                case H.SetccR:
                    SetR(ref R, op.A, 1, c.Cond(op.Aux) ? 1UL : 0UL);
                    break;
                case H.CmovRR:
                {
                    int s = op.Size;
                    SetR(ref R, op.A, s, c.Cond(op.Aux) ? GetR(ref R, op.B, s) : GetR(ref R, op.A, s));
                    break;
                }
                case H.CmovRM:
                {
                    int s = op.Size;
                    if (!Read(EA(ref op, ref R), s, op.MemFlags, out ulong v)) goto Fault;   // read even when false
                    SetR(ref R, op.A, s, c.Cond(op.Aux) ? v : GetR(ref R, op.A, s));
                    break;
                }

                case H.ShiftRI:
                case H.ShiftRC:
                {
                    int s = op.Size;
                    ulong count = op.H == H.ShiftRC ? Unsafe.Add(ref R, 1) & 0xFF : op.Imm;
                    SetR(ref R, op.A, s, Shift(c, op.Aux, GetR(ref R, op.A, s), count, s));
                    break;
                }

                case H.FetchFault:
                    goto Fault;

                default:
                {
                    int st = ExecSlow(ref op, ref R);
                    if (st == StOk) break;
                    if (st == StFault) goto Fault;
                    if (st == StIncomplete)
                    {
                        c.Rip = rip;
                        steps++;
                        incomplete++;
                        lastIncomplete = steps;
                        continue;
                    }
                    if (st == StExit) return MakeExit(steps + 1 - incomplete);
                    // StFlagsChanged: popf/iret may have set TF: trap after the next instruction.
                    if (!stepTrap && (c.FlagsRest & CpuState.FlagTf) != 0)
                    {
                        stepTrap = true;
                        limit = Math.Min(limit, steps + 2);
                    }
                    break;
                }
            }
            steps++;
            continue;

        GpFault:
            Fault(13, 0, true);
        Fault:
            c.Rip = rip;
            return MakeExit(steps - incomplete);
        }

        if (bpArmed)
        {
            c.FlagsRest &= ~CpuState.FlagRf;   // the instruction completed
            if (watchHits != 0 || (stepTrap && lastIncomplete != steps))
            {
                c.PendingDr6 = watchHits | (stepTrap && lastIncomplete != steps ? 1UL << 14 : 0);
                watchHits = 0;
                return new VmExit(ExitKind.Exception, steps - incomplete, Vector: 1, Detail: "debug trap");
            }
        }
        if (stepTrap && lastIncomplete != steps)
        {
            c.PendingDr6 = 1UL << 14;   // BS
            return new VmExit(ExitKind.Exception, steps - incomplete, Vector: 1);
        }
        return new VmExit(ExitKind.Budget, steps - incomplete);
    }

    private VmExit MakeExit(long retired) =>
        new(xKind, retired, xVector, xError, xHasError, xCr2, xSoft, xDetail);

    // ------------------------------------------------------------------ exits

    /// <summary>Records a fault (state is rolled back to the instruction by the run loop); returns false.</summary>
    private bool Fault(int vector, uint error, bool hasError, string? detail = null)
    {
        xKind = ExitKind.Exception;
        xVector = vector;
        xError = error;
        xHasError = hasError;
        xCr2 = 0;
        xSoft = false;
        xDetail = detail;
        return false;
    }

    private bool PageFault(ulong va, uint error)
    {
        Fault(14, error, true);
        xCr2 = va;
        cpu.Cr2 = va;
        return false;
    }

    /// <summary>Records an exit taken after the instruction retired (trap, syscall, pause).</summary>
    private int ExitAfter(ExitKind kind, int vector = 0, bool soft = false)
    {
        xKind = kind;
        xVector = vector;
        xError = 0;
        xHasError = false;
        xCr2 = 0;
        xSoft = soft;
        xDetail = null;
        return StExit;
    }

    // ------------------------------------------------------------------ registers and operands

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong SizeMask(int size) => ulong.MaxValue >> (64 - 8 * size);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong SignBit(int size) => 1UL << (8 * size - 1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong SignExtend(ulong v, int size) => size switch
    {
        1 => (ulong)(sbyte)v,
        2 => (ulong)(short)v,
        4 => (ulong)(int)v,
        _ => v,
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong GetR(ref ulong R, int index, int size)
    {
        if (size == 8) return Unsafe.Add(ref R, index);
        if (size == 4) return (uint)Unsafe.Add(ref R, index);
        if (size == 2) return (ushort)Unsafe.Add(ref R, index);
        return index < 16 ? (byte)Unsafe.Add(ref R, index) : (byte)(Unsafe.Add(ref R, index - 16) >> 8);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SetR(ref ulong R, int index, int size, ulong v)
    {
        if (size == 8) Unsafe.Add(ref R, index) = v;
        else if (size == 4) Unsafe.Add(ref R, index) = (uint)v;   // 32-bit writes zero-extend
        else if (size == 2)
        {
            ref ulong r = ref Unsafe.Add(ref R, index);
            r = (r & ~0xFFFFUL) | (ushort)v;
        }
        else if (index < 16)
        {
            ref ulong r = ref Unsafe.Add(ref R, index);
            r = (r & ~0xFFUL) | (byte)v;
        }
        else
        {
            ref ulong r = ref Unsafe.Add(ref R, index - 16);
            r = (r & ~0xFF00UL) | ((ulong)(byte)v << 8);
        }
    }

    /// <summary>The linear address of the memory operand (segment base included unless compiled out, as for lea).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong EA(ref Op op, ref ulong R)
    {
        ulong a = (ulong)op.Disp;
        int b = op.Base;
        if (b < 16) a += Unsafe.Add(ref R, b);
        else if (b == Op.RipReg) a += cpu.Rip;
        if (op.Index < 16) a += Unsafe.Add(ref R, op.Index) << op.Scale;
        if ((op.MemFlags & (Op.MfAddr32 | Op.MfSeg)) != 0) a = SegmentAdjust(a, op.MemFlags);
        return a;
    }

    private ulong SegmentAdjust(ulong a, byte memFlags)
    {
        if ((memFlags & Op.MfAddr32) != 0) a = (uint)a;
        return (memFlags & Op.MfSeg) switch
        {
            Op.MfFs => a + cpu.FsBase,
            Op.MfGs => a + cpu.GsBase,
            _ => a,
        };
    }

    // ------------------------------------------------------------------ arithmetic with lazy flags

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AluRR(CpuState c, ref Op op, ref ulong R, int aluOp)
    {
        int s = op.Size;
        ulong r = Alu(c, aluOp, GetR(ref R, op.A, s), GetR(ref R, op.B, s), s);
        if (aluOp != 7) SetR(ref R, op.A, s, r);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AluRI(CpuState c, ref Op op, ref ulong R, int aluOp)
    {
        int s = op.Size;
        ulong r = Alu(c, aluOp, GetR(ref R, op.A, s), op.Imm, s);
        if (aluOp != 7) SetR(ref R, op.A, s, r);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool AluRM(CpuState c, ref Op op, ref ulong R, int aluOp)
    {
        int s = op.Size;
        if (!Read(EA(ref op, ref R), s, op.MemFlags, out ulong v)) return false;
        ulong r = Alu(c, aluOp, GetR(ref R, op.A, s), v, s);
        if (aluOp != 7) SetR(ref R, op.A, s, r);
        return true;
    }

    /// <summary>add, or, adc, sbb, and, sub, xor, cmp (x86 /r order); returns the truncated result.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Alu(CpuState c, int aluOp, ulong a, ulong b, int size)
    {
        ulong mask = SizeMask(size), sign = SignBit(size), r;
        switch (aluOp)
        {
            case 0:
                r = (a + b) & mask;
                c.SetFlags(FlagOp.Add, a, b, r, sign);
                return r;
            case 1:
                r = a | b;
                c.SetFlags(FlagOp.Logic, a, b, r, sign);
                return r;
            case 4:
                r = a & b;
                c.SetFlags(FlagOp.Logic, a, b, r, sign);
                return r;
            case 6:
                r = a ^ b;
                c.SetFlags(FlagOp.Logic, a, b, r, sign);
                return r;
            case 5:
            case 7:
                r = (a - b) & mask;
                c.SetFlags(FlagOp.Sub, a, b, r, sign);
                return r;
            default:
                return AdcSbb(c, aluOp, a, b, size);
        }
    }

    private static ulong AdcSbb(CpuState c, int aluOp, ulong a, ulong b, int size)
    {
        ulong mask = SizeMask(size), sign = SignBit(size);
        ulong carry = c.CF() ? 1UL : 0UL;
        ulong r;
        if (aluOp == 2)
        {
            r = (a + b + carry) & mask;
            c.SetFlags(FlagOp.Adc, a, b, r, sign);
        }
        else
        {
            r = (a - b - carry) & mask;
            c.SetFlags(FlagOp.Sbb, a, b, r, sign);
        }
        c.FAux = carry;
        return r;
    }

    /// <summary>inc (0) / dec (1): CF is preserved.</summary>
    private static ulong IncDec(CpuState c, int which, ulong v, int size)
    {
        ulong carry = c.CF() ? CpuState.FlagCf : 0;
        ulong mask = SizeMask(size);
        ulong r = which == 0 ? (v + 1) & mask : (v - 1) & mask;
        c.SetFlags(which == 0 ? FlagOp.Inc : FlagOp.Dec, v, 1, r, SignBit(size));
        c.FAux = carry;
        return r;
    }
}
