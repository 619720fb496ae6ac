using Xtf.Abi;

namespace Xtf.Sim.Xen;

/// <summary>
/// The domain's life as a whole (xen/common/domain.c, xen/common/shutdown.c): vm_assist, shutdown
/// and crash. Once <see cref="Domain.IsShuttingDown"/> is set it never clears, and the reason is
/// the first one latched.
/// </summary>
public sealed class DomainLifecycle
{
    /// <summary>VM_ASSIST_VALID for a 64-bit PV guest.</summary>
    public const ulong VmAssistValidMask = 0x1_0000_003F;

    private readonly Domain domain;
    private readonly SerialLog serial;
    private readonly SimTrace trace;
    private readonly Scheduler scheduler;

    public DomainLifecycle(Domain domain, SerialLog serial, SimTrace trace, Scheduler scheduler)
    {
        this.domain = domain;
        this.serial = serial;
        this.trace = trace;
        this.scheduler = scheduler;
    }

    // ------------------------------------------------------------ vm_assist (xen/common/domain.c)

    public long VmAssist(uint cmd, uint type)
    {
        if (type >= 64 || (VmAssistValidMask & (1UL << (int)type)) == 0) return -Errno.EINVAL;
        switch (cmd)
        {
            case 0: domain.VmAssist |= 1UL << (int)type; return 0;
            case 1: domain.VmAssist &= ~(1UL << (int)type); return 0;
            default: return -Errno.ENOSYS;
        }
    }

    // ------------------------------------------------------------ shutdown (xen/common/domain.c, xen/common/shutdown.c)

    /// <summary>domain_shutdown for the hardware domain: the latched code wins, then Xen halts or reboots the host.</summary>
    public void Shutdown(uint reason)
    {
        domain.LatchedShutdownCode ??= (int)reason;
        int code = domain.LatchedShutdownCode.Value;
        if (domain.IsShuttingDown) return;
        domain.IsShuttingDown = true;
        domain.ShutdownReason = code;
        scheduler.Reschedule = true;
        trace.Shutdown(code);
        serial.Xen(code switch
        {
            0 => "Hardware Dom0 halted: halting machine",
            1 => "Hardware Dom0 shutdown: rebooting machine",
            3 => "Hardware Dom0 crashed: 'noreboot' set - not rebooting.",
            4 => "Hardware Dom0 shutdown: watchdog rebooting machine",
            5 => "Hardware domain 0 did unsupported soft reset, rebooting.",
            _ => $"Hardware Dom0 shutdown (unknown reason {code}): 'noreboot' set - not rebooting.",
        });
    }

    /// <summary>
    /// domain_crash: Xen reports the crash, then shuts the domain down with SHUTDOWN_crash.
    /// <paramref name="xenLine"/> is the line Xen prints first, verbatim (4.17's domain_crash macro
    /// prints <c>domain_crash called from FILE:LINE</c>; use <see cref="CalledFrom"/>), or null.
    /// </summary>
    public void Crash(Vcpu v, string? xenLine)
    {
        if (domain.IsShuttingDown) return;
        domain.Crashed = true;
        if (xenLine is not null) serial.Xen(xenLine);
        serial.Xen($"Domain {domain.Id} (vcpu#{v.Id}) crashed on cpu#0:");
        Shutdown((uint)ShutdownReason.Crash);
    }

    /// <summary>The line Xen 4.17's domain_crash() prints at its call site (a release build prints it too).</summary>
    public static string CalledFrom(string xenSourceAndLine) => "domain_crash called from " + xenSourceAndLine;
}
