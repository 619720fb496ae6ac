using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Misc;

/// <summary>
/// The xen_version sub-ops XenVersion.cs leaves out (docs/pv-abi.md §9, docs/dom0.md §5.1), as dom0 sees them on
/// Debian's 4.17.7: compile_info strings, an empty changeset, a zero guest handle, Xen's own
/// command line (dom0 only; printed, so both hosts must agree on it), build_id's size query, its
/// -EINVAL/-ENOBUFS checks and its 20 bytes; an unwritable output buffer is -EFAULT.
/// </summary>
public sealed class XenVersionStrings : XtfTest
{
    public override string Name => "misc-xen-version-strings";
    public override string Title => "xen_version: compile_info, changeset, guest_handle, commandline, build_id";
    public override string Category => "misc";

    public override void Body(GuestProgram g)
    {
        var ci = g.Alloc(XenCompileInfo.Layout.Size, name: "compile_info");
        g.ExpectEq(g.XenVersion(XenVer.CompileInfo, ci.Ptr), 0, "XENVER_compile_info");
        g.Print("compiler: %s\n", ci.Addr(XenCompileInfo.Layout.Compiler));
        g.Expect(g.BytesAre(ci.Addr(XenCompileInfo.Layout.CompileBy), "pkg-xen-devel\0"), "compile_by");
        g.Expect(g.BytesAre(ci.Addr(XenCompileInfo.Layout.CompileDomain), "lists.alioth.debian.org\0"), "compile_domain");
        g.Expect(g.BytesAre(ci.Addr(XenCompileInfo.Layout.Compiler), "x86_64-linux-gnu-gcc (Debian 12.2.0-14+deb12u1) 12.2.0\0"), "compiler");

        var cs = g.Alloc(64, name: "changeset");
        g.MemSet(cs.Ptr, 0x5a, 64);
        g.ExpectEq(g.XenVersion(XenVer.Changeset, cs.Ptr), 0, "XENVER_changeset");
        g.ExpectEq(cs.U64(0) | cs.U64(56), 0, "changeset is empty and zero-filled");

        var handle = g.Alloc(16, name: "guest_handle");
        g.MemSet(handle.Ptr, 0x5a, 16);
        g.ExpectEq(g.XenVersion(XenVer.GuestHandle, handle.Ptr), 0, "XENVER_guest_handle");
        g.ExpectEq(handle.U64(0) | handle.U64(8), 0, "dom0's handle is all zero");

        var cmd = g.Alloc(1024, name: "commandline");
        g.ExpectEq(g.XenVersion(XenVer.Commandline, cmd.Ptr), 0, "XENVER_commandline");
        g.Print("Xen command line: %s\n", cmd.Ptr);
        g.Expect(g.BytesAre(cmd.Ptr, "console=com1 "), "the command line starts with console=com1");

        var id = g.Alloc(4 + 32, 8, "build_id");
        g.ExpectEq(g.XenVersion(XenVer.BuildId, 0), 20, "XENVER_build_id(NULL) = its size");
        g.ExpectEq(g.XenVersion(XenVer.BuildId, id.Ptr), -Errno.EINVAL, "build_id with len 0");
        g.Set(id.U32(0), 19);
        g.ExpectEq(g.XenVersion(XenVer.BuildId, id.Ptr), -Errno.ENOBUFS, "build_id with len 19");
        g.Set(id.U32(0), 32);
        g.ExpectEq(g.XenVersion(XenVer.BuildId, id.Ptr), 20, "build_id with len 32");
        g.ExpectEq(id.U32(4), 0x3f371b15, "build_id starts 15 1b 37 3f");

        foreach (var (cmdNo, what) in new[] { (XenVer.Extraversion, "extraversion"), (XenVer.CompileInfo, "compile_info"),
                     (XenVer.Capabilities, "capabilities"), (XenVer.PlatformParameters, "platform_parameters"),
                     (XenVer.GetFeatures, "get_features"), (XenVer.Commandline, "commandline") })
            g.ExpectEq(g.XenVersion(cmdNo, 0x4000_0000), -Errno.EFAULT, $"XENVER_{what} to an unmapped buffer");
        g.Success();
    }
}
