using System.Buffers.Binary;
using Xtf.Sim.Memory;

namespace Xtf.Sim.Hvm;

// Event channels of the PVH dom0 (xen/common/event_channel.c, the 2-level ABI of event_2l.c), shared_info
// placement (xen/arch/x86/mm.c xenmem_add_to_physmap_one) and the upcall through HVM_PARAM_CALLBACK_IRQ's
// vector type (xen/arch/x86/hvm/irq.c hvm_vcpu_has_pending_irq: the vector is due while upcall_pending is set).
internal sealed partial class HvmMachine
{
    private const int NrVirqs = 24, VirqTimer = 0;
    private const int SiPending = 0x800, SiMask = 0xA00, SiWcVersion = 0xC00;

    private enum PortState { Unbound = 1, Virq = 4, Ipi = 5 }

    private readonly record struct Channel(PortState State, uint Vcpu, uint Virq, ushort Remote);

    /// <summary>Allocated ports (2-level ABI); port 0 is reserved.</summary>
    private readonly SortedDictionary<uint, Channel> ports = [];

    /// <summary>shared_info while the guest has not placed it in its physmap (Xen's own page).</summary>
    private byte[]? sharedPage;

    private byte[] SharedPage()
    {
        if (sharedPage is null)
        {
            // The domain's shared_info at creation: wc_version 4 and the wallclock (measured), upcall_mask 0 (HVM).
            sharedPage = new byte[MachineMemory.PageSize];
            BinaryPrimitives.WriteUInt32LittleEndian(sharedPage.AsSpan(SiWcVersion), 4);
            BinaryPrimitives.WriteUInt32LittleEndian(sharedPage.AsSpan(SiWcVersion + 4), (uint)profile.WallclockSec);
            BinaryPrimitives.WriteUInt32LittleEndian(sharedPage.AsSpan(SiWcVersion + 8), profile.WallclockNsec);
        }
        return sharedPage;
    }

    /// <summary>The shared_info page wherever it is now: the guest's frame once mapped.</summary>
    private Span<byte> SharedInfo() =>
        sharedInfoGpfn is { } g ? memory.Span(g << MachineMemory.PageShift, MachineMemory.PageSize) : SharedPage();

    // xenmem_add_to_physmap_one (XENMAPSPACE_shared_info): the RAM page at gpfn is freed, the old gfn is left empty.
    private void MapSharedInfo(ulong gpfn)
    {
        if (gpfn == sharedInfoGpfn) return;
        var contents = SharedInfo().ToArray();
        if (IsPopulatedRam(gpfn)) reservation--;
        if (sharedInfoGpfn is { } old)
        {
            removedGfns.Add(old);
            memory.Fill(old << MachineMemory.PageShift, 0xFF, MachineMemory.PageSize);   // an empty gfn reads all ones
        }
        sharedInfoGpfn = gpfn;
        sharedPage = null;
        memory.Write(gpfn << MachineMemory.PageShift, contents);
    }

    // evtchn_set_pending (event_2l.c) then vcpu_mark_events_pending.
    private void SetPending(uint port)
    {
        var si = SharedInfo();
        int word = SiPending + (int)(port / 64) * 8;
        ulong bit = 1UL << (int)(port % 64);
        ulong w = BinaryPrimitives.ReadUInt64LittleEndian(si[word..]);
        if ((w & bit) != 0) return;
        BinaryPrimitives.WriteUInt64LittleEndian(si[word..], w | bit);
        ulong mask = BinaryPrimitives.ReadUInt64LittleEndian(si[(SiMask + (int)(port / 64) * 8)..]);
        if ((mask & bit) != 0) return;
        ulong sel = BinaryPrimitives.ReadUInt64LittleEndian(si[8..]);
        ulong sbit = 1UL << (int)(port / 64);
        if ((sel & sbit) != 0) return;
        BinaryPrimitives.WriteUInt64LittleEndian(si[8..], sel | sbit);
        si[0] = 1;   // evtchn_upcall_pending
        if (sharedInfoGpfn is { } g) memory.NoteWrite(g);
    }

    private void ClearPending(uint port)
    {
        var si = SharedInfo();
        int word = SiPending + (int)(port / 64) * 8;
        ulong w = BinaryPrimitives.ReadUInt64LittleEndian(si[word..]);
        BinaryPrimitives.WriteUInt64LittleEndian(si[word..], w & ~(1UL << (int)(port % 64)));
        if (sharedInfoGpfn is { } g) memory.NoteWrite(g);
    }

    private long FreePort(out uint port)
    {
        // get_free_port: the 2-level limit follows the shared_info width the guest latched (32-bit: 1024).
        uint max = cpu.CodeBits == 64 ? 4096u : 1024u;
        port = 1;
        while (ports.ContainsKey(port)) port++;
        return port >= max ? -ENOSPC : 0;
    }

