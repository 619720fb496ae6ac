namespace Xtf.Sim.Cpu;

public sealed partial class X86Interpreter
{
    /// <summary>Executes an op compiled by OpCompiler.ScalarExt.cs.</summary>
    private int ScalarExt(ref Op op, ref ulong R)
    {
        Fault(6, 0, false, "internal: no ScalarExt operation " + op.Ext);
        return StFault;
    }
}
