using Xtf.Abi;
using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Pv.Isa;

/// <summary>
/// Catches #UD, #NM, #GP and #XM around one instruction sequence (the framework's Guarded catches
/// only #GP and #PF): trap-table entries for vectors 6, 7, 13 and 19 whose handler records the
/// vector and resumes after the guarded code, as Guarded does.
/// </summary>
internal sealed class IsaGuard
{
    private static readonly int[] Vectors = [6, 7, 13, 19];
    private readonly GuestProgram g;
    private readonly Val rspSave, vector;

    public IsaGuard(GuestProgram g)
    {
        this.g = g;
        var a = g.Asm;
        rspSave = g.Var("isa_rsp");
        vector = g.Var("isa_vector", -1);
        var table = g.Alloc(TrapInfo.Layout.Size * (Vectors.Length + 1), 16, "isa_trap_table");
        for (int i = 0; i < Vectors.Length; i++)
        {
            int v = Vectors[i];
            var catcher = g.Function($"isa_catch{v}", () =>
            {
                var unguarded = a.CreateLabel();
                a.mov(rax, __qword_ptr[(long)rspSave.Address]);
                a.test(rax, rax);
                a.jz(unguarded);
                a.mov(__qword_ptr[(long)vector.Address], v);
                a.mov(__qword_ptr[(long)rspSave.Address], 0);
                a.mov(rsp, rax);
                a.ret();
                a.Label(ref unguarded);
                g.Panic($"unexpected exception {v}");
            });
            var e = table.Address + (ulong)(i * TrapInfo.Layout.Size);
            g.Set(Val.Mem(e + (ulong)TrapInfo.Layout.Vector, 1), v);
            g.Set(Val.Mem(e + (ulong)TrapInfo.Layout.Cs, 2), 0xe033);
            g.Set(Val.Mem(e + (ulong)TrapInfo.Layout.Address), g.AddressOf(catcher));
        }
        g.ExpectEq(g.Hypercall(Hypercall.SetTrapTable, table.Ptr), 0, "set_trap_table(isa catchers)");
    }

    /// <summary>Runs <paramref name="body"/>; the result is the vector it raised (6, 7, 13, 19) or -1.</summary>
    public Val Try(Action body)
    {
        var a = g.Asm;
        var resume = a.CreateLabel();
        g.Set(vector, -1);
        a.lea(rax, __[resume]);
        a.push(rax);
        a.mov(__qword_ptr[(long)rspSave.Address], rsp);
        body();
        a.mov(__qword_ptr[(long)rspSave.Address], 0);
        a.add(rsp, 8);
        a.Label(ref resume);
        return vector;
    }
}
