using System.Buffers.Binary;
using System.Text;
using Xtf.Abi;

namespace Xtf.Fuzz;

/// <summary>
/// A pure model of what the fuzz kernel observes: the 2-level event channels (port states,
/// pending and mask words, selectors, upcall flags) and the two vCPUs of dom0 (vCPU 0 running,
/// vCPU 1 never initialised), with Xen 4.17's order of checks as docs/pv-abi.md (§4, §5, §7) gives it.
/// <see cref="Run"/> predicts every record line the kernel prints, byte for byte.
/// </summary>
public sealed class XenModel
{
    public const int Ports = 4096;
    public const int Vcpus = ScriptKernel.Vcpus;
    /// <summary>d->nr_pirqs for dom0 with two CPUs.</summary>
    public const int NrPirqs = 416;
    public const int Pcpus = 2;

    private enum State : byte { Free, Reserved, Unbound, Interdomain, Pirq, Virq, Ipi }

    private struct Port { public State State; public int Notify; public int Remote; public ushort RemoteDom; public int Virq; }

    private readonly Port[] ports = new Port[Ports];
    private readonly ulong[] pending = new ulong[64], mask = new ulong[64];
    private readonly ulong[] shownPending = new ulong[64], shownMask = new ulong[64];
    private readonly ulong[] sel = new ulong[Vcpus];
    private readonly bool[] upcall = new bool[Vcpus];
    private readonly Dictionary<(int Vcpu, int Virq), int> virqs = new();
    private bool pinOverride;
    private byte[] scratch = new byte[ScriptKernel.ScratchBytes];

    public XenModel() => ResetCase();

    /// <summary>The record lines for a batch, in the kernel's numbering (global step index).</summary>
    public static List<string> Run(IReadOnlyList<FuzzCase> cases)
    {
        var m = new XenModel();
        var lines = new List<string>();
        int index = 0;
        foreach (var c in cases)
        {
            m.ResetCase();
            foreach (var s in c.Steps) lines.Add(m.Step(index++, s));
        }
        return lines;
    }

    /// <summary>The record lines of every step but the last (for single-shot cases whose last step ends the domain).</summary>
    public static List<string?> RunPrefix(FuzzCase c)
    {
        var m = new XenModel();
        var lines = new List<string?>();
        for (int i = 0; i < c.Steps.Count - 1; i++) lines.Add(m.Step(i, c.Steps[i]));
        return lines;
    }

    /// <summary>What the kernel's reset leaves: every port closed, all bits clear. Storage for all 4096 ports exists (the kernel grows it at boot).</summary>
    public void ResetCase()
    {
        Array.Clear(ports);
        ports[0].State = State.Reserved;
        Array.Clear(pending); Array.Clear(mask); Array.Clear(shownPending); Array.Clear(shownMask);
        Array.Clear(sel); Array.Clear(upcall);
        virqs.Clear();
        pinOverride = false;
    }

    public string Step(int index, FuzzStep s)
    {
        long rc = 0;
        var prefix = new StringBuilder();
        byte[]? before = null;
        if (s.Kind == StepKind.Hypercall)
        {
            if (s.ZeroBytes > 0) Array.Clear(scratch, 0, s.ZeroBytes);
            var resolved = (byte[])s.Buffer.Clone();
            resolved.CopyTo(scratch, 0);
            before = scratch.AsSpan(0, s.ReportBytes).ToArray();
            var a = new ulong[5];
            for (int i = 0; i < 5; i++) a[i] = s.IsBufferArg(i) ? ScriptKernel.ScratchPointer((int)s.Args[i]) : s.Args[i];
            rc = Hypercall(s.Hypercall, a, prefix);
        }
        else
        {
            int port = (int)(s.Args[0] & 4095);
            ulong bit = 1UL << (port & 63);
            switch (s.Kind)
            {
                case StepKind.MaskPort: mask[port >> 6] |= bit; break;
                case StepKind.ClearMask: mask[port >> 6] &= ~bit; break;
                case StepKind.ClearPending: pending[port >> 6] &= ~bit; break;
            }
        }

        var r = prefix.Append('@').Append(index.ToString("x")).Append(':').Append(rc);
        if (before is not null && before.Length > 0 && !before.AsSpan().SequenceEqual(scratch.AsSpan(0, before.Length)))
            r.Append(" b").Append(Convert.ToHexString(scratch, 0, before.Length).ToLowerInvariant());
        for (int w = 0; w < 64; w++)
            if (pending[w] != shownPending[w]) { r.Append($" p{w:x}={pending[w]:x}"); shownPending[w] = pending[w]; }
        for (int w = 0; w < 64; w++)
            if (mask[w] != shownMask[w]) { r.Append($" m{w:x}={mask[w]:x}"); shownMask[w] = mask[w]; }
        for (int v = 0; v < Vcpus; v++)
        {
            if (sel[v] != 0) r.Append($" s{v}={sel[v]:x}");
            if (upcall[v]) r.Append($" u{v}");
            sel[v] = 0;
            upcall[v] = false;
        }
        return r.ToString();
    }

