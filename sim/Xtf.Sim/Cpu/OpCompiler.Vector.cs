using Iced.Intel;

namespace Xtf.Sim.Cpu;

// SSE to SSE4.2, AES-NI, PCLMULQDQ, MMX and the FXSAVE/XSAVE family: Iced instruction -> Op with
// H = H.Vector and Op.Ext naming the operation (executed by X86Interpreter.Vector.cs).
internal sealed partial class OpCompiler
{
    /// <summary>False: not an instruction of this family (or a form not executed), left to the others / #UD.</summary>
    private static bool CompileVector(in Instruction ins, ref Op op) => false;
}
