using System.Buffers.Binary;
using System.Text;
using Xtf.Abi;
using Xtf.Sim.Cpu;
using Xtf.Sim.Memory;

namespace Xtf.Sim.Xen;

/// <summary>
/// The hypervisor model: Xen 4.17's guest-visible behaviour for a 64-bit PV dom0. Each handler
/// keeps Xen's order of checks and names the Xen source file it mirrors.
/// </summary>
public sealed partial class Hypervisor
{
    public const ulong HypervisorVirtStart = 0xFFFF_8000_0000_0000;
    public const ulong HypervisorVirtEnd = 0xFFFF_8800_0000_0000;
    private const int MaxMulticallEntries = 4096;

    private readonly X86Interpreter cpu;
    private bool inMulticall;

    public Hypervisor(Domain domain, X86Interpreter interpreter, VirtualClock clock, SerialLog serial, SimTrace trace, string xenCommandLine)
    {
        Domain = domain;
        cpu = interpreter;
        Clock = clock;
        Serial = serial;
        Trace = trace;
        XenCommandLine = xenCommandLine;
    }

    public Domain Domain { get; }
    public VirtualClock Clock { get; }
    public SerialLog Serial { get; }
    public SimTrace Trace { get; }
    public string XenCommandLine { get; }
    public MachineMemory Memory => Domain.Memory;

    /// <summary>Set by handlers that change who may run (block, down, shutdown, yield).</summary>
    public bool Reschedule { get; set; }

    /// <summary>The first hypercall number Xen 4.17 x86 assigns nothing to (48 mca and 49 paging_domctl_cont are the last).</summary>
    public const ulong FirstUnassignedHypercall = 50;

    /// <summary>What a debug Xen writes into the argument registers of a hypercall (CONFIG_DEBUG, pv/hypercall.c).</summary>
    public const ulong ArgumentPoison = 0xDEAD_BEEF_DEAD_F00D;

    /// <summary>Test hook (<see cref="SimOptions.ForeignHypercall"/>): results for unassigned numbers.</summary>
    public Func<ulong, ulong[], long?>? ForeignHypercall { get; init; }

    /// <summary>Test hook (<see cref="SimOptions.PoisonHypercallArguments"/>).</summary>
    public bool PoisonHypercallArguments { get; init; }

    /// <summary>Test hook (<see cref="SimOptions.LogHypercalls"/>): receives every hypercall, multicall entries included.</summary>
    public List<HypercallRecord>? HypercallLog { get; init; }

    // ------------------------------------------------------------ hypercall entry (xen/arch/x86/pv/hypercall.c)

    /// <summary>A syscall from guest kernel mode: a hypercall with rax = number, args in rdi, rsi, rdx, r10, r8.</summary>
    public void OnSyscall(Vcpu v)
    {
        var c = v.Cpu;
        ulong nr = c[Reg.Rax];
        ulong a1 = c[Reg.Rdi], a2 = c[Reg.Rsi], a3 = c[Reg.Rdx], a4 = c[Reg.R10], a5 = c[Reg.R8];
        Observer?.BeforeHypercall(View, new HypercallEvent(v.Id, nr, a1, a2, a3, a4, a5, null));
        long? rc = Dispatch(v, nr, a1, a2, a3, a4, a5);
        Trace.Hypercall(v.Id, nr, a1, a2, a3, rc);
        Observer?.AfterHypercall(View, new HypercallEvent(v.Id, nr, a1, a2, a3, a4, a5, rc));
        HypercallLog?.Add(new HypercallRecord(v.Id, nr, [a1, a2, a3, a4, a5], rc));
        if (rc is { } value)
        {
            c[Reg.Rax] = unchecked((ulong)value);
            // A debug Xen clobbers the unused argument registers before the call and the used ones
            // after it (unless continued): on return, all five hold the poison.
            if (PoisonHypercallArguments)
                foreach (var r in (ReadOnlySpan<Reg>)[Reg.Rdi, Reg.Rsi, Reg.Rdx, Reg.R10, Reg.R8]) c[r] = ArgumentPoison;
        }
    }

