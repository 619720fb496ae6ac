using Iced.Intel;

namespace Xtf.Sim.Cpu;

// CRC32, MOVBE, RDRAND/RDSEED, BMI1/BMI2, ADX: Iced instruction -> Op with H = H.ScalarExt and Op.Ext
// naming the operation (executed by X86Interpreter.ScalarExt.cs).
internal sealed partial class OpCompiler
{
    /// <summary>False: not an instruction of this family (or a form not executed), left to the others / #UD.</summary>
    private static bool CompileScalarExt(in Instruction ins, ref Op op) => false;
}
