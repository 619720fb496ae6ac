using System.Buffers.Binary;
using Xtf.Abi;
using Xtf.Sim.Builder;

namespace Xtf.Sim.Xen;

/// <summary>
/// PHYSDEVOP_set_iopl and PHYSDEVOP_set_iobitmap (xen/arch/x86/physdev.c do_physdev_op) and the
/// port-I/O permission and access model of pv/emul-priv-op.c (iopl_ok, guest_io_okay,
/// guest_io_read/guest_io_write) for a 64-bit PV dom0 (docs/pv-abi.md §16.5).
/// </summary>
public sealed class Physdev
{
    public const int SetIopl = 6, SetIobitmap = 7;
    /// <summary>IOBMP_BYTES: the bitmap covers 65536 ports.</summary>
    public const int IoBitmapBytes = 8192;
    /// <summary>VMASST_TYPE_architectural_iopl: the guest kernel counts as ring 0 for IOPL.</summary>
    public const int VmAssistArchitecturalIopl = 4;
    private const ushort PciConfigAddress = 0xcf8;

    private readonly Domain domain;
    private readonly GuestMemory guest;
    private readonly MachineProfile profile;
    /// <summary>Xen's emulated PCI configuration address register (0xcf8), per domain here (dom0 only).</summary>
    private uint pciCf8;

    public Physdev(Domain domain, GuestMemory guest, MachineProfile profile)
    {
        this.domain = domain;
        this.guest = guest;
        this.profile = profile;
    }

    /// <summary>do_physdev_op (hypercall 33): set_iopl and set_iobitmap; other commands are not modelled (-ENOSYS).</summary>
    public long PhysdevOp(Vcpu v, int cmd, ulong arg)
    {
        switch (cmd)
        {
            case SetIopl:
            {
                if (!guest.ReadU32(v, arg, out uint iopl)) return -Errno.EFAULT;
                if (iopl > 3) return -Errno.EINVAL;
                v.Iopl = (ulong)iopl << 12;
                return 0;
            }
            case SetIobitmap:
            {
                Span<byte> a = stackalloc byte[12];
                if (!guest.CopyFromGuest(v, arg, a)) return -Errno.EFAULT;
                ulong bitmap = BinaryPrimitives.ReadUInt64LittleEndian(a);
                uint ports = BinaryPrimitives.ReadUInt32LittleEndian(a[8..]);
                if (!GuestMemory.AccessOk(bitmap) || !GuestMemory.AccessOk(bitmap + IoBitmapBytes - 1) || ports > 65536) return -Errno.EINVAL;
                v.IoBitmap = bitmap;
                v.IoBitmapLimit = ports;
                return 0;
            }
            default:
                return -Errno.ENOSYS;
        }
    }

    /// <summary>iopl_ok: the guest kernel is ring 1 (ring 0 with architectural_iopl), user mode ring 3.</summary>
    public bool IoplOk(Vcpu v)
    {
        int cpl = v.KernelMode ? ((domain.VmAssist >> VmAssistArchitecturalIopl) & 1) != 0 ? 0 : 1 : 3;
        return (ulong)cpl << 12 <= v.Iopl;
    }

    /// <summary>
    /// guest_io_okay: IOPL, else the guest's I/O bitmap (read through the kernel page tables; an
    /// unreadable byte counts as all ones), below its limit, with every port's bit clear.
    /// </summary>
    public bool IoOkay(Vcpu v, ushort port, int bytes)
    {
        if (IoplOk(v)) return true;
        if (port + bytes > v.IoBitmapLimit) return false;
        var c = v.Cpu;
        ulong cr3 = c.Cr3;
        if (!v.KernelMode) c.Cr3 = v.GuestTable;   // toggle_guest_pt: the bitmap is a kernel address
        Span<byte> x = stackalloc byte[2];
        if (!guest.CopyFromGuest(v, v.IoBitmap + (ulong)(port >> 3), x[..1])) x[0] = 0xff;
        if (!guest.CopyFromGuest(v, v.IoBitmap + (ulong)(port >> 3) + 1, x[1..])) x[1] = 0xff;
        c.Cr3 = cr3;
        int mask = BinaryPrimitives.ReadUInt16LittleEndian(x);
        return (mask & (((1 << bytes) - 1) << (port & 7))) == 0;
    }

    /// <summary>guest_io_read: Xen's PCI address register at 0xcf8 (a dword), else the measured port bytes, else all ones.</summary>
    public uint Read(ushort port, int bytes)
    {
        if (port == PciConfigAddress && bytes == 4) return pciCf8;
        uint value = 0;
        for (int i = 0; i < bytes; i++)
            value |= (uint)(profile.PortByte((ushort)(port + i)) ?? 0xff) << (8 * i);
        return value;
    }

    /// <summary>guest_io_write: a dword to 0xcf8 sets Xen's PCI address register; everything else is dropped.</summary>
    public void Write(ushort port, int bytes, uint value)
    {
        if (port == PciConfigAddress && bytes == 4) pciCf8 = value;
    }
}
