using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Suite.Hvm.Hypercalls;

/// <summary>
/// xen_version from an HVM guest: the same version and strings as for PV, the capabilities string of an
/// HVM-capable Xen, the feature bitmap an HVM guest gets (hvm_features differ from PV's), the page size,
/// and what a dom0 may read of Xen's command line.
/// </summary>
public sealed class XenVersion : XtfTest
{
    public override string Name => "xen-version";
    public override string Title => "xen_version from a PVH dom0";
    public override string Category => "hvm_hypercall";
    public override Environments Environments => Environments.Hvm64;

    public override void Body(GuestProgram g)
    {
        var v = g.Var("version");
        g.Set(v, g.XenVersion(XenVer.Version, 0));
        g.Print("version %u.%u\n", v >> 16, v & 0xFFFF);
        var buf = g.Alloc(1024, 8, "buf");
        g.ExpectEq(g.XenVersion(XenVer.Extraversion, buf.Ptr), 0, "extraversion");
        g.Print("extraversion \"%s\"\n", buf.Ptr);
        g.ExpectEq(g.XenVersion(XenVer.Capabilities, buf.Ptr), 0, "capabilities");
        g.Print("capabilities \"%s\"\n", buf.Ptr);
        var features = g.Alloc(8, 8, "features");
        foreach (int sub in new[] { 0, 1 })
        {
            g.Set(features.U32(0), sub);
            g.Set(features.U32(4), 0x5a5a5a5a);
            var rc = g.XenVersion(XenVer.GetFeatures, features.Ptr);
            g.Print($"get_features({sub}): %e, %08x\n", rc, features.U32(4));
        }
        g.ExpectEq(g.XenVersion(XenVer.Pagesize, 0), 4096, "pagesize");
        g.Print("platform_parameters: %e, virt_start %#lx\n", g.XenVersion(XenVer.PlatformParameters, buf.Ptr), buf.U64(0));
        g.Print("commandline: %e\n", g.XenVersion(XenVer.Commandline, buf.Ptr));
        g.Print("xen_version 99: %e\n", g.XenVersion((XenVer)99, 0));
        g.Success();
    }
}