    /// <summary>Runs one hypercall; null when the handler set the registers itself (iret) or never returns.</summary>
    private long? Dispatch(Vcpu v, ulong nr, ulong a1, ulong a2, ulong a3, ulong a4, ulong a5)
    {
        if (Interposer is not { } interposer) return Handle(v, nr, a1, a2, a3, a4, a5);
        var call = new HypercallEvent(v.Id, nr, a1, a2, a3, a4, a5, null);
        long? rc = interposer.TryAnswer(Control, call, out long answer) ? answer : Handle(v, nr, a1, a2, a3, a4, a5);
        interposer.AfterHandler(Control, call with { Rc = rc });
        return rc;
    }

    /// <summary>The hypercall table (pv/hypercall.c's pv_hypercall_table): the handler for each number.</summary>
    private long? Handle(Vcpu v, ulong nr, ulong a1, ulong a2, ulong a3, ulong a4, ulong a5) => nr switch
    {
        (ulong)Hypercall.SetTrapTable => SetTrapTable(v, a1),
        (ulong)Hypercall.MmuUpdate => MmuUpdate(v, a1, (uint)a2, a3, (uint)a4),
        (ulong)Hypercall.SetCallbacks => SetCallbacks(v, a1, a2, a3),
        (ulong)Hypercall.SchedOpCompat => SchedOpCompat(v, (int)a1, a2),
        (ulong)Hypercall.MemoryOp => MemoryOp(v, a1, a2),
        (ulong)Hypercall.Multicall => Multicall(v, a1, (uint)a2),
        (ulong)Hypercall.UpdateVaMapping => UpdateVaMapping(v, a1, a2, a3),
        (ulong)Hypercall.SetTimerOp => SetTimerOp(v, unchecked((long)a1)),
        (ulong)Hypercall.EventChannelOpCompat => EventChannelOpCompat(v, a1),
        (ulong)Hypercall.XenVersion => XenVersion(v, (int)a1, a2),
        (ulong)Hypercall.ConsoleIo => ConsoleIo(v, (uint)a1, (uint)a2, a3),
        (ulong)Hypercall.VmAssist => VmAssist((uint)a1, (uint)a2),
        (ulong)Hypercall.Iret => Iret(v),
        (ulong)Hypercall.VcpuOp => VcpuOp(v, (int)a1, (uint)a2, a3),
        (ulong)Hypercall.SchedOp => SchedOp(v, (int)a1, a2),
        (ulong)Hypercall.CallbackOp => CallbackOp(v, (int)a1, a2),
        (ulong)Hypercall.EventChannelOp => EventChannelOp(v, (int)a1, a2),
        >= FirstUnassignedHypercall when ForeignHypercall is { } foreign => foreign(nr, [a1, a2, a3, a4, a5]) ?? -Errno.ENOSYS,
        _ => -Errno.ENOSYS,
    };

    // ------------------------------------------------------------ guest memory (xen/arch/x86/usercopy.c)

    /// <summary>access_ok for a 64-bit PV guest: only the start address is tested (spec §0.3).</summary>
    public static bool AccessOk(ulong va) => va < 0x0000_8000_0000_0000 || va >= HypervisorVirtEnd;

    public static bool IsCanonical(ulong va) => (ulong)((long)(va << 16) >> 16) == va;

    public bool CopyFromGuest(Vcpu v, ulong va, Span<byte> into)
    {
        if (!AccessOk(va)) return false;
        while (into.Length > 0)
        {
            int inPage = (int)Math.Min((ulong)into.Length, MachineMemory.PageSize - (va & MachineMemory.PageMask));
            if (!cpu.Translate(v.Cpu, va, AccessKind.Read, false, out ulong ma, out _) || !Memory.Contains(ma)) return false;
            Memory.Read(ma, into[..inPage]);
            into = into[inPage..];
            va += (ulong)inPage;
        }
        return true;
    }

