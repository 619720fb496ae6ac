using System.Buffers.Binary;
using System.Text;
using Xtf.Abi;
using Xtf.Sim.Memory;

namespace Xtf.Sim.Xen;

/// <summary>xen_version (xen/common/kernel.c): the identity of the simulated Xen build and its features.</summary>
public sealed class XenVersionOp
{
    private readonly Domain domain;
    private readonly GuestMemory guest;
    private readonly string commandLine;

    public XenVersionOp(Domain domain, GuestMemory guest, string xenCommandLine)
    {
        this.domain = domain;
        this.guest = guest;
        commandLine = xenCommandLine;
    }

    public long XenVersion(Vcpu v, int cmd, ulong arg)
    {
        switch (cmd)
        {
            case (int)XenVer.Version:
                return (XenIdentity.Major << 16) | XenIdentity.Minor;
            case (int)XenVer.Extraversion:
                return CopyString(v, arg, XenIdentity.ExtraVersion, 16);
            case (int)XenVer.CompileInfo:
            {
                var info = new byte[XenCompileInfo.Layout.Size];
                Ascii(XenIdentity.Compiler, info.AsSpan(XenCompileInfo.Layout.Compiler, 64));
                Ascii(XenIdentity.CompileBy, info.AsSpan(XenCompileInfo.Layout.CompileBy, 16));
                Ascii(XenIdentity.CompileDomain, info.AsSpan(XenCompileInfo.Layout.CompileDomain, 32));
                Ascii(XenIdentity.CompileDate, info.AsSpan(XenCompileInfo.Layout.CompileDate, 32));
                return guest.CopyToGuest(v, arg, info) ? 0 : -Errno.EFAULT;
            }
            case (int)XenVer.Capabilities:
                return CopyString(v, arg, XenIdentity.Capabilities, 1024);
            case (int)XenVer.Changeset:
                return CopyString(v, arg, XenIdentity.Changeset, 64);
            case (int)XenVer.PlatformParameters:
                return guest.WriteU64(v, arg + (ulong)XenPlatformParameters.Layout.VirtStart, Hypervisor.HypervisorVirtStart) ? 0 : -Errno.EFAULT;
            case (int)XenVer.GetFeatures:
            {
                Span<byte> fi = stackalloc byte[XenFeatureInfo.Layout.Size];
                if (!guest.CopyFromGuest(v, arg, fi)) return -Errno.EFAULT;
                uint idx = BinaryPrimitives.ReadUInt32LittleEndian(fi[XenFeatureInfo.Layout.SubmapIdx..]);
                if (idx != 0) return -Errno.EINVAL;
                uint submap = XenIdentity.BaseFeatures;
                if ((domain.VmAssist & (1UL << (int)VmAssistType.PaeExtendedCr3)) != 0) submap |= XenIdentity.FeaturePaePgdirAbove4gb;
                if (domain.IsHardwareDomain) submap |= XenIdentity.FeatureDom0;
                BinaryPrimitives.WriteUInt32LittleEndian(fi[XenFeatureInfo.Layout.Submap..], submap);
                return guest.CopyToGuest(v, arg, fi) ? 0 : -Errno.EFAULT;
            }
            case (int)XenVer.Pagesize:
                return arg != 0 ? -Errno.EINVAL : MachineMemory.PageSize;
            case (int)XenVer.GuestHandle:
                return guest.CopyToGuest(v, arg, new byte[16]) ? 0 : -Errno.EFAULT;
            case (int)XenVer.Commandline:
                return CopyString(v, arg, commandLine, 1024);
            case (int)XenVer.BuildId:
            {
                byte[] id = Convert.FromHexString(XenIdentity.BuildIdHex);
                if (arg == 0) return id.Length;
                if (!guest.ReadU32(v, arg, out uint len)) return -Errno.EFAULT;
                if (len == 0) return -Errno.EINVAL;
                if (len < id.Length) return -Errno.ENOBUFS;
                return guest.CopyToGuest(v, arg + 4, id) ? id.Length : -Errno.EFAULT;
            }
            default:
                return -Errno.ENOSYS;
        }
    }

    private long CopyString(Vcpu v, ulong arg, string text, int size)
    {
        var buf = new byte[size];
        Ascii(text, buf);
        return guest.CopyToGuest(v, arg, buf) ? 0 : -Errno.EFAULT;
    }

    private static void Ascii(string text, Span<byte> into)
    {
        int n = Math.Min(text.Length, into.Length - 1);
        Encoding.ASCII.GetBytes(text.AsSpan(0, n), into);
    }
}
