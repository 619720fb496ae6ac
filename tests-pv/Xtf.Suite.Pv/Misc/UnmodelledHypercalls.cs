using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Misc;

/// <summary>
/// The hypercalls a PV dom0 rarely uses answer as Debian's Xen 4.17.7 does (docs/pv-abi.md §13):
/// each number with three argument shapes (all pointing at a zeroed page; cmd 0 and a zeroed
/// page; all zero), then the sub-op ranges of nmi_op, xenoprof, kexec, hypfs, xenpmu, hvm_op and
/// dm_op, and sysctl's live-patch calls with no payload loaded. Numbers Xen 4.17 leaves unassigned
/// (11, 43–47, 50 and up) are -ENOSYS; the suite's
/// image checks keep generated kernels below stub 56, so 50 and 55 stand for the rest.
/// </summary>
public sealed class UnmodelledHypercalls : XtfTest
{
    public override string Name => "misc-hypercall-numbers";
    public override string Title => "Every hypercall number answers as Xen 4.17 does";
    public override string Category => "misc";

    private const int ENOSYS = -Errno.ENOSYS, EACCES = -Errno.EACCES, EINVAL = -Errno.EINVAL, ENODEV = -Errno.ENODEV,
        ENOENT = -Errno.ENOENT, EPERM = -Errno.EPERM, ESRCH = -Errno.ESRCH, EOPNOTSUPP = -Errno.EOPNOTSUPP,
        E2BIG = -Errno.E2BIG, ENODATA = -Errno.ENODATA;

    public override void Body(GuestProgram g)
    {
        var page = g.Page();
        // number: (all args = page, (0, page, 0, 0, 0), all zero)
        (int Nr, int A, int B, int C)[] byNumber =
        [
            (7, EACCES, EACCES, EACCES), (11, ENOSYS, ENOSYS, ENOSYS), (19, ENOSYS, ENOSYS, ENOSYS),
            (22, ESRCH, ESRCH, ESRCH), (27, ENOSYS, ENOSYS, ENOSYS), (28, ENOSYS, 0, 0), (31, EINVAL, ENODEV, ENODEV),
            (34, ENOSYS, EINVAL, EINVAL), (35, EACCES, EACCES, EACCES), (36, EACCES, EACCES, EACCES),
            (37, 0, ENOENT, ENOENT), (38, ENOSYS, ENOSYS, ENOSYS), (39, ENOSYS, ENOSYS, ENOSYS),
            (40, EOPNOTSUPP, EOPNOTSUPP, EOPNOTSUPP), (41, E2BIG, E2BIG, ENODATA), (42, EINVAL, EINVAL, 1),
            (43, ENOSYS, ENOSYS, ENOSYS), (47, ENOSYS, ENOSYS, ENOSYS), (48, EACCES, EACCES, EACCES),
            (49, EOPNOTSUPP, EOPNOTSUPP, EOPNOTSUPP), (50, ENOSYS, ENOSYS, ENOSYS), (55, ENOSYS, ENOSYS, ENOSYS),
        ];
        foreach (var (nr, a, b, c) in byNumber)
        {
            g.MemSet(page.Ptr, 0, 4096);
            g.ExpectEq(g.Hypercall((Hypercall)nr, page.Ptr, page.Ptr, page.Ptr, page.Ptr, page.Ptr), a, $"hypercall {nr}, all arguments a zeroed page");
            g.MemSet(page.Ptr, 0, 4096);
            g.ExpectEq(g.Hypercall((Hypercall)nr, 0, page.Ptr, 0, 0, 0), b, $"hypercall {nr} (0, zeroed page)");
            g.MemSet(page.Ptr, 0, 4096);
            g.ExpectEq(g.Hypercall((Hypercall)nr, 0, 0, 0, 0, 0), c, $"hypercall {nr}, all arguments zero");
        }

        SubOps(g, page, 28, [0, 0, ENOSYS, ENOSYS], "nmi_op");                       // register (handler 0), unregister
        g.MemSet(page.Ptr, 0, 4096);
        g.ExpectEq(g.Hypercall((Hypercall)28, 1, 0, 0, 0, 0), 0, "nmi_op unregister again");
        int[] xenoprof = new int[20];
        for (int i = 0; i < 20; i++) xenoprof[i] = i switch { 0 => ENODEV, 14 => 0, > 17 => EINVAL, _ => EPERM };
        SubOps(g, page, 31, xenoprof, "xenoprof_op");
        SubOps(g, page, 37, [ENOENT, EINVAL, 0, 0, EINVAL, 0, 0, 0, 0, 0, 0, 0], "kexec_op");
        SubOps(g, page, 40, [EOPNOTSUPP, EOPNOTSUPP, EOPNOTSUPP, EOPNOTSUPP, EOPNOTSUPP, EOPNOTSUPP], "xenpmu_op");
        int[] hvm = new int[50];
        for (int i = 0; i < 50; i++) hvm[i] = i switch { 0 or 1 or 5 or 9 or 15 or 23 or 24 => EINVAL, 10 or 11 => 0, 25 => EOPNOTSUPP, _ => ENOSYS };
        SubOps(g, page, 34, hvm, "hvm_op");
        for (int cmd = 0; cmd < 6; cmd++)
        {
            g.ExpectEq(g.Hypercall((Hypercall)42, cmd, 0, 0, 0, 0), cmd == 0 ? 1 : EINVAL, $"hypfs_op {cmd}, null arguments");
            g.ExpectEq(g.Hypercall((Hypercall)42, cmd, page.Ptr, 8, page.Ptr, 8), EINVAL, $"hypfs_op {cmd} with buffers");
        }
        foreach (int bufs in (int[])[1, 2, 3])
        {
            g.ExpectEq(g.Hypercall((Hypercall)41, 0, bufs, page.Ptr, 0, 0), bufs > 2 ? E2BIG : EPERM, $"dm_op on dom0 itself, {bufs} buffers");
            g.ExpectEq(g.Hypercall((Hypercall)41, 0x7ff0, bufs, page.Ptr, 0, 0), bufs > 2 ? E2BIG : ESRCH, $"dm_op on domain 0x7ff0, {bufs} buffers");
        }
        g.Success();
    }

    private static void SubOps(GuestProgram g, GuestBuffer page, int nr, int[] expected, string what)
    {
        for (int op = 0; op < expected.Length; op++)
        {
            g.MemSet(page.Ptr, 0, 4096);
            g.ExpectEq(g.Hypercall((Hypercall)nr, op, page.Ptr, 0, 0, 0), expected[op], $"{what} {op} (zeroed argument)");
        }
    }
}