    /// <summary>Writes guest memory page by page; earlier pages stay written if a later one faults (as Xen).</summary>
    public bool CopyToGuest(Vcpu v, ulong va, ReadOnlySpan<byte> data)
    {
        if (!AccessOk(va)) return false;
        while (data.Length > 0)
        {
            int inPage = (int)Math.Min((ulong)data.Length, MachineMemory.PageSize - (va & MachineMemory.PageMask));
            if (!cpu.Translate(v.Cpu, va, AccessKind.Write, false, out ulong ma, out _) || !Memory.Contains(ma)) return false;
            Memory.Write(ma, data[..inPage]);
            data = data[inPage..];
            va += (ulong)inPage;
        }
        return true;
    }

    private bool ReadU64(Vcpu v, ulong va, out ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        bool ok = CopyFromGuest(v, va, b);
        value = ok ? BinaryPrimitives.ReadUInt64LittleEndian(b) : 0;
        return ok;
    }

    private bool ReadU32(Vcpu v, ulong va, out uint value)
    {
        Span<byte> b = stackalloc byte[4];
        bool ok = CopyFromGuest(v, va, b);
        value = ok ? BinaryPrimitives.ReadUInt32LittleEndian(b) : 0;
        return ok;
    }

    private bool WriteU64(Vcpu v, ulong va, ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        return CopyToGuest(v, va, b);
    }

    // ------------------------------------------------------------ console_io (xen/drivers/char/console.c)

    private long ConsoleIo(Vcpu v, uint cmd, uint count, ulong buffer)
    {
        // Permission first: dom0 may use every command.
        if (!Domain.IsHardwareDomain) return -Errno.EPERM;
        switch (cmd)
        {
            case (uint)Abi.ConsoleIo.Write:
            {
                Span<byte> chunk = stackalloc byte[127];
                ulong at = buffer;
                while (count > 0)
                {
                    int n = (int)Math.Min(count, 127u);
                    if (!CopyFromGuest(v, at, chunk[..n])) return -Errno.EFAULT;
                    Serial.Guest(chunk[..n]);
                    Trace.Console(chunk[..n]);
                    at += (ulong)n;
                    count -= (uint)n;
                }
                return 0;
            }
            case (uint)Abi.ConsoleIo.Read:
                return count > int.MaxValue ? -Errno.E2BIG : 0;   // no serial input in the simulator
            default:
                return -Errno.ENOSYS;
        }
    }

    // ------------------------------------------------------------ xen_version (xen/common/kernel.c)

