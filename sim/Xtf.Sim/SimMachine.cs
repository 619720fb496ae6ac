using Xtf.Abi;
using Xtf.Hosting;
using Xtf.Sim.Builder;
using Xtf.Sim.Cpu;
using Xtf.Sim.Memory;
using Xtf.Sim.Xen;

namespace Xtf.Sim;

public sealed record SimOptions
{
    /// <summary>Chooses vCPU interleavings and quantum lengths; printed with every run.</summary>
    public ulong Seed { get; init; } = DefaultSeed;
    public const ulong DefaultSeed = 0x5EED;
    public int MemoryMiB { get; init; } = 512;
    public int Vcpus { get; init; } = 1;
    /// <summary>
    /// The instruction budget: guest instructions, plus what console output is charged
    /// (<see cref="SerialConsole.InstructionsPerByte"/>), before the run is stopped as a runaway (CRASH "timeout").
    /// </summary>
    public long InstructionLimit { get; init; } = 500_000_000;
    /// <summary>What the guest may cost the host (console output, transcript, trace, memory); see docs/limits.md.</summary>
    public GuestLimits Limits { get; init; } = GuestLimits.Default;
    public string? Dom0CommandLine { get; init; }
    public string? XenCommandLine { get; init; }
    /// <summary>Build dom0 as a PVH guest (Xen's <c>dom0=pvh</c>): for kernels with a PHYS32_ENTRY note and no PV notes.</summary>
    public bool Pvh { get; init; }
    public bool KeepTraceText { get; init; } = true;
    /// <summary>
    /// Sees every hypercall (multicall entries included) and may answer one instead of its handler
    /// or change the hypervisor's event state after it; off by default.
    /// </summary>
    public IHypercallInterposer? Interposer { get; init; }
    /// <summary>Sees the hypervisor's state around every hypercall (the fuzzer's invariant checker); off by default.</summary>
    public IHypervisorObserver? Observer { get; init; }

    // Test hooks for the guest generator's own tests (Xtf.Guest.Tests); the defaults are Xen's behaviour.

    /// <summary>False leaves the image's hypercall page unfilled, to test a guest's check that Xen filled it.</summary>
    public bool FillHypercallPage { get; init; } = true;
    /// <summary>
    /// Results for hypercall numbers Xen 4.17 has no entry for (≥ <see cref="Hypervisor.FirstUnassignedHypercall"/>),
    /// given the number and the five argument registers; null, or a null result, is Xen's -ENOSYS.
    /// </summary>
    public Func<ulong, ulong[], long?>? ForeignHypercall { get; init; }
    /// <summary>Like a debug Xen, overwrite the five argument registers when a hypercall returns.</summary>
    public bool PoisonHypercallArguments { get; init; }
    /// <summary>Keep every hypercall with all five arguments in <see cref="SimResult.Hypercalls"/>.</summary>
    public bool LogHypercalls { get; init; }
}

public sealed record SimResult(string Serial, BootEnd End, string? Detail, string TraceHash, string Trace, long Instructions, ulong VirtualNs)
{
    /// <summary>Instructions' worth of console output charged to the budget besides <see cref="Instructions"/>.</summary>
    public long Charged { get; init; }

    /// <summary>The hypercalls made, in order, when <see cref="SimOptions.LogHypercalls"/> is set; otherwise empty.</summary>
    public IReadOnlyList<HypercallRecord> Hypercalls { get; init; } = [];
}

/// <summary>
/// One simulated boot: the dom0 builder, then vCPUs interleaved by a seeded scheduler until the
/// domain shuts down, the instruction budget runs out, or every vCPU waits for nothing.
/// </summary>
public sealed partial class SimMachine : ICpuPlatform
{
    private const long MinQuantum = 20_000, QuantumSpread = 60_000, PauseCost = 2_000;

    /// <summary>Virtual time one pause takes: spin-waits on time cost thousands, not millions, of instructions.</summary>
    private const ulong PauseNs = 1_000;

    /// <summary>Xen's time-calibration period (EPOCH in xen/arch/x86/time.c), on multiples of it in system time.</summary>
    public const ulong CalibrationNs = 1_000_000_000;

    private ulong nextCalibration = (VirtualClock.BootTime / CalibrationNs + 1) * CalibrationNs;

    private readonly SimOptions options;
    private readonly VirtualClock clock = new();
    private readonly SerialLog serial;
    private readonly SimTrace trace;
    private readonly SeededRandom random;
    private readonly SeededRandom rdrandRandom, seedRandom;
    private readonly RunMeter meter;

