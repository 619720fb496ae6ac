using Iced.Intel;
using Xtf.Sim.Memory;

namespace Xtf.Sim.Cpu;

/// <summary>
/// Turns x86-64 machine code into the interpreter's <see cref="Op"/> records: decodes bytes with Iced and
/// compiles each Iced <see cref="Instruction"/> into one <see cref="Op"/> (handler, operands, relative
/// displacements). All the interpreter knows of Iced is here; it neither caches nor executes. An
/// instance holds one reusable Iced decoder (no allocation per instruction); the translation itself is static.
/// </summary>
internal sealed partial class OpCompiler
{
    /// <summary>The architectural limit: a longer byte sequence does not decode.</summary>
    public const int MaxInstructionLength = 15;

    private readonly FetchReader reader = new();
    private Decoder decoder;
    /// <summary>Bytes of the first page in the buffer, from the last <see cref="TryDecode"/>.</summary>
    private int loaded;

    public OpCompiler() => decoder = Decoder.Create(64, reader, 0, DecoderOptions.None);

    /// <summary>Feeds Iced the bytes of one instruction from a reusable buffer.</summary>
    private sealed class FetchReader : CodeReader
    {
        public readonly byte[] Buffer = new byte[16];
        private int pos, length;

        public void Reset(int n)
        {
            pos = 0;
            length = n;
        }

        public override int ReadByte() => pos < length ? Buffer[pos++] : -1;
    }

    /// <summary>
    /// Decodes the instruction at <paramref name="rip"/> from <paramref name="frame"/> (a page) at
    /// <paramref name="offset"/>. False when the bytes run out at the end of the frame before the
    /// instruction is complete: it continues on the next page, see <see cref="DecodeAcross"/>. An
    /// undecodable byte sequence gives true and an invalid instruction.
    /// </summary>
    public bool TryDecode(byte[] frame, int offset, ulong rip, out Instruction ins)
    {
        int avail = Math.Min(MaxInstructionLength, MachineMemory.PageSize - offset);
        Array.Copy(frame, offset, reader.Buffer, 0, avail);
        loaded = avail;
        reader.Reset(avail);
        decoder.IP = rip;
        decoder.Decode(out ins);
        return !(decoder.LastError == DecoderError.NoMoreBytes && avail < MaxInstructionLength);
    }

    /// <summary>Decodes again the instruction <see cref="TryDecode"/> ran out of bytes on, its tail taken from the start of <paramref name="next"/> (the following page).</summary>
    public void DecodeAcross(byte[] next, ulong rip, out Instruction ins)
    {
        Array.Copy(next, 0, reader.Buffer, loaded, MaxInstructionLength - loaded);
        reader.Reset(MaxInstructionLength);
        decoder.IP = rip;
        decoder.Decode(out ins);
    }

    /// <summary>Decodes one instruction from <paramref name="bytes"/>; false when they do not decode.</summary>
    public static bool TryDecodeBytes(ReadOnlySpan<byte> bytes, ulong ip, out Instruction instruction)
    {
        var d = Decoder.Create(64, new ByteArrayCodeReader(bytes.ToArray()), ip, DecoderOptions.None);
        d.Decode(out instruction);
        return d.LastError == DecoderError.None && !instruction.IsInvalid;
    }

    // ------------------------------------------------------------------ mnemonic names, for #UD details

    private static readonly string[] MnemonicNames = BuildMnemonicNames();

    private static string[] BuildMnemonicNames()
    {
        var values = Enum.GetValues<Mnemonic>();
        int max = 0;
        foreach (var v in values) max = Math.Max(max, (int)v);
        var names = new string[max + 1];
        foreach (var v in values) names[(int)v] = v.ToString();
        names[(int)Mnemonic.Ud0] = "ud0";
        names[(int)Mnemonic.Ud1] = "ud1";
        names[(int)Mnemonic.Ud2] = "ud2";
        return names;
    }

    /// <summary>The name of the mnemonic <see cref="Compile"/> stored in <see cref="Op.Imm"/> (for <see cref="H.Unimplemented"/> and <see cref="H.Ud"/>).</summary>
    public static string MnemonicName(ulong m) => m < (ulong)MnemonicNames.Length ? MnemonicNames[m] ?? "unknown" : "unknown";

    // ------------------------------------------------------------------ Iced instruction -> Op

    // Every op gets Base = Index = NoReg and the instruction length; RIP-relative displacements and
    // branch targets are stored relative to the next instruction, so that one decoded frame serves
    // every virtual alias of it. Anything the interpreter does not execute becomes H.Unimplemented
    // with the Iced mnemonic in Imm; an undecodable sequence becomes H.Invalid.

    /// <summary>Whether the interpreter executes this instruction (rather than raising #UD for it as unimplemented).</summary>
    public static bool IsImplemented(in Instruction ins)
    {
        var op = default(Op);
        Compile(in ins, ref op);
        return op.H is not (H.Unimplemented or H.Invalid);
    }

