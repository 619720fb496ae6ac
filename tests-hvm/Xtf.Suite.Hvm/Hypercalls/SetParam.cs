using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Hvm.Hypercalls;

/// <summary>
/// HVMOP_set_param on the PVH dom0 itself (hvm/hvm.c: hvm_allow_set_param, then hvm_set_param): the
/// callback-IRQ forms (GSI, PCI INTx, vector) read back as written, an index past HVM_NR_PARAMS and an
/// unknown HVMOP are refused, and the parameters a guest may not set for itself say so.
/// </summary>
public sealed class SetParam : XtfTest
{
    public override string Name => "hvm-set-param";
    public override string Title => "HVMOP_set_param from a PVH dom0";
    public override string Category => "hvm_hypercall";
    public override Environments Environments => Environments.Hvm64;

    public override void Body(GuestProgram g)
    {
        var p = g.Alloc(XenHvmParam.Layout.Size, 8, "param");
        Val Op(HvmOp op, long index, long value, ushort domid = DomId.Self)
        {
            g.Set(p.U16(XenHvmParam.Layout.Domid), domid);
            g.Set(p.U32(XenHvmParam.Layout.Index), index);
            g.Set(p.U64(XenHvmParam.Layout.Value), value);
            return g.Hypercall(Hypercall.HvmOp, (long)op, p.Ptr);
        }
        foreach (long v in new[] { 5L, (1L << 56) | (3 << 11) | 1, (2L << 56) | 0xF3, 0L })
        {
            g.ExpectEq(Op(HvmOp.SetParam, (long)HvmParam.CallbackIrq, v), 0, $"set CALLBACK_IRQ {v:x}");
            g.ExpectEq(Op(HvmOp.GetParam, (long)HvmParam.CallbackIrq, 0), 0, "get CALLBACK_IRQ");
            g.ExpectEq(p.U64(XenHvmParam.Layout.Value), v, $"CALLBACK_IRQ reads back {v:x}");
        }
        foreach (var (index, name) in new[] { (1, "STORE_PFN"), (2, "STORE_EVTCHN"), (4, "PAE_ENABLED"), (10, "TIMER_MODE"),
                     (17, "CONSOLE_PFN"), (18, "CONSOLE_EVTCHN"), (24, "NESTEDHVM"), (27, "PAGING_RING_PFN"), (35, "ALTP2M"), (38, "MCA_CAP") })
            g.Print($"set {name} ({index}): %e\n", Op(HvmOp.SetParam, index, 0));
        g.ExpectEq(Op(HvmOp.SetParam, (long)HvmParam.Nr, 0), -Errno.EINVAL, "set index HVM_NR_PARAMS");
        g.ExpectEq(Op(HvmOp.GetParam, (long)HvmParam.Nr, 0), -Errno.EINVAL, "get index HVM_NR_PARAMS");
        g.Print("get_param for domain 5: %e\n", Op(HvmOp.GetParam, 0, 0, 5));
        g.Print("get_param for DOMID_XEN: %e\n", Op(HvmOp.GetParam, 0, 0, DomId.Xen));
        g.Success();
    }
}
