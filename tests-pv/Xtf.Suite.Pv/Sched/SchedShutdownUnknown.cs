namespace Xtf.Suite.Pv.Sched;

/// <summary>Reason 9 is above SHUTDOWN_MAX but Xen does not validate it: "unknown reason 9".</summary>
public sealed class SchedShutdownUnknown : ShutdownReasonTest
{
    public override string Name => "sched-shutdown-unknown";
    public override string Title => "SCHEDOP_shutdown: undefined reason 9 is accepted";
    protected override uint Reason => 9u;
}