    // do_event_channel_op (xen/common/event_channel.c)
    private long EventChannelOp(ulong cmd, ulong arg)
    {
        switch ((uint)cmd)
        {
            case 0:   // EVTCHNOP_bind_interdomain: the remote domain is looked up first
            {
                if (!ReadU(arg, 2, out ulong rdom)) return -EFAULT;
                if ((ushort)rdom is not (0 or 0x7FF0)) return -ESRCH();
                return -ENOSYS;   // loopback channels are not modelled
            }
            case 1:   // EVTCHNOP_bind_virq
            {
                if (!ReadU(arg, 4, out ulong virq) || !ReadU(arg + 4, 4, out ulong vcpu)) return -EFAULT;
                if ((uint)virq >= NrVirqs) return -EINVAL;
                if ((uint)vcpu >= (uint)Math.Max(1, options.Vcpus)) return -ENOENT;
                foreach (var c in ports.Values)
                    if (c.State == PortState.Virq && c.Virq == (uint)virq && c.Vcpu == (uint)vcpu) return -EEXIST();
                long rc = FreePort(out uint port);
                if (rc != 0) return rc;
                ports[port] = new Channel(PortState.Virq, (uint)vcpu, (uint)virq, 0);
                return WriteU(arg + 8, 4, port) ? 0 : -EFAULT;
            }
            case 3:   // EVTCHNOP_close
            {
                if (!ReadU(arg, 4, out ulong p)) return -EFAULT;
                if (!ports.Remove((uint)p)) return -EINVAL;
                ClearPending((uint)p);
                return 0;
            }
            case 4:   // EVTCHNOP_send
            {
                if (!ReadU(arg, 4, out ulong p)) return -EFAULT;
                if (!ports.TryGetValue((uint)p, out var c)) return -EINVAL;
                if (c.State is PortState.Ipi) SetPending((uint)p);
                else if (c.State is PortState.Virq) return -EINVAL;
                return 0;   // an unbound port drops the event
            }
            case 5:   // EVTCHNOP_status: {domid dom; port; status; vcpu; union}
            {
                if (!ReadU(arg, 2, out ulong dom) || !ReadU(arg + 4, 4, out ulong p)) return -EFAULT;
                if ((ushort)dom is not (0 or 0x7FF0)) return -ESRCH();
                uint max = cpu.CodeBits == 64 ? 4096u : 1024u;
                if ((uint)p >= max) return -EINVAL;
                uint status = 0, vcpu = 0, u = 0;
                if (ports.TryGetValue((uint)p, out var c))
                {
                    status = (uint)c.State;
                    vcpu = c.Vcpu;
                    u = c.State == PortState.Virq ? c.Virq : c.State == PortState.Unbound ? c.Remote : 0u;
                }
                return WriteU(arg + 8, 4, status) && WriteU(arg + 12, 4, vcpu) && WriteU(arg + 16, 4, u) ? 0 : -EFAULT;
            }
            case 6:   // EVTCHNOP_alloc_unbound
            {
                if (!ReadU(arg, 2, out ulong dom) || !ReadU(arg + 2, 2, out ulong remote)) return -EFAULT;
                if ((ushort)dom is not (0 or 0x7FF0)) return -ESRCH();
                long rc = FreePort(out uint port);
                if (rc != 0) return rc;
                ports[port] = new Channel(PortState.Unbound, 0, 0, (ushort)((ushort)remote == 0x7FF0 ? 0 : remote));
                return WriteU(arg + 4, 4, port) ? 0 : -EFAULT;
            }
            case 7:   // EVTCHNOP_bind_ipi
            {
                if (!ReadU(arg, 4, out ulong vcpu)) return -EFAULT;
                if ((uint)vcpu >= (uint)Math.Max(1, options.Vcpus)) return -ENOENT;
                long rc = FreePort(out uint port);
                if (rc != 0) return rc;
                ports[port] = new Channel(PortState.Ipi, (uint)vcpu, 0, 0);
                return WriteU(arg + 4, 4, port) ? 0 : -EFAULT;
            }
            case 11:  // EVTCHNOP_init_control: the control block's gfn must be RAM
            {
                if (!ReadU(arg, 8, out ulong gfn)) return -EFAULT;
                if (!IsPopulatedRam(gfn)) return -EINVAL;
                return -ENOSYS;   // the FIFO ABI is not modelled
            }
            case 12:  // EVTCHNOP_expand_array: FIFO not initialised
                return -EOPNOTSUPP;
            default:
                return -ENOSYS;
        }
    }

    /// <summary>send_guest_vcpu_virq: a VIRQ bound on the vCPU sets its port pending.</summary>
    private void SendVirq(uint virq)
    {
        foreach (var (port, c) in ports)
            if (c.State == PortState.Virq && c.Virq == virq) { SetPending(port); return; }
    }

    /// <summary>STI's interrupt shadow: the next instruction runs before an interrupt is taken.</summary>
    private bool stiShadow;

    /// <summary>
    /// Between interpreter runs: a due singleshot timer fires (VIRQ_TIMER); with HVM_PARAM_CALLBACK_IRQ of the
    /// vector type, upcall_pending set and IF on, the vector is injected as an external interrupt, waking a halted vCPU.
    /// </summary>
    private void PendingEvents()
    {
        if (singleshotDeadline is { } d && d <= clock.Now)
        {
            singleshotDeadline = null;
            SendVirq(VirqTimer);
        }
        ulong via = hvmParams[0];
        if ((via >> 56) != 2 || stiShadow) return;
        if ((cpu.FlagsRest & Cpu.CpuState.FlagIf) == 0 || SharedInfo()[0] == 0) return;
        halted = false;
        Inject((int)(via & 0xFF), null, false);
    }

    /// <summary>A halted vCPU with a timer armed: time passes to the deadline.</summary>
    private bool WakeAtTimer()
    {
        if (singleshotDeadline is not { } d) return false;
        if (d > clock.Now) clock.AdvanceTo(d);
        PendingEvents();
        return !halted;
    }
}