    internal static void Compile(in Instruction ins, ref Op op)
    {
        op = default;
        op.Base = Op.NoReg;
        op.Index = Op.NoReg;
        op.Len = (byte)ins.Length;
        if (ins.Code == Code.INVALID)
        {
            op.H = H.Invalid;
            return;
        }
        if (!CompileCore(in ins, ref op) || op.H == H.None)
        {
            byte len = op.Len;
            op = default;
            op.Base = Op.NoReg;
            op.Index = Op.NoReg;
            op.Len = len;
            if (CompileExtension(in ins, ref op) && op.H != H.None) return;
            op = default;
            op.Base = Op.NoReg;
            op.Index = Op.NoReg;
            op.Len = len;
            op.H = H.Unimplemented;
            op.Imm = (ulong)ins.Mnemonic;
            if (UsesFpuState(in ins)) op.Aux2 = Op.Aux2Fpu;
        }
    }

    /// <summary>The instruction-set extensions, each in its own file; false leaves the instruction unimplemented (#UD).</summary>
    private static bool CompileExtension(in Instruction ins, ref Op op)
    {
        var start = op;
        if (CompileLegacy(in ins, ref op)) return true;   // 16/32-bit code of an HVM vCPU (OpCompiler.Hvm.cs)
        op = start;
        if (CompileVector(in ins, ref op)) return true;
        op = start;
        if (CompileX87(in ins, ref op)) return true;
        op = start;
        if (CompileScalarExt(in ins, ref op)) return true;
        op = start;
        return false;
    }

    /// <summary>
    /// Whether the instruction touches x87/MMX/SSE/AVX state, so that CR0.TS makes it #NM (fences,
    /// prefetches, cache-line flushes, pause and movnti do not).
    /// </summary>
    internal static bool UsesFpuState(in Instruction ins)
    {
        if (ins.Mnemonic is Mnemonic.Lfence or Mnemonic.Mfence or Mnemonic.Sfence or Mnemonic.Pause or Mnemonic.Movnti
            or Mnemonic.Clflush or Mnemonic.Clflushopt or Mnemonic.Clwb or Mnemonic.Prefetchnta or Mnemonic.Prefetcht0
            or Mnemonic.Prefetcht1 or Mnemonic.Prefetcht2 or Mnemonic.Prefetchw or Mnemonic.Prefetch)
            return false;
        foreach (var f in ins.CpuidFeatures)
        {
            string n = f.ToString();
            if (n.StartsWith("FPU", StringComparison.Ordinal) || n.StartsWith("MMX", StringComparison.Ordinal)
                || n.StartsWith("SSE", StringComparison.Ordinal) || n.StartsWith("SSSE3", StringComparison.Ordinal)
                || n.StartsWith("AVX", StringComparison.Ordinal) || n.StartsWith("FMA", StringComparison.Ordinal)
                || n is "F16C" or "AES" or "PCLMULQDQ" or "SHA" or "FXSR" or "XSAVE")
                return true;
        }
        return false;
    }

    private static bool Gpr(Register r, out byte index, out int size)
    {
        index = 0;
        size = 0;
        if (r.IsGPR8())
        {
            size = 1;
            index = r is >= Register.AH and <= Register.BH ? (byte)(16 + (r - Register.AH)) : (byte)(r.GetFullRegister() - Register.RAX);
            return true;
        }
        if (r.IsGPR16()) size = 2;
        else if (r.IsGPR32()) size = 4;
        else if (r.IsGPR64()) size = 8;
        else return false;
        index = (byte)(r.GetFullRegister() - Register.RAX);
        return true;
    }

    private static int Log2Scale(int scale) => scale switch { 2 => 1, 4 => 2, 8 => 3, _ => 0 };

    /// <summary>Fills the memory-operand fields from the instruction's memory operand.</summary>
    private static bool SetMem(in Instruction ins, ref Op op)
    {
        var b = ins.MemoryBase;
        var x = ins.MemoryIndex;
        bool a32 = false;
        if (b == Register.RIP)
        {
            op.Base = Op.RipReg;
            op.Disp = (long)(ins.MemoryDisplacement64 - ins.NextIP);
        }
        else if (b == Register.EIP)
        {
            op.Base = Op.RipReg;
            op.Disp = (int)(uint)(ins.MemoryDisplacement64 - ins.NextIP);
            a32 = true;
        }
        else
        {
            if (b != Register.None)
            {
                if (!b.IsGPR64() && !b.IsGPR32()) return false;
                a32 |= b.IsGPR32();
                op.Base = (byte)(b.GetFullRegister() - Register.RAX);
            }
            op.Disp = (long)ins.MemoryDisplacement64;
        }
        if (x != Register.None)
        {
            if (!x.IsGPR64() && !x.IsGPR32()) return false;
            a32 |= x.IsGPR32();
            op.Index = (byte)(x.GetFullRegister() - Register.RAX);
            op.Scale = (byte)Log2Scale(ins.MemoryIndexScale);
        }
        if (b == Register.None && x == Register.None && ins.MemoryDisplSize == 4) a32 = true;
        if (a32)
        {
            op.MemFlags |= Op.MfAddr32;
            if (op.Base != Op.RipReg) op.Disp = (long)(uint)op.Disp;
        }
        op.MemFlags |= ins.MemorySegment switch
        {
            Register.FS => Op.MfFs,
            Register.GS => Op.MfGs,
            Register.SS => Op.MfStack,
            _ => 0,
        };
        return true;
    }

