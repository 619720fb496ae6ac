using Iced.Intel;

namespace Xtf.Sim.Cpu;

// x87: Iced instruction -> Op with H = H.X87 and Op.Ext naming the operation (executed by X86Interpreter.X87.cs).
internal sealed partial class OpCompiler
{
    /// <summary>False: not an x87 instruction (or a form not executed), left to the others / #UD.</summary>
    private static bool CompileX87(in Instruction ins, ref Op op) => false;
}
