using Xtf.Abi;

namespace Xtf.Sim.Xen;

/// <summary>console_io (xen/drivers/char/console.c): dom0 writes to Xen's serial console; no input.</summary>
public sealed class SerialConsole
{
    /// <summary>Bytes copied from the guest at a time (Xen's on-stack chunk).</summary>
    private const int ChunkSize = 127;

    private readonly Domain domain;
    private readonly GuestMemory guest;
    private readonly SerialLog serial;
    private readonly SimTrace trace;

    public SerialConsole(Domain domain, GuestMemory guest, SerialLog serial, SimTrace trace)
    {
        this.domain = domain;
        this.guest = guest;
        this.serial = serial;
        this.trace = trace;
    }

    public long ConsoleIo(Vcpu v, uint cmd, uint count, ulong buffer)
    {
        // Permission first: dom0 may use every command.
        if (!domain.IsHardwareDomain) return -Errno.EPERM;
        switch (cmd)
        {
            case (uint)Abi.ConsoleIo.Write:
            {
                Span<byte> chunk = stackalloc byte[ChunkSize];
                ulong at = buffer;
                while (count > 0)
                {
                    int n = (int)Math.Min(count, (uint)ChunkSize);
                    if (!guest.CopyFromGuest(v, at, chunk[..n])) return -Errno.EFAULT;
                    serial.Guest(chunk[..n]);
                    trace.Console(chunk[..n]);
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
}
