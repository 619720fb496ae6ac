using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Hvm.Hypercalls;

/// <summary>
/// HVMOP_get_param on the PVH dom0 itself for every parameter index Xen 4.17 defines, and one past
/// them: what each returns (hvm/hvm.c: hvm_allow_get_param, then the value). The console and store
/// parameters read 0 for dom0 (docs/dom0.md §4.5).
/// </summary>
public sealed class HvmParams : XtfTest
{
    public override string Name => "hvm-params";
    public override string Title => "HVMOP_get_param for every index";
    public override string Category => "hvm_hypercall";
    public override Environments Environments => Environments.Hvm64;

    public override void Body(GuestProgram g)
    {
        var p = g.Alloc(XenHvmParam.Layout.Size, 8, "param");
        var i = g.Var("index");
        g.For(i, 0, (long)HvmParam.Nr + 1, () =>
        {
            g.Set(p.U16(XenHvmParam.Layout.Domid), DomId.Self);
            g.Set(p.U32(XenHvmParam.Layout.Index), i);
            g.Set(p.U64(XenHvmParam.Layout.Value), 0x5a5a);
            var rc = g.Hypercall(Hypercall.HvmOp, (long)HvmOp.GetParam, p.Ptr);
            g.If(rc == 0, () => g.Print("param %u: %#lx\n", i, p.U64(XenHvmParam.Layout.Value)),
                () => g.Print("param %u: %e\n", i, rc));
        });
        g.Set(p.U16(XenHvmParam.Layout.Domid), DomId.Self);
        g.Set(p.U32(XenHvmParam.Layout.Index), (long)HvmParam.CallbackIrq);
        g.ExpectEq(g.Hypercall(Hypercall.HvmOp, (long)HvmOp.GetParam, p.Ptr), 0, "get CALLBACK_IRQ");
        g.ExpectEq(p.U64(XenHvmParam.Layout.Value), 0, "CALLBACK_IRQ at boot");
        g.Print("HVMOP 99: %e\n", g.Hypercall(Hypercall.HvmOp, 99, p.Ptr));
        g.Success();
    }
}
