using Iced.Intel;

namespace Xtf.Sim.Cpu;

/// <summary>The operations of <see cref="H.X87"/> (in <see cref="Op.Ext"/>).</summary>
internal enum X87Op : byte
{
    None,
    // control (do not update FIP/FDP)
    Fninit, Fnclex, Fnstcw, Fldcw, FnstswAx, FnstswM, Fnstenv, Fldenv,
    // data movement without rounding: memory forms have KMem and Size (4, 8, 10; integers 2, 4, 8)
    FldM, FildM, FldSt, FstM80, FstSt, Fld1, Fldz, Fxch, Fchs, Fabs, Fincstp, Fdecstp, Ffree, Fnop,
    /// <summary>fcomi/fucomi(p) st0, st(i): C bit 0 pop, Aux 1 = quiet (fucomi).</summary>
    Fcomi,
    /// <summary>fcmovcc st0, st(i): Aux = the x86 condition code.</summary>
    Fcmov,
    // rounding forms (Float80.cs). A bit 0: the destination is st(i); bit 1: an integer memory operand.
    /// <summary>fadd/fmul/fsub/fsubr/fdiv/fdivr (p, i forms): Aux = <see cref="X87Arith"/>.</summary>
    Arith,
    /// <summary>fcom/fucom/ficom (p, pp): Aux 1 = quiet; C bit 0 pop, bit 1 pop twice.</summary>
    Fcom,
    Ftst, Fxam,
    /// <summary>fst/fstp m32/m64 (rounds in the RC direction).</summary>
    FstM,
    /// <summary>fist/fistp m16/m32/m64; Aux 1 = fisttp (truncating).</summary>
    FistM,
    Fsqrt, Frndint, Fscale,
    /// <summary>fprem (Aux 0) / fprem1 (Aux 1).</summary>
    Fprem,
    Fxtract,
    /// <summary>fldpi, fldl2t, fldl2e, fldlg2, fldln2: Aux 0-4.</summary>
    FldConst,
    Fnsave, Frstor,
    /// <summary>fbld m80 / fbstp m80 (packed BCD).</summary>
    Fbld, Fbstp,
}

/// <summary>The arithmetic operations of <see cref="X87Op.Arith"/>.</summary>
internal static class X87Arith
{
    public const byte Add = 0, Mul = 1, Sub = 2, Subr = 3, Div = 4, Divr = 5;
}

