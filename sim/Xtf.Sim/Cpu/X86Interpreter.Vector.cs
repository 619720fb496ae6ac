namespace Xtf.Sim.Cpu;

public sealed partial class X86Interpreter
{
    /// <summary>Executes an op compiled by OpCompiler.Vector.cs.</summary>
    private int Vector(ref Op op, ref ulong R)
    {
        Fault(6, 0, false, "internal: no Vector operation " + op.Ext);
        return StFault;
    }
}
