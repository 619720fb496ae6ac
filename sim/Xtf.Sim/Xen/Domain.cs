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

    /// <summary>Xen heap frames shared with the domain (share_xen_page_with_guest): its grant table's shared and status frames.</summary>
    public SortedSet<ulong> SharedXenFrames { get; } = new();

    public bool Owns(ulong mfn) => M2p.ContainsKey(mfn) || mfn == SharedInfoMfn || SharedXenFrames.Contains(mfn);
}

/// <summary>
/// The serial line: Xen's "(XEN) [time]" lines and dom0's raw console output, in order. It keeps at most
/// <see cref="GuestLimits.TranscriptBytes"/> characters; what would go beyond is dropped and the run's
/// meter learns that the transcript limit was passed.
/// </summary>
public sealed class SerialLog
{
    private readonly StringBuilder text = new();
    private readonly VirtualClock clock;
    private readonly RunMeter meter;
    private bool atLineStart = true;

    public SerialLog(VirtualClock clock, RunMeter? meter = null)
    {
        this.clock = clock;
        this.meter = meter ?? RunMeter.Unbudgeted();
    }

    public string Text => text.ToString();

    /// <summary>A line printed by Xen itself, with its console_timestamps=boot prefix.</summary>
    public void Xen(string line)
    {
        var sb = new StringBuilder();
        if (!atLineStart) sb.Append("\r\n");
        ulong ns = clock.Now;
        sb.Append("(XEN) [").Append((ns / 1_000_000_000).ToString().PadLeft(5)).Append('.')
            .Append((ns / 1000 % 1_000_000).ToString("D6")).Append("] ").Append(line).Append("\r\n");
        Append(sb.ToString());
        atLineStart = true;
    }

    /// <summary>Bytes dom0 wrote with console_io: verbatim, the serial driver turning \n into \r\n.</summary>
    public void Guest(ReadOnlySpan<byte> bytes)
    {
        bool fits = bytes.Length + bytes.Count((byte)'\n') <= meter.Limits.TranscriptBytes - text.Length;
        var into = fits ? text : new StringBuilder(bytes.Length + 8);
        foreach (byte b in bytes)
        {
            if (b == (byte)'\n') into.Append('\r');
            into.Append((char)b);
            atLineStart = b == (byte)'\n';
        }
        if (!fits) Append(into.ToString());
    }

    private void Append(string s)
    {
        long room = meter.Limits.TranscriptBytes - text.Length;
        if (s.Length <= room)
        {
            text.Append(s);
            return;
        }
        if (room > 0) text.Append(s, 0, (int)room);
        meter.Pass(meter.Limits.TranscriptPassed);
    }
}
