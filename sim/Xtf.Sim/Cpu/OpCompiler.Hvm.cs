using Iced.Intel;

namespace Xtf.Sim.Cpu;

// 16/32-bit code for the HVM vCPU (docs/hvm.md §2): the decoder's mode follows the code segment, and the
// forms whose stack width or branch kind differs from 64-bit code compile to the same handlers with a
// 4-byte size, or to the legacy-mode handlers of X86Interpreter.Hvm.cs. 64-bit code never reaches here
// (CompileCore takes every 64-bit form first).
internal sealed partial class OpCompiler
{
    /// <summary>The decoder's mode: 64, 32 or 16.</summary>
    public int Bits { get; private set; } = 64;

    /// <summary>Decodes further bytes as <paramref name="bits"/>-bit code.</summary>
    public void SetBits(int bits)
    {
        if (bits == Bits) return;
        Bits = bits;
        decoder = Decoder.Create(bits, reader, 0, DecoderOptions.None);
    }

    /// <summary>Decodes one instruction from <paramref name="bytes"/> in <paramref name="bits"/>-bit mode; false when they do not decode.</summary>
    public static bool TryDecodeBytes(ReadOnlySpan<byte> bytes, ulong ip, int bits, out Instruction instruction)
    {
        var d = Decoder.Create(bits, new ByteArrayCodeReader(bytes.ToArray()), ip, DecoderOptions.None);
        d.Decode(out instruction);
        return d.LastError == DecoderError.None && !instruction.IsInvalid;
    }

    private static bool CompileLegacy(in Instruction ins, ref Op op)
    {
        if (ins.CodeSize == CodeSize.Code64) return false;
        var m = ins.Mnemonic;
        bool near32 = ins.Op0Kind is OpKind.NearBranch32 or OpKind.NearBranch16;
        if (ins.ConditionCode != ConditionCode.None && ins.IsJccShortOrNear && near32)
        {
            op.Aux = (byte)((int)ins.ConditionCode - 1);
            op.Disp = (long)ins.NearBranchTarget - (long)ins.NextIP;
            op.H = H.Jcc;
            return true;
        }
        switch (m)
        {
            case Mnemonic.Jmp:
                if (near32)
                {
                    op.Disp = (long)ins.NearBranchTarget - (long)ins.NextIP;
                    op.H = H.Jmp;
                    return true;
                }
                if (ins.Op0Kind == OpKind.Register && ins.Op0Register.IsGPR32())
                {
                    op.A = (byte)(ins.Op0Register.GetFullRegister() - Register.RAX);
                    op.H = H.JmpR;
                    return true;
                }
                if (ins.Op0Kind == OpKind.Memory && ins.MemorySize is MemorySize.DwordOffset or MemorySize.UInt32)
                {
                    if (!SetMem(in ins, ref op)) return false;
                    op.Size = 4;
                    op.Aux = 3;
                    op.H = H.Near32;
                    return true;
                }
                return false;
            case Mnemonic.Call:
                op.Size = 4;
                if (near32)
                {
                    op.Disp = (long)ins.NearBranchTarget - (long)ins.NextIP;
                    op.Aux = 0;
                    op.H = H.Near32;
                    return true;
                }
                if (ins.Op0Kind == OpKind.Register && ins.Op0Register.IsGPR32())
                {
                    op.A = (byte)(ins.Op0Register.GetFullRegister() - Register.RAX);
                    op.Aux = 1;
                    op.H = H.Near32;
                    return true;
                }
                if (ins.Op0Kind == OpKind.Memory && ins.MemorySize is MemorySize.DwordOffset or MemorySize.UInt32)
                {
                    if (!SetMem(in ins, ref op)) return false;
                    op.Aux = 2;
                    op.H = H.Near32;
                    return true;
                }
                return false;
            case Mnemonic.Ret:
                if (ins.Code is not (Code.Retnd or Code.Retnd_imm16)) return false;
                op.Size = 4;
                op.Aux = 4;
                if (ins.Code == Code.Retnd_imm16) op.Imm = ins.Immediate16;
                op.H = H.Near32;
                return true;
            case Mnemonic.Push:
            {
                op.Size = (byte)-ins.StackPointerIncrement;
                if (op.Size != 4) return false;
                if (ins.Op0Kind == OpKind.Register)
                {
                    var r = ins.Op0Register;
                    if (r.IsSegmentRegister())
                    {
                        op.Aux = (byte)SregNumber(r);
                        op.H = H.PushSeg;
                        return true;
                    }
                    if (!Gpr(r, out op.A, out _)) return false;
                    op.H = H.PushR;
                    return true;
                }
                if (ins.Op0Kind == OpKind.Memory)
                {
                    if (!SetMem(in ins, ref op)) return false;
                    op.H = H.PushM;
                    return true;
                }
                if (!IsImm(ins.Op0Kind)) return false;
                op.Imm = ins.GetImmediate(0) & 0xFFFF_FFFF;
                op.H = H.PushI;
                return true;
            }
            case Mnemonic.Pop:
            {
                op.Size = (byte)ins.StackPointerIncrement;
                if (op.Size != 4) return false;
                if (ins.Op0Kind == OpKind.Register)
                {
                    var r = ins.Op0Register;
                    if (r.IsSegmentRegister())
                    {
                        op.Aux = (byte)SregNumber(r);
                        if (op.Aux == 1) return false;
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
            case Mnemonic.Pushfd:
                op.Size = 4;
                op.H = H.Pushf;
                return true;
            case Mnemonic.Popfd:
                op.Size = 4;
                op.H = H.Popf;
                return true;
            case Mnemonic.Leave:
                if (ins.Code != Code.Leaved) return false;
                op.Size = 4;
                op.H = H.Leave;
                return true;
            case Mnemonic.Loop or Mnemonic.Loope or Mnemonic.Loopne:
                if (!near32) return false;
                op.Disp = (long)ins.NearBranchTarget - (long)ins.NextIP;
                op.Aux = (byte)(m == Mnemonic.Loop ? 0 : m == Mnemonic.Loope ? 1 : 2);
                op.MemFlags |= Op.MfAddr32;
                op.H = H.Loop;
                return true;
            case Mnemonic.Jecxz or Mnemonic.Jcxz:
                if (!near32) return false;
                op.Disp = (long)ins.NearBranchTarget - (long)ins.NextIP;
                op.MemFlags |= Op.MfAddr32;
                op.H = H.Jrcxz;
                return true;
        }
        return false;
    }
}
