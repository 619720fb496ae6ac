using System.Buffers.Binary;
using Xtf.Abi;

namespace Xtf.Sim.Xen;

/// <summary>
/// The hypercalls a PV dom0 has for platform, toolstack and debugging work (sysctl, domctl,
/// platform_op, nmi_op, xenoprof, kexec, hvm_op, dm_op, hypfs, xenpmu, mca, paging_domctl_cont, …),
/// answered as Debian's Xen 4.17.7 answers dom0 up to the first check that decides the call
/// (interface version, sub-op range, feature not built or not enabled). Past that point the model
/// only covers what a guest can observe without a toolstack: sysctl's live-patch interface with no
/// payload loaded, and the sub-ops that were measured (docs/pv-abi.md §13, test-pv64-misc-hypercall-numbers).
/// Every number Xen 4.17 assigns has an answer here or in the hypercall table; none is a host error.
/// </summary>
public sealed class ToolstackOps
{
    /// <summary>XEN_SYSCTL_INTERFACE_VERSION of Xen 4.17.</summary>
    public const uint SysctlInterfaceVersion = 0x15;
    private const uint SysctlLivepatchOp = 27;
    /// <summary>LIVEPATCH_MAX_SIZE: a payload is at most 2 MiB.</summary>
    private const ulong LivepatchMaxSize = 2 << 20;
    /// <summary>XEN_LIVEPATCH_NAME_SIZE.</summary>
    private const int LivepatchNameSize = 128;
    /// <summary>LIVEPATCH_PAYLOAD_VERSION, reported by LIST.</summary>
    private const uint LivepatchPayloadVersion = 1;

    private readonly Domain domain;
    private readonly GuestMemory guest;
    private readonly SerialLog serial;

    public ToolstackOps(Domain domain, GuestMemory guest, SerialLog serial)
    {
        this.domain = domain;
        this.guest = guest;
        this.serial = serial;
    }

    // ------------------------------------------------------------ sysctl (xen/common/sysctl.c, common/livepatch.c)

    /// <summary>do_sysctl: copy the op, the interface version, then the command.</summary>
    public long Sysctl(Vcpu v, ulong op)
    {
        Span<byte> head = stackalloc byte[8];
        if (!guest.CopyFromGuest(v, op, head)) return -Errno.EFAULT;
        uint cmd = BinaryPrimitives.ReadUInt32LittleEndian(head);
        if (BinaryPrimitives.ReadUInt32LittleEndian(head[4..]) != SysctlInterfaceVersion) return -Errno.EACCES;
        return cmd switch
        {
            SysctlLivepatchOp => LivepatchOp(v, op + 8),
            _ => -Errno.ENOSYS,          // not modelled: the toolstack's sysctls (physinfo, getdomaininfolist, …)
        };
    }

