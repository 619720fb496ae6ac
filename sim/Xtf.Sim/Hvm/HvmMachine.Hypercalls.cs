using System.Buffers.Binary;
using System.Text;
using Xtf.Sim.Cpu;
using Xtf.Sim.Memory;
using Xtf.Sim.Xen;

namespace Xtf.Sim.Hvm;

// Xen's HVM hypercall path for the PVH dom0 (xen/arch/x86/hvm/hypercall.c hvm_hypercall and the hvm32/hvm64
// columns of xen/include/hypercall-defs.c): the ABI by mode, -EPERM above CPL 0, the modelled handlers,
// -ENOSYS for the rest.
internal sealed partial class HvmMachine
{
    private const long EPERM = 1, ENOENT = 2, EFAULT = 14, EINVAL = 22, ENOSYS = 38, ENOBUFS = 105;

    private readonly ulong[] hvmParams = new ulong[40];

    private void Hypercall()
    {
        var c = cpu;
        bool b64 = c.CodeBits == 64;
        ulong nr = b64 ? c[Reg.Rax] : (uint)c[Reg.Rax];
        ulong a1, a2, a3, a4, a5;
        if (b64) { a1 = c[Reg.Rdi]; a2 = c[Reg.Rsi]; a3 = c[Reg.Rdx]; a4 = c[Reg.R10]; a5 = c[Reg.R8]; }
        else { a1 = (uint)c[Reg.Rbx]; a2 = (uint)c[Reg.Rcx]; a3 = (uint)c[Reg.Rdx]; a4 = (uint)c[Reg.Rsi]; a5 = (uint)c[Reg.Rdi]; }
        _ = a5;
        long rc;
        if (c.Cpl > 0) rc = -EPERM;
        else
        {
            rc = nr switch
            {
                7 => InterfaceVersion(a1, 4, 0x0300_0001, -EACCES),     // platform_op (x86/platform_hypercall.c)
                12 => MemoryOp(a1, a2),
                13 => a2 == 0 ? 0 : -ENOSYS,                               // multicall (common/multicall.c): nothing to do
                15 => SetTimerOp(a1),
                21 => -EINVAL,                                             // vm_assist (common/domain.c): no valid type for HVM
                26 => MmuextOp(a4),
                35 => InterfaceVersion(a1, 0, 0x15, -EACCES),              // sysctl (common/sysctl.c)
                36 => InterfaceVersion(a1, 4, 0x15, -EACCES),              // domctl (common/domctl.c)
                40 => -EOPNOTSUPP,                                         // xenpmu_op (x86/cpu/vpmu.c): vPMU off
                41 => DmOp(a2),
                42 => HypfsOp(a1, a2, a3, a4),
                49 => PagingDomctlCont(a1),
                17 => XenVersion(a1, a2),
                18 => ConsoleIo(a1, a2, a3),
                24 => VcpuOp(a1, a2, a3),
                29 => SchedOp(a1, a2),
                20 => GrantTableOp(a1, a2, a3),
                32 => EventChannelOp(a1, a2),
                34 => HvmOp(a1, a2),
                _ => -ENOSYS,
            };
        }
        trace.Hypercall(0, nr, a1, a2, a3, shutdown ? null : rc);
        if (b64) c[Reg.Rax] = (ulong)rc;
        else c[Reg.Rax] = (uint)rc;
    }

    // A struct whose interface_version is checked before anything else (do_platform_op, do_sysctl, do_domctl).
    private long InterfaceVersion(ulong arg, ulong offset, uint version, long mismatch)
    {
        if (!ReadU(arg + offset, 4, out ulong v)) return -EFAULT;
        return (uint)v != version ? mismatch : -ENOSYS;
    }

    // do_mmuext_op (x86/mm.c): get_pg_owner refuses the caller's own id; an HVM owner is refused after.
    private long MmuextOp(ulong foreigndom) => (ushort)foreigndom == 0x7FF0 ? -EINVAL : -ESRCH();

