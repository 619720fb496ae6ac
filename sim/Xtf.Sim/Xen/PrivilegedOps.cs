using Iced.Intel;
using Xtf.Abi;
using Xtf.Sim.Builder;
using Xtf.Sim.Cpu;

namespace Xtf.Sim.Xen;

/// <summary>
/// Privileged-instruction emulation for a 64-bit PV guest kernel (xen/arch/x86/pv/emul-priv-op.c):
/// what Xen emulates when the guest's ring-3 kernel executes an instruction only ring 0 may
/// (docs/pv-abi.md §16).
/// </summary>
public sealed class PrivilegedOps
{
    private readonly X86Interpreter cpu;
    private readonly VcpuInfoArea vcpuInfo;
    private readonly SimTrace trace;
    private readonly MachineProfile profile;
    private readonly GuestCpuid cpuid;

    public PrivilegedOps(X86Interpreter interpreter, VcpuInfoArea vcpuInfo, SimTrace trace)
        : this(interpreter, vcpuInfo, trace, MachineProfile.For(512, 1, 1), new VirtualClock(), null)
    {
    }

    public PrivilegedOps(X86Interpreter interpreter, VcpuInfoArea vcpuInfo, SimTrace trace, MachineProfile profile, VirtualClock clock, Domain? domain)
    {
        cpu = interpreter;
        this.vcpuInfo = vcpuInfo;
        this.trace = trace;
        this.profile = profile;
        if (domain is not null) Physdev = new Physdev(domain, new GuestMemory(domain.Memory, interpreter), profile);
        cpuid = new GuestCpuid(profile);
        Debug = new DebugRegisters(cpuid);
        Msrs = new MsrPolicy(profile, clock);
        interpreter.NonCanonicalStackIsGp = profile.NonCanonicalStackIsGp;
        interpreter.WrBaseSkipsCanonicalCheck = profile.WrBaseSkipsCanonicalCheck;
    }

    public DebugRegisters Debug { get; }
    public MsrPolicy Msrs { get; }
    /// <summary>set_iopl / set_iobitmap and port I/O; null without a domain (focused tests).</summary>
    public Physdev? Physdev { get; }

    /// <summary>
    /// CR0 as a 64-bit PV guest reads it: the host's CR0 without TS (PE MP ET NE WP AM PG), with
    /// the guest's own virtual TS or'd in. Measured on Xen 4.17.7 under QEMU -cpu max: 0x80050033.
    /// </summary>
    public const ulong GuestCr0 = 0x8005_0033;

    /// <summary>CR0.TS: the one bit of CR0 a PV guest owns (fpu_taskswitch).</summary>
    public const ulong Cr0Ts = 1UL << 3;

    /// <summary>
    /// CR4 as Xen shows it to a 64-bit PV guest (pv_make_cr4's guest view): PAE, MCE, OSFXSR,
    /// OSXMMEXCPT. Measured on Xen 4.17.7 under QEMU -cpu max: 0x660.
    /// </summary>
    public const ulong GuestCr4 = 0x660;

    /// <summary>CR4 bits a PV guest controls (PV_CR4_GUEST_MASK: TSD, DE, FSGSBASE, OSXSAVE) and Xen's visible ones.</summary>
    public const ulong Cr4Tsd = 1UL << 2, Cr4De = 1UL << 3, Cr4FsGsBase = 1UL << 16, Cr4OsXsave = 1UL << 18,
        Cr4GuestMask = Cr4Tsd | Cr4De | Cr4FsGsBase | Cr4OsXsave, Cr4VisibleMask = 0x660;

    /// <summary>What the hardware shows a vCPU at CPL 3 (sidt, sgdt, sldt, str, smsw) and its CR4-controlled behaviour, from the profile.</summary>
    public void InitVcpu(Vcpu v)
    {
        var c = v.Cpu;
        c.IdtBase = profile.XenIdtBase;
        c.IdtLimit = profile.XenIdtLimit;
        c.GdtBase = profile.XenGdtBase + (ulong)v.Id * profile.XenGdtVcpuStride;
        c.GdtLimit = profile.XenGdtLimit;
        c.LdtSelector = profile.XenLdtSelector;
        c.TaskRegister = profile.XenTaskRegister;
        c.MachineStatusWord = profile.XenMachineStatusWord;
        ApplyCr4(v);
    }