    // ------------------------------------------------------------ guest memory as the model sees it

    /// <summary>Only the scratch buffer is readable and writable; every other pointer the generators make faults.</summary>
    private Span<byte> Guest(ulong address, int length)
    {
        if (!ScriptKernel.IsScratchPointer(address)) return default;
        int offset = (int)(address - ScriptKernel.ScratchToken);
        return offset + length <= scratch.Length ? scratch.AsSpan(offset, length) : default;
    }

    private bool Readable(ulong address, int length) => length == 0 || Guest(address, length).Length == length;

    private static uint U32(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b[at..]);
    private static ulong U64(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt64LittleEndian(b[at..]);

    private long Hypercall(int nr, ulong[] a, StringBuilder console) => nr switch
    {
        (int)Abi.Hypercall.EventChannelOp => EvtchnOp((int)a[0], a[1]),
        (int)Abi.Hypercall.VcpuOp => VcpuOp((int)a[0], (uint)a[1], a[2]),
        (int)Abi.Hypercall.SchedOp => SchedOp((int)a[0], a[1]),
        (int)Abi.Hypercall.ConsoleIo => ConsoleIo((uint)a[0], (uint)a[1], a[2], console),
        (int)Abi.Hypercall.XenVersion => XenVersion((int)a[0], a[1]),
        _ => throw new NotSupportedException($"the model does not cover hypercall {nr}"),
    };

    // ------------------------------------------------------------ event channels (docs/pv-abi.md §7)

    private bool Valid(long port) => port >= 0 && port < Ports;
    private bool Usable(long port) => Valid(port) && ports[port].State > State.Reserved;
    private bool IsPending(int port) => (pending[port >> 6] & (1UL << (port & 63))) != 0;
    private bool IsMasked(int port) => (mask[port >> 6] & (1UL << (port & 63))) != 0;

    private int Allocate()
    {
        for (int p = 1; p < Ports; p++) if (ports[p].State == State.Free) return p;
        return -Errno.ENOSPC;
    }

    private void SetPending(int port, int vcpu)
    {
        if (IsPending(port)) return;
        pending[port >> 6] |= 1UL << (port & 63);
        if (!IsMasked(port)) MarkSelector(vcpu, port >> 6);
    }

    private void MarkSelector(int vcpu, int word)
    {
        if ((sel[vcpu] & (1UL << word)) != 0) return;
        sel[vcpu] |= 1UL << word;
        upcall[vcpu] = true;
    }

    private long EvtchnOp(int cmd, ulong arg)
    {
        int size = cmd switch
        {
            (int)Abi.EvtchnOp.BindInterdomain => 12, (int)Abi.EvtchnOp.BindVirq => 12, (int)Abi.EvtchnOp.BindPirq => 12,
            (int)Abi.EvtchnOp.Close => 4, (int)Abi.EvtchnOp.Send => 4, (int)Abi.EvtchnOp.Status => 24,
            (int)Abi.EvtchnOp.AllocUnbound => 8, (int)Abi.EvtchnOp.BindIpi => 8, (int)Abi.EvtchnOp.BindVcpu => 8,
            (int)Abi.EvtchnOp.Unmask => 4, (int)Abi.EvtchnOp.Reset => 2, (int)Abi.EvtchnOp.SetPriority => 8,
            _ => -1,
        };
        if (size < 0) return -Errno.ENOSYS;
        var b = Guest(arg, size);
        if (b.Length != size) return -Errno.EFAULT;
        switch (cmd)
        {
            case (int)Abi.EvtchnOp.AllocUnbound:
            {
                if (!SelfDomain(BinaryPrimitives.ReadUInt16LittleEndian(b))) return -Errno.ESRCH;
                ushort remoteDom = BinaryPrimitives.ReadUInt16LittleEndian(b[2..]);
                int p = Allocate();
                if (p < 0) return p;
                // The remote domain is stored as given (DOMID_SELF becomes 0); Xen does not check it exists.
                ports[p] = new Port { State = State.Unbound, RemoteDom = remoteDom == DomId.Self ? (ushort)0 : remoteDom };
                BinaryPrimitives.WriteUInt32LittleEndian(b[4..], (uint)p);
                return 0;
            }
            case (int)Abi.EvtchnOp.BindInterdomain:
            {
                if (!SelfDomain(BinaryPrimitives.ReadUInt16LittleEndian(b))) return -Errno.ESRCH;
                int local = Allocate();
                if (local < 0) return local;
                uint remote = U32(b, 4);
                if (!Valid(remote) || ports[remote].State != State.Unbound || ports[remote].RemoteDom != 0) return -Errno.EINVAL;
                ports[local] = new Port { State = State.Interdomain, Remote = (int)remote };
                ports[remote].State = State.Interdomain;
                ports[remote].Remote = local;
                SetPending(local, 0);
                BinaryPrimitives.WriteUInt32LittleEndian(b[8..], (uint)local);
                return 0;
            }
            case (int)Abi.EvtchnOp.BindVirq:
            {
                int virq = (int)U32(b, 0);
                uint vcpu = U32(b, 4);
                if (virq is < 0 or >= VirqClass.Count) return -Errno.EINVAL;
                if (!VirqClass.IsPerVcpu(virq) && vcpu != 0) return -Errno.EINVAL;
                if (vcpu >= Vcpus) return -Errno.ENOENT;
                if (virqs.ContainsKey(((int)vcpu, virq))) return -Errno.EEXIST;
                int p = Allocate();
                if (p < 0) return p;
                ports[p] = new Port { State = State.Virq, Notify = (int)vcpu, Virq = virq };
                virqs[((int)vcpu, virq)] = p;
                BinaryPrimitives.WriteUInt32LittleEndian(b[8..], (uint)p);
                return 0;
            }
            case (int)Abi.EvtchnOp.BindPirq:
                return U32(b, 0) >= NrPirqs ? -Errno.EINVAL : -Errno.EPERM;
            case (int)Abi.EvtchnOp.Close:
            {
                uint port = U32(b, 0);
                if (!Valid(port)) return -Errno.EINVAL;
                ref var p = ref ports[port];
                if (p.State is State.Free or State.Reserved) return -Errno.EINVAL;
                if (p.State == State.Virq) virqs.Remove((VirqClass.IsPerVcpu(p.Virq) ? p.Notify : 0, p.Virq));
                if (p.State == State.Interdomain)
                {
                    ref var other = ref ports[p.Remote];
                    if (other.State == State.Interdomain && other.Remote == (int)port) { other.State = State.Unbound; other.Remote = 0; other.RemoteDom = 0; }
                }
                pending[port >> 6] &= ~(1UL << (int)(port & 63));
                p = default;
                return 0;
            }
            case (int)Abi.EvtchnOp.Send:
            {
                uint port = U32(b, 0);
                if (!Valid(port)) return -Errno.EINVAL;
                var p = ports[port];
                switch (p.State)
                {
                    case State.Interdomain: SetPending(p.Remote, ports[p.Remote].Notify); return 0;
                    case State.Ipi: SetPending((int)port, p.Notify); return 0;
                    case State.Unbound: return 0;
                    default: return -Errno.EINVAL;
                }
            }
            case (int)Abi.EvtchnOp.Status:
            {
                if (!SelfDomain(BinaryPrimitives.ReadUInt16LittleEndian(b))) return -Errno.ESRCH;
                uint port = U32(b, 4);
                if (!Valid(port)) return -Errno.EINVAL;
                var p = ports[port];
                EvtchnStatus status;
                switch (p.State)
                {
                    case State.Free or State.Reserved: status = EvtchnStatus.Closed; break;
                    case State.Unbound:
                        status = EvtchnStatus.Unbound;
                        BinaryPrimitives.WriteUInt16LittleEndian(b[16..], p.RemoteDom);
                        break;
                    case State.Interdomain:
                        status = EvtchnStatus.Interdomain;
                        BinaryPrimitives.WriteUInt16LittleEndian(b[16..], 0);
                        BinaryPrimitives.WriteUInt32LittleEndian(b[20..], (uint)p.Remote);
                        break;
                    case State.Virq:
                        status = EvtchnStatus.Virq;
                        BinaryPrimitives.WriteUInt32LittleEndian(b[16..], (uint)p.Virq);
                        break;
                    default: status = EvtchnStatus.Ipi; break;
                }
                BinaryPrimitives.WriteUInt32LittleEndian(b[8..], (uint)status);
                BinaryPrimitives.WriteUInt32LittleEndian(b[12..], (uint)p.Notify);
                return 0;
            }
            case (int)Abi.EvtchnOp.BindIpi:
            {
                uint vcpu = U32(b, 0);
                if (vcpu >= Vcpus) return -Errno.ENOENT;
                int p = Allocate();
                if (p < 0) return p;
                ports[p] = new Port { State = State.Ipi, Notify = (int)vcpu };
                BinaryPrimitives.WriteUInt32LittleEndian(b[4..], (uint)p);
                return 0;
            }
            case (int)Abi.EvtchnOp.BindVcpu:
            {
                uint port = U32(b, 0), vcpu = U32(b, 4);
                if (vcpu >= Vcpus) return -Errno.ENOENT;
                if (!Valid(port)) return -Errno.EINVAL;
                ref var p = ref ports[port];
                if (p.State == State.Virq && VirqClass.IsPerVcpu(p.Virq)) return -Errno.EINVAL;
                if (p.State is State.Virq or State.Unbound or State.Interdomain) { p.Notify = (int)vcpu; return 0; }
                return -Errno.EINVAL;
            }
            case (int)Abi.EvtchnOp.Unmask:
            {
                uint port = U32(b, 0);
                if (!Valid(port)) return -Errno.EINVAL;
                if (!Usable(port)) return 0;
                bool was = IsMasked((int)port);
                mask[port >> 6] &= ~(1UL << (int)(port & 63));
                if (was && IsPending((int)port)) MarkSelector(ports[port].Notify, (int)port >> 6);
                return 0;
            }
            case (int)Abi.EvtchnOp.Reset:
            {
                if (!SelfDomain(BinaryPrimitives.ReadUInt16LittleEndian(b))) return -Errno.ESRCH;
                for (int p = 1; p < Ports; p++)
                    if (ports[p].State > State.Reserved) { pending[p >> 6] &= ~(1UL << (p & 63)); ports[p] = default; }
                virqs.Clear();
                return 0;
            }
            case (int)Abi.EvtchnOp.SetPriority:
                return !Valid(U32(b, 0)) ? -Errno.EINVAL : -Errno.ENOSYS;
            default:
                return -Errno.ENOSYS;
        }
    }

    private static bool SelfDomain(ushort dom) => dom == DomId.Self || dom == 0;

    // ------------------------------------------------------------ vcpu_op (docs/pv-abi.md §4): vCPU 0 runs, vCPU 1 was never initialised

    private long VcpuOp(int cmd, uint vcpu, ulong arg)
    {
        if (vcpu >= Vcpus) return -Errno.ENOENT;
        bool self = vcpu == 0;
        switch (cmd)
        {
            case (int)Abi.VcpuOp.SendNmi: return arg != 0 ? -Errno.EINVAL : 0;
            case (int)Abi.VcpuOp.GetPhysid:
                // Only a vCPU pinned to one pCPU (2 pCPUs here: only through SCHEDOP_pin_override, which pins the caller).
                // phys_id comes from the vCPU id: 0 for vCPU 0 (measured on real Xen).
                if (!(self && pinOverride)) return -Errno.EINVAL;
                return Write(arg, [], 8);
            case (int)Abi.VcpuOp.RegisterVcpuTimeMemoryArea:
            case (int)Abi.VcpuOp.RegisterRunstateMemoryArea:
            {
                var b = Guest(arg, 8);
                if (b.Length != 8) return -Errno.EFAULT;
                return AccessOk(U64(b, 0)) ? 0 : -Errno.EFAULT;
            }
            case (int)Abi.VcpuOp.Initialise:
                if (!Readable(arg, VcpuGuestContext.Layout.Size)) return -Errno.EFAULT;
                return self ? -Errno.EEXIST : -Errno.EINVAL;             // generated contexts never pass the checks
            case (int)Abi.VcpuOp.Up: return self ? 0 : -Errno.EINVAL;
            case (int)Abi.VcpuOp.Down: return self ? throw new NotSupportedException("VCPUOP_down on vCPU 0 ends the domain") : 0;
            case (int)Abi.VcpuOp.IsUp: return self ? 1 : 0;
            case (int)Abi.VcpuOp.GetRunstateInfo:
            {
                var b = Guest(arg, VcpuRunstateInfo.Layout.Size);
                if (b.Length != VcpuRunstateInfo.Layout.Size) return -Errno.EFAULT;
                // Only the state is reported (times differ between hosts); report=4 covers it.
                BinaryPrimitives.WriteInt32LittleEndian(b, self ? (int)RunState.Running : (int)RunState.Offline);
                return 0;
            }
            case (int)Abi.VcpuOp.SetPeriodicTimer:
            {
                var b = Guest(arg, 8);
                if (b.Length != 8) return -Errno.EFAULT;
                ulong period = U64(b, 0);
                return period < 1_000_000 || period > 0x3FFF_FFFF_FFFF_FFFF ? -Errno.EINVAL : 0;
            }
            case (int)Abi.VcpuOp.StopPeriodicTimer: return 0;
            case (int)Abi.VcpuOp.SetSingleshotTimer:
                if (!self) return -Errno.EINVAL;
                return Readable(arg, VcpuSetSingleshotTimer.Layout.Size) ? 0 : -Errno.EFAULT;
            case (int)Abi.VcpuOp.StopSingleshotTimer: return self ? 0 : -Errno.EINVAL;
            case (int)Abi.VcpuOp.RegisterVcpuInfo:
            {
                var b = Guest(arg, VcpuRegisterVcpuInfo.Layout.Size);
                if (b.Length != VcpuRegisterVcpuInfo.Layout.Size) return -Errno.EFAULT;
                uint offset = U32(b, VcpuRegisterVcpuInfo.Layout.Offset);
                if (offset > 4096 - 64 || offset % 8 != 0) return -Errno.ENXIO;
                return -Errno.EINVAL;                                     // generated frames are never the guest's own
            }
            default: return -Errno.ENOSYS;
        }
    }

    private static bool AccessOk(ulong va) => ScriptKernel.IsScratchPointer(va) || va < 0x0000_8000_0000_0000 || va >= 0xFFFF_8800_0000_0000;

    // ------------------------------------------------------------ sched_op (docs/pv-abi.md §5): yield, poll, pin_override

    private long SchedOp(int cmd, ulong arg)
    {
        switch (cmd)
        {
            case (int)Abi.SchedOp.Yield: return 0;
            case (int)Abi.SchedOp.Poll:
            {
                var b = Guest(arg, SchedPoll.Layout.Size);
                if (b.Length != SchedPoll.Layout.Size) return -Errno.EFAULT;
                ulong list = U64(b, SchedPoll.Layout.Ports);
                uint count = U32(b, SchedPoll.Layout.NrPorts);
                if (count > 128) return -Errno.EINVAL;
                if (!AccessOk(list)) return -Errno.EFAULT;
                for (uint i = 0; i < count; i++)
                {
                    var p = Guest(list + 4 * i, 4);
                    if (p.Length != 4) return -Errno.EFAULT;
                    uint port = U32(p, 0);
                    if (!Usable(port)) return -Errno.EINVAL;
                    if (IsPending((int)port)) return 0;
                }
                return 0;                                                 // generated timeouts are in the past
            }
            case (int)Abi.SchedOp.PinOverride:
            {
                var b = Guest(arg, 4);
                if (b.Length != 4) return -Errno.EFAULT;
                int pcpu = BinaryPrimitives.ReadInt32LittleEndian(b);
                if (pcpu >= 256) return -Errno.EINVAL;
                if (pcpu < 0)
                {
                    if (!pinOverride) return -Errno.EINVAL;
                    pinOverride = false;
                    return 0;
                }
                if (pcpu >= Pcpus) return -Errno.EINVAL;
                if (pinOverride) return -Errno.EBUSY;
                pinOverride = true;
                return 0;
            }
            case >= 8 or < 0: return -Errno.ENOSYS;
            default: throw new NotSupportedException($"SCHEDOP {cmd} is not in the model (it blocks or ends the domain)");
        }
    }

    // ------------------------------------------------------------ console_io (docs/pv-abi.md §8), xen_version (docs/pv-abi.md §9)

    private long ConsoleIo(uint cmd, uint count, ulong buffer, StringBuilder console)
    {
        switch (cmd)
        {
            case (uint)Abi.ConsoleIo.Write:
            {
                if (count == 0) return 0;
                int first = (int)Math.Min(count, 127u);
                if (!Readable(buffer, first)) return -Errno.EFAULT;
                if (!Readable(buffer, (int)Math.Min(count, 4096u)) || count > 4096) throw new NotSupportedException("console writes stay inside the scratch buffer");
                console.Append(Encoding.Latin1.GetString(Guest(buffer, (int)count)));
                return 0;
            }
            case (uint)Abi.ConsoleIo.Read: return count > int.MaxValue ? -Errno.E2BIG : 0;
            default: return -Errno.ENOSYS;
        }
    }

    /// <summary>XENVER_get_features submap 0 for this dom0: the 64-bit PV base set, dom0 (bit 11) and pae_pgdir_above_4gb (bit 4, from the kernel's features note; measured on real Xen: 0x000228f0).</summary>
    public const uint Features = 0x000220E0 | (1u << 11) | (1u << 4);

    private long XenVersion(int cmd, ulong arg)
    {
        switch (cmd)
        {
            case (int)XenVer.Version: return (4 << 16) | 17;
            case (int)XenVer.Extraversion: return Write(arg, Encoding.ASCII.GetBytes(".7"), 16);
            case (int)XenVer.Pagesize: return arg != 0 ? -Errno.EINVAL : 4096;
            case (int)XenVer.PlatformParameters: return Write(arg, BitConverter.GetBytes(0xFFFF_8000_0000_0000UL), 8);
            case (int)XenVer.GuestHandle: return Write(arg, [], 16);
            case (int)XenVer.GetFeatures:
            {
                var b = Guest(arg, 8);
                if (b.Length != 8) return -Errno.EFAULT;
                if (U32(b, 0) != 0) return -Errno.EINVAL;
                BinaryPrimitives.WriteUInt32LittleEndian(b[4..], Features);
                return 0;
            }
            case >= 0 and <= 10: throw new NotSupportedException($"XENVER {cmd} is not in the model");
            default: return -Errno.ENOSYS;
        }
    }

    private long Write(ulong arg, byte[] text, int size)
    {
        var b = Guest(arg, size);
        if (b.Length != size) return -Errno.EFAULT;
        b.Clear();
        text.CopyTo(b);
        return 0;
    }
}
