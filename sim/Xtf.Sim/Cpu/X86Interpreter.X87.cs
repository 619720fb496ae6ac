namespace Xtf.Sim.Cpu;

public sealed partial class X86Interpreter
{
    /// <summary>Executes an op compiled by OpCompiler.X87.cs.</summary>
    private int X87(ref Op op, ref ulong R)
    {
        Fault(6, 0, false, "internal: no X87 operation " + op.Ext);
        return StFault;
    }
}