    private static int MemSize(in Instruction ins) => ins.MemorySize.GetSize();

    private static bool IsImm(OpKind k) => k is OpKind.Immediate8 or OpKind.Immediate16 or OpKind.Immediate32 or OpKind.Immediate64
        or OpKind.Immediate8to16 or OpKind.Immediate8to32 or OpKind.Immediate8to64 or OpKind.Immediate32to64;

    private static int AluIndex(Mnemonic m) => m switch
    {
        Mnemonic.Add => 0, Mnemonic.Or => 1, Mnemonic.Adc => 2, Mnemonic.Sbb => 3,
        Mnemonic.And => 4, Mnemonic.Sub => 5, Mnemonic.Xor => 6, _ => 7,
    };

    private static int ShiftIndex(Mnemonic m) => m switch
    {
        Mnemonic.Rol => 0, Mnemonic.Ror => 1, Mnemonic.Rcl => 2, Mnemonic.Rcr => 3,
        Mnemonic.Shl or Mnemonic.Sal => 4, Mnemonic.Shr => 5, _ => 7,
    };

    /// <summary>Operand 0 as register A or memory; sets Size. False when it is neither a GPR nor memory.</summary>
    private static bool Dest(in Instruction ins, ref Op op, out bool mem)
    {
        mem = false;
        if (ins.Op0Kind == OpKind.Register)
        {
            if (!Gpr(ins.Op0Register, out op.A, out int size)) return false;
            op.Size = (byte)size;
            return true;
        }
        if (ins.Op0Kind == OpKind.Memory)
        {
            mem = true;
            op.Kinds |= Op.KMem;
            op.Size = (byte)MemSize(in ins);
            return SetMem(in ins, ref op);
        }
        return false;
    }

    /// <summary>Operand 1 as register B, memory (KSrcMem) or immediate (KImm).</summary>
    private static bool Source(in Instruction ins, ref Op op, int index = 1)
    {
        var k = ins.GetOpKind(index);
        if (k == OpKind.Register) return Gpr(ins.GetOpRegister(index), out op.B, out _);
        if (k == OpKind.Memory)
        {
            op.Kinds |= Op.KSrcMem;
            return SetMem(in ins, ref op);
        }
        if (IsImm(k))
        {
            op.Kinds |= Op.KImm;
            op.Imm = ins.GetImmediate(index);
            return true;
        }
        return false;
    }

