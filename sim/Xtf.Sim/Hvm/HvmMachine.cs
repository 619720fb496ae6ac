using Iced.Intel;
using Xtf.Hosting;
using Xtf.Sim.Builder;
using Xtf.Sim.Cpu;
using Xtf.Sim.Memory;
using Xtf.Sim.Xen;

namespace Xtf.Sim.Hvm;

/// <summary>
/// A PVH dom0 running (docs/hvm.md): one HVM vCPU interpreted by <see cref="X86Interpreter"/> at CPL 0 with
/// its own GDT/IDT/paging; the exits the interpreter leaves to the hypervisor are handled here the way Xen's
/// SVM intercepts and x86_emulate would (system instructions, descriptor-based transfers, vmmcall
/// hypercalls), and exceptions are delivered through the guest's IDT as the hardware does.
/// </summary>
internal sealed partial class HvmMachine : ICpuPlatform, IDescriptorTables
{
    private readonly SimOptions options;
    private readonly VirtualClock clock;
    private readonly SerialLog serial;
    private readonly SimTrace trace;
    private readonly RunMeter meter;
    private readonly MachineProfile profile;
    private readonly MachineMemory memory;
    private readonly PvhDom0 dom0;
    private readonly X86Interpreter interp;
    private readonly CpuState cpu = new();
    private readonly SeededRandom rdrand, rdseed;
    private readonly string xenCommandLine;

    private bool shutdown;
    private int shutdownCode;
    private bool halted;
    private ulong reservation;
    private ulong? sharedInfoGpfn;
    private long executed;

    public HvmMachine(SimOptions options, VirtualClock clock, SerialLog serial, SimTrace trace, RunMeter meter,
        MachineProfile profile, MachineMemory memory, PvhDom0 dom0, string xenCommandLine)
    {
        this.options = options;
        this.clock = clock;
        this.serial = serial;
        this.trace = trace;
        this.meter = meter;
        this.profile = profile;
        this.memory = memory;
        this.dom0 = dom0;
        this.xenCommandLine = xenCommandLine;
        rdrand = new SeededRandom(options.Seed ^ 0x7264_7261_6e64UL);
        rdseed = new SeededRandom(options.Seed ^ 0x7264_7365_6564UL);
        reservation = dom0.NrPages;
        profile.HvmMsr(0x277, out pat);   // the PAT at boot (machine profile)
        interp = new X86Interpreter(memory, this)
        {
            NonCanonicalStackIsGp = profile.NonCanonicalStackIsGp,
            WrBaseSkipsCanonicalCheck = profile.WrBaseSkipsCanonicalCheck,
            BranchFaultsAtTarget = profile.BranchFaultsAtTarget,
            ExitOnPause = false,
        };
        // pvh_setup_cpus / arch_set_info_hvm_guest: 32-bit protected mode, paging off (shared spec §4.4).
        var c = cpu;
        c.Hvm = true;
        c.CodeBits = 32;
        c.Paging = PagingMode.None;
        c.Cr0 = 0x11;
        c.Cr3 = 0;
        c.Cr4 = 0;
        c.Efer = 0;
        c.Cpl = 0;
        c.Rip = dom0.Entry;
        c[Reg.Rbx] = dom0.StartInfo;
        c.Rflags = 0x2;
        c.Cs = c.Ss = c.Ds = c.Es = c.Fs = c.Gs = 0;
        c.Tr = 0;
        c.TrLimit = 0x67;
        c.Descriptors = this;
    }

    public (uint Eax, uint Ebx, uint Ecx, uint Edx) Cpuid(uint leaf, uint subleaf) => profile.HvmCpuid(leaf, subleaf, 0);
    public ulong Rdtsc() => clock.Tsc;
    public ulong RandomNumber(bool seed) => (seed ? rdseed : rdrand).Next();

    public SimResult Run(Func<BootEnd, string?, long, SimResult> result)
    {
        try
        {
            while (true)
            {
                if (meter.Passed is { } limit)
                {
                    trace.Note("limit: " + limit);
                    return result(BootEnd.LimitReached, limit, executed);
                }
                if (shutdown) break;
                if (meter.BudgetSpent)
                    return result(BootEnd.Timeout, $"instruction limit of {options.InstructionLimit} reached" +
                        (meter.Charged > 0 ? $" ({executed} executed, {meter.Charged} charged for console output)" : ""), executed);
                PendingEvents();
                if (shutdown) break;
                if (halted && !WakeAtTimer())
                    return result(BootEnd.Timeout, "every vCPU is blocked or down with no timer to wake it", executed);
                long budget = Math.Max(1, Math.Min(stiShadow ? 1 : 200_000, options.InstructionLimit - meter.Spent));
                stiShadow = false;
                var exit = interp.Run(cpu, budget);
                executed += exit.Executed;
                meter.Executed = executed;
                clock.AdvanceInstructions(exit.Executed);
                if (exit.Kind == ExitKind.Exception) OnException(exit);
                else if (exit.Kind == ExitKind.Syscall) Inject(6, null, false);
            }
        }
        finally
        {
            interp.ReleaseDecodedPages();
        }
        if (meter.Passed is { } passed)
        {
            trace.Note("limit: " + passed);
            return result(BootEnd.LimitReached, passed, executed);
        }
        return result(BootEnd.Shutdown, $"shutdown reason {shutdownCode}", executed);
    }

