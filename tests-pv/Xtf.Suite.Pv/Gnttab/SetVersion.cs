using Xtf.Abi;
using Xtf.Guest;
using static Xtf.Suite.Pv.Gnttab.GnttabKit;

namespace Xtf.Suite.Pv.Gnttab;

/// <summary>
/// GNTTABOP_set_version, get_version and get_status_frames (docs/pv-abi.md §13.4): dom0 starts at
/// version 1; version 3 is -EINVAL (the struct then reads back the version in force); version 2
/// gives one status frame (asking for 2 is GNTST_general_error); while the guest maps the status
/// frame, switching back to 1 is -EBUSY, and after unmapping it succeeds; in version 1 there are no
/// status frames; get_version of an unknown domain is -ESRCH.
/// </summary>
public sealed class VersionSwitch : XtfTest
{
    public override string Name => "gnttab-set-version";
    public override string Title => "GNTTABOP_set_version / get_version / get_status_frames";
    public override string Category => "gnttab";

    public override void Body(GuestProgram g)
    {
        var ver = g.Alloc(GnttabSetVersion.Layout.Size, name: "set_version");
        var gv = g.Alloc(GnttabGetVersion.Layout.Size, name: "get_version");
        var gsf = g.Alloc(GnttabGetStatusFrames.Layout.Size, name: "get_status_frames");
        var list = g.Alloc(8 * 2, name: "frame_list");
        var window = g.Page("status_window");
        Val SetVersion(Val v)
        {
            g.Set(ver.U32(GnttabSetVersion.Layout.Version), v);
            return Op(g, GnttabOp.SetVersion, ver.Ptr, 1);
        }
        Val GetVersion(Val dom)
        {
            g.Set(gv.U16(GnttabGetVersion.Layout.Dom), dom);
            g.Set(gv.U32(GnttabGetVersion.Layout.Version), 99);
            return Op(g, GnttabOp.GetVersion, gv.Ptr, 1);
        }
        Val StatusFrames(Val n)
        {
            g.Set(gsf.U32(GnttabGetStatusFrames.Layout.NrFrames), n);
            g.Set(gsf.U16(GnttabGetStatusFrames.Layout.Dom), DomId.Self);
            g.Set(gsf.U64(GnttabGetStatusFrames.Layout.FrameList), list.Ptr);
            g.Set(gsf.U16(GnttabGetStatusFrames.Layout.Status), 0x5555);
            return Op(g, GnttabOp.GetStatusFrames, gsf.Ptr, 1);
        }
        Val Status() => gsf.U16(GnttabGetStatusFrames.Layout.Status);

        g.ExpectEq(GetVersion(DomId.Self), 0, "get_version(self)");
        g.ExpectEq(gv.U32(GnttabGetVersion.Layout.Version), 1, "version 1 at boot");
        g.ExpectEq(StatusFrames(1), 0, "get_status_frames(1) in version 1");
        g.ExpectEq(Status(), St(GnttabStatus.GeneralError), "no status frames in version 1");
        g.ExpectEq(SetVersion(3), -Errno.EINVAL, "set_version(3)");
        g.ExpectEq(ver.U32(GnttabSetVersion.Layout.Version), 1, "set_version(3) writes back the version in force");
        g.ExpectEq(SetVersion(1), 0, "set_version(1) when at 1");

        g.ExpectEq(SetVersion(2), 0, "set_version(2)");
        g.ExpectEq(GetVersion(DomId.Self), 0, "get_version(self)");
        g.ExpectEq(gv.U32(GnttabGetVersion.Layout.Version), 2, "version 2");
        g.ExpectEq(StatusFrames(1), 0, "get_status_frames(1)");
        g.ExpectEq(Status(), St(GnttabStatus.Okay), "one status frame");
        g.ExpectNe(list.U64(0), 0, "its MFN");
        g.ExpectEq(StatusFrames(2), 0, "get_status_frames(2)");
        g.ExpectEq(Status(), St(GnttabStatus.GeneralError), "only one status frame for one shared frame");

        g.ExpectEq(MapVa(g, window.Ptr, (list.U64(0) << 12) | 0x65), 0, "map the status frame read-only");
        g.ExpectEq(window.U64(0), 0, "status words are zero");
        g.ExpectEq(SetVersion(1), -Errno.EBUSY, "set_version(1) while the status frame is mapped");
        g.ExpectEq(ver.U32(GnttabSetVersion.Layout.Version), 2, "still version 2");
        g.ExpectEq(MapVa(g, window.Ptr, (Mfn(g, window.Ptr) << 12) | (long)GuestProgram.KernelRwPte), 0, "unmap the status frame");
        g.ExpectEq(SetVersion(1), 0, "set_version(1) once unmapped");
        g.ExpectEq(ver.U32(GnttabSetVersion.Layout.Version), 1, "version 1 again");
        g.ExpectEq(StatusFrames(1), 0, "get_status_frames(1) back in version 1");
        g.ExpectEq(Status(), St(GnttabStatus.GeneralError), "status frames freed");

        g.ExpectEq(GetVersion(7), -Errno.ESRCH, "get_version(7)");
        g.ExpectEq(Op(g, GnttabOp.SetVersion, 0x4000_0000, 1), -Errno.EFAULT, "set_version from an unmapped address");
        g.Success();
    }
}