    /// <summary>pv_fixup_guest_cr4: the policy's subset of the guest's choice, plus Xen's visible bits.</summary>
    public ulong FixupGuestCr4(ulong cr4)
    {
        var l1 = cpuid.Leaf(1, 0);
        var l7 = cpuid.Leaf(7, 0);
        if ((l1.Edx & (1u << 4)) == 0) cr4 &= ~Cr4Tsd;        // tsc
        if ((l1.Edx & (1u << 2)) == 0) cr4 &= ~Cr4De;         // de
        if ((l7.Ebx & 1u) == 0) cr4 &= ~Cr4FsGsBase;          // fsgsbase
        if ((l1.Ecx & (1u << 26)) == 0) cr4 &= ~Cr4OsXsave;   // xsave
        return (cr4 & Cr4GuestMask) | Cr4VisibleMask;
    }

    /// <summary>pv_make_cr4: the hardware CR4 while the vCPU runs follows the guest's FSGSBASE choice.</summary>
    private static void ApplyCr4(Vcpu v) => v.Cpu.FsGsBaseEnabled = (v.GuestCr4 & Cr4FsGsBase) != 0;

    /// <summary>do_fpu_taskswitch (pv/misc-hypercalls.c, hypercall 5): the guest's CR0.TS, and the hardware's.</summary>
    public long FpuTaskswitch(Vcpu v, int set)
    {
        v.VirtualTs = set != 0;
        v.Cpu.TaskSwitched = v.VirtualTs;
        return 0;
    }

    /// <summary>
    /// pv_emulate_privileged_op (xen/arch/x86/pv/emul-priv-op.c), entered from
    /// do_general_protection (xen/arch/x86/traps.c) for a #GP with error code 0 in guest kernel mode.
    /// Emulated: mov to/from CR0/CR2/CR3/CR4 (CR3 read only), mov to/from DR0-DR7, rdmsr, wrmsr,
    /// clts, invd, wbinvd. False: not emulated, and the caller injects the #GP, as Xen does for what
    /// it cannot emulate or refuses (X86EMUL_UNHANDLEABLE, or the emulator's own #GP(0)). True:
    /// done; <paramref name="inject"/> is then another exception to deliver (#UD for DR4/DR5 with
    /// CR4.DE, a single-step #DB when TF is set), or null.
    /// </summary>
    public bool Emulate(Vcpu v, out VmExit? inject)
    {
        inject = null;
        var c = v.Cpu;
        // Fetch and decode with the guest's execute permission; an unfetchable or other
        // instruction is not emulated and the #GP is delivered.
        if (!cpu.TryDecodeAt(c, c.Rip, out var ins)) return false;
        string what;
        if (ins.Code is Code.Cli or Code.Sti)
        {
            // validate(): with IOPL admitting the guest, cli/sti are skipped (nothing else changes).
            if (Physdev is not { } io || !io.IoplOk(v)) return false;
            what = ins.Code == Code.Cli ? "cli" : "sti";
        }
        else if (IsPortIo(ins.Code))
        {
            if (!EmulatePortIo(v, in ins)) return false;
            what = ins.Mnemonic == Mnemonic.In ? "in" : "out";
        }
        else if (!v.KernelMode) return false;   // x86_emulate: CR/DR/MSR accesses need (virtual) ring 0
        else switch (ins.Code)
        {
            case Code.Mov_r64_cr:
            {
                int cr = ins.Op1Register - Register.CR0;
                ulong value;
                switch (cr)   // read_cr
                {
                    case 0: value = GuestCr0 | (v.VirtualTs ? Cr0Ts : 0); break;
                    case 2: value = v.GuestCr2; break;
                    case 3: value = c.Cr3 & ~0xFFFUL; break;        // the L4's machine frame (gmfn = mfn for PV)
                    case 4: value = v.GuestCr4; break;
                    default: return false;                           // X86EMUL_UNHANDLEABLE: #GP
                }
                c[Gpr(ins.Op0Register)] = value;
                what = "mov from cr" + cr;
                break;
            }
            case Code.Mov_cr_r64:
            {
                int cr = ins.Op0Register - Register.CR0;
                ulong value = c[Gpr(ins.Op1Register)];
                switch (cr)   // write_cr
                {
                    case 0:
                        // Only TS may change ("Attempt to change unmodifiable CR0 flags": #GP).
                        if (((value ^ (GuestCr0 | (v.VirtualTs ? Cr0Ts : 0))) & ~Cr0Ts) != 0) return false;
                        FpuTaskswitch(v, (value & Cr0Ts) != 0 ? 1 : 0);
                        break;
                    case 2:
                        v.GuestCr2 = value;
                        vcpuInfo.SetCr2(v, value);
                        break;
                    case 4:
                        v.GuestCr4 = FixupGuestCr4(value);
                        ApplyCr4(v);
                        break;
                    default: return false;                           // CR3 (new_guest_cr3) and others: not modelled, #GP
                }
                what = "mov to cr" + cr;
                break;
            }
            case Code.Mov_r64_dr:
            {
                int dr = ins.Op1Register - Register.DR0;
                if (!Debug.TryRead(v, dr, out ulong value))
                {
                    inject = Ud("mov from dr" + dr);
                    return true;
                }
                c[Gpr(ins.Op0Register)] = value;
                what = "mov from dr" + dr;
                break;
            }
            case Code.Mov_dr_r64:
            {
                int dr = ins.Op0Register - Register.DR0;
                long rc = Debug.Set(v, dr, c[Gpr(ins.Op1Register)]);
                if (rc == -Errno.ENODEV)
                {
                    inject = Ud("mov to dr" + dr);
                    return true;
                }
                if (rc != 0) return false;                           // -EINVAL, -EPERM: #GP(0)
                what = "mov to dr" + dr;
                break;
            }
            case Code.Rdmsr:
            {
                uint index = (uint)c[Reg.Rcx];
                if (!Msrs.TryRead(v, index, out ulong value)) return false;
                c[Reg.Rax] = (uint)value;
                c[Reg.Rdx] = value >> 32;
                what = $"rdmsr {index:x}";
                break;
            }
            case Code.Wrmsr:
            {
                uint index = (uint)c[Reg.Rcx];
                ulong value = (c[Reg.Rdx] << 32) | (uint)c[Reg.Rax];
                if (!Msrs.TryWrite(v, index, value)) return false;
                what = $"wrmsr {index:x}";
                break;
            }
            case Code.Clts:
                FpuTaskswitch(v, 0);
                what = "clts";
                break;
            case Code.Invd or Code.Wbinvd:
                what = ins.Mnemonic.ToString().ToLowerInvariant();   // _wbinvd: nothing the guest can see
                break;
            default:
                return false;
        }
        trace.Exception(v.Id, 13, 0, c.Rip, "emulated " + what);
        // pv_emul_instruction_done (xen/arch/x86/pv/emulate.c): rip past the instruction, RF cleared,
        // and a single-step #DB when TF is set.
        c.Rip = ins.NextIP;
        c.Rflags &= ~Traps.FlagRf;
        if ((c.Rflags & Traps.FlagTf) != 0)
        {
            c.PendingDr6 |= 1UL << 14;   // BS
            inject = new VmExit(ExitKind.Exception, 0, Vector: 1, Detail: "single step after an emulated instruction");
        }
        return true;
    }