    // ------------------------------------------------------------------ shutdown (xen/common/shutdown.c)

    private void Shutdown(int code)
    {
        if (shutdown) return;
        shutdown = true;
        shutdownCode = code;
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

    /// <summary>domain_crash for the hardware domain.</summary>
    private void Crash(string why)
    {
        trace.Note("crash: " + why);
        Shutdown(3);
    }

    // ------------------------------------------------------------------ exits

    private void OnException(in VmExit exit)
    {
        var c = cpu;
        int v = exit.Vector;
        bool tryEmulate = (v == 13 && exit.HasErrorCode && exit.ErrorCode == 0)
            || (v == 6 && exit.Detail is { } d && d is not ("ud0" or "ud1" or "ud2" or "invalid") && !d.StartsWith("cpuid:", StringComparison.Ordinal));
        if (tryEmulate && !exit.SoftwareInterrupt && interp.TryDecodeAt(c, c.Rip, out Instruction ins))
        {
            var r = Emulate(in ins);
            if (r == Emu.Done) return;
            if (r == Emu.Faulted) return;   // the emulation injected its own fault
        }
        if (exit.SoftwareInterrupt || (v is 3 or 4 && exit.Detail is null && !exit.HasErrorCode))
        {
            InjectSoft(v, c.Rip, interp.LastInstructionRip);
            return;
        }
        if (v == 6 && exit.Detail == "invalid" && c.CodeBits == 64 && profile.IntoIn64BitMode && IntoLength(c.Rip) is int len)
        {
            // QEMU TCG executes into (0xCE) in 64-bit mode instead of raising #UD (measured: XTF's swint-emulation).
            ulong start = c.Rip;
            c.Rip += (ulong)len;
            if ((c.Rflags & CpuState.FlagOf) != 0) InjectSoft(4, c.Rip, start);
            return;
        }
        if (v == 1 && exit.Detail is null && ReadU(interp.LastInstructionRip, 1, out ulong op1) && op1 == 0xF1)
        {
            // icebp: a #DB like an external event (EXT, no gate DPL check), at the instruction if it cannot be delivered.
            trace.Exception(0, v, null, c.Rip, "icebp");
            Raise(1, null, false, c.Rip, interp.LastInstructionRip);
            return;
        }
        if (v == 1) c.Dr6 = (c.Dr6 & ~0xF00FUL) | c.PendingDr6 | 0xFFFF_0FF0;
        trace.Exception(0, v, exit.HasErrorCode ? exit.ErrorCode : null, c.Rip, exit.Detail);
        Inject(v, exit.HasErrorCode ? exit.ErrorCode : null, false);
    }

    /// <summary>The length of an into instruction at <paramref name="rip"/> (legacy and REX prefixes allowed), or null.</summary>
    private int? IntoLength(ulong rip)
    {
        Span<byte> b = stackalloc byte[15];
        if (!ReadLinear(rip, b)) return null;
        for (int i = 0; i < b.Length; i++)
        {
            byte x = b[i];
            if (x == 0xCE) return i + 1;
            if (x is 0x66 or 0x67 or 0xF2 or 0xF3 or 0x2E or 0x3E or 0x26 or 0x36 or 0x64 or 0x65 or 0xF0 || (x & 0xF0) == 0x40) continue;
            return null;
        }
        return null;
    }

    // ------------------------------------------------------------------ guest memory (linear, supervisor)

    /// <summary>Translates a linear address as a supervisor access in the current paging mode (gpa).</summary>
    private bool Lin(ulong va, bool write, out ulong gpa, out uint pfec)
    {
        interp.SyncHvm(cpu);
        if (cpu.CodeBits != 64) va = (uint)va;
        return interp.Translate(cpu, va, write ? AccessKind.Write : AccessKind.Read, false, out gpa, out pfec);
    }

    /// <summary>copy_from_guest: false when some page is not mapped.</summary>
    internal bool ReadLinear(ulong va, Span<byte> into)
    {
        int done = 0;
        while (done < into.Length)
        {
            ulong a = va + (ulong)done;
            if (!Lin(a, false, out ulong gpa, out _)) return false;
            int n = Math.Min(into.Length - done, MachineMemory.PageSize - (int)(gpa & MachineMemory.PageMask));
            memory.Read(gpa, into.Slice(done, n));
            done += n;
        }
        return true;
    }

    internal bool WriteLinear(ulong va, ReadOnlySpan<byte> data)
    {
        int done = 0;
        while (done < data.Length)
        {
            ulong a = va + (ulong)done;
            if (!Lin(a, true, out ulong gpa, out _)) return false;
            int n = Math.Min(data.Length - done, MachineMemory.PageSize - (int)(gpa & MachineMemory.PageMask));
            memory.Write(gpa, data.Slice(done, n));
            done += n;
        }
        return true;
    }

    private bool ReadU(ulong va, int size, out ulong v)
    {
        Span<byte> b = stackalloc byte[8];
        b.Clear();
        v = 0;
        if (!ReadLinear(va, b[..size])) return false;
        v = BitConverter.ToUInt64(b);
        return true;
    }

    private bool WriteU(ulong va, int size, ulong v)
    {
        Span<byte> b = stackalloc byte[8];
        BitConverter.TryWriteBytes(b, v);
        return WriteLinear(va, b[..size]);
    }

    // ------------------------------------------------------------------ descriptors (the guest's own GDT)

    public DescriptorLookup Read(ushort selector, out ulong descriptor, out ulong faultAddress)
    {
        descriptor = 0;
        faultAddress = 0;
        if ((selector & 4) != 0) return DescriptorLookup.OutsideTable;   // no LDT in the model
        uint idx = (uint)(selector & ~7);
        if (idx + 7 > cpu.GdtrLimit) return DescriptorLookup.OutsideTable;
        if (!ReadU(cpu.GdtrBase + idx, 8, out descriptor))
        {
            faultAddress = cpu.GdtrBase + idx;
            return DescriptorLookup.PageFault;
        }
        return DescriptorLookup.Found;
    }

    public void MarkAccessed(ushort selector)
    {
        ulong a = cpu.GdtrBase + (uint)(selector & ~7);
        if (ReadU(a + 5, 1, out ulong t)) WriteU(a + 5, 1, t | 1);
    }

    /// <summary>Code segment mode: 64 when L (in long mode), else 32 with D, else 16.</summary>
    private int CodeBitsOf(ulong d) =>
        (cpu.Efer & 0x400) != 0 && (d & (1UL << 53)) != 0 ? 64 : (d & (1UL << 54)) != 0 ? 32 : 16;

    private static ulong DescBase(ulong d) => ((d >> 16) & 0xFF_FFFF) | ((d >> 32) & 0xFF00_0000);

    private static uint DescLimit(ulong d)
    {
        uint l = (uint)(d & 0xFFFF) | (uint)((d >> 32) & 0xF_0000);
        return (d & (1UL << 55)) != 0 ? (l << 12) | 0xFFF : l;
    }

    /// <summary>Loads CS for a far transfer to privilege <paramref name="cpl"/>.</summary>
    private void LoadCs(ushort sel, ulong d, int cpl)
    {
        cpu.Cs = (ushort)((sel & ~3) | cpl);
        cpu.Cpl = cpl;
        cpu.CodeBits = CodeBitsOf(d);
        cpu.CsBase = cpu.CodeBits == 64 ? 0 : DescBase(d);
    }

    /// <summary>Checks a code-segment selector for a far jmp/call/ret/iret; false = #GP/#NP injected.</summary>
    private bool CodeDescriptor(ushort sel, out ulong d)
    {
        d = 0;
        if ((sel & ~3) == 0) { Inject(13, 0, false); return false; }
        var r = Read(sel, out d, out ulong fa);
        if (r == DescriptorLookup.PageFault) { PageFaultAt(fa, 0); return false; }
        if (r != DescriptorLookup.Found || (d & (1UL << 44)) == 0 || (d & (1UL << 43)) == 0)
        {
            Inject(13, (uint)(sel & 0xFFFC), false);
            return false;
        }
        if ((d & (1UL << 47)) == 0) { Inject(11, (uint)(sel & 0xFFFC), false); return false; }
        return true;
    }

    private void PageFaultAt(ulong va, uint error)
    {
        cpu.Cr2 = va;
        Inject(14, error, false);
    }

    // ------------------------------------------------------------------ paging mode (hvm_set_cr0/cr4, hvm_set_efer)

    private void UpdatePaging()
    {
        var c = cpu;
        bool pg = (c.Cr0 & 0x8000_0001) == 0x8000_0001;
        if (pg && (c.Efer & 0x100) != 0) c.Efer |= 0x400; else c.Efer &= ~0x400UL;   // LMA
        c.Paging = !pg ? PagingMode.None : (c.Efer & 0x400) != 0 ? PagingMode.Long : (c.Cr4 & 0x20) != 0 ? PagingMode.Pae : PagingMode.TwoLevel;
        interp.SyncHvm(c);
        interp.FlushTlb();
        trace.Mode(0, $"paging {c.Paging}", c.Rip);
    }
}
