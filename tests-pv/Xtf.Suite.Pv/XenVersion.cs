using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Pv;

/// <summary>
/// xen_version sub-ops that do not depend on the build's strings (docs/pv-abi.md §9): version, pagesize,
/// get_features, platform_parameters and unknown commands. Debian's 4.17.7 reports 0x00040011.
/// </summary>
public sealed class XenVersionBasics : XtfTest
{
    public override string Name => "xen-version";
    public override string Title => "xen_version: version, extraversion, pagesize, features, platform parameters";
    public override string Category => "xen_version";

    public override void Body(GuestProgram g)
    {
        var version = g.XenVersion(XenVer.Version, 0);
        g.Print("Xen version %u.%u\n", version >> 16, version & 0xffff);
        g.ExpectEq(version, 0x00040011, "XENVER_version on Xen 4.17");

        var extra = g.Alloc(16, name: "extraversion");
        g.ExpectEq(g.XenVersion(XenVer.Extraversion, extra.Ptr), 0, "XENVER_extraversion");
        g.Print("Extraversion: %s\n", extra.Ptr);
        g.Expect(g.BytesAre(extra.Ptr, ".7\0"), "XENVER_extraversion is \".7\" on 4.17.7");

        g.ExpectEq(g.XenVersion(XenVer.Pagesize, 0), 4096, "XENVER_pagesize(NULL)");
        g.ExpectEq(g.XenVersion(XenVer.Pagesize, extra.Ptr), -Errno.EINVAL, "XENVER_pagesize with a non-NULL argument");

        var fi = g.Alloc(XenFeatureInfo.Layout.Size, name: "feature_info");
        g.ExpectEq(g.XenVersion(XenVer.GetFeatures, fi.Ptr), 0, "XENVER_get_features submap 0");
        var submap = fi.U32(XenFeatureInfo.Layout.Submap);
        g.Print("Features submap 0: %#x\n", submap);
        g.Expect(submap.AnyBits(1 << (int)XenFeature.Dom0), "XENFEAT_dom0 set for the hardware domain");
        g.Set(fi.U32(XenFeatureInfo.Layout.SubmapIdx), 1);
        g.ExpectEq(g.XenVersion(XenVer.GetFeatures, fi.Ptr), -Errno.EINVAL, "XENVER_get_features submap 1");

        var pp = g.Alloc(XenPlatformParameters.Layout.Size, name: "platform_parameters");
        g.ExpectEq(g.XenVersion(XenVer.PlatformParameters, pp.Ptr), 0, "XENVER_platform_parameters");
        g.ExpectEq(pp.U64(XenPlatformParameters.Layout.VirtStart), unchecked((long)PvLayout.HypervisorVirtStart), "virt_start");

        g.ExpectEq(g.XenVersion((XenVer)11, 0), -Errno.ENOSYS, "unknown xen_version command 11");
        g.ExpectEq(g.XenVersion((XenVer)0x7fffffff, 0), -Errno.ENOSYS, "unknown xen_version command 0x7fffffff");
        g.Success();
    }
}

/// <summary>XENVER_capabilities: read and printed; a 64-bit PV Xen lists xen-3.0-x86_64 first.</summary>
public sealed class XenCapabilities : XtfTest
{
    public override string Name => "xen-capabilities";
    public override string Title => "xen_version: capabilities";
    public override string Category => "xen_version";

    public override void Body(GuestProgram g)
    {
        var caps = g.Alloc(1024, name: "capabilities");
        g.ExpectEq(g.XenVersion(XenVer.Capabilities, caps.Ptr), 0, "XENVER_capabilities");
        g.Print("Capabilities: %s\n", caps.Ptr);
        g.Expect(g.BytesAre(caps.Ptr, "xen-3.0-x86_64 "), "capabilities start with \"xen-3.0-x86_64 \"");
        g.Success();
    }
}
