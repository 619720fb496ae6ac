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
}

// x87: Iced instruction -> Op with H = H.X87 and Op.Ext naming the operation (executed by X86Interpreter.X87.cs).
// Only the forms that need no rounding are compiled (see docs/pv-abi.md §18); the rest stay #UD.
// Op.B = st(i) index; Op.C bit 0 = pop after.
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
            Mnemonic.Fnstenv => X87Op.Fnstenv,
            Mnemonic.Fldenv => X87Op.Fldenv,
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
        if (m is Mnemonic.Fstp or Mnemonic.Fcomip or Mnemonic.Fucomip) op.C = 1;
        if (m is Mnemonic.Fucomi or Mnemonic.Fucomip) op.Aux = 1;
        if (x == X87Op.Fcmov)
            op.Aux = m switch
            {
                Mnemonic.Fcmovb => 2, Mnemonic.Fcmovnb => 3, Mnemonic.Fcmove => 4, Mnemonic.Fcmovne => 5,
                Mnemonic.Fcmovbe => 6, Mnemonic.Fcmovnbe => 7, Mnemonic.Fcmovu => 10, _ => 11,
            };
        if (x == X87Op.FstM80 && MemSize(in ins) != 10) return false;   // fst m32/m64 round: not executed
        for (int i = 0; i < ins.OpCount; i++)
        {
            var k = ins.GetOpKind(i);
            if (k == OpKind.Memory)
            {
                op.Kinds |= Op.KMem;
                op.Size = (byte)MemSize(in ins);
                if (!SetMem(in ins, ref op)) return false;
            }
            else if (k == OpKind.Register)
            {
                var r = ins.GetOpRegister(i);
                if (r is >= Register.ST0 and <= Register.ST7)
                {
                    if (r != Register.ST0 || ins.OpCount == 1) op.B = (byte)(r - Register.ST0);
                }
                else if (r != Register.AX) return false;
            }
        }
        if (x == X87Op.FldM && op.Size is not (4 or 8 or 10)) return false;
        if (x == X87Op.FildM && op.Size is not (2 or 4 or 8)) return false;
        op.Ext = (byte)x;
        op.H = H.X87;
        return true;
    }
}