    // do_dm_op (x86/hvm/dm.c): the op is read from buffer 0 before the domain is looked at.
    private long DmOp(ulong nrBufs) => nrBufs > 2 ? -E2BIG : nrBufs < 1 ? -ENODATA : -ENOSYS;

    // do_hypfs_op (common/hypfs.c): get_version takes no arguments.
    private static long HypfsOp(ulong cmd, ulong a2, ulong a3, ulong a4)
    {
        if (cmd != 0) return -ENOSYS;
        return a2 != 0 || a3 != 0 || a4 != 0 ? -EINVAL : 1;
    }

    // do_paging_domctl_cont (x86/mm/paging.c): only a shadow_op continuation of this interface version.
    private long PagingDomctlCont(ulong arg)
    {
        if (!ReadU(arg, 4, out ulong cmd) || !ReadU(arg + 4, 4, out ulong ver)) return -EFAULT;
        return (uint)ver != 0x15 || (uint)cmd != 10 ? -EOPNOTSUPP : -ENOSYS;
    }

    private const long E2BIG = 7, ENODATA = 61, EACCES = 13;

    // ------------------------------------------------------------------ console_io (xen/drivers/char/console.c)

    private long ConsoleIo(ulong cmd, ulong count, ulong buffer)
    {
        if ((uint)cmd == 1) return 0;                 // CONSOLEIO_read: no serial input
        if ((uint)cmd != 0) return -ENOSYS;
        uint left = (uint)count;
        ulong at = buffer;
        var chunk = new byte[128];
        while (left > 0)
        {
            int n = (int)Math.Min(left, 128u);
            if (!ReadLinear(at, chunk.AsSpan(0, n))) return -EFAULT;
            meter.Charge((long)n * SerialConsole.InstructionsPerByte);
            int fits = meter.CountConsole(chunk.AsSpan(0, n));
            if (fits > 0)
            {
                serial.Guest(chunk.AsSpan(0, fits));
                trace.Console(chunk.AsSpan(0, fits));
            }
            if (fits < n) return 0;
            at += (ulong)n;
            left -= (uint)n;
        }
        return 0;
    }

    // ------------------------------------------------------------------ xen_version (xen/common/kernel.c)

    private long XenVersion(ulong cmd, ulong arg)
    {
        switch ((uint)cmd)
        {
            case 0: return (XenIdentity.Major << 16) | XenIdentity.Minor;
            case 1: return CopyString(arg, XenIdentity.ExtraVersion, 16);
            case 2:
            {
                // struct xen_compile_info: compiler[64], compile_by[16], compile_domain[32], compile_date[32]
                var b = new byte[64 + 16 + 32 + 32];
                Encoding.ASCII.GetBytes(XenIdentity.Compiler).CopyTo(b, 0);
                Encoding.ASCII.GetBytes(XenIdentity.CompileBy).CopyTo(b, 64);
                Encoding.ASCII.GetBytes(XenIdentity.CompileDomain).CopyTo(b, 80);
                Encoding.ASCII.GetBytes(XenIdentity.CompileDate).CopyTo(b, 112);
                return WriteLinear(arg, b) ? 0 : -EFAULT;
            }
            case 3: return CopyString(arg, XenIdentity.Capabilities, 1024);
            case 4: return CopyString(arg, XenIdentity.Changeset, 64);
            case 5:
            {
                // An HVM guest of either width gets the 64-bit value (HYPERVISOR_VIRT_START).
                return WriteU(arg, cpu.CodeBits == 64 ? 8 : 4, cpu.CodeBits == 64 ? 0xFFFF_8000_0000_0000 : 0xF580_0000) ? 0 : -EFAULT;
            }
            case 6:
            {
                if (!ReadU(arg, 4, out ulong idx)) return -EFAULT;
                if ((uint)idx != 0) return -EINVAL;
                return WriteU(arg + 4, 4, 0x0001_2B05) ? 0 : -EFAULT;   // measured: PVH dom0 features
            }
            case 7: return MachineMemory.PageSize;
            case 8: return WriteLinear(arg, new byte[16]) ? 0 : -EFAULT;
            case 9: return CopyString(arg, xenCommandLine, 1024);
            case 10:
            {
                var id = Convert.FromHexString(XenIdentity.BuildIdHex);
                if (arg == 0) return id.Length;
                if (!ReadU(arg, 4, out ulong len)) return -EFAULT;
                if ((uint)len == 0) return -EINVAL;
                if ((uint)len < id.Length) return -ENOBUFS;
                return WriteLinear(arg + 4, id) ? id.Length : -EFAULT;
            }
            default: return -ENOSYS;
        }
    }

