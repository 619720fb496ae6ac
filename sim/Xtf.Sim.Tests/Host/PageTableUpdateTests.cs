using Xtf.Abi;
using Xtf.Guest;
using Xtf.Hosting;

namespace Xtf.Sim.Tests.Host;

/// <summary>
/// mmu_update and update_va_mapping results the model must give as real Xen 4.17.7 did
/// (measured by test-pv64-misc-page-table-updates): command 3 is MMU_PT_UPDATE_NO_TRANSLATE,
/// commands 4-7 are -ENOSYS, and a PTE mapping a page-table frame writable is -EBUSY.
/// </summary>
[Parallelizable(ParallelScope.All)]
public sealed class PageTableUpdateTests
{
    private static TestOutcome Run(Action<GuestProgram> body)
    {
        var k = KernelBuilder.Build("test-pv64-sim-ptupdate", "sim page-table updates", body);
        var t = new SimHost(new SimOptions()).Boot(new BootRequest(k.Name, k.Bytes));
        var o = ConsoleProtocol.Evaluate(t);
        foreach (var l in o.GuestLines) TestContext.Out.WriteLine("  | " + l);
        return o;
    }

    private static (Val PteMa, Val Original, Val L4Mfn) VictimPte(GuestProgram g)
    {
        var p2m = Val.At(g.StartInfo, StartInfo.Layout.MfnList);
        var pt = Val.At(g.StartInfo, StartInfo.Layout.PtBase);
        Val Mfn(Val va) => Val.At(p2m + ((va >> 12) << 3));
        var page = g.Page("victim");
        long index = (long)(page.Address >> 12) & 511;
        var pteMa = g.Var("pte_ma");
        var original = g.Var("original");
        g.Set(pteMa, (Mfn(pt + 0x1000) << 12) + index * 8);
        g.Set(original, Val.At(pt + 0x1000 + index * 8));
        var l4 = g.Var("l4_mfn");
        g.Set(l4, Mfn(pt));
        return (pteMa, original, l4);
    }

    private static Val Update(GuestProgram g, Val ptr, Val val)
    {
        var req = g.Alloc(MmuUpdate.Layout.Size);
        g.Set(req.U64(MmuUpdate.Layout.Ptr), ptr);
        g.Set(req.U64(MmuUpdate.Layout.Val), val);
        return g.Hypercall(Hypercall.MmuUpdate, req.Ptr, 1, 0, DomId.Self);
    }

    [Test]
    public void CommandThreeIsNoTranslateAndFourIsUnknown()
    {
        var o = Run(g =>
        {
            var (pte, original, _) = VictimPte(g);
            g.ExpectEq(Update(g, pte | 3, original), 0, "command 3");
            g.ExpectEq(Update(g, pte | 4, original), -Errno.ENOSYS, "command 4");
            g.ExpectEq(Update(g, pte | 7, original), -Errno.ENOSYS, "command 7");
            g.Success();
        });
        Assert.That(o.Status, Is.EqualTo(TestStatus.Success), o.Message);
    }

    [Test]
    public void MappingAPageTableWritableIsBusy()
    {
        var o = Run(g =>
        {
            var (pte, _, l4) = VictimPte(g);
            g.ExpectEq(Update(g, pte, (l4 << 12) | 0x67), -Errno.EBUSY, "mmu_update");
            g.ExpectEq(g.Hypercall(Hypercall.UpdateVaMapping, 0x110000, (l4 << 12) | 0x67, 2), -Errno.EBUSY, "update_va_mapping");
            g.ExpectEq(Update(g, pte, (l4 << 12) | 0x65), 0, "a read-only mapping of the L4 is fine");
            g.Success();
        });
        Assert.That(o.Status, Is.EqualTo(TestStatus.Success), o.Message);
    }
}
