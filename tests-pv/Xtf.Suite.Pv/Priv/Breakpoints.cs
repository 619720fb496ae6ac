using Xtf.Abi;
using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Pv.Priv;

/// <summary>
/// Hardware breakpoints and single-step for a PV guest (docs/pv-abi.md §16.3): a read/write data
/// breakpoint is a #DB trap after the load, a write breakpoint ignores loads, an instruction
/// breakpoint is a #DB fault at the instruction, and TF set by popf traps after the next
/// instruction. Xen injects each through the guest's trap 1 with DR6 showing B0 or BS.
/// </summary>
public sealed class Breakpoints : XtfTest
{
    public override string Name => "priv-breakpoints";
    public override string Title => "#DB: data, write and instruction breakpoints, single step, DR6";
    public override string Category => "priv";

    public override void Body(GuestProgram g)
    {
        var a = g.Asm;
        var count = g.Var("db_count");
        var rip = g.Var("db_rip");
        var dr6 = g.Var("db_dr6");
        var watched = g.Var("watched", 0x1234);
        // #DB handler: the frame is rcx, r11, rip, cs, rflags, rsp, ss; the callback wrapper saves 13 registers first.
        var handler = g.EventCallback("db_handler", () =>
        {
            a.inc(__qword_ptr[(long)count.Address]);
            a.mov(rax, __qword_ptr[rsp + 13 * 8 + 16]);
            a.mov(__qword_ptr[(long)rip.Address], rax);
            a.and(__qword_ptr[rsp + 13 * 8 + 32], ~0x100);    // clear TF in the saved rflags
            g.Set(dr6, g.Hypercall(Hypercall.GetDebugreg, 6));
            g.Hypercall(Hypercall.SetDebugreg, 7, 0);          // one #DB per arming
            g.Hypercall(Hypercall.SetDebugreg, 6, 0);
        });
        var table = g.Alloc(TrapInfo.Layout.Size * 2, 16);
        g.Set(table.U8(TrapInfo.Layout.Vector), 1);
        g.Set(table.U16(TrapInfo.Layout.Cs), 0xe033);
        g.Set(table.U64(TrapInfo.Layout.Address), g.AddressOf(handler));
        g.ExpectEq(g.Hypercall(Hypercall.SetTrapTable, table.Ptr), 0, "set_trap_table(#DB)");

        void Arm(Val address, long dr7)
        {
            g.Set(count, 0);
            g.Set(rip, 0);
            g.ExpectEq(g.Hypercall(Hypercall.SetDebugreg, 0, address), 0, "set dr0");
            g.ExpectEq(g.Hypercall(Hypercall.SetDebugreg, 7, dr7), 0, "set dr7");
        }

        // Read/write data breakpoint (RW = 11, LEN = 4 bytes, G0): a trap after the load.
        Arm(watched.Address, 0x000F_0002);
        var afterLoad = g.NewLabel("after_load");
        a.mov(eax, __dword_ptr[(long)watched.Address]);
        g.Mark(afterLoad);
        a.nop();
        g.ExpectEq(count, 1, "data breakpoint: one #DB");
        g.ExpectEq(rip, g.AddressOf(afterLoad), "data breakpoint: rip after the load");
        g.Print("data breakpoint dr6 %p\n", dr6);

        // Write-only breakpoint (RW = 01): a load passes, a store traps.
        Arm(watched.Address, 0x000D_0002);
        a.mov(eax, __dword_ptr[(long)watched.Address]);
        a.nop();
        g.ExpectEq(count, 0, "write breakpoint: a load does not trap");
        var afterStore = g.NewLabel("after_store");
        a.mov(__dword_ptr[(long)watched.Address], eax);
        g.Mark(afterStore);
        a.nop();
        g.ExpectEq(count, 1, "write breakpoint: the store traps");
        g.ExpectEq(rip, g.AddressOf(afterStore), "write breakpoint: rip after the store");
        g.Print("write breakpoint dr6 %p\n", dr6);

        // Instruction breakpoint (RW = 00, LEN = 00): a fault at the instruction.
        var target = g.NewLabel("bp_target");
        Arm(g.AddressOf(target), 0x0000_0002);
        a.nop();
        g.Mark(target);
        a.nop();
        a.nop();
        g.ExpectEq(count, 1, "instruction breakpoint: one #DB");
        g.ExpectEq(rip, g.AddressOf(target), "instruction breakpoint: rip at the instruction");
        g.Print("instruction breakpoint dr6 %p\n", dr6);

        // Single step: popf sets TF, the instruction after it traps.
        g.Set(count, 0);
        var afterStep = g.NewLabel("after_step");
        a.pushfq();
        a.or(__qword_ptr[rsp], 0x100);
        a.popfq();
        a.nop();
        g.Mark(afterStep);
        a.nop();
        g.ExpectEq(count, 1, "single step: one #DB");
        g.ExpectEq(rip, g.AddressOf(afterStep), "single step: rip after the next instruction");
        g.Print("single step dr6 %p\n", dr6);
        g.Success();
    }
}
