using Xtf.Abi;
using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Pv.Priv;

/// <summary>
/// fpu_taskswitch (5) and #NM (docs/pv-abi.md §16.1): with the guest's CR0.TS set, fwait (CR0.MP is set)
/// raises #NM through the guest's trap 7 at the instruction, and Xen clears the guest's TS as it
/// injects it (do_device_not_available), so the fwait then runs.
/// </summary>
public sealed class DeviceNotAvailable : XtfTest
{
    public override string Name => "priv-device-not-available";
    public override string Title => "fpu_taskswitch: #NM on fwait, TS cleared by Xen";
    public override string Category => "priv";

    public override void Body(GuestProgram g)
    {
        var a = g.Asm;
        var count = g.Var("nm_count");
        var rip = g.Var("nm_rip");
        var cr0 = g.Var("cr0");
        var handler = g.EventCallback("nm_handler", () =>
        {
            a.inc(__qword_ptr[(long)count.Address]);
            a.mov(rax, __qword_ptr[rsp + 13 * 8 + 16]);
            a.mov(__qword_ptr[(long)rip.Address], rax);
        });
        var table = g.Alloc(TrapInfo.Layout.Size * 2, 16);
        g.Set(table.U8(TrapInfo.Layout.Vector), 7);
        g.Set(table.U16(TrapInfo.Layout.Cs), 0xe033);
        g.Set(table.U64(TrapInfo.Layout.Address), g.AddressOf(handler));
        g.ExpectEq(g.Hypercall(Hypercall.SetTrapTable, table.Ptr), 0, "set_trap_table(#NM)");

        g.ExpectEq(g.Hypercall(Hypercall.FpuTaskswitch, 1), 0, "fpu_taskswitch(1)");
        var site = g.NewLabel("fwait_site");
        g.Mark(site);
        a.wait();                              // with CR0.MP and TS set: #NM; re-executed once Xen cleared TS
        g.ExpectEq(count, 1, "one #NM with TS set");
        g.ExpectEq(rip, g.AddressOf(site), "#NM at the fwait");
        g.Guarded(() => { a.mov(rax, Iced.Intel.AssemblerRegisters.cr0); a.mov(__qword_ptr[(long)cr0.Address], rax); });
        g.ExpectEq(cr0, 0x8005_0033L, "cr0 after the #NM: TS cleared by Xen");
        g.Success();
    }
}