    private static bool IsPortIo(Code code) => code is Code.In_AL_imm8 or Code.In_AX_imm8 or Code.In_EAX_imm8
        or Code.In_AL_DX or Code.In_AX_DX or Code.In_EAX_DX or Code.Out_imm8_AL or Code.Out_imm8_AX or Code.Out_imm8_EAX
        or Code.Out_DX_AL or Code.Out_DX_AX or Code.Out_DX_EAX;

    /// <summary>in/out (not ins/outs): guest_io_okay, then guest_io_read/guest_io_write. False: #GP(0).</summary>
    private bool EmulatePortIo(Vcpu v, in Instruction ins)
    {
        if (Physdev is not { } io) return false;
        var c = v.Cpu;
        bool isIn = ins.Mnemonic == Mnemonic.In;
        Register data = isIn ? ins.Op0Register : ins.Op1Register;
        int bytes = data switch { Register.AL => 1, Register.AX => 2, _ => 4 };
        bool imm = ins.GetOpKind(isIn ? 1 : 0) == OpKind.Immediate8;
        ushort port = imm ? ins.Immediate8 : (ushort)c[Reg.Rdx];
        if (!io.IoOkay(v, port, bytes)) return false;
        ulong rax = c[Reg.Rax];
        if (isIn)
        {
            ulong value = io.Read(port, bytes);
            c[Reg.Rax] = bytes switch
            {
                1 => (rax & ~0xFFUL) | value,
                2 => (rax & ~0xFFFFUL) | value,
                _ => value,                       // a 32-bit destination zero-extends
            };
        }
        else io.Write(port, bytes, (uint)(rax & (bytes == 1 ? 0xFFUL : bytes == 2 ? 0xFFFFUL : 0xFFFF_FFFFUL)));
        return true;
    }

    private static Reg Gpr(Register r) => (Reg)(r.GetFullRegister() - Register.RAX);

    private static VmExit Ud(string detail) => new(ExitKind.Exception, 0, Vector: 6, Detail: detail);
}