    /// <summary>livepatch_op with no payload loaded: upload refuses what is not an ELF image, get and action find nothing, list is empty.</summary>
    private long LivepatchOp(Vcpu v, ulong at)
    {
        Span<byte> p = stackalloc byte[48];
        if (!guest.CopyFromGuest(v, at, p)) return -Errno.EFAULT;
        uint cmd = BinaryPrimitives.ReadUInt32LittleEndian(p);
        if (BinaryPrimitives.ReadUInt32LittleEndian(p[4..]) != 0) return -Errno.EINVAL;    // pad
        var u = p[8..];
        switch (cmd)
        {
            case 0:   // XEN_SYSCTL_LIVEPATCH_UPLOAD: name @0, size @16, payload @24
            {
                ulong size = BinaryPrimitives.ReadUInt64LittleEndian(u[16..]);
                ulong payload = BinaryPrimitives.ReadUInt64LittleEndian(u[24..]);
                if (size == 0 || size > LivepatchMaxSize) return -Errno.EINVAL;
                if (!GuestMemory.AccessOk(payload) || !GuestMemory.AccessOk(payload + size - 1)) return -Errno.EFAULT;
                long rc = GetName(v, u, out string name);
                if (rc != 0) return rc;
                Span<byte> magic = stackalloc byte[4];
                if (!guest.CopyFromGuest(v, payload, magic)) return -Errno.EFAULT;
                if (size < 64 || magic[0] != 0x7F || magic[1] != (byte)'E' || magic[2] != (byte)'L' || magic[3] != (byte)'F')
                {
                    serial.Xen($"livepatch: {name}: Not an ELF payload");
                    return -Errno.EINVAL;
                }
                serial.Xen($"livepatch: {name}: payload loading is not modelled");
                return -Errno.EINVAL;
            }
            case 1:   // XEN_SYSCTL_LIVEPATCH_GET
            {
                long rc = GetName(v, u, out _);
                return rc != 0 ? rc : -Errno.ENOENT;
            }
            case 2:   // XEN_SYSCTL_LIVEPATCH_LIST: version @0 (out), idx @4, nr @8 (in: room, out: left), pad @12
            {
                if (BinaryPrimitives.ReadUInt32LittleEndian(u[12..]) != 0) return -Errno.EINVAL;
                Span<byte> outs = stackalloc byte[4];
                BinaryPrimitives.WriteUInt32LittleEndian(outs, LivepatchPayloadVersion);
                if (!guest.CopyToGuest(v, at + 8, outs)) return -Errno.EFAULT;
                outs.Clear();
                if (!guest.CopyToGuest(v, at + 8 + 8, outs)) return -Errno.EFAULT;   // no payloads: none left
                return 0;
            }
            case 3:   // XEN_SYSCTL_LIVEPATCH_ACTION: name @0, cmd @16, timeout @20, flags @24, pad @28
            {
                if (BinaryPrimitives.ReadUInt32LittleEndian(u[28..]) != 0) return -Errno.EINVAL;
                long rc = GetName(v, u, out _);
                return rc != 0 ? rc : -Errno.ENOENT;
            }
            default:
                return -Errno.EOPNOTSUPP;
        }
    }

    /// <summary>get_name: 1..128 bytes, zero padding, NUL-terminated.</summary>
    private long GetName(Vcpu v, ReadOnlySpan<byte> nameField, out string name)
    {
        name = "";
        ulong handle = BinaryPrimitives.ReadUInt64LittleEndian(nameField);
        int size = BinaryPrimitives.ReadUInt16LittleEndian(nameField[8..]);
        if (size == 0 || size > LivepatchNameSize) return -Errno.EINVAL;
        if (BinaryPrimitives.ReadUInt16LittleEndian(nameField[10..]) != 0 || BinaryPrimitives.ReadUInt16LittleEndian(nameField[12..]) != 0
            || BinaryPrimitives.ReadUInt16LittleEndian(nameField[14..]) != 0) return -Errno.EINVAL;
        Span<byte> n = stackalloc byte[LivepatchNameSize];
        if (!guest.CopyFromGuest(v, handle, n[..size])) return -Errno.EFAULT;
        if (n[size - 1] != 0) return -Errno.EINVAL;
        int len = n[..size].IndexOf((byte)0);
        name = System.Text.Encoding.ASCII.GetString(n[..len]);
        return 0;
    }

    // ------------------------------------------------------------ interface-versioned ops

    /// <summary>do_domctl: the interface version decides first (measured -EACCES for versions 0–127 with a zeroed op); the domctls are not modelled.</summary>
    public long Domctl(Vcpu v, ulong op) => VersionedOp(v, op, offset: 4, 0x15, -Errno.ENOSYS);

    /// <summary>do_platform_op (xen/arch/x86/platform_hypercall.c): XENPF_INTERFACE_VERSION first; the sub-ops are not modelled.</summary>
    public long PlatformOp(Vcpu v, ulong op) => VersionedOp(v, op, offset: 4, 0x0300_0001, -Errno.ENOSYS);

    /// <summary>do_mca (xen/arch/x86/cpu/mcheck/mce.c): XEN_MCA_INTERFACE_VERSION first; the sub-ops are not modelled.</summary>
    public long Mca(Vcpu v, ulong op) => VersionedOp(v, op, offset: 4, 0x01EC_C003, -Errno.ENOSYS);

