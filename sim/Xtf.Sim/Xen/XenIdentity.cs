namespace Xtf.Sim.Xen;

/// <summary>
/// What Debian's Xen 4.17.7 build says about itself, measured from its boot banner and from
/// xen_version on real Xen (results/xen/*.log, 2026-11-22).
/// </summary>
public static class XenIdentity
{
    public const int Major = 4, Minor = 17;
    public const string ExtraVersion = ".7";
    public const string Banner =
        "Xen version 4.17.7 (Debian 4.17.7+13-g2445b30a44-0+deb12u1) (pkg-xen-devel@lists.alioth.debian.org) " +
        "(x86_64-linux-gnu-gcc (Debian 12.2.0-14+deb12u1) 12.2.0) debug=n Wed Nov  4 16:52:28 UTC 2026";
    public const string Compiler = "x86_64-linux-gnu-gcc (Debian 12.2.0-14+deb12u1) 12.2.0";
    public const string CompileBy = "pkg-xen-devel";
    public const string CompileDomain = "lists.alioth.debian.org";
    public const string CompileDate = "Wed Nov  4 16:52:28 UTC 2026";
    /// <summary>XENVER_changeset: empty on Debian's 4.17.7 (64 zero bytes, measured by test-pv64-misc-xen-version-strings).</summary>
    public const string Changeset = "";
    public const string BuildIdHex = "151b373fd64b321593bf987fd923cd10dabadac4";
    /// <summary>XENVER_capabilities for this build: no PV32, HVM available (measured).</summary>
    public const string Capabilities = "xen-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64 ";
    public const string XenCommandLineBase = "console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all noreboot console_timestamps=boot";

    /// <summary>XENVER_get_features submap 0 for a 64-bit PV guest (docs/pv-abi.md §9), before the dom0 and pae bits.</summary>
    public const uint BaseFeatures = 0x000220E0;
    public const uint FeatureDom0 = 1u << 11;
    public const uint FeaturePaePgdirAbove4gb = 1u << 4;
}
