using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Misc;

/// <summary>
/// multicall (xen/common/multicall.c): every entry runs and gets its own result (a success, an
/// error, an unknown hypercall's -ENOSYS); the call itself returns 0. A multicall inside a
/// multicall is refused in its entry's result; an unreadable list is -EFAULT; count 0 is 0.
/// </summary>
public sealed class MulticallEntries : XtfTest
{
    public override string Name => "misc-multicall";
    public override string Title => "multicall: per-entry results, nesting, bad list";
    public override string Category => "misc";

    public override void Body(GuestProgram g)
    {
        const int Size = MulticallEntry.Layout.Size;
        var list = g.Alloc(Size * 4, 8, "multicall_list");
        void Entry(int i, Hypercall op, params Val[] args)
        {
            g.Set(list.U64(i * Size + MulticallEntry.Layout.Op), (int)op);
            g.Set(list.U64(i * Size + MulticallEntry.Layout.Result), 0x5a5a);
            for (int k = 0; k < args.Length; k++) g.Set(list.U64(i * Size + MulticallEntry.Layout.Args + 8 * k), args[k]);
        }
        Val Result(int i) => list.U64(i * Size + MulticallEntry.Layout.Result);

        Entry(0, Hypercall.XenVersion, (int)XenVer.Version, 0);
        Entry(1, Hypercall.XenVersion, (int)XenVer.Pagesize, 8);
        Entry(2, (Hypercall)60, 0);
        Entry(3, Hypercall.XenVersion, (int)XenVer.Pagesize, 0);
        g.ExpectEq(g.Hypercall(Hypercall.Multicall, list.Ptr, 4), 0, "multicall of 4 entries");
        g.ExpectEq(Result(0), 0x00040011, "entry 0: xen_version(version)");
        g.ExpectEq(Result(1), -Errno.EINVAL, "entry 1: xen_version(pagesize, non-NULL)");
        g.ExpectEq(Result(2), -Errno.ENOSYS, "entry 2: hypercall 60");
        g.ExpectEq(Result(3), 4096, "entry 3: xen_version(pagesize)");

        var inner = g.Alloc(Size, 8, "inner_list");
        g.Set(inner.U64(MulticallEntry.Layout.Op), (int)Hypercall.XenVersion);
        g.Set(inner.U64(MulticallEntry.Layout.Result), 0x5a5a);
        Entry(0, Hypercall.Multicall, inner.Ptr, 1);
        g.ExpectEq(g.Hypercall(Hypercall.Multicall, list.Ptr, 1), 0, "multicall holding a multicall");
        g.ExpectEq(Result(0), -Errno.EINVAL, "the nested multicall is refused");
        g.ExpectEq(inner.U64(MulticallEntry.Layout.Result), 0x5a5a, "the nested list did not run");

        g.ExpectEq(g.Hypercall(Hypercall.Multicall, 0x4000_0000, 1), -Errno.EFAULT, "multicall from an unmapped list");
        g.ExpectEq(g.Hypercall(Hypercall.Multicall, 0x4000_0000, 0), 0, "multicall of 0 entries");
        g.Success();
    }
}