    private static bool CompileCore(in Instruction ins, ref Op op)
    {
        var m = ins.Mnemonic;
        switch (m)
        {
            case Mnemonic.Mov:
                return CompileMov(in ins, ref op);

            case Mnemonic.Add or Mnemonic.Or or Mnemonic.Adc or Mnemonic.Sbb or Mnemonic.And or Mnemonic.Sub or Mnemonic.Xor or Mnemonic.Cmp:
            case Mnemonic.Test:
            {
                if (!Dest(in ins, ref op, out bool mem) || !Source(in ins, ref op)) return false;
                bool test = m == Mnemonic.Test;
                op.Aux = (byte)AluIndex(m);
                bool imm = (op.Kinds & Op.KImm) != 0, srcMem = (op.Kinds & Op.KSrcMem) != 0;
                if (imm) op.Imm &= X86Interpreter.SizeMask(op.Size);
                op.H = (mem, srcMem, imm, test) switch
                {
                    (false, false, false, false) => H.AddRR + op.Aux,
                    (false, true, false, false) => H.AddRM + op.Aux,
                    (true, false, false, false) => H.AluMR,
                    (false, false, true, false) => H.AddRI + op.Aux,
                    (true, false, true, false) => H.AluMI,
                    (false, false, false, true) => H.TestRR,
                    (false, true, false, true) => H.TestMR,
                    (true, false, false, true) => H.TestMR,
                    (false, false, true, true) => H.TestRI,
                    (true, false, true, true) => H.TestMI,
                    _ => H.None,
                };
                return op.H != H.None;
            }

            case Mnemonic.Inc or Mnemonic.Dec:
                if (!Dest(in ins, ref op, out bool incMem)) return false;
                op.Aux = (byte)(m == Mnemonic.Inc ? 0 : 1);
                op.H = incMem ? H.IncDecM : H.IncDecR;
                return true;

            case Mnemonic.Not or Mnemonic.Neg:
                if (!Dest(in ins, ref op, out bool unMem)) return false;
                op.Aux = (byte)(m == Mnemonic.Not ? 0 : 1);
                op.H = unMem ? H.UnaryM : H.UnaryR;
                return true;

            case Mnemonic.Lea:
            {
                if (!Gpr(ins.Op0Register, out op.A, out int size) || ins.Op1Kind != OpKind.Memory) return false;
                op.Size = (byte)size;
                if (!SetMem(in ins, ref op)) return false;
                op.MemFlags &= unchecked((byte)~(Op.MfSeg | Op.MfStack));   // lea ignores segment bases
                op.H = H.Lea;
                return true;
            }

            case Mnemonic.Movzx or Mnemonic.Movsx or Mnemonic.Movsxd:
            {
                if (!Gpr(ins.Op0Register, out op.A, out int size)) return false;
                op.Size = (byte)size;
                bool zx = m == Mnemonic.Movzx;
                if (ins.Op1Kind == OpKind.Register)
                {
                    if (!Gpr(ins.Op1Register, out op.B, out int ss)) return false;
                    op.Aux = (byte)ss;
                    op.H = zx ? H.MovzxRR : H.MovsxRR;
                    return true;
                }
                if (ins.Op1Kind != OpKind.Memory || !SetMem(in ins, ref op)) return false;
                op.Aux = (byte)MemSize(in ins);
                op.H = zx ? H.MovzxRM : H.MovsxRM;
                return true;
            }

            case Mnemonic.Xchg or Mnemonic.Cmpxchg or Mnemonic.Xadd:
                if (!Dest(in ins, ref op, out _) || ins.Op1Kind != OpKind.Register || !Gpr(ins.Op1Register, out op.B, out _)) return false;
                op.H = m switch { Mnemonic.Xchg => H.Xchg, Mnemonic.Cmpxchg => H.Cmpxchg, _ => H.Xadd };
                return true;

            case Mnemonic.Cmpxchg8b or Mnemonic.Cmpxchg16b:
                if (ins.Op0Kind != OpKind.Memory || !SetMem(in ins, ref op)) return false;
                op.Size = (byte)(m == Mnemonic.Cmpxchg8b ? 8 : 16);
                op.H = H.Cmpxchg8b16b;
                return true;

            case Mnemonic.Nop or Mnemonic.Endbr64 or Mnemonic.Endbr32 or Mnemonic.Lfence or Mnemonic.Mfence or Mnemonic.Sfence
                or Mnemonic.Prefetchnta or Mnemonic.Prefetcht0 or Mnemonic.Prefetcht1 or Mnemonic.Prefetcht2
                or Mnemonic.Prefetchw or Mnemonic.Prefetch or Mnemonic.Prefetchwt1:
                op.H = H.Nop;
                return true;

            case Mnemonic.Pause:
                op.H = H.Pause;
                return true;

            case Mnemonic.Push:
                return CompilePush(in ins, ref op);

            case Mnemonic.Pop:
            {
                op.Size = (byte)ins.StackPointerIncrement;
                if (op.Size is not (2 or 8)) return false;
                if (ins.Op0Kind == OpKind.Register)
                {
                    var r = ins.Op0Register;
                    if (r is Register.FS or Register.GS)
                    {
                        op.Aux = (byte)(r == Register.FS ? 4 : 5);
                        op.H = H.PopSeg;
                        return true;
                    }
                    if (!Gpr(r, out op.A, out _)) return false;
                    op.H = H.PopR;
                    return true;
                }
                if (ins.Op0Kind != OpKind.Memory || !SetMem(in ins, ref op)) return false;
                op.H = H.PopM;
                return true;
            }

            case Mnemonic.Pushf or Mnemonic.Pushfq:
                op.Size = (byte)(m == Mnemonic.Pushfq ? 8 : 2);
                op.H = H.Pushf;
                return true;

            case Mnemonic.Popf or Mnemonic.Popfq:
                op.Size = (byte)(m == Mnemonic.Popfq ? 8 : 2);
                op.H = H.Popf;
                return true;

            case Mnemonic.Leave:
                op.Size = (byte)(ins.Code == Code.Leaveq ? 8 : ins.Code == Code.Leavew ? 2 : 0);
                op.H = H.Leave;
                return op.Size != 0;

            case Mnemonic.Enter:
                if (ins.Code != Code.Enterq_imm16_imm8) return false;
                op.Size = 8;
                op.Imm = ins.Immediate16;
                op.Aux = (byte)(ins.Immediate8_2nd & 31);
                op.H = H.Enter;
                return true;

            case Mnemonic.Call or Mnemonic.Jmp:
            {
                bool call = m == Mnemonic.Call;
                switch (ins.Op0Kind)
                {
                    case OpKind.NearBranch64:
                        op.Disp = (long)(ins.NearBranch64 - ins.NextIP);
                        op.H = call ? H.Call : H.Jmp;
                        return true;
                    case OpKind.Register:
                        if (!ins.Op0Register.IsGPR64() || !Gpr(ins.Op0Register, out op.A, out _)) return false;
                        op.Size = 8;
                        op.H = call ? H.CallR : H.JmpR;
                        return true;
                    case OpKind.Memory when ins.MemorySize is MemorySize.SegPtr16 or MemorySize.SegPtr32 or MemorySize.SegPtr64:
                        if (!SetMem(in ins, ref op)) return false;
                        op.Kinds |= Op.KMem;
                        op.Size = (byte)(ins.MemorySize == MemorySize.SegPtr64 ? 8 : ins.MemorySize == MemorySize.SegPtr32 ? 4 : 2);
                        op.Aux = (byte)(call ? 1 : 0);
                        op.H = H.FarBranch;
                        return true;
                    case OpKind.Memory:
                        if (ins.MemorySize != MemorySize.QwordOffset && ins.MemorySize != MemorySize.UInt64) return false;
                        if (!SetMem(in ins, ref op)) return false;
                        op.Size = 8;
                        op.H = call ? H.CallM : H.JmpM;
                        return true;
                    default:
                        return false;
                }
            }

            case Mnemonic.Ret:
                if (ins.Code == Code.Retnq) op.H = H.Ret;
                else if (ins.Code == Code.Retnq_imm16)
                {
                    op.H = H.RetImm;
                    op.Imm = ins.Immediate16;
                }
                else return false;
                return true;

            case Mnemonic.Loop or Mnemonic.Loope or Mnemonic.Loopne:
                if (ins.Op0Kind != OpKind.NearBranch64) return false;
                op.Disp = (long)(ins.NearBranch64 - ins.NextIP);
                op.Aux = (byte)(m == Mnemonic.Loop ? 0 : m == Mnemonic.Loope ? 1 : 2);
                if (ins.Code is Code.Loop_rel8_64_ECX or Code.Loope_rel8_64_ECX or Code.Loopne_rel8_64_ECX) op.MemFlags |= Op.MfAddr32;
                op.H = H.Loop;
                return true;

            case Mnemonic.Jrcxz or Mnemonic.Jecxz:
                if (ins.Op0Kind != OpKind.NearBranch64) return false;
                op.Disp = (long)(ins.NearBranch64 - ins.NextIP);
                if (m == Mnemonic.Jecxz) op.MemFlags |= Op.MfAddr32;
                op.H = H.Jrcxz;
                return true;

            case Mnemonic.Shl or Mnemonic.Sal or Mnemonic.Shr or Mnemonic.Sar or Mnemonic.Rol or Mnemonic.Ror or Mnemonic.Rcl or Mnemonic.Rcr:
            {
                if (!Dest(in ins, ref op, out bool mem)) return false;
                op.Aux = (byte)ShiftIndex(m);
                if (ins.Op1Kind == OpKind.Register && ins.Op1Register == Register.CL) op.Kinds |= Op.KCl;
                else if (IsImm(ins.Op1Kind))
                {
                    op.Kinds |= Op.KImm;
                    op.Imm = ins.GetImmediate(1) & 0xFF;
                }
                else return false;
                op.H = mem ? H.ShiftM : (op.Kinds & Op.KCl) != 0 ? H.ShiftRC : H.ShiftRI;
                return true;
            }

            case Mnemonic.Shld or Mnemonic.Shrd:
                if (!Dest(in ins, ref op, out _) || ins.Op1Kind != OpKind.Register || !Gpr(ins.Op1Register, out op.B, out _)) return false;
                if (ins.Op2Kind == OpKind.Register && ins.Op2Register == Register.CL) op.Kinds |= Op.KCl;
                else if (IsImm(ins.Op2Kind))
                {
                    op.Kinds |= Op.KImm;
                    op.Imm = ins.GetImmediate(2) & 0xFF;
                }
                else return false;
                op.H = m == Mnemonic.Shld ? H.Shld : H.Shrd;
                return true;

            case Mnemonic.Mul or Mnemonic.Div or Mnemonic.Idiv:
                if (ins.OpCount != 1 || !Dest(in ins, ref op, out _)) return false;
                op.Aux = (byte)(m == Mnemonic.Mul ? 4 : m == Mnemonic.Div ? 6 : 7);
                op.H = H.MulDiv;
                return true;

            case Mnemonic.Imul:
                if (ins.OpCount == 1)
                {
                    if (!Dest(in ins, ref op, out _)) return false;
                    op.Aux = 5;
                    op.H = H.MulDiv;
                    return true;
                }
                {
                    if (!Gpr(ins.Op0Register, out op.A, out int size) || ins.Op0Kind != OpKind.Register) return false;
                    op.Size = (byte)size;
                    if (!Source(in ins, ref op)) return false;
                    if (ins.OpCount == 3)
                    {
                        if (!IsImm(ins.Op2Kind)) return false;
                        op.Imm = ins.GetImmediate(2);
                        op.H = H.Imul3;
                    }
                    else op.H = H.Imul2;
                    return true;
                }

            case Mnemonic.Bt or Mnemonic.Bts or Mnemonic.Btr or Mnemonic.Btc:
                if (!Dest(in ins, ref op, out _)) return false;
                op.Aux = (byte)(m == Mnemonic.Bt ? 0 : m == Mnemonic.Bts ? 1 : m == Mnemonic.Btr ? 2 : 3);
                if (ins.Op1Kind == OpKind.Register)
                {
                    if (!Gpr(ins.Op1Register, out op.B, out _)) return false;
                }
                else if (IsImm(ins.Op1Kind))
                {
                    op.Kinds |= Op.KImm;
                    op.Imm = ins.GetImmediate(1) & 0xFF;
                }
                else return false;
                op.H = H.Bt;
                return true;

            case Mnemonic.Bsf or Mnemonic.Bsr or Mnemonic.Popcnt or Mnemonic.Lzcnt or Mnemonic.Tzcnt:
            {
                if (ins.Op0Kind != OpKind.Register || !Gpr(ins.Op0Register, out op.A, out int size)) return false;
                op.Size = (byte)size;
                if (!Source(in ins, ref op) || (op.Kinds & Op.KImm) != 0) return false;
                op.H = m switch
                {
                    Mnemonic.Bsf => H.Bsf, Mnemonic.Bsr => H.Bsr, Mnemonic.Popcnt => H.Popcnt,
                    Mnemonic.Lzcnt => H.Lzcnt, _ => H.Tzcnt,
                };
                return true;
            }

            case Mnemonic.Bswap:
            {
                if (!Gpr(ins.Op0Register, out op.A, out int size)) return false;
                op.Size = (byte)size;
                op.H = H.Bswap;
                return true;
            }

            case Mnemonic.Cbw or Mnemonic.Cwde or Mnemonic.Cdqe:
                op.Size = (byte)(m == Mnemonic.Cbw ? 2 : m == Mnemonic.Cwde ? 4 : 8);
                op.H = H.CbwCwdeCdqe;
                return true;

            case Mnemonic.Cwd or Mnemonic.Cdq or Mnemonic.Cqo:
                op.Size = (byte)(m == Mnemonic.Cwd ? 2 : m == Mnemonic.Cdq ? 4 : 8);
                op.H = H.CwdCdqCqo;
                return true;

            case Mnemonic.Clc: op.H = H.Clc; return true;
            case Mnemonic.Stc: op.H = H.Stc; return true;
            case Mnemonic.Cmc: op.H = H.Cmc; return true;
            case Mnemonic.Cld: op.H = H.Cld; return true;
            case Mnemonic.Std: op.H = H.Std; return true;
            case Mnemonic.Lahf: op.H = H.Lahf; return true;
            case Mnemonic.Sahf: op.H = H.Sahf; return true;

            case Mnemonic.Xlatb:
                // [rbx + al]: the index is AL, which the generic memory operand cannot express.
                op.Base = 3;
                if (ins.MemoryBase == Register.EBX) op.MemFlags |= Op.MfAddr32;
                op.MemFlags |= ins.MemorySegment switch { Register.FS => Op.MfFs, Register.GS => Op.MfGs, _ => 0 };
                op.Size = 1;
                op.H = H.Xlat;
                return true;

            case Mnemonic.Wait: op.H = H.Fwait; return true;
            case Mnemonic.Cpuid: op.H = H.Cpuid; return true;
            case Mnemonic.Rdtsc: op.H = H.Rdtsc; return true;
            case Mnemonic.Rdtscp: op.H = H.Rdtscp; return true;
            case Mnemonic.Syscall: op.H = H.Syscall; return true;
            case Mnemonic.Int3: op.H = H.Int3; return true;
            case Mnemonic.Int1: op.H = H.Int1; return true;
            case Mnemonic.Int:
                op.Imm = ins.Immediate8;
                op.H = H.IntN;
                return true;

            case Mnemonic.Iretq:
                op.Size = 8;
                op.H = H.Iretq;
                return true;

            case Mnemonic.Clflush or Mnemonic.Clflushopt or Mnemonic.Clwb:
                if (ins.Op0Kind != OpKind.Memory || !SetMem(in ins, ref op)) return false;
                op.Size = 1;
                op.H = H.Clflush;
                return true;

            case Mnemonic.Ud0 or Mnemonic.Ud1 or Mnemonic.Ud2 or Mnemonic.Clac or Mnemonic.Stac:
                op.Imm = (ulong)m;
                op.H = H.Ud;
                return true;

            case Mnemonic.Sidt or Mnemonic.Sgdt:
                // Stores limit (2 bytes) and base (8 bytes) at CPL 3 when UMIP is off.
                if (ins.Op0Kind != OpKind.Memory || !SetMem(in ins, ref op)) return false;
                op.Kinds |= Op.KMem;
                op.Size = 8;
                op.Aux = (byte)(m == Mnemonic.Sidt ? 0 : 1);
                op.H = H.StoreSys;
                return true;
            case Mnemonic.Sldt or Mnemonic.Str or Mnemonic.Smsw:
                if (!Dest(in ins, ref op, out bool sysMem)) return false;
                if (sysMem) op.Size = 2;   // a memory destination takes 16 bits
                op.Aux = (byte)(m == Mnemonic.Sldt ? 2 : m == Mnemonic.Str ? 3 : 4);
                op.H = H.StoreSys;
                return true;
            case Mnemonic.Rdfsbase or Mnemonic.Rdgsbase or Mnemonic.Wrfsbase or Mnemonic.Wrgsbase:
                if (ins.Op0Kind != OpKind.Register || !Gpr(ins.Op0Register, out op.A, out int baseSize) || baseSize < 4) return false;
                op.Size = (byte)baseSize;
                op.Aux = (byte)(m == Mnemonic.Rdfsbase ? 0 : m == Mnemonic.Rdgsbase ? 1 : m == Mnemonic.Wrfsbase ? 2 : 3);
                op.H = H.SegBase;
                return true;
            case Mnemonic.Retf:
                // Far return: operand size 8 (lretq) or 4; Imm = bytes released after the pop.
                op.Size = (byte)(ins.Code is Code.Retfq or Code.Retfq_imm16 ? 8 : ins.Code is Code.Retfd or Code.Retfd_imm16 ? 4 : 0);
                if (op.Size == 0) return false;
                if (ins.Code is Code.Retfq_imm16 or Code.Retfd_imm16) op.Imm = ins.Immediate16;
                op.H = H.Retf;
                return true;

            case Mnemonic.Hlt or Mnemonic.Cli or Mnemonic.Sti or Mnemonic.In or Mnemonic.Out
                or Mnemonic.Insb or Mnemonic.Insw or Mnemonic.Insd or Mnemonic.Outsb or Mnemonic.Outsw or Mnemonic.Outsd
                or Mnemonic.Lgdt or Mnemonic.Lidt or Mnemonic.Lldt or Mnemonic.Ltr or Mnemonic.Swapgs
                or Mnemonic.Wrmsr or Mnemonic.Rdmsr or Mnemonic.Invlpg or Mnemonic.Wbinvd or Mnemonic.Wbnoinvd or Mnemonic.Invd
                or Mnemonic.Clts or Mnemonic.Lmsw or Mnemonic.Rdpmc or Mnemonic.Sysret or Mnemonic.Sysretq or Mnemonic.Sysexit
                or Mnemonic.Sysexitq or Mnemonic.Invpcid or Mnemonic.Xsetbv:
                op.H = H.Priv;
                return true;
        }

        if (ins.ConditionCode != ConditionCode.None)
        {
            int cc = (int)ins.ConditionCode - 1;
            op.Aux = (byte)cc;
            if (ins.IsJccShortOrNear && ins.Op0Kind == OpKind.NearBranch64)
            {
                op.Disp = (long)(ins.NearBranch64 - ins.NextIP);
                op.H = H.Jcc;
                return true;
            }
            if (m is >= Mnemonic.Seta and <= Mnemonic.Sets && ins.OpCount == 1)
            {
                if (!Dest(in ins, ref op, out bool mem) || op.Size != 1) return false;
                op.H = mem ? H.SetccM : H.SetccR;
                return true;
            }
            if (m is >= Mnemonic.Cmova and <= Mnemonic.Cmovs && ins.OpCount == 2)
            {
                if (ins.Op0Kind != OpKind.Register || !Gpr(ins.Op0Register, out op.A, out int size)) return false;
                op.Size = (byte)size;
                if (!Source(in ins, ref op) || (op.Kinds & Op.KImm) != 0) return false;
                op.H = (op.Kinds & Op.KSrcMem) != 0 ? H.CmovRM : H.CmovRR;
                return true;
            }
            return false;
        }

        switch (ins.Code)
        {
            case Code.Movsb_m8_m8 or Code.Movsw_m16_m16 or Code.Movsd_m32_m32 or Code.Movsq_m64_m64:
                return CompileString(in ins, ref op, H.Movs);
            case Code.Stosb_m8_AL or Code.Stosw_m16_AX or Code.Stosd_m32_EAX or Code.Stosq_m64_RAX:
                return CompileString(in ins, ref op, H.Stos);
            case Code.Lodsb_AL_m8 or Code.Lodsw_AX_m16 or Code.Lodsd_EAX_m32 or Code.Lodsq_RAX_m64:
                return CompileString(in ins, ref op, H.Lods);
            case Code.Cmpsb_m8_m8 or Code.Cmpsw_m16_m16 or Code.Cmpsd_m32_m32 or Code.Cmpsq_m64_m64:
                return CompileString(in ins, ref op, H.Cmps);
            case Code.Scasb_AL_m8 or Code.Scasw_AX_m16 or Code.Scasd_EAX_m32 or Code.Scasq_RAX_m64:
                return CompileString(in ins, ref op, H.Scas);
        }
        return false;
    }