    private SimMachine(SimOptions options)
    {
        this.options = options;
        meter = new RunMeter(options.Limits, options.InstructionLimit);
        serial = new SerialLog(clock, meter);
        trace = new SimTrace { KeepText = options.KeepTraceText, Meter = meter };
        random = new SeededRandom(options.Seed);
        rdrandRandom = new SeededRandom(options.Seed ^ 0x7264_7261_6e64UL);   // "rdrand"
        seedRandom = new SeededRandom(options.Seed ^ 0x7264_7365_6564UL);     // "rdseed"
    }

    public static SimResult Run(ReadOnlyMemory<byte> kernel, SimOptions options)
    {
        var m = new SimMachine(options);
        try
        {
            return m.Boot(kernel);
        }
        catch (MemoryLimitException)
        {
            // Touching memory cannot stop half way like a hypercall: the run ends where the frame was touched.
            string limit = options.Limits.SimulatorMemoryPassed;
            m.trace.Note("limit: " + limit);
            return m.Result(BootEnd.LimitReached, limit, m.meter.Executed);
        }
        catch (NotSupportedException e)
        {
            // Something Xen does that this model does not (a kernel format, docs/dom0.md §2.16): one line naming it.
            m.serial.Xen($"simulator: not modelled: {e.Message}");
            return m.Result(BootEnd.EmulatorExited, $"not modelled: {e.Message}", 0);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A guest must never crash the runner: an internal failure ends the run as a crash.
            m.serial.Xen($"simulator internal error: {e.GetType().Name}: {e.Message}");
            return m.Result(BootEnd.EmulatorExited, $"simulator internal error: {e.Message}", 0);
        }
    }

    private List<HypercallRecord>? hypercalls;

    private SimResult Result(BootEnd end, string? detail, long instructions) =>
        new(serial.Text, end, detail, trace.Hash, trace.Text, instructions, clock.Now) { Hypercalls = hypercalls ?? [], Charged = meter.Charged };

    private MachineProfile? profile;

    /// <summary>Plain cpuid: no CPUID faulting on the measured machine, so the guest sees the CPU's own values (docs/pv-abi.md §12).</summary>
    public (uint Eax, uint Ebx, uint Ecx, uint Edx) Cpuid(uint leaf, uint subleaf) =>
        (profile ?? throw new InvalidOperationException("cpuid before the machine profile is chosen")).NativeCpuid(leaf, subleaf);
    public ulong Rdtsc() => clock.Tsc;
    /// <summary>rdrand/rdseed: a stream of its own derived from the seed (the scheduler's stream is not disturbed).</summary>
    public ulong RandomNumber(bool rdseed) => (rdseed ? seedRandom : rdrandRandom).Next();

    private SimResult Boot(ReadOnlyMemory<byte> kernel)
    {
        int vcpus = Math.Max(1, options.Vcpus);
        string xenCmd = $"{XenIdentity.XenCommandLineBase} dom0_max_vcpus={vcpus}" +
                        (string.IsNullOrWhiteSpace(options.XenCommandLine) ? "" : " " + options.XenCommandLine.Trim());
        serial.Xen(XenIdentity.Banner);
        serial.Xen("Command line: " + xenCmd);
        trace.Note($"seed {options.Seed:x} vcpus {vcpus} memory {options.MemoryMiB}");

        if (options.Pvh) return BootPvh(kernel, xenCmd, vcpus);   // SimMachine.Pvh.cs
        var profile = this.profile = MachineProfile.For(options.MemoryMiB, vcpus, vcpus);
        var memory = new MachineMemory(profile.MachineFrames) { MaterialisedFrameLimit = options.Limits.SimulatorMemoryMiB * (1 << 20 >> MachineMemory.PageShift) };
        Dom0 dom0;
        try
        {
            dom0 = Dom0Builder.Build(kernel, options.Dom0CommandLine ?? "", profile, memory, fillHypercallPage: options.FillHypercallPage);
        }
        catch (DomainBuildException e)
        {
            foreach (var line in e.XenLines) serial.Xen(line);
            serial.Xen("Manual reset required ('noreboot' specified)");
            trace.Note("build failed: " + e.Message);
            return Result(BootEnd.XenPanic, e.Message, 0);
        }
        foreach (var line in dom0.BuildLog) serial.Xen(line);
        serial.Xen($"Initial low memory virq threshold set at 0x{profile.LowMemVirqThreshold(dom0.NrPages, (ulong)kernel.Length):x} pages.");
        foreach (var line in AfterBuild) serial.Xen(line);

        var cpus = new List<Vcpu>();
        for (int i = 0; i < vcpus; i++)
        {
            var v = new Vcpu(i, clock.Now);
            if (i < 32) v.VcpuInfo = (dom0.SharedInfoMfn << MachineMemory.PageShift) + (ulong)(64 * i);
            cpus.Add(v);
        }
        var boot = cpus[0];
        var c = boot.Cpu;
        c.Rip = dom0.Rip;
        c[Reg.Rsp] = dom0.Rsp;
        c[Reg.Rsi] = dom0.Rsi;
        c.Rflags = dom0.Vcpu0.Rflags;
        c.Cs = 0xE033;
        c.Ss = 0xE02B;
        c.Cr3 = dom0.Cr3;
        c.Cpl = 3;
        boot.Initialised = true;
        boot.Down = false;
        boot.SetRunstate(RunState.Runnable, clock.Now);
        for (int i = 1; i < vcpus; i++) { cpus[i].Cpu.Cr3 = dom0.Cr3; cpus[i].Cpu.Cpl = 3; }

        var domain = new Domain(0, memory, dom0.SharedInfoMfn, cpus, dom0.P2mMap, profile.Pcpus) { VmAssist = dom0.VmAssist };
        var interpreter = new X86Interpreter(memory, this);
        hypercalls = options.LogHypercalls ? [] : null;
        var hv = new Hypervisor(domain, interpreter, clock, serial, trace, xenCmd, meter, profile)
        {
            Interposer = options.Interposer,
            ForeignHypercall = options.ForeignHypercall,
            PoisonHypercallArguments = options.PoisonHypercallArguments,
            HypercallLog = hypercalls,
            Observer = options.Observer,
        };
        hv.Mmu.DiscoverPageTables(dom0.Cr3);
        try
        {
            return RunLoop(hv, interpreter, domain);
        }
        finally
        {
            interpreter.ReleaseDecodedPages();   // their 128 KiB op tables serve the next machine
        }
    }

