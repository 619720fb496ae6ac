using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Xtf.Sim.Cpu;

public sealed partial class X86Interpreter
{
    private const ulong ArithCfOf = CpuState.FlagCf | CpuState.FlagOf;

    private const string SegmentDetail = "segment load: selector outside the modelled set (null, Xen's flat ring-3 0xe023/0xe02b/0xe033)";

    /// <summary>Everything the run loop does not execute inline.</summary>
    private int ExecSlow(ref Op op, ref ulong R)
    {
        CpuState c = cpu;
        int s = op.Size;
        switch (op.H)
        {
            case H.UnaryR:
            {
                ulong v = GetR(ref R, op.A, s);
                SetR(ref R, op.A, s, op.Aux == 0 ? ~v & SizeMask(s) : Neg(c, v, s));
                return StOk;
            }
            case H.UnaryM:
            case H.IncDecM:
            case H.ShiftM:
            {
                ulong ea = EA(ref op, ref R);
                if (!ReadForWrite(ea, s, op.MemFlags, out ulong v)) return StFault;
                var saved = SaveFlags(c);
                ulong r = op.H switch
                {
                    H.UnaryM => op.Aux == 0 ? ~v & SizeMask(s) : Neg(c, v, s),
                    H.IncDecM => IncDec(c, op.Aux, v, s),
                    _ => Shift(c, op.Aux, v, (op.Kinds & Op.KCl) != 0 ? R1(ref R) & 0xFF : op.Imm, s),
                };
                if (!Write(ea, s, op.MemFlags, r))
                {
                    RestoreFlags(c, saved);
                    return StFault;
                }
                return StOk;
            }

            case H.Shld:
            case H.Shrd:
            {
                ulong count = (op.Kinds & Op.KCl) != 0 ? R1(ref R) & 0xFF : op.Imm;
                ulong src = GetR(ref R, op.B, s);
                if ((op.Kinds & Op.KMem) == 0)
                {
                    SetR(ref R, op.A, s, DoubleShift(c, op.H == H.Shld, GetR(ref R, op.A, s), src, count, s));
                    return StOk;
                }
                ulong ea = EA(ref op, ref R);
                if (!ReadForWrite(ea, s, op.MemFlags, out ulong v)) return StFault;
                var saved = SaveFlags(c);
                ulong r = DoubleShift(c, op.H == H.Shld, v, src, count, s);
                if (!Write(ea, s, op.MemFlags, r))
                {
                    RestoreFlags(c, saved);
                    return StFault;
                }
                return StOk;
            }

            case H.MulDiv:
            {
                if (!ReadRm(ref op, ref R, out ulong v)) return StFault;
                return op.Aux switch
                {
                    4 => Mul(c, ref R, v, s),
                    5 => ImulOne(c, ref R, v, s),
                    6 => Div(ref R, v, s),
                    _ => Idiv(ref R, v, s),
                };
            }
            case H.Imul2:
            case H.Imul3:
            {
                ulong b;
                if ((op.Kinds & Op.KSrcMem) != 0)
                {
                    if (!Read(EA(ref op, ref R), s, op.MemFlags, out b)) return StFault;
                }
                else b = GetR(ref R, op.B, s);
                ulong a = op.H == H.Imul3 ? op.Imm : GetR(ref R, op.A, s);
                SetR(ref R, op.A, s, ImulTruncated(c, a, b, s));
                return StOk;
            }

            case H.Bt: return BitTest(ref op, ref R);

            case H.Bsf:
            case H.Bsr:
            case H.Popcnt:
            case H.Lzcnt:
            case H.Tzcnt:
            {
                var h = op.H;
                if (!GateBitCount(ref h)) return StFault;
                ulong v;
                if ((op.Kinds & Op.KSrcMem) != 0)
                {
                    if (!Read(EA(ref op, ref R), s, op.MemFlags, out v)) return StFault;
                }
                else v = GetR(ref R, op.B, s);
                BitScan(c, h, ref R, op.A, v, s);
                return StOk;
            }

            case H.Bswap:
            {
                ulong v = Unsafe.Add(ref R, op.A);
                if (s == 8) Unsafe.Add(ref R, op.A) = BinaryPrimitives.ReverseEndianness(v);
                else if (s == 4) Unsafe.Add(ref R, op.A) = BinaryPrimitives.ReverseEndianness((uint)v);
                else Unsafe.Add(ref R, op.A) = v & ~0xFFFFUL;   // bswap r16 is undefined: hardware gives 0
                return StOk;
            }

            case H.Xchg:
            {
                ulong b = GetR(ref R, op.B, s);
                if ((op.Kinds & Op.KMem) == 0)
                {
                    ulong a = GetR(ref R, op.A, s);
                    SetR(ref R, op.A, s, b);
                    SetR(ref R, op.B, s, a);
                    return StOk;
                }
                ulong ea = EA(ref op, ref R);
                if (!ReadForWrite(ea, s, op.MemFlags, out ulong old)) return StFault;
                if (!Write(ea, s, op.MemFlags, b)) return StFault;
                SetR(ref R, op.B, s, old);
                return StOk;
            }
            case H.Cmpxchg:
            {
                ulong acc = GetR(ref R, 0, s), src = GetR(ref R, op.B, s);
                if ((op.Kinds & Op.KMem) == 0)
                {
                    ulong d = GetR(ref R, op.A, s);
                    Alu(c, 7, acc, d, s);
                    if (acc == d) SetR(ref R, op.A, s, src);
                    else SetR(ref R, 0, s, d);
                    return StOk;
                }
                ulong ea = EA(ref op, ref R);
                if (!ReadForWrite(ea, s, op.MemFlags, out ulong dm)) return StFault;
                if (!Write(ea, s, op.MemFlags, acc == dm ? src : dm)) return StFault;   // a failed compare writes the old value back
                Alu(c, 7, acc, dm, s);
                if (acc != dm) SetR(ref R, 0, s, dm);
                return StOk;
            }
            case H.Xadd:
            {
                ulong src = GetR(ref R, op.B, s);
                if ((op.Kinds & Op.KMem) == 0)
                {
                    ulong d = GetR(ref R, op.A, s);
                    ulong sum = Alu(c, 0, d, src, s);
                    SetR(ref R, op.B, s, d);
                    SetR(ref R, op.A, s, sum);
                    return StOk;
                }
                ulong ea = EA(ref op, ref R);
                if (!ReadForWrite(ea, s, op.MemFlags, out ulong dm)) return StFault;
                ulong r = (dm + src) & SizeMask(s);
                if (!Write(ea, s, op.MemFlags, r)) return StFault;
                Alu(c, 0, dm, src, s);
                SetR(ref R, op.B, s, dm);
                return StOk;
            }
            case H.Cmpxchg8b16b: return Cmpxchg8b16b(ref op, ref R);

            case H.PushM:
            {
                if (!Read(EA(ref op, ref R), s, op.MemFlags, out ulong v)) return StFault;
                return Push(ref R, v, s) ? StOk : StFault;
            }
            case H.PopM:
            {
                ulong sp = Unsafe.Add(ref R, 4);
                if (!Read(sp, s, Op.MfStack, out ulong v)) return StFault;
                // The destination address is computed with rsp already incremented.
                Unsafe.Add(ref R, 4) = sp + (ulong)s;
                if (!Write(EA(ref op, ref R), s, op.MemFlags, v))
                {
                    Unsafe.Add(ref R, 4) = sp;
                    return StFault;
                }
                return StOk;
            }
            case H.PushSeg:
                return Push(ref R, Selector(op.Aux), s) ? StOk : StFault;
            case H.PopSeg:
            {
                ulong sp = Unsafe.Add(ref R, 4);
                if (!Read(sp, s, Op.MfStack, out ulong v)) return StFault;
                if (!LoadSegment(op.Aux, (ushort)v)) return StFault;
                Unsafe.Add(ref R, 4) = sp + (ulong)s;
                return StOk;
            }
            case H.Pushf:
                return Push(ref R, c.Rflags & ~(CpuState.FlagRf | CpuState.FlagVm), s) ? StOk : StFault;
            case H.Popf:
            {
                ulong sp = Unsafe.Add(ref R, 4);
                if (!Read(sp, s, Op.MfStack, out ulong v)) return StFault;
                Unsafe.Add(ref R, 4) = sp + (ulong)s;
                LoadFlags(v, s == 2 ? 0xFFFFUL : ulong.MaxValue, false);
                return StFlagsChanged;
            }
            case H.Leave:
            {
                ulong bp = Unsafe.Add(ref R, 5);
                if (!Read(bp, s, Op.MfStack, out ulong v)) return StFault;
                Unsafe.Add(ref R, 4) = bp + (ulong)s;
                SetR(ref R, 5, s, v);
                return StOk;
            }
            case H.Enter: return Enter(ref op, ref R);
            case H.RetImm:
            {
                ulong sp = Unsafe.Add(ref R, 4);
                if (!Read(sp, 8, Op.MfStack, out ulong t)) return StFault;
                if (!IsCanonical(t) && !BranchFaultsAtTarget) return GpZero();
                Unsafe.Add(ref R, 4) = sp + 8 + op.Imm;
                c.Rip = t;
                return StOk;
            }

            case H.CbwCwdeCdqe:
            {
                int half = s / 2;
                SetR(ref R, 0, s, SignExtend(GetR(ref R, 0, half), half));
                return StOk;
            }
            case H.CwdCdqCqo:
                SetR(ref R, 2, s, (GetR(ref R, 0, s) & SignBit(s)) != 0 ? ulong.MaxValue : 0);
                return StOk;

            case H.Clc: c.SetArithBits(CpuState.FlagCf, 0); return StOk;
            case H.Stc: c.SetArithBits(CpuState.FlagCf, CpuState.FlagCf); return StOk;
            case H.Cmc: c.SetArithBits(CpuState.FlagCf, c.CF() ? 0 : CpuState.FlagCf); return StOk;
            case H.Cld: c.FlagsRest &= ~CpuState.FlagDf; return StOk;
            case H.Std: c.FlagsRest |= CpuState.FlagDf; return StOk;
            case H.Lahf:
                SetR(ref R, 16, 1, (c.Rflags & 0xFF) | 2);
                return StOk;
            case H.Sahf:
            {
                ulong ah = GetR(ref R, 16, 1);
                const ulong m = CpuState.FlagSf | CpuState.FlagZf | CpuState.FlagAf | CpuState.FlagPf | CpuState.FlagCf;
                c.SetArithBits(m, ah & m);
                return StOk;
            }

            case H.MovFromSreg:
            {
                ulong sel = Selector(op.Aux);
                if ((op.Kinds & Op.KMem) == 0)
                {
                    SetR(ref R, op.A, s, sel);
                    return StOk;
                }
                return Write(EA(ref op, ref R), 2, op.MemFlags, sel) ? StOk : StFault;
            }
            case H.MovToSreg:
            {
                ulong v;
                if ((op.Kinds & Op.KSrcMem) != 0)
                {
                    if (!Read(EA(ref op, ref R), 2, op.MemFlags, out v)) return StFault;
                }
                else v = GetR(ref R, op.B, 2);
                return LoadSegment(op.Aux, (ushort)v) ? StOk : StFault;
            }

            case H.SetccM:
                return Write(EA(ref op, ref R), 1, op.MemFlags, c.Cond(op.Aux) ? 1UL : 0UL) ? StOk : StFault;

            case H.Movs:
            case H.Stos:
            case H.Lods:
            case H.Cmps:
            case H.Scas:
                return ExecString(ref op, ref R);

            case H.Loop:
            {
                bool a32 = (op.MemFlags & Op.MfAddr32) != 0;
                ulong count = a32 ? (uint)(R1(ref R) - 1) : R1(ref R) - 1;
                bool take = count != 0 && (op.Aux == 0 || (op.Aux == 1) == c.ZF());
                if (take)
                {
                    ulong t = c.Rip + (ulong)op.Disp;
                    if (!IsCanonical(t) && !BranchFaultsAtTarget) return GpZero();
                    c.Rip = t;
                }
                R1(ref R) = count;
                return StOk;
            }
            case H.Jrcxz:
            {
                ulong count = (op.MemFlags & Op.MfAddr32) != 0 ? (uint)R1(ref R) : R1(ref R);
                if (count == 0)
                {
                    ulong t = c.Rip + (ulong)op.Disp;
                    if (!IsCanonical(t) && !BranchFaultsAtTarget) return GpZero();
                    c.Rip = t;
                }
                return StOk;
            }
            case H.Xlat:
            {
                ulong a = Unsafe.Add(ref R, 3) + (byte)Unsafe.Add(ref R, 0);
                a = SegmentAdjust(a, op.MemFlags);
                if (!Read(a, 1, op.MemFlags, out ulong v)) return StFault;
                SetR(ref R, 0, 1, v);
                return StOk;
            }

            case H.Cpuid:
            {
                var (a, b, cc, d) = platform.Cpuid((uint)Unsafe.Add(ref R, 0), (uint)R1(ref R));
                Unsafe.Add(ref R, 0) = a;
                Unsafe.Add(ref R, 3) = b;
                R1(ref R) = cc;
                Unsafe.Add(ref R, 2) = d;
                return StOk;
            }
            case H.Rdtsc:
            case H.Rdtscp:
            {
                ulong t = platform.Rdtsc();
                Unsafe.Add(ref R, 0) = (uint)t;
                Unsafe.Add(ref R, 2) = t >> 32;
                if (op.H == H.Rdtscp) R1(ref R) = c.TscAux;   // IA32_TSC_AUX
                return StOk;
            }
            case H.Syscall:
                R1(ref R) = c.Rip;
                Unsafe.Add(ref R, 11) = c.Rflags;
                c.FlagsRest &= ~CpuState.FlagRf;
                return ExitAfter(ExitKind.Syscall);
            case H.Int3: return ExitAfter(ExitKind.Exception, 3);
            case H.Int1: return ExitAfter(ExitKind.Exception, 1);
            case H.IntN: return ExitAfter(ExitKind.Exception, (int)op.Imm, soft: true);
            case H.Pause: return ExitOnPause ? ExitAfter(ExitKind.Pause) : StOk;
            case H.Iretq: return Iretq(ref R);
            case H.Retf: return FarReturn(ref op, ref R);
            case H.FarBranch: return FarBranch(ref op, ref R);
            case H.Fwait: return Fwait();
            case H.StoreSys: return StoreSystemRegister(ref op, ref R);
            case H.SegBase: return SegmentBase(ref op, ref R);
            case H.Clflush:
                return Read(EA(ref op, ref R), 1, op.MemFlags, out _) ? StOk : StFault;

            case H.Ud:
                Fault(6, 0, false, OpCompiler.MnemonicName(op.Imm));
                return StFault;
            case H.Priv:
                return GpZero();
            case H.Vector: return Vector(ref op, ref R);
            case H.X87: return X87(ref op, ref R);
            case H.ScalarExt: return ScalarExt(ref op, ref R);
            case H.Unimplemented:
                if (op.Aux2 == Op.Aux2Fpu && c.TaskSwitched)
                    Fault(7, 0, false, "CR0.TS: " + OpCompiler.MnemonicName(op.Imm));
                else
                    Fault(6, 0, false, OpCompiler.MnemonicName(op.Imm));
                return StFault;
            case H.Invalid:
                Fault(6, 0, false, "invalid");
                return StFault;
            case H.Near32: return Near32(ref op, ref R);
            default:
                Fault(6, 0, false, $"internal: no handler for {op.H}");
                return StFault;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref ulong R1(ref ulong R) => ref Unsafe.Add(ref R, 1);

    private int GpZero()
    {
        Fault(13, 0, true);
        return StFault;
    }

    private bool ReadRm(ref Op op, ref ulong R, out ulong v)
    {
        if ((op.Kinds & Op.KMem) == 0)
        {
            v = GetR(ref R, op.A, op.Size);
            return true;
        }
        return Read(EA(ref op, ref R), op.Size, op.MemFlags, out v);
    }

    private bool Push(ref ulong R, ulong v, int size)
    {
        ulong sp = Unsafe.Add(ref R, 4) - (ulong)size;
        if (!Write(sp, size, Op.MfStack, v)) return false;
        Unsafe.Add(ref R, 4) = sp;
        return true;
    }

    private static (FlagOp, ulong, ulong, ulong, ulong, ulong) SaveFlags(CpuState c) => (c.FOp, c.FA, c.FB, c.FRes, c.FSign, c.FAux);

    private static void RestoreFlags(CpuState c, (FlagOp Op, ulong A, ulong B, ulong Res, ulong Sign, ulong Aux) f)
    {
        c.FOp = f.Op;
        c.FA = f.A;
        c.FB = f.B;
        c.FRes = f.Res;
        c.FSign = f.Sign;
        c.FAux = f.Aux;
    }

    // ------------------------------------------------------------------ flags and segments

    /// <summary>popf/iret: at CPL 3 with IOPL 0 neither IF nor IOPL can change; VM, VIF, VIP are kept; RF is cleared unless <paramref name="loadRf"/>.</summary>
    private void LoadFlags(ulong v, ulong widthMask, bool loadRf)
    {
        var c = cpu;
        ulong old = c.Rflags;
        ulong mutable = CpuState.ArithmeticFlags | CpuState.FlagTf | CpuState.FlagDf | CpuState.FlagNt | CpuState.FlagAc | CpuState.FlagId;
        int iopl = (int)((old & CpuState.FlagIopl) >> 12);
        if (c.Cpl <= iopl) mutable |= CpuState.FlagIf;
        if (c.Cpl == 0) mutable |= CpuState.FlagIopl;
        if (loadRf) mutable |= CpuState.FlagRf;
        mutable &= widthMask;
        ulong nv = (old & ~mutable) | (v & mutable);
        if (!loadRf) nv &= ~CpuState.FlagRf;
        c.Rflags = nv;
    }

    private ulong Selector(int sreg) => sreg switch
    {
        0 => cpu.Es, 1 => cpu.Cs, 2 => cpu.Ss, 3 => cpu.Ds, 4 => cpu.Fs, _ => cpu.Gs,
    };

    /// <summary>
    /// The descriptor <paramref name="sel"/> (not null) names: from <see cref="CpuState.Descriptors"/>,
    /// where a selector outside the tables is #GP(sel) and an LDT page Xen cannot map is #PF; without tables only Xen's flat ring-3
    /// selectors exist (code 0xe023/0xe033, and data 0xe02b unless <paramref name="codeOnly"/>), anything
    /// else an unmodelled #UD. False: the fault is recorded.
    /// </summary>
    private bool ReadDescriptor(ushort sel, bool codeOnly, out ulong d)
    {
        if (cpu.Descriptors is { } tables)
            return tables.Read(sel, out d, out ulong faultAt) switch
            {
                DescriptorLookup.Found => true,
                DescriptorLookup.PageFault => PageFault(faultAt, 0),
                _ => Fault(13, (uint)(sel & 0xFFFC), true),
            };
        d = (sel & ~3) switch
        {
            0xE020 => 0x00CF_FB00_0000_FFFFUL,
            0xE030 => 0x00AF_FB00_0000_FFFFUL,
            0xE028 when !codeOnly => 0x00CF_F300_0000_FFFFUL,
            _ => 0,
        };
        return d != 0 || Fault(6, 0, false, SegmentDetail);
    }

    /// <summary>
    /// mov/pop to a segment register in 64-bit mode (Intel SDM, MOV to Sreg): the descriptor comes
    /// from <see cref="CpuState.Descriptors"/>; without one only null selectors and Xen's flat
    /// ring-3 selectors exist (base 0). Loading FS or GS takes the descriptor's 32-bit base; a null
    /// selector clears it (Intel behaviour).
    /// </summary>
    private bool LoadSegment(int sreg, ushort sel)
    {
        var c = cpu;
        bool isNull = (sel & ~3) == 0;
        uint err = (uint)(sel & 0xFFFC);
        if (sreg == 2 && isNull && !(c.Hvm && c.CodeBits == 64 && c.Cpl < 3)) return Fault(13, 0, true);   // 64-bit HVM code may load a null SS below CPL 3
        ulong d = 0;
        if (!isNull)
        {
            if (!ReadDescriptor(sel, codeOnly: false, out d)) return false;
            bool system = (d & (1UL << 44)) == 0, code = (d & (1UL << 43)) != 0;
            bool rw = (d & (1UL << 41)) != 0, conforming = code && (d & (1UL << 42)) != 0, present = (d & (1UL << 47)) != 0;
            int dpl = (int)(d >> 45) & 3, rpl = sel & 3;
            if (sreg == 2)
            {
                if (rpl != c.Cpl || system || code || !rw || dpl != c.Cpl) return Fault(13, err, true);
                if (!present) return Fault(12, err, true);
            }
            else
            {
                if (system || (code && !rw)) return Fault(13, err, true);
                if (!conforming && (rpl > dpl || c.Cpl > dpl)) return Fault(13, err, true);
                if (!present) return Fault(11, err, true);
            }
            if ((d & (1UL << 40)) == 0) c.Descriptors?.MarkAccessed(sel);
        }
        ulong b = isNull ? 0 : ((d >> 16) & 0xFF_FFFF) | ((d >> 32) & 0xFF00_0000);
        switch (sreg)
        {
            case 0: c.Es = sel; break;
            case 2: c.Ss = sel; break;
            case 3: c.Ds = sel; break;
            case 4: c.Fs = sel; c.FsBase = b; break;
            case 5: c.Gs = sel; c.GsBase = b; break;
            default: return Fault(6, 0, false, SegmentDetail);
        }
        return true;
    }

    private int Iretq(ref ulong R)
    {
        var c = cpu;
        ulong sp = Unsafe.Add(ref R, 4);
        if (!Read(sp, 8, Op.MfStack, out ulong rip) || !Read(sp + 8, 8, Op.MfStack, out ulong cs)
            || !Read(sp + 16, 8, Op.MfStack, out ulong flags) || !Read(sp + 24, 8, Op.MfStack, out ulong rsp)
            || !Read(sp + 32, 8, Op.MfStack, out ulong ss))
            return StFault;
        ushort ncs = (ushort)cs, nss = (ushort)ss;
        if ((ncs & ~3) == 0) return GpZero();
        if ((ncs & 3) < c.Cpl)
        {
            Fault(13, (uint)(ncs & ~3), true);
            return StFault;
        }
        if ((ncs & 3) != c.Cpl)
        {
            Fault(6, 0, false, "Iretq (privilege change is not modelled)");
            return StFault;
        }
        if (ncs != c.Cs && !CheckFarCode(ncs, out _)) return StFault;
        if (!IsCanonical(rip)) return GpZero();
        if ((nss & ~3) == 0 && c.Cpl == 3) return GpZero();
        if ((nss & 3) != (ncs & 3))
        {
            Fault(13, (uint)(nss & ~3), true);
            return StFault;
        }
        c.Rip = rip;
        c.Cs = ncs;
        LoadFlags(flags, ulong.MaxValue, true);
        Unsafe.Add(ref R, 4) = rsp;
        c.Ss = nss;
        return StFlagsChanged;
    }

    /// <summary>
    /// The code segment a far return or iretq loads at the same privilege (Intel SDM, RET far / IRET):
    /// #GP(0) for a null selector, #GP(sel) for one outside the table, not a code segment, or whose DPL
    /// does not fit the RPL, #NP(sel) when not present. A 64-bit segment (L = 1) is accepted; a
    /// compatibility-mode one is #UD (not modelled). False: the fault is recorded.
    /// </summary>
    private bool CheckFarCode(ushort sel, out ulong descriptor)
    {
        var c = cpu;
        descriptor = 0;
        uint err = (uint)(sel & 0xFFFC);
        if ((sel & ~3) == 0) return Fault(13, 0, true);
        if ((sel & 3) < c.Cpl) return Fault(13, err, true);
        if (!ReadDescriptor(sel, codeOnly: true, out descriptor)) return false;
        ulong d = descriptor;
        bool codeSeg = (d & (1UL << 44)) != 0 && (d & (1UL << 43)) != 0, conforming = (d & (1UL << 42)) != 0;
        int dpl = (int)(d >> 45) & 3, rpl = sel & 3;
        if (!codeSeg || (conforming ? dpl > rpl : dpl != rpl)) return Fault(13, err, true);
        if ((d & (1UL << 47)) == 0) return Fault(11, err, true);
        if ((d & (1UL << 53)) == 0) return Fault(6, 0, false, "far transfer to a compatibility-mode code segment (not modelled)");
        if (rpl != c.Cpl) return Fault(6, 0, false, "far return to an outer privilege level (not modelled)");
        if ((d & (1UL << 40)) == 0) c.Descriptors?.MarkAccessed(sel);
        return true;
    }

    /// <summary>lret / lretq at the same privilege into a 64-bit code segment.</summary>
    private int FarReturn(ref Op op, ref ulong R)
    {
        var c = cpu;
        int s = op.Size;
        ulong sp = Unsafe.Add(ref R, 4);
        if (!Read(sp, s, Op.MfStack, out ulong rip) || !Read(sp + (ulong)s, s, Op.MfStack, out ulong csv)) return StFault;
        ushort sel = (ushort)csv;
        if (!CheckFarCode(sel, out _)) return StFault;
        if (!IsCanonical(rip)) return GpZero();
        c.Rip = rip;
        c.Cs = sel;
        Unsafe.Add(ref R, 4) = sp + (ulong)(2 * s) + op.Imm;
        return StOk;
    }

    /// <summary>
    /// Indirect far call / jmp in 64-bit mode (Intel SDM, CALL and JMP, far forms): the offset then the
    /// selector from memory. A null selector is #GP(0); one outside its table #GP(sel). A code segment
    /// follows the conforming / non-conforming privilege rules (#GP(sel)), must be present (#NP(sel))
    /// and 64-bit; the call pushes CS and the return address at the operand size. A call gate whose
    /// DPL is below CPL or RPL is #GP(sel) (Xen gives every guest gate DPL 0, so from the guest's ring 3
    /// that is always the answer); any other system descriptor is #GP(sel).
    /// </summary>
    private int FarBranch(ref Op op, ref ulong R)
    {
        var c = cpu;
        int s = op.Size;
        ulong ea = EA(ref op, ref R);
        if (!Read(ea, s, op.MemFlags, out ulong offset) || !Read(ea + (ulong)s, 2, op.MemFlags, out ulong selv)) return StFault;
        ushort sel = (ushort)selv;
        uint err = (uint)(sel & 0xFFFC);
        if ((sel & ~3) == 0) return GpZero();
        if (!ReadDescriptor(sel, codeOnly: true, out ulong d)) return StFault;
        int dpl = (int)(d >> 45) & 3, rpl = sel & 3;
        bool present = (d & (1UL << 47)) != 0;
        if ((d & (1UL << 44)) == 0)
        {
            if (((d >> 40) & 0xF) != 0xC || dpl < c.Cpl || dpl < rpl) { Fault(13, err, true); return StFault; }
            if (!present) { Fault(11, err, true); return StFault; }
            Fault(6, 0, false, "far transfer through a call gate at the guest's privilege (not modelled)");
            return StFault;
        }
        bool code = (d & (1UL << 43)) != 0, conforming = (d & (1UL << 42)) != 0;
        if (!code || (conforming ? dpl > c.Cpl : rpl > c.Cpl || dpl != c.Cpl)) { Fault(13, err, true); return StFault; }
        if (!present) { Fault(11, err, true); return StFault; }
        if ((d & (1UL << 53)) == 0) { Fault(6, 0, false, "far transfer to a compatibility-mode code segment (not modelled)"); return StFault; }
        if (s < 8) offset &= s == 4 ? 0xFFFF_FFFFUL : 0xFFFFUL;
        if (!IsCanonical(offset)) return GpZero();
        ushort newCs = (ushort)((sel & ~3) | c.Cpl);
        if (op.Aux == 1)
        {
            ulong sp = Unsafe.Add(ref R, 4);
            if (!Write(sp - (ulong)s, s, Op.MfStack, c.Cs) || !Write(sp - (ulong)(2 * s), s, Op.MfStack, c.Rip)) return StFault;
            Unsafe.Add(ref R, 4) = sp - (ulong)(2 * s);
        }
        if ((d & (1UL << 40)) == 0) c.Descriptors?.MarkAccessed(sel);
        c.Cs = newCs;
        c.Rip = offset;
        return StOk;
    }

    /// <summary>sidt, sgdt, sldt, str, smsw at CPL 3 without UMIP: the values the hypervisor's own registers hold.</summary>
    private int StoreSystemRegister(ref Op op, ref ulong R)
    {
        var c = cpu;
        if (op.Aux <= 1)
        {
            ulong ea = EA(ref op, ref R);
            ulong limit = op.Aux == 0 ? c.IdtLimit : c.GdtLimit, b = op.Aux == 0 ? c.IdtBase : c.GdtBase;
            if (!ProbeWrite(ea, 10, op.MemFlags)) return StFault;
            return Write(ea, 2, op.MemFlags, limit) && Write(ea + 2, 8, op.MemFlags, b) ? StOk : StFault;
        }
        ulong v = op.Aux switch { 2 => c.LdtSelector, 3 => c.TaskRegister, _ => c.MachineStatusWord };
        if ((op.Kinds & Op.KMem) != 0) return Write(EA(ref op, ref R), 2, op.MemFlags, v) ? StOk : StFault;
        // A register destination: sldt/str zero-extend the selector; smsw stores CR0 (its low 32 bits for r32).
        SetR(ref R, op.A, op.Size, op.Aux == 4 ? v : (ushort)v);
        return StOk;
    }

    /// <summary>rdfsbase, rdgsbase, wrfsbase, wrgsbase: #UD unless CR4.FSGSBASE; a non-canonical 64-bit write is #GP(0) unless the modelled CPU skips the check.</summary>
    private int SegmentBase(ref Op op, ref ulong R)
    {
        var c = cpu;
        int s = op.Size;
        if (!c.FsGsBaseEnabled)
        {
            Fault(6, 0, false, "rd/wr fs/gs base with CR4.FSGSBASE clear");
            return StFault;
        }
        switch (op.Aux)
        {
            case 0: SetR(ref R, op.A, s, c.FsBase); return StOk;
            case 1: SetR(ref R, op.A, s, c.GsBase); return StOk;
        }
        ulong v = GetR(ref R, op.A, s);
        if (!IsCanonical(v) && !WrBaseSkipsCanonicalCheck) return GpZero();
        if (op.Aux == 2) c.FsBase = v;
        else c.GsBase = v;
        return StOk;
    }

    private int Enter(ref Op op, ref ulong R)
    {
        ulong rsp = Unsafe.Add(ref R, 4), rbp = Unsafe.Add(ref R, 5);
        int level = op.Aux;
        ulong sp = rsp - 8;
        if (!Write(sp, 8, Op.MfStack, rbp)) return StFault;
        ulong frameTemp = sp;
        if (level > 0)
        {
            ulong bp = rbp;
            for (int i = 1; i < level; i++)
            {
                bp -= 8;
                if (!Read(bp, 8, Op.MfStack, out ulong v)) return StFault;
                sp -= 8;
                if (!Write(sp, 8, Op.MfStack, v)) return StFault;
            }
            sp -= 8;
            if (!Write(sp, 8, Op.MfStack, frameTemp)) return StFault;
        }
        Unsafe.Add(ref R, 5) = frameTemp;
        Unsafe.Add(ref R, 4) = sp - op.Imm;
        return StOk;
    }

    // ------------------------------------------------------------------ arithmetic

    private static ulong Neg(CpuState c, ulong v, int size)
    {
        ulong r = (0 - v) & SizeMask(size);
        c.SetFlags(FlagOp.Sub, 0, v, r, SignBit(size));
        return r;
    }

    /// <summary>
    /// rol, ror, rcl, rcr, shl, shr, (sal), sar. The count is masked to 5 bits (6 for 64-bit); a
    /// masked count of 0 changes nothing. Flags the manuals leave undefined: OF for counts above 1 is
    /// computed with the 1-bit formula, AF is cleared by shifts, and CF for shl/shr counts beyond the
    /// operand width is the last bit shifted out of a wide register (0 for shr).
    /// </summary>
    internal static ulong Shift(CpuState c, int kind, ulong v, ulong rawCount, int size)
    {
        int w = size * 8;
        int count = (int)(rawCount & (size == 8 ? 63UL : 31UL));
        if (count == 0) return v;
        ulong mask = SizeMask(size), sign = SignBit(size);
        ulong r, cf, of;
        switch (kind)
        {
            case 4:
            case 6:
                r = (v << count) & mask;
                cf = count <= w ? (v >> (w - count)) & 1 : 0;
                of = ((r & sign) != 0 ? 1UL : 0UL) ^ cf;
                c.SetResultFlags(r, sign, (cf != 0 ? CpuState.FlagCf : 0) | (of != 0 ? CpuState.FlagOf : 0));
                return r;
            case 5:
                r = v >> count;
                cf = (v >> (count - 1)) & 1;
                of = (v & sign) != 0 ? 1UL : 0UL;
                c.SetResultFlags(r, sign, (cf != 0 ? CpuState.FlagCf : 0) | (of != 0 ? CpuState.FlagOf : 0));
                return r;
            case 7:
            {
                long sv = (long)SignExtend(v, size);
                r = (ulong)(sv >> Math.Min(count, 63)) & mask;
                cf = (ulong)(sv >> Math.Min(count - 1, 63)) & 1;
                c.SetResultFlags(r, sign, cf != 0 ? CpuState.FlagCf : 0);
                return r;
            }
            case 0:
            {
                int rc = count % w;
                r = rc == 0 ? v : ((v << rc) | (v >> (w - rc))) & mask;
                cf = r & 1;
                of = ((r & sign) != 0 ? 1UL : 0UL) ^ cf;
                c.SetArithBits(ArithCfOf, (cf != 0 ? CpuState.FlagCf : 0) | (of != 0 ? CpuState.FlagOf : 0));
                return r;
            }
            case 1:
            {
                int rc = count % w;
                r = rc == 0 ? v : ((v >> rc) | (v << (w - rc))) & mask;
                cf = (r & sign) != 0 ? 1UL : 0UL;
                of = cf ^ ((r >> (w - 2)) & 1);
                c.SetArithBits(ArithCfOf, (cf != 0 ? CpuState.FlagCf : 0) | (of != 0 ? CpuState.FlagOf : 0));
                return r;
            }
            case 2:
            {
                int rc = size == 1 ? count % 9 : size == 2 ? count % 17 : count;
                ulong carry = c.CF() ? 1UL : 0UL;
                r = v;
                for (int i = 0; i < rc; i++)
                {
                    ulong top = (r & sign) != 0 ? 1UL : 0UL;
                    r = ((r << 1) | carry) & mask;
                    carry = top;
                }
                of = ((r & sign) != 0 ? 1UL : 0UL) ^ carry;
                c.SetArithBits(ArithCfOf, (carry != 0 ? CpuState.FlagCf : 0) | (of != 0 ? CpuState.FlagOf : 0));
                return r;
            }
            default:
            {
                int rc = size == 1 ? count % 9 : size == 2 ? count % 17 : count;
                ulong carry = c.CF() ? 1UL : 0UL;
                of = ((v & sign) != 0 ? 1UL : 0UL) ^ carry;
                r = v;
                for (int i = 0; i < rc; i++)
                {
                    ulong low = r & 1;
                    r = (r >> 1) | (carry != 0 ? sign : 0);
                    carry = low;
                }
                c.SetArithBits(ArithCfOf, (carry != 0 ? CpuState.FlagCf : 0) | (of != 0 ? CpuState.FlagOf : 0));
                return r;
            }
        }
    }

    /// <summary>shld/shrd. For 16-bit operands with counts above 16 (undefined) the operand is treated as dest:src:dest.</summary>
    internal static ulong DoubleShift(CpuState c, bool left, ulong dest, ulong src, ulong rawCount, int size)
    {
        int count = (int)(rawCount & (size == 8 ? 63UL : 31UL));
        if (count == 0) return dest;
        int w = size * 8;
        ulong mask = SizeMask(size), sign = SignBit(size);
        ulong r, cf;
        if (size == 2)
        {
            ulong wide = (dest << 32) | (src << 16) | dest;   // 48 bits
            if (left)
            {
                r = (wide << count >> 32) & 0xFFFF;
                cf = (wide >> (48 - count)) & 1;
            }
            else
            {
                r = (wide >> count) & 0xFFFF;
                cf = (wide >> (count - 1)) & 1;
            }
        }
        else if (left)
        {
            r = ((dest << count) | (src >> (w - count))) & mask;
            cf = (dest >> (w - count)) & 1;
        }
        else
        {
            r = ((dest >> count) | (src << (w - count))) & mask;
            cf = (dest >> (count - 1)) & 1;
        }
        bool of = ((r ^ dest) & sign) != 0;
        c.SetResultFlags(r, sign, (cf != 0 ? CpuState.FlagCf : 0) | (of ? CpuState.FlagOf : 0));
        return r;
    }

    /// <summary>mul: CF = OF = upper half non-zero; SF, ZF, PF (undefined) follow the low half; AF cleared.</summary>
    private static int Mul(CpuState c, ref ulong R, ulong v, int s)
    {
        ulong lo, hi;
        switch (s)
        {
            case 1:
            {
                ulong p = (byte)Unsafe.Add(ref R, 0) * (v & 0xFF);
                SetR(ref R, 0, 2, p);
                lo = p & 0xFF;
                hi = p >> 8;
                break;
            }
            case 2:
            {
                ulong p = (ushort)Unsafe.Add(ref R, 0) * (v & 0xFFFF);
                lo = p & 0xFFFF;
                hi = p >> 16;
                SetR(ref R, 0, 2, lo);
                SetR(ref R, 2, 2, hi);
                break;
            }
            case 4:
            {
                ulong p = (ulong)(uint)Unsafe.Add(ref R, 0) * (uint)v;
                lo = (uint)p;
                hi = p >> 32;
                Unsafe.Add(ref R, 0) = lo;
                Unsafe.Add(ref R, 2) = hi;
                break;
            }
            default:
                hi = Math.BigMul(Unsafe.Add(ref R, 0), v, out lo);
                Unsafe.Add(ref R, 0) = lo;
                Unsafe.Add(ref R, 2) = hi;
                break;
        }
        c.SetResultFlags(lo, SignBit(s), hi != 0 ? ArithCfOf : 0);
        return StOk;
    }

    /// <summary>One-operand imul: CF = OF = the product does not fit the low half.</summary>
    private static int ImulOne(CpuState c, ref ulong R, ulong v, int s)
    {
        ulong lo;
        bool overflow;
        switch (s)
        {
            case 1:
            {
                long p = (sbyte)Unsafe.Add(ref R, 0) * (long)(sbyte)v;
                SetR(ref R, 0, 2, (ulong)p);
                lo = (byte)p;
                overflow = p != (sbyte)p;
                break;
            }
            case 2:
            {
                long p = (short)Unsafe.Add(ref R, 0) * (long)(short)v;
                lo = (ushort)p;
                SetR(ref R, 0, 2, lo);
                SetR(ref R, 2, 2, (ulong)(p >> 16));
                overflow = p != (short)p;
                break;
            }
            case 4:
            {
                long p = (int)Unsafe.Add(ref R, 0) * (long)(int)v;
                lo = (uint)p;
                Unsafe.Add(ref R, 0) = lo;
                Unsafe.Add(ref R, 2) = (uint)(p >> 32);
                overflow = p != (int)p;
                break;
            }
            default:
            {
                long hi = Math.BigMul((long)Unsafe.Add(ref R, 0), (long)v, out long low);
                lo = (ulong)low;
                Unsafe.Add(ref R, 0) = lo;
                Unsafe.Add(ref R, 2) = (ulong)hi;
                overflow = hi != (low >> 63);
                break;
            }
        }
        c.SetResultFlags(lo, SignBit(s), overflow ? ArithCfOf : 0);
        return StOk;
    }

    /// <summary>Two- and three-operand imul: the truncated product; CF = OF = truncation changed the value.</summary>
    private static ulong ImulTruncated(CpuState c, ulong a, ulong b, int s)
    {
        ulong r;
        bool overflow;
        if (s == 8)
        {
            long hi = Math.BigMul((long)a, (long)b, out long low);
            r = (ulong)low;
            overflow = hi != (low >> 63);
        }
        else
        {
            long p = (long)SignExtend(a & SizeMask(s), s) * (long)SignExtend(b & SizeMask(s), s);
            r = (ulong)p & SizeMask(s);
            overflow = p != (long)SignExtend(r, s);
        }
        c.SetResultFlags(r, SignBit(s), overflow ? ArithCfOf : 0);
        return r;
    }

    /// <summary>Unsigned divide; #DE on a zero divisor or a quotient too wide. Flags (undefined) are left unchanged.</summary>
    private int Div(ref ulong R, ulong v, int s)
    {
        if ((v & SizeMask(s)) == 0) return DivideError();
        ulong d = v & SizeMask(s);
        switch (s)
        {
            case 1:
            {
                ulong n = (ushort)Unsafe.Add(ref R, 0);
                ulong q = n / d;
                if (q > 0xFF) return DivideError();
                SetR(ref R, 0, 1, q);
                SetR(ref R, 16, 1, n % d);
                return StOk;
            }
            case 2:
            {
                ulong n = ((ulong)(ushort)Unsafe.Add(ref R, 2) << 16) | (ushort)Unsafe.Add(ref R, 0);
                ulong q = n / d;
                if (q > 0xFFFF) return DivideError();
                SetR(ref R, 0, 2, q);
                SetR(ref R, 2, 2, n % d);
                return StOk;
            }
            case 4:
            {
                ulong n = ((ulong)(uint)Unsafe.Add(ref R, 2) << 32) | (uint)Unsafe.Add(ref R, 0);
                ulong q = n / d;
                if (q > 0xFFFF_FFFF) return DivideError();
                Unsafe.Add(ref R, 0) = q;
                Unsafe.Add(ref R, 2) = n % d;
                return StOk;
            }
            default:
            {
                ulong hi = Unsafe.Add(ref R, 2), lo = Unsafe.Add(ref R, 0);
                if (hi >= d) return DivideError();
                var n = new UInt128(hi, lo);
                Unsafe.Add(ref R, 0) = (ulong)(n / d);
                Unsafe.Add(ref R, 2) = (ulong)(n % d);
                return StOk;
            }
        }
    }

    /// <summary>Signed divide; #DE on a zero divisor or a quotient out of range. Flags are left unchanged.</summary>
    private int Idiv(ref ulong R, ulong v, int s)
    {
        if ((v & SizeMask(s)) == 0) return DivideError();
        long d = (long)SignExtend(v & SizeMask(s), s);
        switch (s)
        {
            case 1:
            {
                long n = (short)Unsafe.Add(ref R, 0);
                long q = n / d, r = n % d;
                if (q is < sbyte.MinValue or > sbyte.MaxValue) return DivideError();
                SetR(ref R, 0, 1, (ulong)q);
                SetR(ref R, 16, 1, (ulong)r);
                return StOk;
            }
            case 2:
            {
                long n = (int)(((uint)(ushort)Unsafe.Add(ref R, 2) << 16) | (ushort)Unsafe.Add(ref R, 0));
                long q = n / d, r = n % d;
                if (q is < short.MinValue or > short.MaxValue) return DivideError();
                SetR(ref R, 0, 2, (ulong)q);
                SetR(ref R, 2, 2, (ulong)r);
                return StOk;
            }
            case 4:
            {
                long n = (long)(((ulong)(uint)Unsafe.Add(ref R, 2) << 32) | (uint)Unsafe.Add(ref R, 0));
                if (n == long.MinValue && d == -1) return DivideError();
                long q = n / d, r = n % d;
                if (q is < int.MinValue or > int.MaxValue) return DivideError();
                Unsafe.Add(ref R, 0) = (uint)q;
                Unsafe.Add(ref R, 2) = (uint)r;
                return StOk;
            }
            default:
            {
                var n = (Int128)new UInt128(Unsafe.Add(ref R, 2), Unsafe.Add(ref R, 0));
                if (n == Int128.MinValue) return DivideError();
                Int128 q = n / d, r = n % d;
                if (q < long.MinValue || q > long.MaxValue) return DivideError();
                Unsafe.Add(ref R, 0) = (ulong)(long)q;
                Unsafe.Add(ref R, 2) = (ulong)(long)r;
                return StOk;
            }
        }
    }

    private int DivideError()
    {
        Fault(0, 0, false);
        return StFault;
    }

    // ------------------------------------------------------------------ bit instructions

    /// <summary>bt/bts/btr/btc: CF = the bit; the other flags (OF, SF, AF, PF undefined; ZF unaffected) are left unchanged.</summary>
    private int BitTest(ref Op op, ref ulong R)
    {
        var c = cpu;
        int s = op.Size, w = s * 8;
        bool imm = (op.Kinds & Op.KImm) != 0;
        ulong offset = imm ? op.Imm : GetR(ref R, op.B, s);
        int bit;
        ulong v, ea = 0;
        bool mem = (op.Kinds & Op.KMem) != 0;
        if (mem)
        {
            ea = EA(ref op, ref R);
            if (imm) bit = (int)(offset & (ulong)(w - 1));
            else
            {
                long off = (long)SignExtend(offset, s);
                ea += (ulong)((off >> BitOperations.Log2((uint)w)) * s);
                bit = (int)(off & (w - 1));
            }
            bool ok = op.Aux == 0 ? Read(ea, s, op.MemFlags, out v) : ReadForWrite(ea, s, op.MemFlags, out v);
            if (!ok) return StFault;
        }
        else
        {
            bit = (int)(offset & (ulong)(w - 1));
            v = GetR(ref R, op.A, s);
        }
        ulong m = 1UL << bit;
        bool cf = (v & m) != 0;
        ulong nv = op.Aux switch { 1 => v | m, 2 => v & ~m, 3 => v ^ m, _ => v };
        if (op.Aux != 0)
        {
            if (mem)
            {
                if (!Write(ea, s, op.MemFlags, nv)) return StFault;
            }
            else SetR(ref R, op.A, s, nv);
        }
        c.SetArithBits(CpuState.FlagCf, cf ? CpuState.FlagCf : 0);
        return StOk;
    }

    /// <summary>
    /// bsf/bsr: ZF = source is 0, destination unchanged then; other flags (undefined) unchanged.
    /// popcnt: ZF = source is 0, CF OF SF AF PF cleared. lzcnt/tzcnt: CF = source is 0, ZF = result is 0,
    /// the others (undefined) unchanged.
    /// </summary>
    private static void BitScan(CpuState c, H h, ref ulong R, int dest, ulong v, int s)
    {
        int w = s * 8;
        v &= SizeMask(s);
        switch (h)
        {
            case H.Bsf:
            case H.Bsr:
                if (v == 0)
                {
                    c.SetArithBits(CpuState.FlagZf, CpuState.FlagZf);
                    return;
                }
                SetR(ref R, dest, s, (ulong)(h == H.Bsf ? BitOperations.TrailingZeroCount(v) : 63 - BitOperations.LeadingZeroCount(v)));
                c.SetArithBits(CpuState.FlagZf, 0);
                return;
            case H.Popcnt:
                SetR(ref R, dest, s, (ulong)BitOperations.PopCount(v));
                c.SetArithBits(CpuState.ArithmeticFlags, v == 0 ? CpuState.FlagZf : 0);
                return;
            default:
            {
                int r = v == 0 ? w : h == H.Lzcnt ? BitOperations.LeadingZeroCount(v) - (64 - w) : BitOperations.TrailingZeroCount(v);
                SetR(ref R, dest, s, (ulong)r);
                c.SetArithBits(CpuState.FlagCf | CpuState.FlagZf, (v == 0 ? CpuState.FlagCf : 0) | (r == 0 ? CpuState.FlagZf : 0));
                return;
            }
        }
    }

    private int Cmpxchg8b16b(ref Op op, ref ulong R)
    {
        var c = cpu;
        ulong ea = EA(ref op, ref R);
        if (op.Size == 16)
        {
            if ((ea & 15) != 0) return GpZero();
            if (!ProbeWrite(ea, 16, op.MemFlags)) return StFault;
            if (!ReadForWrite(ea, 8, op.MemFlags, out ulong lo) || !ReadForWrite(ea + 8, 8, op.MemFlags, out ulong hi)) return StFault;
            bool eq = lo == Unsafe.Add(ref R, 0) && hi == Unsafe.Add(ref R, 2);
            ulong wlo = eq ? Unsafe.Add(ref R, 3) : lo, whi = eq ? R1(ref R) : hi;
            if (!Write(ea, 8, op.MemFlags, wlo) || !Write(ea + 8, 8, op.MemFlags, whi)) return StFault;
            if (!eq)
            {
                Unsafe.Add(ref R, 0) = lo;
                Unsafe.Add(ref R, 2) = hi;
            }
            c.SetArithBits(CpuState.FlagZf, eq ? CpuState.FlagZf : 0);
            return StOk;
        }
        if (!ReadForWrite(ea, 8, op.MemFlags, out ulong m)) return StFault;
        ulong expected = ((ulong)(uint)Unsafe.Add(ref R, 2) << 32) | (uint)Unsafe.Add(ref R, 0);
        bool equal = m == expected;
        ulong repl = ((ulong)(uint)R1(ref R) << 32) | (uint)Unsafe.Add(ref R, 3);
        if (!Write(ea, 8, op.MemFlags, equal ? repl : m)) return StFault;
        if (!equal)
        {
            Unsafe.Add(ref R, 0) = (uint)m;
            Unsafe.Add(ref R, 2) = m >> 32;
        }
        c.SetArithBits(CpuState.FlagZf, equal ? CpuState.FlagZf : 0);
        return StOk;
    }
}