    private static bool CompileString(in Instruction ins, ref Op op, H h)
    {
        op.H = h;
        op.Size = (byte)MemSize(in ins);
        for (int i = 0; i < ins.OpCount; i++)
        {
            var k = ins.GetOpKind(i);
            if (k is OpKind.MemorySegESI or OpKind.MemoryESEDI or OpKind.MemorySegSI or OpKind.MemoryESDI) op.MemFlags |= Op.MfAddr32;
            if (k is OpKind.MemorySegSI or OpKind.MemoryESDI) return false;   // 16-bit addressing: not in 64-bit mode
        }
        op.MemFlags |= ins.MemorySegment switch
        {
            Register.FS => Op.MfFs,
            Register.GS => Op.MfGs,
            _ => 0,
        };
        if (h is H.Cmps or H.Scas)
        {
            if (ins.HasRepePrefix) op.Kinds |= Op.KRep;
            else if (ins.HasRepnePrefix) op.Kinds |= Op.KRepne;
        }
        else if (ins.HasRepPrefix || ins.HasRepnePrefix) op.Kinds |= Op.KRep;   // F2 acts as rep here
        return true;
    }

    private static bool CompilePush(in Instruction ins, ref Op op)
    {
        op.Size = (byte)-ins.StackPointerIncrement;
        if (op.Size is not (2 or 8)) return false;
        switch (ins.Op0Kind)
        {
            case OpKind.Register:
            {
                var r = ins.Op0Register;
                if (r is Register.FS or Register.GS)
                {
                    op.Aux = (byte)(r == Register.FS ? 4 : 5);
                    op.H = H.PushSeg;
                    return true;
                }
                if (!Gpr(r, out op.A, out _)) return false;
                op.H = H.PushR;
                return true;
            }
            case OpKind.Memory:
                if (!SetMem(in ins, ref op)) return false;
                op.H = H.PushM;
                return true;
            default:
                if (!IsImm(ins.Op0Kind)) return false;
                op.Imm = ins.GetImmediate(0) & X86Interpreter.SizeMask(op.Size);
                op.H = H.PushI;
                return true;
        }
    }