    private static readonly string[] AfterBuild =
    [
        "Scrubbing Free RAM in background",
        "Std. Loglevel: All",
        "Guest Loglevel: All",
        "*** Serial input to DOM0 (type 'CTRL-a' three times to switch input)",
        "Freed 656kB init memory",
    ];

    private SimResult RunLoop(Hypervisor hv, X86Interpreter interpreter, Domain domain)
    {
        long executed = 0;
        Vcpu? current = null;
        long quantumLeft = 0;
        var runnable = new List<Vcpu>(domain.Vcpus.Count);

        for (long steps = 0; ; steps++)
        {
            if (meter.Passed is { } limit) return LimitReached(limit, executed);
            FireTimers(hv, domain);
            if (domain.IsShuttingDown) break;
            if (meter.BudgetSpent)
                return Result(BootEnd.Timeout, $"instruction limit of {options.InstructionLimit} reached" +
                    (meter.Charged > 0 ? $" ({executed} executed, {meter.Charged} charged for console output)" : ""), executed);

            runnable.Clear();
            foreach (var v in domain.Vcpus) if (v.OnPcpu) runnable.Add(v);
            if (runnable.Count == 0)
            {
                ulong? next = NextDeadline(domain, includePeriodic: false);
                if (next is null)
                    return Result(BootEnd.Timeout, "every vCPU is blocked or down with no timer to wake it", executed);
                if (current is not null) current = null;
                clock.AdvanceTo(next.Value);
                continue;
            }

            if (current is null || !current.OnPcpu || hv.Reschedule || quantumLeft <= 0)
            {
                var pick = runnable.Count == 1 ? runnable[0] : runnable[random.Below(runnable.Count)];
                quantumLeft = runnable.Count == 1 ? MinQuantum + QuantumSpread : MinQuantum + random.Below((int)QuantumSpread);
                if (pick != current)
                {
                    // Interleaving only: each vCPU has its own pCPU in the model, so a change of
                    // the interpreted vCPU is not a Xen context switch (see Scheduler.SwitchIn).
                    if (current is not null && current.Cpu.Cr3 != pick.Cpu.Cr3) interpreter.FlushTlb();
                    current = pick;
                    trace.Schedule(pick.Id, clock.Now);
                    if (pick.Runstate != RunState.Running) hv.SwitchIn(pick);   // first run, or online without a wake
                }
                hv.Reschedule = false;
            }

            var cur = current;
            hv.DeliverPendingUpcall(cur);
            if (domain.IsShuttingDown) break;

            long budget = Math.Min(quantumLeft, options.InstructionLimit - meter.Spent);
            ulong? deadline = NextDeadline(domain, includePeriodic: true);
            if (deadline is { } d0)
                budget = Math.Min(budget, Math.Max(1, (long)((d0 - Math.Min(d0, clock.Now)) / clock.NsPerInstruction)));

            budget = Math.Max(1, budget);
            VmExit exit;
            while (true)
            {
                exit = interpreter.Run(cur.Cpu, budget);
                executed += exit.Executed;
                meter.Executed = executed;
                quantumLeft -= exit.Executed;
                budget -= exit.Executed;
                clock.AdvanceInstructions(exit.Executed);
                // A spin-wait's pause: alone, keep running (no timer is due before the budget ends);
                // with other vCPUs runnable, it costs PauseCost of the quantum, so spinners yield sooner.
                if (exit.Kind != ExitKind.Pause) break;
                // A spin-wait hint: let virtual time pass, but never beyond the next timer, so
                // timers fire at their deadline and not up to a pause late.
                clock.AdvanceTo(deadline is { } dp && dp > clock.Now ? Math.Min(clock.Now + PauseNs, dp) : clock.Now + PauseNs);
                if (runnable.Count > 1) quantumLeft -= PauseCost;
                if (deadline is { } d && clock.Now >= d) break;
                if (deadline is { } d1) budget = Math.Min(budget, Math.Max(1, (long)((d1 - clock.Now) / clock.NsPerInstruction)));
                if (budget <= 0 || quantumLeft <= 0) break;
            }

            switch (exit.Kind)
            {
                case ExitKind.Syscall:
                    hv.OnSyscall(cur);
                    break;
                case ExitKind.Exception:
                    hv.DeliverException(cur, exit);
                    break;
            }
            if (!cur.Runnable)
            {
                if (cur.Runstate == RunState.Running) hv.SwitchOut(cur);   // blocked itself (a down already switched it out)
                current = null;
            }
        }
        if (meter.Passed is { } passed) return LimitReached(passed, executed);
        return Result(BootEnd.Shutdown, $"shutdown reason {domain.ShutdownReason}", executed);
    }