    private long XenVersion(Vcpu v, int cmd, ulong arg)
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
                return CopyToGuest(v, arg, info) ? 0 : -Errno.EFAULT;
            }
            case (int)XenVer.Capabilities:
                return CopyString(v, arg, XenIdentity.Capabilities, 1024);
            case (int)XenVer.Changeset:
                return CopyString(v, arg, XenIdentity.Changeset, 64);
            case (int)XenVer.PlatformParameters:
                return WriteU64(v, arg, HypervisorVirtStart) ? 0 : -Errno.EFAULT;
            case (int)XenVer.GetFeatures:
            {
                Span<byte> fi = stackalloc byte[XenFeatureInfo.Layout.Size];
                if (!CopyFromGuest(v, arg, fi)) return -Errno.EFAULT;
                uint idx = BinaryPrimitives.ReadUInt32LittleEndian(fi[XenFeatureInfo.Layout.SubmapIdx..]);
                if (idx != 0) return -Errno.EINVAL;
                uint submap = XenIdentity.BaseFeatures;
                if ((Domain.VmAssist & (1UL << (int)VmAssistType.PaeExtendedCr3)) != 0) submap |= XenIdentity.FeaturePaePgdirAbove4gb;
                if (Domain.IsHardwareDomain) submap |= XenIdentity.FeatureDom0;
                BinaryPrimitives.WriteUInt32LittleEndian(fi[XenFeatureInfo.Layout.Submap..], submap);
                return CopyToGuest(v, arg, fi) ? 0 : -Errno.EFAULT;
            }
            case (int)XenVer.Pagesize:
                return arg != 0 ? -Errno.EINVAL : MachineMemory.PageSize;
            case (int)XenVer.GuestHandle:
                return CopyToGuest(v, arg, new byte[16]) ? 0 : -Errno.EFAULT;
            case (int)XenVer.Commandline:
                return CopyString(v, arg, XenCommandLine, 1024);
            case (int)XenVer.BuildId:
            {
                byte[] id = Convert.FromHexString(XenIdentity.BuildIdHex);
                if (arg == 0) return id.Length;
                if (!ReadU32(v, arg, out uint len)) return -Errno.EFAULT;
                if (len == 0) return -Errno.EINVAL;
                if (len < id.Length) return -Errno.ENOBUFS;
                return CopyToGuest(v, arg + 4, id) ? id.Length : -Errno.EFAULT;
            }
            default:
                return -Errno.ENOSYS;
        }
    }

    private long CopyString(Vcpu v, ulong arg, string text, int size)
    {
        var buf = new byte[size];
        Ascii(text, buf);
        return CopyToGuest(v, arg, buf) ? 0 : -Errno.EFAULT;
    }

    private static void Ascii(string text, Span<byte> into)
    {
        int n = Math.Min(text.Length, into.Length - 1);
        Encoding.ASCII.GetBytes(text.AsSpan(0, n), into);
    }

    // ------------------------------------------------------------ vm_assist (xen/common/domain.c)

    public const ulong VmAssistValidMask = 0x1_0000_003F;

    private long VmAssist(uint cmd, uint type)
    {
        if (type >= 64 || (VmAssistValidMask & (1UL << (int)type)) == 0) return -Errno.EINVAL;
        switch (cmd)
        {
            case 0: Domain.VmAssist |= 1UL << (int)type; return 0;
            case 1: Domain.VmAssist &= ~(1UL << (int)type); return 0;
            default: return -Errno.ENOSYS;
        }
    }

    // ------------------------------------------------------------ multicall (xen/common/multicall.c)

    private long? Multicall(Vcpu v, ulong list, uint count)
    {
        if (inMulticall) return -Errno.EINVAL;   // re-entry is refused
        inMulticall = true;
        try
        {
            Span<byte> entry = stackalloc byte[MulticallEntry.Layout.Size];
            for (uint i = 0; i < count && i < MaxMulticallEntries; i++)
            {
                ulong at = list + i * (ulong)MulticallEntry.Layout.Size;
                if (!CopyFromGuest(v, at, entry)) return -Errno.EFAULT;
                ulong op = BinaryPrimitives.ReadUInt64LittleEndian(entry);
                static ulong Arg(ReadOnlySpan<byte> e, int k) => BinaryPrimitives.ReadUInt64LittleEndian(e[(MulticallEntry.Layout.Args + 8 * k)..]);
                ulong a1 = Arg(entry, 0), a2 = Arg(entry, 1), a3 = Arg(entry, 2), a4 = Arg(entry, 3), a5 = Arg(entry, 4);
                long? result = op == (ulong)Hypercall.Iret ? -Errno.ENOSYS : Dispatch(v, op, a1, a2, a3, a4, a5);
                Trace.Hypercall(v.Id, op, a1, a2, a3, result);
                HypercallLog?.Add(new HypercallRecord(v.Id, op, [a1, a2, a3, a4, a5], result));
                if (!WriteU64(v, at + (ulong)MulticallEntry.Layout.Result, unchecked((ulong)(result ?? 0)))) return -Errno.EFAULT;
                if (Domain.IsShuttingDown || v.Blocked) break;
            }
            return 0;
        }
        finally
        {
            inMulticall = false;
        }
    }
}

/// <summary>One hypercall as the guest made it: vCPU, number, the five argument registers, and the result (null: none, as iret).</summary>
public sealed record HypercallRecord(int Vcpu, ulong Number, ulong[] Args, long? Result);
