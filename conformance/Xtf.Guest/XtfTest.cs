namespace Xtf.Guest;

/// <summary>
/// XTF's test environments the framework builds kernels for: pv64 (a 64-bit PV dom0) and hvm64 (a PVH
/// dom0 entered in 32-bit protected mode that switches itself to long mode with 4-level paging).
/// </summary>
[Flags]
public enum Environments
{
    None = 0,
    Pv64 = 1,
    Hvm64 = 2,
    /// <summary>Every environment a test written against hypercalls alone runs in.</summary>
    All = Pv64 | Hvm64,
}

public static class EnvironmentNames
{
    public static IEnumerable<Environments> Each(Environments set) =>
        Enum.GetValues<Environments>().Where(e => e is not (Environments.None or Environments.All) && set.HasFlag(e));

    public static string Slug(Environments env) => env switch
    {
        Environments.Pv64 => "pv64",
        Environments.Hvm64 => "hvm64",
        _ => throw new ArgumentOutOfRangeException(nameof(env), env, "not a single environment"),
    };

    /// <summary>Whether Xen builds the kernel as a PVH (HVM) dom0 rather than a PV one.</summary>
    public static bool IsHvm(Environments env) => env == Environments.Hvm64;

    /// <summary>The line after the banner, as XTF prints it for the environment.</summary>
    public static string Line(Environments env) => env switch
    {
        Environments.Pv64 => "Environment: PV 64bit (Long mode 4 levels)",
        Environments.Hvm64 => "Environment: HVM 64bit (Long mode 4 levels)",
        _ => throw new ArgumentOutOfRangeException(nameof(env), env, "not a single environment"),
    };
}

/// <summary>
/// One conformance test: a title, the environments it runs in, and a body that emits the guest
/// program. XTF-style names: <c>test-&lt;env&gt;-&lt;Name&gt;</c>.
/// </summary>
public abstract class XtfTest
{
    /// <summary>Short name, e.g. "example" or "sched-yield".</summary>
    public abstract string Name { get; }

    /// <summary>The line the kernel prints after the banner.</summary>
    public abstract string Title { get; }

    /// <summary>Area, used as the report suite and for filtering ("vcpu", "sched", "evtchn", ...).</summary>
    public virtual string Category => "general";

    public virtual Environments Environments => Environments.Pv64;

    /// <summary>vCPUs the test needs (dom0_max_vcpus and -smp).</summary>
    public virtual int Vcpus => 1;

    /// <summary>
    /// Whether the test's expectations hold only when dom0 has exactly <see cref="Vcpus"/> vCPUs (it names vCPU
    /// ids that must or must not exist). Such a test first asks VCPUOP_is_up about vCPU Vcpus − 1 and vCPU Vcpus
    /// and SKIPs, saying why, on a machine where dom0 has another count (the runner's <c>--vcpus</c>).
    /// </summary>
    public virtual bool NeedsExactVcpus => false;

    /// <summary>
    /// The shutdown reason the run must end with (SHUTDOWN_poweroff unless the test ends with
    /// <see cref="GuestProgram.FinishWith"/>). The runner turns a mismatch into a FAILURE.
    /// </summary>
    public virtual int ExpectedShutdownReason => 0;

    /// <summary>Extra words for the dom0 command line (start_info.cmd_line).</summary>
    public virtual string? CommandLine => null;

    /// <summary>
    /// Changes the linked ELF before any host boots it (the builder tests break one thing Xen
    /// checks). The default returns the image unchanged.
    /// </summary>
    public virtual byte[] TransformImage(byte[] elf) => elf;

    /// <summary>
    /// When set, the expected outcome is that Xen refuses to build dom0 from this image: the boot
    /// ends in Xen's "Could not construct domain 0"-style panic and one of Xen's lines between
    /// "*** Building a PV Dom0 ***" and the panic is exactly this text. The guest never runs.
    /// </summary>
    public virtual string? ExpectedRefusal => null;

    /// <summary>Emits the test. Report with Success/Skip/Error/Failure; reporting nothing is an ERROR.</summary>
    public abstract void Body(GuestProgram g);

    public string FullName(Environments env) => $"test-{EnvironmentNames.Slug(env)}-{Name}";
}