    /// <summary>The run stopped at a limit: the trace notes which (its hash then covers the stop).</summary>
    private SimResult LimitReached(string limit, long executed)
    {
        trace.Note("limit: " + limit);
        return Result(BootEnd.LimitReached, limit, executed);
    }

    private void FireTimers(Hypervisor hv, Domain domain)
    {
        ulong now = clock.Now;
        if (now >= nextCalibration)
        {
            // time_calibration (xen/arch/x86/time.c): every EPOCH (1 s) each pCPU recalibrates and
            // rewrites the time of the vCPU it is running (update_vcpu_system_time(current)); a
            // pCPU whose vCPU is blocked or down runs idle and updates nothing.
            foreach (var v in domain.Vcpus)
            {
                if (v.Runstate != RunState.Running) continue;
                trace.Timer(v.Id, "calibration", now);
                hv.Time.UpdateVcpuTime(v);
            }
            nextCalibration = (now / CalibrationNs + 1) * CalibrationNs;
        }
        foreach (var v in domain.Vcpus)
        {
            if (v.StartsAt is { } start && start <= now)
            {
                v.StartsAt = null;
                if (v.Runnable)
                {
                    hv.SwitchIn(v);       // on its pCPU now; the interleaving may pick it at once
                    hv.Reschedule = true;
                }
            }
            if (v.SingleshotDeadline is { } s && s <= now)
            {
                v.SingleshotDeadline = null;
                trace.Timer(v.Id, "singleshot", now);
                hv.Events.SendVirq(v, Virq.Timer);
            }
            if (v.PollDeadline is { } p && p <= now)
            {
                v.PollDeadline = null;
                if (v.Polling)
                {
                    trace.Timer(v.Id, "poll", now);
                    v.Polling = false;
                    v.PollPort = null;
                    hv.Wake(v);
                }
            }
            if (v.PeriodicDeadline is { } d && d <= now && v.PeriodNs != 0)
            {
                v.PeriodicLastEvent = now;
                v.PeriodicDeadline = now + v.PeriodNs;
                trace.Timer(v.Id, "periodic", now);
                hv.Events.SendVirq(v, Virq.Timer);
            }
        }
        for (int k = 0; k < domain.Watchdogs.Length; k++)
        {
            if (domain.Watchdogs[k] is { } w && w <= now && !domain.IsShuttingDown)
            {
                domain.Watchdogs[k] = null;
                hv.Serial.Xen($"Watchdog timer fired for domain {domain.Id}");
                hv.Lifecycle.Shutdown((uint)ShutdownReason.Watchdog);
            }
        }
    }

    private ulong? NextDeadline(Domain domain, bool includePeriodic)
    {
        ulong? next = includePeriodic ? nextCalibration : null;   // calibration only matters while a vCPU runs
        void Consider(ulong? t)
        {
            if (t is { } x && (next is null || x < next)) next = x;
        }
        foreach (var v in domain.Vcpus)
        {
            Consider(v.StartsAt);
            Consider(v.SingleshotDeadline);
            if (v.Polling) Consider(v.PollDeadline);
            if (includePeriodic) Consider(v.PeriodicDeadline);
        }
        foreach (var w in domain.Watchdogs) Consider(w);
        return next;
    }
}
