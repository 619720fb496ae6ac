using System.Text;
using Xtf.Abi;
using Xtf.Sim.Memory;

namespace Xtf.Sim.Xen;

/// <summary>Per-domain state: the parts of struct domain a PV dom0 can observe.</summary>
public sealed class Domain
{
    public Domain(ushort id, MachineMemory memory, ulong sharedInfoMfn, IReadOnlyList<Vcpu> vcpus, PhysToMachineMap p2m, int pcpus)
    {
        Id = id;
        Memory = memory;
        SharedInfoMfn = sharedInfoMfn;
        Vcpus = vcpus;
        P2m = p2m;
        Pcpus = pcpus;
        M2p = new MachineToPhysMap(p2m);
    }

    public ushort Id { get; }
    public bool IsHardwareDomain => Id == 0;
    public bool IsControlDomain => Id == 0;
    public MachineMemory Memory { get; }
    public ulong SharedInfoMfn { get; }
    public ulong SharedInfo => SharedInfoMfn << MachineMemory.PageShift;
    public IReadOnlyList<Vcpu> Vcpus { get; }
    public PhysToMachineMap P2m { get; }
    public MachineToPhysMap M2p { get; }
    public int Pcpus { get; }

    public ulong VmAssist { get; set; }
    public int? LatchedShutdownCode { get; set; }
    public bool IsShuttingDown { get; set; }
    public int ShutdownReason { get; set; }
    public bool Crashed { get; set; }
    public ulong?[] Watchdogs { get; } = new ulong?[2];
    public bool PinOverrideActive { get; set; }

    /// <summary>Whether a domid argument names this domain: DOMID_SELF or its own id (rcu_lock_domain_by_any_id).</summary>
    public bool Is(ushort domid) => domid == DomId.Self || domid == Id;

    public bool Owns(ulong mfn) => M2p.ContainsKey(mfn) || mfn == SharedInfoMfn;
}

/// <summary>The serial line: Xen's "(XEN) [time]" lines and dom0's raw console output, in order.</summary>
public sealed class SerialLog
{
    private readonly StringBuilder text = new();
    private readonly VirtualClock clock;
    private bool atLineStart = true;

    public SerialLog(VirtualClock clock) => this.clock = clock;

    public string Text => text.ToString();

    /// <summary>A line printed by Xen itself, with its console_timestamps=boot prefix.</summary>
    public void Xen(string line)
    {
        if (!atLineStart) text.Append("\r\n");
        ulong ns = clock.Now;
        text.Append("(XEN) [").Append((ns / 1_000_000_000).ToString().PadLeft(5)).Append('.')
            .Append((ns / 1000 % 1_000_000).ToString("D6")).Append("] ").Append(line).Append("\r\n");
        atLineStart = true;
    }

    /// <summary>Bytes dom0 wrote with console_io: verbatim, the serial driver turning \n into \r\n.</summary>
    public void Guest(ReadOnlySpan<byte> bytes)
    {
        foreach (byte b in bytes)
        {
            if (b == (byte)'\n') text.Append('\r');
            text.Append((char)b);
            atLineStart = b == (byte)'\n';
        }
    }
}