    private static int SregNumber(Register r) => r switch
    {
        Register.ES => 0, Register.CS => 1, Register.SS => 2, Register.DS => 3, Register.FS => 4, Register.GS => 5, _ => -1,
    };

    private static bool CompileMov(in Instruction ins, ref Op op)
    {
        var k0 = ins.Op0Kind;
        var k1 = ins.Op1Kind;
        if (k0 == OpKind.Register && (ins.Op0Register.IsCR() || ins.Op0Register.IsDR() || ins.Op0Register.IsTR())
            || k1 == OpKind.Register && (ins.Op1Register.IsCR() || ins.Op1Register.IsDR() || ins.Op1Register.IsTR()))
        {
            op.H = H.Priv;
            return true;
        }
        if (k0 == OpKind.Register && ins.Op0Register.IsSegmentRegister())
        {
            // mov sreg, r/m16
            op.Aux = (byte)SregNumber(ins.Op0Register);
            if (op.Aux == 1) return false;   // mov cs is #UD: Iced reports it invalid already
            op.Size = 2;
            if (k1 == OpKind.Register)
            {
                if (!Gpr(ins.Op1Register, out op.B, out _)) return false;
            }
            else if (k1 == OpKind.Memory)
            {
                op.Kinds |= Op.KSrcMem;
                if (!SetMem(in ins, ref op)) return false;
            }
            else return false;
            op.H = H.MovToSreg;
            return true;
        }
        if (k1 == OpKind.Register && ins.Op1Register.IsSegmentRegister())
        {
            // mov r/m, sreg: a register destination gets the zero-extended selector, memory gets 16 bits
            op.Aux = (byte)SregNumber(ins.Op1Register);
            if (k0 == OpKind.Register)
            {
                if (!Gpr(ins.Op0Register, out op.A, out int size)) return false;
                op.Size = (byte)size;
            }
            else if (k0 == OpKind.Memory)
            {
                op.Kinds |= Op.KMem;
                op.Size = 2;
                if (!SetMem(in ins, ref op)) return false;
            }
            else return false;
            op.H = H.MovFromSreg;
            return true;
        }
        if (!Dest(in ins, ref op, out bool mem) || !Source(in ins, ref op)) return false;
        bool imm = (op.Kinds & Op.KImm) != 0, srcMem = (op.Kinds & Op.KSrcMem) != 0;
        if (imm) op.Imm &= X86Interpreter.SizeMask(op.Size);
        op.H = (mem, srcMem, imm) switch
        {
            (false, false, false) => H.MovRR,
            (false, true, false) => H.MovRM,
            (true, false, false) => H.MovMR,
            (false, false, true) => H.MovRI,
            (true, false, true) => H.MovMI,
            _ => H.None,
        };
        return op.H != H.None;
    }
}