// x87: Iced instruction -> Op with H = H.X87 and Op.Ext naming the operation (executed by X86Interpreter.X87.cs).
// Transcendentals stay #UD (docs/pv-abi.md §18). Op.B = st(i) index; Op.C bit 0 = pop after
// (bit 1: pop twice); Op.A bit 0 = the destination is st(i), bit 1 = integer memory operand, bit 7 = the
// waiting form (fsave, fstenv, ...: #MF first when FSW.ES is set).
internal sealed partial class OpCompiler
{
    /// <summary>False: not an x87 instruction (or a form not executed), left to the others / #UD.</summary>
    private static bool CompileX87(in Instruction ins, ref Op op)
    {
        var m = ins.Mnemonic;
        X87Op x = m switch
        {
            Mnemonic.Fninit => X87Op.Fninit,
            Mnemonic.Fnclex => X87Op.Fnclex,
            Mnemonic.Fnstcw => X87Op.Fnstcw,
            Mnemonic.Fldcw => X87Op.Fldcw,
            Mnemonic.Fnstsw => ins.Op0Kind == OpKind.Register ? X87Op.FnstswAx : X87Op.FnstswM,
            Mnemonic.Fnstenv or Mnemonic.Fstenv => X87Op.Fnstenv,
            Mnemonic.Fldenv => X87Op.Fldenv,
            Mnemonic.Finit => X87Op.Fninit,
            Mnemonic.Fclex => X87Op.Fnclex,
            Mnemonic.Fstcw => X87Op.Fnstcw,
            Mnemonic.Fstsw => ins.Op0Kind == OpKind.Register ? X87Op.FnstswAx : X87Op.FnstswM,
            Mnemonic.Fnsave or Mnemonic.Fsave => X87Op.Fnsave,
            Mnemonic.Frstor => X87Op.Frstor,
            Mnemonic.Fbld => X87Op.Fbld,
            Mnemonic.Fbstp => X87Op.Fbstp,
            Mnemonic.Fadd or Mnemonic.Faddp or Mnemonic.Fiadd or Mnemonic.Fmul or Mnemonic.Fmulp or Mnemonic.Fimul
                or Mnemonic.Fsub or Mnemonic.Fsubp or Mnemonic.Fisub or Mnemonic.Fsubr or Mnemonic.Fsubrp or Mnemonic.Fisubr
                or Mnemonic.Fdiv or Mnemonic.Fdivp or Mnemonic.Fidiv or Mnemonic.Fdivr or Mnemonic.Fdivrp or Mnemonic.Fidivr => X87Op.Arith,
            Mnemonic.Fcom or Mnemonic.Fcomp or Mnemonic.Fcompp or Mnemonic.Fucom or Mnemonic.Fucomp or Mnemonic.Fucompp
                or Mnemonic.Ficom or Mnemonic.Ficomp => X87Op.Fcom,
            Mnemonic.Ftst => X87Op.Ftst,
            Mnemonic.Fxam => X87Op.Fxam,
            Mnemonic.Fist or Mnemonic.Fistp or Mnemonic.Fisttp => X87Op.FistM,
            Mnemonic.Fsqrt => X87Op.Fsqrt,
            Mnemonic.Frndint => X87Op.Frndint,
            Mnemonic.Fscale => X87Op.Fscale,
            Mnemonic.Fprem or Mnemonic.Fprem1 => X87Op.Fprem,
            Mnemonic.Fxtract => X87Op.Fxtract,
            Mnemonic.Fldpi or Mnemonic.Fldl2t or Mnemonic.Fldl2e or Mnemonic.Fldlg2 or Mnemonic.Fldln2 => X87Op.FldConst,
            Mnemonic.Fld => ins.Op0Kind == OpKind.Memory ? X87Op.FldM : X87Op.FldSt,
            Mnemonic.Fild => X87Op.FildM,
            Mnemonic.Fst or Mnemonic.Fstp => ins.Op0Kind == OpKind.Memory ? X87Op.FstM80 : X87Op.FstSt,
            Mnemonic.Fld1 => X87Op.Fld1,
            Mnemonic.Fldz => X87Op.Fldz,
            Mnemonic.Fxch => X87Op.Fxch,
            Mnemonic.Fchs => X87Op.Fchs,
            Mnemonic.Fabs => X87Op.Fabs,
            Mnemonic.Fincstp => X87Op.Fincstp,
            Mnemonic.Fdecstp => X87Op.Fdecstp,
            Mnemonic.Ffree => X87Op.Ffree,
            Mnemonic.Fnop => X87Op.Fnop,
            Mnemonic.Fcomi or Mnemonic.Fcomip or Mnemonic.Fucomi or Mnemonic.Fucomip => X87Op.Fcomi,
            Mnemonic.Fcmovb or Mnemonic.Fcmove or Mnemonic.Fcmovbe or Mnemonic.Fcmovu
                or Mnemonic.Fcmovnb or Mnemonic.Fcmovne or Mnemonic.Fcmovnbe or Mnemonic.Fcmovnu => X87Op.Fcmov,
            _ => X87Op.None,
        };
        if (x == X87Op.None) return false;
        op.A = 0;
        if (m is Mnemonic.Fstp or Mnemonic.Fcomip or Mnemonic.Fucomip or Mnemonic.Faddp or Mnemonic.Fmulp or Mnemonic.Fsubp
            or Mnemonic.Fsubrp or Mnemonic.Fdivp or Mnemonic.Fdivrp or Mnemonic.Fcomp or Mnemonic.Fucomp or Mnemonic.Ficomp
            or Mnemonic.Fistp or Mnemonic.Fisttp or Mnemonic.Fbstp) op.C = 1;
        if (m is Mnemonic.Fcompp or Mnemonic.Fucompp) op.C = 3;
        if (m is Mnemonic.Fstenv or Mnemonic.Finit or Mnemonic.Fclex or Mnemonic.Fstcw or Mnemonic.Fstsw or Mnemonic.Fsave) op.A |= 0x80;
        if (m is Mnemonic.Fucom or Mnemonic.Fucomp or Mnemonic.Fucompp or Mnemonic.Fisttp or Mnemonic.Fprem1) op.Aux = 1;
        if (m is Mnemonic.Fiadd or Mnemonic.Fimul or Mnemonic.Fisub or Mnemonic.Fisubr or Mnemonic.Fidiv or Mnemonic.Fidivr
            or Mnemonic.Ficom or Mnemonic.Ficomp) op.A |= 2;
        if (x == X87Op.Arith)
            op.Aux = m switch
            {
                Mnemonic.Fadd or Mnemonic.Faddp or Mnemonic.Fiadd => X87Arith.Add,
                Mnemonic.Fmul or Mnemonic.Fmulp or Mnemonic.Fimul => X87Arith.Mul,
                Mnemonic.Fsub or Mnemonic.Fsubp or Mnemonic.Fisub => X87Arith.Sub,
                Mnemonic.Fsubr or Mnemonic.Fsubrp or Mnemonic.Fisubr => X87Arith.Subr,
                Mnemonic.Fdiv or Mnemonic.Fdivp or Mnemonic.Fidiv => X87Arith.Div,
                _ => X87Arith.Divr,
            };
        if (x == X87Op.FldConst)
            op.Aux = m switch { Mnemonic.Fldpi => 0, Mnemonic.Fldl2t => 1, Mnemonic.Fldl2e => 2, Mnemonic.Fldlg2 => 3, _ => 4 };
        // Register forms: op.B = the st(i) that is not st0 (st1 when implicit); A bit 0 when st(i) is the destination.
        if (ins.OpCount == 2 && ins.Op0Kind == OpKind.Register && ins.Op0Register is > Register.ST0 and <= Register.ST7
            && x is X87Op.Arith) op.A |= 1;
        if (ins.OpCount == 0 && x is X87Op.Arith or X87Op.Fcom) op.B = 1;
        if (m is Mnemonic.Fucomi or Mnemonic.Fucomip) op.Aux = 1;
        if (x == X87Op.Fcmov)
            op.Aux = m switch
            {
                Mnemonic.Fcmovb => 2, Mnemonic.Fcmovnb => 3, Mnemonic.Fcmove => 4, Mnemonic.Fcmovne => 5,
                Mnemonic.Fcmovbe => 6, Mnemonic.Fcmovnbe => 7, Mnemonic.Fcmovu => 10, _ => 11,
            };
        if (x == X87Op.FstM80 && MemSize(in ins) != 10) x = X87Op.FstM;
        bool mem = false;
        for (int i = 0; i < ins.OpCount; i++)
        {
            var k = ins.GetOpKind(i);
            if (k == OpKind.Memory)
            {
                op.Kinds |= Op.KMem;
                mem = true;
                op.Size = (byte)MemSize(in ins);
                if (!SetMem(in ins, ref op)) return false;
            }
            else if (k == OpKind.Register)
            {
                var r = ins.GetOpRegister(i);
                if (r is >= Register.ST0 and <= Register.ST7)
                {
                    if (r != Register.ST0 || ins.OpCount == 1) op.B = (byte)(r - Register.ST0);
                    else if (i == 1 && ins.Op0Register == Register.ST0) op.B = 0;   // fadd st0, st0
                }
                else if (r != Register.AX) return false;
            }
        }
        if (x == X87Op.FldM && op.Size is not (4 or 8 or 10)) return false;
        if (x == X87Op.FildM && op.Size is not (2 or 4 or 8)) return false;
        if (x == X87Op.FstM && op.Size is not (4 or 8)) return false;
        if (x is X87Op.Arith or X87Op.Fcom && mem && (op.A & 2) == 0 && op.Size is not (4 or 8)) return false;
        if (x is X87Op.Arith or X87Op.Fcom && mem && (op.A & 2) != 0 && op.Size is not (2 or 4)) return false;
        if (x == X87Op.FistM && op.Size is not (2 or 4 or 8)) return false;
        op.Ext = (byte)x;
        op.H = H.X87;
        return true;
    }
}
