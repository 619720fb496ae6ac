using Iced.Intel;

namespace Xtf.Sim.Cpu;

/// <summary>The operations of <see cref="H.ScalarExt"/> (in <see cref="Op.Ext"/>).</summary>
internal enum SxOp : byte
{
    None,
    /// <summary>crc32 r32/r64, r/m8..64: A = accumulator, source B or memory, Aux = source size.</summary>
    Crc32,
    /// <summary>movbe r, m (KSrcMem) or movbe m, r (KMem, source B).</summary>
    Movbe,
    /// <summary>rdrand/rdseed r: A = destination.</summary>
    Rdrand, Rdseed,
    /// <summary>andn A, C, r/m: A = ~C &amp; src.</summary>
    Andn,
    /// <summary>bextr/bzhi/sarx/shlx/shrx A, r/m, C.</summary>
    Bextr, Bzhi, Sarx, Shlx, Shrx,
    /// <summary>blsi/blsmsk/blsr A, r/m.</summary>
    Blsi, Blsmsk, Blsr,
    /// <summary>mulx A (high), C (low), r/m; the other factor is rdx/edx.</summary>
    Mulx,
    /// <summary>pdep/pext A, C, r/m (the mask).</summary>
    Pdep, Pext,
    /// <summary>rorx A, r/m, Imm.</summary>
    Rorx,
    /// <summary>adcx/adox A, r/m.</summary>
    Adcx, Adox,
}

// CRC32, MOVBE, RDRAND/RDSEED, BMI1/BMI2, ADX: Iced instruction -> Op with H = H.ScalarExt and Op.Ext
// naming the operation (executed by X86Interpreter.ScalarExt.cs).
internal sealed partial class OpCompiler
{
    /// <summary>False: not an instruction of this family (or a form not executed), left to the others / #UD.</summary>
    private static bool CompileScalarExt(in Instruction ins, ref Op op)
    {
        SxOp x = ins.Mnemonic switch
        {
            Mnemonic.Crc32 => SxOp.Crc32,
            Mnemonic.Movbe => SxOp.Movbe,
            Mnemonic.Rdrand => SxOp.Rdrand,
            Mnemonic.Rdseed => SxOp.Rdseed,
            Mnemonic.Andn => SxOp.Andn,
            Mnemonic.Bextr => SxOp.Bextr,
            Mnemonic.Bzhi => SxOp.Bzhi,
            Mnemonic.Sarx => SxOp.Sarx,
            Mnemonic.Shlx => SxOp.Shlx,
            Mnemonic.Shrx => SxOp.Shrx,
            Mnemonic.Blsi => SxOp.Blsi,
            Mnemonic.Blsmsk => SxOp.Blsmsk,
            Mnemonic.Blsr => SxOp.Blsr,
            Mnemonic.Mulx => SxOp.Mulx,
            Mnemonic.Pdep => SxOp.Pdep,
            Mnemonic.Pext => SxOp.Pext,
            Mnemonic.Rorx => SxOp.Rorx,
            Mnemonic.Adcx => SxOp.Adcx,
            Mnemonic.Adox => SxOp.Adox,
            _ => SxOp.None,
        };
        if (x == SxOp.None) return false;
        // bextr with an immediate control is AMD TBM, not BMI1.
        if (x == SxOp.Bextr && ins.OpCount != 3) return false;
        if (x == SxOp.Bextr && ins.Op2Kind != OpKind.Register) return false;
        op.Ext = (byte)x;
        op.H = H.ScalarExt;
        switch (x)
        {
            case SxOp.Movbe:
                if (ins.Op0Kind == OpKind.Memory)
                {
                    if (!Gpr(ins.Op1Register, out op.B, out int ms)) return false;
                    op.Size = (byte)ms;
                    op.Kinds |= Op.KMem;
                    return SetMem(in ins, ref op);
                }
                if (!Gpr(ins.Op0Register, out op.A, out int ls)) return false;
                op.Size = (byte)ls;
                return RmSource(in ins, 1, ref op, out _);
            case SxOp.Rdrand:
            case SxOp.Rdseed:
            {
                if (!Gpr(ins.Op0Register, out op.A, out int s)) return false;
                op.Size = (byte)s;
                return true;
            }
        }
        if (ins.Op0Kind != OpKind.Register || !Gpr(ins.Op0Register, out op.A, out int size)) return false;
        op.Size = (byte)size;
        switch (x)
        {
            case SxOp.Crc32:
            {
                if (!RmSource(in ins, 1, ref op, out int ss)) return false;
                op.Aux = (byte)ss;
                return true;
            }
            case SxOp.Andn:
            case SxOp.Pdep:
            case SxOp.Pext:
            case SxOp.Mulx:
                return Gpr(ins.Op1Register, out op.C, out _) && RmSource(in ins, 2, ref op, out _);
            case SxOp.Bextr:
            case SxOp.Bzhi:
            case SxOp.Sarx:
            case SxOp.Shlx:
            case SxOp.Shrx:
                return RmSource(in ins, 1, ref op, out _) && Gpr(ins.Op2Register, out op.C, out _);
            case SxOp.Rorx:
                op.Imm = ins.Immediate8;
                return RmSource(in ins, 1, ref op, out _);
            default:   // blsi, blsmsk, blsr, adcx, adox
                return RmSource(in ins, 1, ref op, out _);
        }
    }

    /// <summary>Operand <paramref name="index"/> as register B or a memory source (KSrcMem); <paramref name="size"/> is its size.</summary>
    private static bool RmSource(in Instruction ins, int index, ref Op op, out int size)
    {
        var k = ins.GetOpKind(index);
        if (k == OpKind.Register) return Gpr(ins.GetOpRegister(index), out op.B, out size);
        size = MemSize(in ins);
        if (k != OpKind.Memory) return false;
        op.Kinds |= Op.KSrcMem;
        return SetMem(in ins, ref op);
    }
}