    private long VersionedOp(Vcpu v, ulong op, int offset, uint version, long otherwise)
    {
        if (!guest.ReadU32(v, op + (ulong)offset, out uint got)) return -Errno.EFAULT;
        return got != version ? -Errno.EACCES : otherwise;
    }

    // ------------------------------------------------------------ the others, by their first checks (measured)

    /// <summary>do_nmi_op (xen/arch/x86/x86_64/…/traps.c): register (a canonical handler) or unregister the NMI callback.</summary>
    public long NmiOp(Vcpu v, ulong cmd, ulong arg)
    {
        switch (cmd)
        {
            case 0:   // XENNMI_register_callback: struct xennmi_callback { handler_address; pad }
            {
                if (!guest.ReadU64(v, arg, out ulong handler)) return -Errno.EFAULT;
                if (!GuestMemory.IsCanonical(handler)) return -Errno.EINVAL;
                v.Traps[2] = new TrapEntry(0, 0xE033, handler);
                return 0;
            }
            case 1:   // XENNMI_unregister_callback
                v.Traps[2] = default;
                return 0;
            default:
                return -Errno.ENOSYS;
        }
    }

    /// <summary>
    /// do_xenoprof_op (xen/common/xenoprof.c): the op range, then init fails (no performance counters
    /// Xen supports under QEMU); get_buffer on a domain that never set up profiling finds no state,
    /// says so on the console and answers 0; the others need a profiler: -EPERM.
    /// </summary>
    public long XenoprofOp(ulong op)
    {
        switch (op)
        {
            case > 17: return -Errno.EINVAL;        // > XENOPROF_last_op
            case 0: return -Errno.ENODEV;           // XENOPROF_init
            case 14:                                // XENOPROF_get_buffer
                serial.Xen("xenoprof_reset_buf: ERROR - Unexpected Xenoprof NULL pointer ");
                return 0;
            default: return -Errno.EPERM;
        }
    }

    /// <summary>do_kexec_op (xen/common/kexec.c): no image loaded (measured per op 0–11; an unknown op answers 0).</summary>
    public static long KexecOp(ulong op) => op switch
    {
        0 => -Errno.ENOENT,         // KEXEC_CMD_kexec: nothing loaded
        1 or 4 => -Errno.EINVAL,    // kexec_get_range with a zeroed range; kexec_load_v1 of type 0 with no segments
        _ => 0,
    };

    /// <summary>do_hvm_op (xen/arch/x86/hvm/hvm.c) for a PV caller naming itself: per sub-op as measured with a zeroed argument.</summary>
    public static long HvmOp(ulong op) => op switch
    {
        0 or 1 or 5 or 9 or 15 or 23 or 24 => -Errno.EINVAL,   // set/get_param, set_pci_link_route, pagetable_dying, inject_msi, altp2m, get_mem_type on a PV domain
        10 or 11 => 0,                                          // get_time, xentrace
        25 => -Errno.EOPNOTSUPP,
        _ => -Errno.ENOSYS,
    };

    /// <summary>do_dm_op (xen/arch/x86/hvm/dm.c): the buffer count, then the target (itself: -EPERM; an unknown domain: -ESRCH).</summary>
    public long DmOp(ulong domid, ulong nrBufs)
    {
        if (nrBufs > 2) return -Errno.E2BIG;
        if (nrBufs == 0) return -Errno.ENODATA;
        if (domid == (ulong)domain.Id) return -Errno.EPERM;
        return -Errno.ESRCH;
    }

    /// <summary>do_hypfs_op (xen/common/hypfs.c): get_version with all-null arguments answers 1; anything else with the model's arguments is -EINVAL.</summary>
    public static long HypfsOp(ulong cmd, ulong a1, ulong a2, ulong a3, ulong a4) =>
        cmd == 0 && a1 == 0 && a2 == 0 && a3 == 0 && a4 == 0 ? 1 : -Errno.EINVAL;

}