    private long CopyString(ulong arg, string s, int size)
    {
        var b = new byte[size];
        var src = Encoding.ASCII.GetBytes(s);
        src.AsSpan(0, Math.Min(src.Length, size - 1)).CopyTo(b);
        return WriteLinear(arg, b) ? 0 : -EFAULT;
    }

    // ------------------------------------------------------------------ memory_op (xen/common/memory.c, arch_memory_op)

    private long MemoryOp(ulong cmd, ulong arg)
    {
        bool b64 = cpu.CodeBits == 64;
        switch ((uint)cmd & 0x3F)
        {
            case 0: case 1: case 6:   // XENMEM_{increase,decrease}_reservation, populate_physmap
            {
                ulong start, n, order, dom;
                // do_memory_op: an unreadable struct, no extents or an order above the hardware domain's
                // limit (12) all return the start extent, 0.
                if (b64) { if (!ReadU(arg, 8, out start) || !ReadU(arg + 8, 8, out n) || !ReadU(arg + 16, 4, out order) || !ReadU(arg + 24, 2, out dom)) return 0; }
                else { if (!ReadU(arg, 4, out start) || !ReadU(arg + 4, 4, out n) || !ReadU(arg + 8, 4, out order) || !ReadU(arg + 16, 2, out dom)) return 0; }
                if (n == 0 || order > 12) return 0;
                if ((uint)cmd != 1) return -ENOSYS;
                if ((ushort)dom is not (0 or 0x7FF0)) return -ESRCH();
                if (order != 0) return -EINVAL;   // only single pages are modelled
                int w = b64 ? 8 : 4;
                long done = 0;
                for (ulong i = 0; i < n; i++)
                {
                    if (!ReadU(start + i * (ulong)w, w, out ulong gfn)) return done > 0 ? done : -EFAULT;
                    // guest_remove_page: a gfn that holds no RAM page stops the batch.
                    if (!IsPopulatedRam(gfn)) break;
                    removedGfns.Add(gfn);
                    reservation--;
                    done++;
                }
                return done;
            }
            case 2:   // XENMEM_maximum_ram_page
                return (long)(profile.MachineFrames - 1);
            case 3: case 4: case 14:   // XENMEM_current_reservation, maximum_reservation, maximum_gpfn
            {
                if (!ReadU(arg, 2, out ulong dom)) return -EFAULT;
                if ((ushort)dom is not (0 or 0x7FF0)) return -ESRCH();
                // dom0's max_pages is left unlimited (measured 0xffffffff).
                return (uint)cmd switch { 3 => (long)reservation, 4 => 0xFFFF_FFFF, _ => (long)dom0.MaxGpfn };
            }
            case 7:   // XENMEM_add_to_physmap
            {
                ulong dom, space, idx, gpfn;
                if (!ReadU(arg, 2, out dom) || !ReadU(arg + 4, 4, out space)) return -EFAULT;
                if (b64) { if (!ReadU(arg + 8, 8, out idx) || !ReadU(arg + 16, 8, out gpfn)) return -EFAULT; }
                else { if (!ReadU(arg + 8, 4, out idx) || !ReadU(arg + 12, 4, out gpfn)) return -EFAULT; }
                if ((ushort)dom is not (0 or 0x7FF0)) return -ESRCH();
                if ((uint)space == 1)
                {
                    // XENMAPSPACE_grant_table: frame idx (bit 31: a v2 status frame) below max_grant_frames (64).
                    if ((idx & 0x7FFF_FFFF) >= 64 || gpfn >= memory.FrameCount) return -EINVAL;
                    memory.Fill(gpfn << MachineMemory.PageShift, 0, MachineMemory.PageSize);
                    return 0;
                }
                if ((uint)space is 2 or 3 or 4 or 5) return -ENOSYS;   // gmfn, gmfn_range, foreign, dev: not modelled
                if ((uint)space != 0) return -EINVAL;                  // xenmem_add_to_physmap_one: no such space
                if (idx != 0) return -EINVAL;
                if (gpfn >= memory.FrameCount) return -EINVAL;
                MapSharedInfo(gpfn);
                return 0;
            }
            case 9:   // XENMEM_memory_map
            {
                ulong n, buf;
                if (!ReadU(arg, 4, out n)) return -EFAULT;
                if (!ReadU(arg + (b64 ? 8UL : 4UL), b64 ? 8 : 4, out buf)) return -EFAULT;
                var map = dom0.MemoryMap;
                int count = Math.Min((int)(uint)n, map.Count);
                var b = new byte[20];
                for (int i = 0; i < count; i++)
                {
                    BinaryPrimitives.WriteUInt64LittleEndian(b, map[i].Start);
                    BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(8), map[i].End - map[i].Start);
                    BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(16), map[i].Type);
                    if (!WriteLinear(buf + (ulong)(20 * i), b)) return -EFAULT;
                }
                return WriteU(arg, 4, (ulong)count) ? 0 : -EFAULT;
            }
            case 10:  // XENMEM_machine_memory_map: PV only
                return -ENOSYS;
            default:
                return -ENOSYS;
        }
    }

    private static long ESRCH() => 3;

    /// <summary>Gfns decrease_reservation took out of the p2m (their pages stay readable in the model; docs/hvm.md §5).</summary>
    private readonly SortedSet<ulong> removedGfns = [];

    private bool IsPopulatedRam(ulong gfn)
    {
        if (removedGfns.Contains(gfn) || gfn == sharedInfoGpfn) return false;
        foreach (var e in dom0.MemoryMap)
            if (e.Type == 1 && gfn >= e.Start >> 12 && gfn < e.End >> 12) return true;
        return false;
    }

    private const long ENOSPC = 28, EOPNOTSUPP = 95;

    // ------------------------------------------------------------------ grant_table_op (xen/common/grant_table.c)

    private uint gnttabVersion = 1;

    // hvm_grant_table_op (x86/hvm/hypercall.c) admits eight sub-ops; do_grant_table_op (common/grant_table.c) runs them.
    private long GrantTableOp(ulong cmd, ulong arg, ulong count)
    {
        uint op = (uint)cmd;
        if (op is not (0 or 1 or 2 or 3 or 6 or 8 or 10 or 11)) return -ENOSYS;
        if ((int)(uint)count < 0) return -EINVAL;
        switch (op)
        {
            case 0: case 1: case 11:   // map/unmap/swap_grant_ref: count entries, none modelled
                return count == 0 ? 0 : -ENOSYS;
            case 3:                    // copy
                return count == 0 ? 0 : -ENOSYS;
            case 2:                    // GNTTABOP_setup_table
                if (count != 1) return -EINVAL;
                return -ENOSYS;
            case 6:                    // GNTTABOP_query_size: struct {domid dom; u32 nr_frames, max_nr_frames; i16 status}
            {
                if (count != 1) return -EINVAL;
                if (!ReadU(arg, 2, out ulong dom)) return -EFAULT;
                if ((ushort)dom is not (0 or 0x7FF0))
                    return WriteU(arg + 12, 2, unchecked((ushort)-2)) ? 0 : -EFAULT;   // GNTST_bad_domain
                // nr_grant_frames at boot (measured 1), opt_max_grant_frames (64)
                if (!WriteU(arg + 4, 4, 1) || !WriteU(arg + 8, 4, 64) || !WriteU(arg + 12, 2, 0)) return -EFAULT;
                return 0;
            }
            case 8:                    // GNTTABOP_set_version: the version in force is written back
            {
                if (count != 1) return -EINVAL;
                if (!ReadU(arg, 4, out ulong v)) return -EFAULT;
                long rc = 0;
                if ((uint)v is 1 or 2) gnttabVersion = (uint)v;
                else rc = -EINVAL;
                return WriteU(arg, 4, gnttabVersion) ? rc : -EFAULT;
            }
            default:                   // GNTTABOP_get_version
            {
                if (count != 1) return -EINVAL;
                return WriteU(arg + 4, 4, gnttabVersion) ? 0 : -EFAULT;
            }
        }
    }

    // ------------------------------------------------------------------ vcpu_op (xen/common/domain.c do_vcpu_op)

    private long VcpuOp(ulong cmd, ulong vcpuId, ulong arg)
    {
        if ((uint)vcpuId >= (uint)Math.Max(1, options.Vcpus)) return -ENOENT;
        switch ((uint)cmd)
        {
            case 0: return vcpuId == 0 ? -EEXIST() : -EINVAL;   // VCPUOP_initialise: an HVM context is not taken here
            case 1: return 0;                                     // VCPUOP_up: the vCPU is initialised and up
            case 3: return vcpuId == 0 ? 1 : 0;                   // VCPUOP_is_up
            case 4:                                               // VCPUOP_get_runstate_info
                return WriteLinear(arg, RunstateInfo()) ? 0 : -EFAULT;
            case 5:                                               // VCPUOP_register_runstate_memory_area
            {
                if (!ReadU(arg, 8, out ulong area)) return -EFAULT;
                runstateArea = area;
                _ = WriteLinear(area, RunstateInfo());            // __copy_to_guest, result ignored
                return 0;
            }
            case 6:                                               // VCPUOP_set_periodic_timer
            {
                if (!ReadU(arg, 8, out ulong period)) return -EFAULT;
                if (period < 1_000_000) return -EINVAL;           // MILLISECS(1)
                return 0;
            }
            case 7: return 0;                                     // VCPUOP_stop_periodic_timer
            case 8:                                               // VCPUOP_set_singleshot_timer
            {
                if (!ReadU(arg, 8, out ulong deadline) || !ReadU(arg + 8, 4, out ulong flags)) return -EFAULT;
                if ((flags & 1) != 0 && deadline < clock.Now) return -ETIME;   // VCPU_SSHOTTMR_future
                singleshotDeadline = deadline;
                return 0;
            }
            case 9: singleshotDeadline = null; return 0;          // VCPUOP_stop_singleshot_timer
            case 11: return arg != 0 ? -EINVAL : 0;               // VCPUOP_send_nmi: takes no argument
            case 12:                                              // VCPUOP_get_physid (x86/domain.c): hwdom's pinned vCPU
                return WriteU(arg, 8, 0) ? 0 : -EFAULT;
            default: return -ENOSYS;
        }
    }

    private const long ETIME = 62;
    private ulong? runstateArea;
    private ulong? singleshotDeadline;

    /// <summary>struct vcpu_runstate_info: running (0) since boot, all the time counted as running.</summary>
    private byte[] RunstateInfo()
    {
        var b = new byte[48];
        ulong now = clock.Now;
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(8), now);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(16), now);
        return b;
    }

    // do_set_timer_op (x86/hvm: common/sched/core.c): 0 stops the singleshot timer.
    private long SetTimerOp(ulong deadline)
    {
        singleshotDeadline = deadline == 0 ? null : deadline;
        return 0;
    }

    private static long EEXIST() => 17;

    // ------------------------------------------------------------------ sched_op (xen/common/sched/core.c)

    private long SchedOp(ulong cmd, ulong arg)
    {
        switch ((uint)cmd)
        {
            case 0: return 0;    // yield
            case 1:              // block: nothing wakes the vCPU in this model
                halted = true;
                return 0;
            case 2:              // shutdown
            {
                if (!ReadU(arg, 4, out ulong reason)) return -EFAULT;
                Shutdown((int)(uint)reason);
                return 0;
            }
            default: return -ENOSYS;
        }
    }

    // ------------------------------------------------------------------ hvm_op (xen/arch/x86/hvm/hvm.c)

    private const int HvmNrParams = 39;   // HVM_NR_PARAMS (public/hvm/params.h)

    // hvmop_set_param / hvmop_get_param (xen/arch/x86/hvm/hvm.c): index, domain, then hvm_allow_{set,get}_param.
    private long HvmOp(ulong op, ulong arg)
    {
        if ((uint)op is not (0 or 1)) return -ENOSYS;
        if (!ReadU(arg, 2, out ulong dom) || !ReadU(arg + 4, 4, out ulong index) || !ReadU(arg + 8, 8, out ulong value)) return -EFAULT;
        if ((uint)index >= HvmNrParams) return -EINVAL;
        if ((ushort)dom is not (0 or 0x7FF0)) return -ESRCH();
        uint i = (uint)index;
        if ((uint)op == 0)
        {
            long rc = HvmAllowSetParam(i, value);
            if (rc != 0) return rc;
            // hvm_set_param: the per-parameter value checks of the ones a guest may set.
            if (i == 36 && value is not (0 or 4 or 8)) return -EINVAL;   // X87_FIP_WIDTH
            if (i == 15)   // VM86_TSS lands in VM86_TSS_SIZED with the legacy 128-byte size
            {
                if (value != (uint)value) return -EINVAL;
                if (value != 0) value |= (128UL << 32) | Vm86TssUpdated;
                i = 37;
            }
            else if (i == 37)
            {
                if ((value >> 32) < 104) return -EINVAL;
                ulong max = 104 + 0x100 / 8 + 0x10000 / 8 + 1;
                if ((value >> 32) > max) value = (uint)value | (max << 32);
                value |= Vm86TssUpdated;
            }
            hvmParams[i] = value;
            return 0;
        }
        long g = HvmAllowGetParam(i);
        if (g != 0) return g;
        ulong v = i switch
        {
            14 => 0,                                           // ACPI_S_STATE: not suspended
            15 => (uint)hvmParams[37],
            37 => hvmParams[37] & ~Vm86TssUpdated,
            _ => hvmParams[i],
        };
        return WriteU(arg + 8, 8, v) ? 0 : -EFAULT;
    }

    private const ulong Vm86TssUpdated = 1UL << 31;

    // hvm_allow_set_param (xen/arch/x86/hvm/hvm.c): what a domain may set on itself.
    private long HvmAllowSetParam(uint index, ulong value)
    {
        switch (index)
        {
            case 0: case 15: case 37: case 19: case 34: case 2: case 18: case 36: break;
            case 4: case 13: case 20: case 21: case 22: case 23: case 24: case 25: case 26: case 30: return -EINVAL;
            default: return -EPERM;
        }
        // The "change once" parameters are not reachable by a domain on itself.
        _ = value;
        return 0;
    }

    // hvm_allow_get_param (xen/arch/x86/hvm/hvm.c): what a domain may read of itself.
    private static long HvmAllowGetParam(uint index) => index switch
    {
        0 or 15 or 37 or 19 or 34 or 1 or 2 or 17 or 18 or 35 or 36 => 0,
        4 or 13 or 20 or 21 or 22 or 23 or 24 or 25 or 26 or 30 => -EINVAL,
        _ => -EPERM,
    };
}
