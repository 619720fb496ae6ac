using Xtf.Abi;

namespace Xtf.Sim.Xen;

/// <summary>console_io (xen/drivers/char/console.c): dom0 writes to Xen's serial console; no input.</summary>
public sealed class SerialConsole
{
    /// <summary>Bytes copied from the guest at a time (Xen's on-stack chunk).</summary>
    private const int ChunkSize = 127;

    /// <summary>
    /// What one byte of console output costs the instruction budget, charged per chunk as it is copied
    /// (docs/limits.md: chosen so that a guest printing without end reaches the console limit, as on
    /// real Xen, before the default budget; virtual time does not advance, as for every hypercall).
    /// </summary>
    public const int InstructionsPerByte = 100;

    private readonly Domain domain;
    private readonly GuestMemory guest;
    private readonly SerialLog serial;
    private readonly SimTrace trace;
    private readonly RunMeter meter;

    public SerialConsole(Domain domain, GuestMemory guest, SerialLog serial, SimTrace trace, RunMeter meter)
    {
        this.domain = domain;
        this.guest = guest;
        this.serial = serial;
        this.trace = trace;
        this.meter = meter;
    }

    /// <summary>do_console_io; null when the run must stop in the middle of a write (see <see cref="Write"/>).</summary>
    public long? ConsoleIo(Vcpu v, uint cmd, uint count, ulong buffer)
    {
        // Permission first: dom0 may use every command.
        if (!domain.IsHardwareDomain) return -Errno.EPERM;
        switch (cmd)
        {
            case (uint)Abi.ConsoleIo.Write:
                return Write(v, count, buffer);
            case (uint)Abi.ConsoleIo.Read:
                return count > int.MaxValue ? -Errno.E2BIG : 0;   // no serial input in the simulator
            default:
                return -Errno.ENOSYS;
        }
    }

    /// <summary>
    /// guest_console_write: chunk by chunk, each copied (a fault is -EFAULT after the earlier chunks
    /// went out), charged to the budget and written. Between chunks Xen may preempt the call and
    /// continue it later; here the run stops at that point once a limit is passed or the budget is
    /// spent (null: no return value, the guest never resumes). Output past the console limit is not written.
    /// </summary>
    private long? Write(Vcpu v, uint count, ulong buffer)
    {
        Span<byte> chunk = stackalloc byte[ChunkSize];
        ulong at = buffer;
        bool first = true;
        while (count > 0)
        {
            if (!first && meter.MustStop) return null;
            first = false;
            int n = (int)Math.Min(count, (uint)ChunkSize);
            if (!guest.CopyFromGuest(v, at, chunk[..n])) return -Errno.EFAULT;
            meter.Charge((long)n * InstructionsPerByte);
            int fits = meter.CountConsole(chunk[..n]);
            if (fits > 0)
            {
                serial.Guest(chunk[..fits]);
                trace.Console(chunk[..fits]);
            }
            if (fits < n) return null;
            at += (ulong)n;
            count -= (uint)n;
        }
        return 0;
    }
}
