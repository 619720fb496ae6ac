using Iced.Intel;
using Xtf.Sim.Cpu;
using Xtf.Sim.Memory;

namespace Xtf.Sim.Hvm;

// What the SVM intercepts and Xen's x86_emulate do for the instructions the interpreter leaves to the
// hypervisor on an HVM vCPU (xen/arch/x86/hvm/svm/svm.c svm_vmexit_handler, xen/arch/x86/hvm/hvm.c
// hvm_set_cr0/cr3/cr4, hvm_set_efer, hvm_msr_read/write_intercept; the descriptor-table and far-transfer
// instructions the CPU itself executes): control registers, MSRs, descriptor tables, far transfers,
// iret, hlt, cli/sti, port I/O, vmmcall.
internal sealed partial class HvmMachine
{
    private enum Emu { NotHandled, Done, Faulted }

    private const uint MsrEfer = 0xC000_0080, MsrHypercallPage = 0x4000_0000;

    private Emu Emulate(in Instruction ins)
    {
        var c = cpu;
        var m = ins.Mnemonic;
        bool cpl0 = c.Cpl == 0;
        switch (m)
        {
            case Mnemonic.Vmmcall:
                Next(in ins);
                Hypercall();
                return Emu.Done;

            case Mnemonic.Mov when ins.Op0Kind == OpKind.Register && ins.Op0Register.IsCR():
                if (!cpl0) return GpInject();
                return WriteCr(ins.Op0Register - Register.CR0, Reg32(ins.Op1Register), in ins);
            case Mnemonic.Mov when ins.Op1Kind == OpKind.Register && ins.Op1Register.IsCR():
            {
                if (!cpl0) return GpInject();
                int n = ins.Op1Register - Register.CR0;
                if (n == 8 && c.CodeBits == 64 && profile.HvmCr8ReadFaults)
                {
                    // svm_vmexit_handler without decode assists: hvm_emulate_one_insn fails, #GP (hvm_dump_emulation_state)
                    var bytes = new byte[16];
                    string hex = ReadLinear(c.Rip, bytes) ? " " + string.Join(' ', bytes.Select(b => b.ToString("x2"))) : "";
                    serial.Xen($"CR access emulation failed (1): d0v0 64bit @ {c.Cs:x4}:{c.Rip:x8} ->{hex}");
                    return GpInject();
                }
                ulong v = n switch { 0 => c.Cr0, 2 => profile.HvmCr2ReadsZero ? 0 : c.Cr2, 3 => c.Cr3, 4 => c.Cr4, _ => ulong.MaxValue };
                if (v == ulong.MaxValue) return UdInject();
                SetReg(ins.Op0Register, v);
                Next(in ins);
                return Emu.Done;
            }
            case Mnemonic.Mov when ins.Op0Kind == OpKind.Register && ins.Op0Register.IsDR():
            {
                if (!cpl0) return GpInject();
                int n = ins.Op0Register - Register.DR0;
                ulong v = Reg32(ins.Op1Register);
                if (n < 4) c.SetDr(n, v);
                else if (n is 6 or 4) c.Dr6 = (v & 0xE00F) | 0xFFFF_0FF0;
                else if (n is 7 or 5) c.Dr7 = (v & 0xFFFF_2BFF) | 0x400;
                Next(in ins);
                return Emu.Done;
            }
            case Mnemonic.Mov when ins.Op1Kind == OpKind.Register && ins.Op1Register.IsDR():
            {
                if (!cpl0) return GpInject();
                int n = ins.Op1Register - Register.DR0;
                SetReg(ins.Op0Register, n < 4 ? c.Dr(n) : n is 6 or 4 ? c.Dr6 : c.Dr7);
                Next(in ins);
                return Emu.Done;
            }

            case Mnemonic.Lgdt or Mnemonic.Lidt:
            {
                if (!cpl0) return GpInject();
                ulong ea = Ea(in ins);
                if (!ReadU(ea, 2, out ulong limit) || !ReadU(ea + 2, c.CodeBits == 64 ? 8 : 4, out ulong b)) return PfInject(ea);
                if (m == Mnemonic.Lgdt) { c.GdtrBase = b; c.GdtrLimit = (ushort)limit; }
                else { c.IdtrBase = b; c.IdtrLimit = (ushort)limit; }
                Next(in ins);
                return Emu.Done;
            }
            case Mnemonic.Cpuid:
            {
                // CPUID faulting (MSR_MISC_FEATURES_ENABLES bit 0, offered through PLATFORM_INFO): #GP above CPL 0.
                if (cpuidFaulting && !cpl0) return GpInject();
                var (a, b, cc, d) = profile.HvmCpuid((uint)c[Reg.Rax], (uint)c[Reg.Rcx], 0);
                if ((uint)c[Reg.Rax] == 1 && (c.Cr4 & 0x4_0000) != 0) cc |= 1u << 27;   // OSXSAVE follows CR4
                c[Reg.Rax] = a; c[Reg.Rbx] = b; c[Reg.Rcx] = cc; c[Reg.Rdx] = d;
                Next(in ins);
                return Emu.Done;
            }
            case Mnemonic.Sgdt or Mnemonic.Sidt or Mnemonic.Str or Mnemonic.Sldt or Mnemonic.Smsw when !cpl0 && (c.Cr4 & 0x800) != 0:
                return GpInject();   // CR4.UMIP
            case Mnemonic.Sgdt or Mnemonic.Sidt:
            {
                ulong ea = Ea(in ins);
                bool g = m == Mnemonic.Sgdt;
                if (!WriteU(ea, 2, g ? c.GdtrLimit : c.IdtrLimit) || !WriteU(ea + 2, c.CodeBits == 64 ? 8 : 4, g ? c.GdtrBase : c.IdtrBase))
                    return PfInject(ea);
                Next(in ins);
                return Emu.Done;
            }
            case Mnemonic.Str or Mnemonic.Sldt or Mnemonic.Smsw:
            {
                ulong v = m == Mnemonic.Str ? c.Tr : m == Mnemonic.Sldt ? c.Ldtr : c.Cr0 & 0xFFFF;
                if (ins.Op0Kind == OpKind.Register) SetReg(ins.Op0Register, v);
                else if (!WriteU(Ea(in ins), 2, v)) return PfInject(Ea(in ins));
                Next(in ins);
                return Emu.Done;
            }
            case Mnemonic.Ltr:
            {
                if (!cpl0) return GpInject();
                if (!Operand16(in ins, out ushort sel)) return Emu.Faulted;
                if ((sel & ~3) == 0 || (sel & 4) != 0) return GpInject((uint)(sel & 0xFFFC));
                var r = Read(sel, out ulong d, out _);
                int type = (int)(d >> 40) & 0x1F;
                if (r != DescriptorLookup.Found || type is not (0x09 or 0x01)) return GpInject((uint)(sel & 0xFFFC));
                if ((d & (1UL << 47)) == 0) { Inject(11, (uint)(sel & 0xFFFC), false); return Emu.Faulted; }
                ulong b = DescBase(d);
                if ((c.Efer & 0x400) != 0 && ReadU(c.GdtrBase + (uint)(sel & ~7) + 8, 4, out ulong hi)) b |= hi << 32;
                c.Tr = sel;
                c.TrBase = b;
                c.TrLimit = DescLimit(d);
                WriteU(c.GdtrBase + (uint)(sel & ~7) + 5, 1, ((d >> 40) & 0xFF) | 2);   // busy
                Next(in ins);
                return Emu.Done;
            }
            case Mnemonic.Lldt:
            {
                if (!cpl0) return GpInject();
                if (!Operand16(in ins, out ushort sel)) return Emu.Faulted;
                if ((sel & ~3) != 0) return Emu.NotHandled;   // only a null LDT is modelled
                c.Ldtr = sel;
                Next(in ins);
                return Emu.Done;
            }

            case Mnemonic.Rdmsr or Mnemonic.Wrmsr:
            {
                if (!cpl0) return GpInject();
                uint msr = (uint)c[Reg.Rcx];
                if (m == Mnemonic.Rdmsr)
                {
                    if (!ReadMsr(msr, out ulong v)) return GpInject();
                    c[Reg.Rax] = (uint)v;
                    c[Reg.Rdx] = v >> 32;
                }
                else
                {
                    ulong v = (uint)c[Reg.Rax] | ((ulong)(uint)c[Reg.Rdx] << 32);
                    if (!WriteMsr(msr, v)) return GpInject();
                }
                Next(in ins);
                return Emu.Done;
            }

            case Mnemonic.Hlt:
                if (!cpl0) return GpInject();
                Next(in ins);
                // hvm_hlt: with interrupts off the vCPU goes down (hvm_vcpu_down); the last one powers the domain off.
                if ((c.FlagsRest & CpuState.FlagIf) == 0) Shutdown(0);
                else halted = true;   // an event upcall or the singleshot timer wakes it (HvmMachine.Events.cs)
                return Emu.Done;
            case Mnemonic.Cli or Mnemonic.Sti:
            {
                int iopl = (int)((c.Rflags >> 12) & 3);
                if (c.Cpl > iopl) return GpInject();
                if (m == Mnemonic.Cli) c.FlagsRest &= ~CpuState.FlagIf;
                else
                {
                    stiShadow = (c.FlagsRest & CpuState.FlagIf) == 0;   // STI's one-instruction interrupt shadow
                    c.FlagsRest |= CpuState.FlagIf;
                }
                Next(in ins);
                return Emu.Done;
            }
            case Mnemonic.Clts:
                if (!cpl0) return GpInject();
                c.Cr0 &= ~8UL;
                c.TaskSwitched = false;
                Next(in ins);
                return Emu.Done;
            case Mnemonic.Invlpg or Mnemonic.Wbinvd or Mnemonic.Invd or Mnemonic.Wbnoinvd:
                if (!cpl0) return GpInject();
                interp.FlushTlb();
                Next(in ins);
                return Emu.Done;
            case Mnemonic.In or Mnemonic.Out or Mnemonic.Insb or Mnemonic.Insw or Mnemonic.Insd or Mnemonic.Outsb or Mnemonic.Outsw or Mnemonic.Outsd:
                return PortIo(in ins);

            case Mnemonic.Jmp or Mnemonic.Call when ins.Op0Kind is OpKind.FarBranch16 or OpKind.FarBranch32 or OpKind.Memory:
                return FarTransfer(in ins, m == Mnemonic.Call);
            case Mnemonic.Retf:
                return FarReturn(in ins);
            case Mnemonic.Into:
                Next(in ins);
                if ((c.Rflags & CpuState.FlagOf) != 0) InjectSoft(4, c.Rip);
                return Emu.Done;
            case Mnemonic.Iret or Mnemonic.Iretd or Mnemonic.Iretq:
                return Iret(in ins);
        }
        return Emu.NotHandled;
    }

    private void Next(in Instruction ins) => cpu.Rip = cpu.CodeBits == 64 ? ins.NextIP : (uint)ins.NextIP;

    /// <summary>printk's %#x: 0 stays "0".</summary>
    private static string AltHex(ulong v) => v == 0 ? "0" : "0x" + v.ToString("x");

    private Emu GpInject(uint error = 0)
    {
        Inject(13, error, false);
        return Emu.Faulted;
    }

    private Emu UdInject()
    {
        Inject(6, null, false);
        return Emu.Faulted;
    }

    private Emu PfInject(ulong va)
    {
        Lin(va, true, out _, out uint pfec);
        PageFaultAt(va, pfec);
        return Emu.Faulted;
    }

    // ------------------------------------------------------------------ operands

    private ulong Reg32(Register r)
    {
        ulong v = cpu[(Reg)(r.GetFullRegister() - Register.RAX)];
        return r.IsGPR32() ? (uint)v : r.IsGPR16() ? (ushort)v : v;
    }

    private void SetReg(Register r, ulong v)
    {
        var full = (Reg)(r.GetFullRegister() - Register.RAX);
        if (r.IsGPR64()) cpu[full] = v;
        else if (r.IsGPR32()) cpu[full] = (uint)v;
        else if (r.IsGPR16()) cpu[full] = (cpu[full] & ~0xFFFFUL) | (ushort)v;
    }

    /// <summary>The memory operand's linear address (flat segments; FS/GS bases).</summary>
    private ulong Ea(in Instruction ins)
    {
        ulong a = ins.MemoryBase == Register.RIP || ins.MemoryBase == Register.EIP ? ins.MemoryDisplacement64 : ins.MemoryDisplacement64;
        bool rel = ins.MemoryBase is Register.RIP or Register.EIP;
        if (!rel && ins.MemoryBase != Register.None) a += cpu[(Reg)(ins.MemoryBase.GetFullRegister() - Register.RAX)];
        if (ins.MemoryIndex != Register.None) a += cpu[(Reg)(ins.MemoryIndex.GetFullRegister() - Register.RAX)] * (ulong)ins.MemoryIndexScale;
        bool a32 = cpu.CodeBits != 64 || ins.MemoryBase.IsGPR32() || ins.MemoryIndex.IsGPR32();
        if (a32) a = (uint)a;
        if (cpu.CodeBits == 16 && ins.MemoryBase.IsGPR16()) a = (ushort)a;
        if (ins.MemorySegment == Register.FS) a += cpu.FsBase;
        else if (ins.MemorySegment == Register.GS) a += cpu.GsBase;
        return a;
    }

    private bool Operand16(in Instruction ins, out ushort v)
    {
        v = 0;
        if (ins.Op0Kind == OpKind.Register)
        {
            v = (ushort)Reg32(ins.Op0Register);
            return true;
        }
        ulong ea = Ea(in ins);
        if (!ReadU(ea, 2, out ulong x))
        {
            PfInject(ea);
            return false;
        }
        v = (ushort)x;
        return true;
    }

    // ------------------------------------------------------------------ control registers

    private Emu WriteCr(int n, ulong v, in Instruction ins)
    {
        var c = cpu;
        switch (n)
        {
            case 0:
            {
                if ((v >> 32) != 0) return GpInject();
                if ((v & 0x8000_0000) != 0 && (v & 1) == 0) return GpInject();        // PG without PE
                if ((v & 0x4000_0000) == 0 && (v & 0x2000_0000) != 0) return GpInject();   // NW without CD
                bool pgOn = (v & 0x8000_0000) != 0 && (c.Cr0 & 0x8000_0000) == 0;
                if (pgOn && (c.Efer & 0x100) != 0 && (c.Cr4 & 0x20) == 0) return GpInject();   // long mode needs PAE
                if ((v & 0x8000_0000) == 0 && (c.Efer & 0x400) != 0 && c.CodeBits == 64) return GpInject();
                c.Cr0 = v | 0x10;   // ET is hardwired
                c.TaskSwitched = (v & 8) != 0;
                UpdatePaging();
                break;
            }
            case 3:
                c.Cr3 = c.CodeBits == 64 ? v & 0x000F_FFFF_FFFF_FFFF : (uint)v;
                interp.FlushTlb();
                break;
            case 4:
                if ((v & ~Cr4Allowed) != 0) return GpInject();   // bits the CPUID policy does not offer (VMXE, SMXE, PCIDE, LA57, ...)
                if ((c.Efer & 0x400) != 0 && (v & 0x20) == 0) return GpInject();   // PAE cannot be cleared in long mode
                c.Cr4 = v;
                UpdatePaging();
                break;
            case 8:
                break;
            default:
                return UdInject();
        }
        Next(in ins);
        return Emu.Done;
    }

    // ------------------------------------------------------------------ MSRs

    /// <summary>hvm_cr4_guest_valid_bits for the measured CPUID: VME..OSXMMEXCPT, UMIP, FSGSBASE, OSXSAVE, SMEP, SMAP, PKE.</summary>
    private const ulong Cr4Allowed = 0x7FF | 0x800 | 0x1_0000 | 0x4_0000 | 0x10_0000 | 0x20_0000 | 0x40_0000;

    private ulong star, lstar, cstar, sfmask, kernelGsBase, tscAux, pat, sysenterCs, sysenterEsp, sysenterEip;

    private bool ReadMsr(uint msr, out ulong v)
    {
        var c = cpu;
        v = 0;
        switch (msr)
        {
            case MsrEfer: v = c.Efer; return true;
            case 0x10: v = clock.Tsc; return true;
            case 0x1B: v = 0xFEE0_0900; return true;          // APIC base: enabled, BSP, x2APIC off
            case 0x277: v = pat; return true;
            case 0xC000_0081: v = star; return true;
            case 0xC000_0082: v = lstar; return true;
            case 0xC000_0083: v = cstar; return true;
            case 0xC000_0084: v = sfmask; return true;
            case 0xC000_0100: v = c.FsBase; return true;
            case 0xC000_0101: v = c.GsBase; return true;
            case 0xC000_0102: v = kernelGsBase; return true;
            case 0xC000_0103: v = tscAux; return true;
            case 0x174: v = sysenterCs; return true;
            case 0x175: v = sysenterEsp; return true;
            case 0x176: v = sysenterEip; return true;
            case 0x1d9: v = debugCtl; return true;
            case >= 0x800 and <= 0x8FF:
                return X2Apic(msr, false, ref v);
            default:
                if (msrWrites.TryGetValue(msr, out v)) return true;
                return profile.HvmMsr(msr, out v);
        }
    }

    private ulong debugCtl;
    private bool cpuidFaulting;

    /// <summary>
    /// x2APIC MSRs (guest_rdmsr/guest_wrmsr → vlapic): only with APIC base EXTD set; register 0x800 + (offset >> 4)
    /// of the vLAPIC page. The x2APIC id is the vCPU id.
    /// </summary>
    private bool X2Apic(uint msr, bool write, ref ulong v)
    {
        ulong apicBase = msrWrites.TryGetValue(0x1b, out ulong b) ? b : 0xFEE0_0900;
        if ((apicBase & 0xC00) != 0xC00) return false;
        ulong at = Builder.PvhDom0Builder.LapicBase + ((ulong)(msr & 0xFF) << 4);
        if (write)
        {
            if (msr is 0x802 or 0x803 or 0x80D) return false;   // read-only: ID, version, LDR
            memory.WriteU32(at, (uint)v);
            return true;
        }
        v = msr == 0x802 ? 0 : memory.ReadU32(at);
        return true;
    }
    /// <summary>Values written to MSRs the model keeps no other state for (read back as written).</summary>
    private readonly SortedDictionary<uint, ulong> msrWrites = [];

    private bool WriteMsr(uint msr, ulong v)
    {
        var c = cpu;
        switch (msr)
        {
            case MsrEfer:
            {
                // hvm_set_efer: SCE, LME, NXE, SVME? (not offered), FFXSR; LME may not change while paging.
                const ulong allowed = 0x1 | 0x100 | 0x800 | 0x4000;
                // hvm_efer_valid's reasons, logged by hvm_set_efer (xen/arch/x86/hvm/hvm.c)
                v &= ~0x400UL;   // LMA is not the guest's to write
                string? why = (v & ~0x7D01UL) != 0 ? "Unknown bits set"
                    : (v & 0x1000) != 0 ? "SVME without nested virt"
                    : (v & 0x2000) != 0 ? "LMSLE without support" : null;
                if (why is not null)
                {
                    serial.Xen($"d0v0: Invalid EFER update: {AltHex(c.Efer)} -> {AltHex(v)} - {why}");
                    return false;
                }
                if ((v & ~(allowed | 0x400)) != 0) return false;
                if (((v ^ c.Efer) & 0x100) != 0 && (c.Cr0 & 0x8000_0000) != 0)
                    return false;   // gdprintk: silent in a release build
                c.Efer = (v & allowed) | (c.Efer & 0x400);
                UpdatePaging();
                return true;
            }
            case MsrHypercallPage:
                return WriteHypercallPage(v);
            case 0x277: pat = v; return true;
            case 0xC000_0081: star = v; return true;
            case 0xC000_0082: lstar = v; return true;
            case 0xC000_0083: cstar = v; return true;
            case 0xC000_0084: sfmask = v; return true;
            case 0xC000_0100: c.FsBase = v; return true;
            case 0xC000_0101: c.GsBase = v; return true;
            case 0xC000_0102: kernelGsBase = v; return true;
            case 0xC000_0103: tscAux = v; c.TscAux = (uint)v; return true;
            case 0x174: sysenterCs = v; return true;
            case 0x175: sysenterEsp = v; return true;
            case 0x176: sysenterEip = v; return true;
            case >= 0x800 and <= 0x8FF:
                return X2Apic(msr, true, ref v);
            case 0x140:
                // MSR_MISC_FEATURES_ENABLES: only CPUID faulting is offered.
                if ((v & ~1UL) != 0) return false;
                cpuidFaulting = (v & 1) != 0;
                msrWrites[msr] = v;
                return true;
            case 0x1b:
                msrWrites[msr] = v;   // APIC base: the enable bits are kept; the vLAPIC page stays where it is
                return true;
            case 0x1d9:
                // DEBUGCTL: LBR and BTF are offered (svm msr intercept); other bits are #GP.
                if ((v & ~0x3UL) != 0) return false;
                debugCtl = v;
                return true;
            default:
                return false;
        }
    }

    /// <summary>
    /// The Xen MSR (cpuid leaf 0x40000002 ebx): the page at the gpa is filled with 0xCC, then 32-byte stubs
    /// <c>mov eax, i; vmmcall; ret</c>, stub 23 (iret) a ud2 (hvm_hypercall_page_initialise / svm_init_hypercall_page).
    /// </summary>
    private bool WriteHypercallPage(ulong v)
    {
        if ((v & 0xFFF) != 0) return false;
        ulong gpa = v & ~0xFFFUL;
        if ((gpa >> MachineMemory.PageShift) >= memory.FrameCount) return false;
        var page = new byte[MachineMemory.PageSize];
        page.AsSpan().Fill(0xCC);
        for (int i = 0; i < MachineMemory.PageSize / 32; i++)
        {
            int o = i * 32;
            if (i == 23)
            {
                page[o] = 0x0F;
                page[o + 1] = 0x0B;
                continue;
            }
            page[o] = 0xB8;
            BitConverter.TryWriteBytes(page.AsSpan(o + 1), i);
            page[o + 5] = 0x0F;
            page[o + 6] = 0x01;
            page[o + 7] = 0xD9;
            page[o + 8] = 0xC3;
        }
        memory.Write(gpa, page);
        trace.Note($"hypercall page at {gpa:x}");
        return true;
    }

    // ------------------------------------------------------------------ port I/O (QEMU's pc machine: nothing modelled answers)

    private Emu PortIo(in Instruction ins)
    {
        var c = cpu;
        int iopl = (int)((c.Rflags >> 12) & 3);
        if (c.Cpl > iopl) return GpInject();   // the TSS I/O bitmap is not modelled: XTF's is invalid
        var m = ins.Mnemonic;
        int size = m switch
        {
            Mnemonic.Insb or Mnemonic.Outsb => 1,
            Mnemonic.Insw or Mnemonic.Outsw => 2,
            Mnemonic.Insd or Mnemonic.Outsd => 4,
            _ => m == Mnemonic.In ? (ins.Op0Register.IsGPR8() ? 1 : ins.Op0Register.IsGPR16() ? 2 : 4)
                                  : (ins.Op1Register.IsGPR8() ? 1 : ins.Op1Register.IsGPR16() ? 2 : 4),
        };
        if (m == Mnemonic.In) SetRegSized(Register.RAX, size, size == 4 ? 0xFFFF_FFFFUL : size == 2 ? 0xFFFFUL : 0xFFUL);
        else if (m is Mnemonic.Outsb or Mnemonic.Outsw or Mnemonic.Outsd or Mnemonic.Insb or Mnemonic.Insw or Mnemonic.Insd)
        {
            bool rep = ins.HasRepPrefix;
            ulong count = rep ? (c.CodeBits == 64 ? c[Reg.Rcx] : (uint)c[Reg.Rcx]) : 1;
            Reg idx = m is Mnemonic.Outsb or Mnemonic.Outsw or Mnemonic.Outsd ? Reg.Rsi : Reg.Rdi;
            long step = (c.FlagsRest & CpuState.FlagDf) != 0 ? -size : size;
            c[idx] += (ulong)((long)count * step);
            if (c.CodeBits != 64) c[idx] = (uint)c[idx];
            if (rep) c[Reg.Rcx] = 0;
        }
        Next(in ins);
        return Emu.Done;
    }

    private void SetRegSized(Register full, int size, ulong v)
    {
        var r = (Reg)(full - Register.RAX);
        ulong mask = size == 8 ? ulong.MaxValue : (1UL << (8 * size)) - 1;
        cpu[r] = size == 4 ? (uint)v : (cpu[r] & ~mask) | (v & mask);
    }

    // ------------------------------------------------------------------ far transfers and iret

    private Emu FarTransfer(in Instruction ins, bool call)
    {
        var c = cpu;
        ushort sel;
        ulong off;
        int opSize;
        if (ins.Op0Kind is OpKind.FarBranch16 or OpKind.FarBranch32)
        {
            sel = ins.FarBranchSelector;
            off = ins.Op0Kind == OpKind.FarBranch32 ? ins.FarBranch32 : ins.FarBranch16;
            opSize = ins.Op0Kind == OpKind.FarBranch32 ? 4 : 2;
        }
        else
        {
            opSize = ins.MemorySize switch { MemorySize.SegPtr64 => 8, MemorySize.SegPtr32 => 4, MemorySize.SegPtr16 => 2, _ => 0 };
            if (opSize == 0) return Emu.NotHandled;
            ulong ea = Ea(in ins);
            if (!ReadU(ea, opSize, out off) || !ReadU(ea + (ulong)opSize, 2, out ulong s)) return PfInject(ea);
            sel = (ushort)s;
        }
        if (!CodeDescriptor(sel, out ulong d)) return Emu.Faulted;
        int dpl = (int)(d >> 45) & 3;
        bool conforming = (d & (1UL << 42)) != 0;
        if (conforming ? dpl > c.Cpl : (dpl != c.Cpl || (sel & 3) > c.Cpl)) return GpInject((uint)(sel & 0xFFFC));
        if (call)
        {
            int w = c.CodeBits == 64 ? 8 : opSize;
            ulong sp = c[Reg.Rsp];
            ulong next = c.CodeBits == 64 ? ins.NextIP : (uint)ins.NextIP;
            sp -= (ulong)w;
            if (!WriteU(sp, w, c.Cs)) return PfInject(sp);
            sp -= (ulong)w;
            if (!WriteU(sp, w, next)) return PfInject(sp);
            c[Reg.Rsp] = c.CodeBits == 64 ? sp : (uint)sp;
        }
        LoadCs(sel, d, c.Cpl);
        c.Rip = c.CodeBits == 64 ? off : (uint)off;
        trace.Mode(0, $"far {(call ? "call" : "jmp")} to {sel:x}:{c.Rip:x} ({c.CodeBits}-bit)", c.Rip);
        return Emu.Done;
    }

    private Emu FarReturn(in Instruction ins)
    {
        var c = cpu;
        int w = ins.Code is Code.Retfq or Code.Retfq_imm16 ? 8 : ins.Code is Code.Retfd or Code.Retfd_imm16 ? 4 : 2;
        ulong sp = c[Reg.Rsp];
        if (!ReadU(sp, w, out ulong off) || !ReadU(sp + (ulong)w, w, out ulong cs)) return PfInject(sp);
        ushort sel = (ushort)cs;
        if ((sel & 3) != c.Cpl) return Emu.NotHandled;   // returns to an outer ring are not modelled
        if (!CodeDescriptor(sel, out ulong d)) return Emu.Faulted;
        sp += (ulong)(2 * w) + ins.Immediate16;
        c[Reg.Rsp] = c.CodeBits == 64 ? sp : (uint)sp;
        LoadCs(sel, d, c.Cpl);
        c.Rip = c.CodeBits == 64 ? off : (uint)off;
        return Emu.Done;
    }

    private Emu Iret(in Instruction ins)
    {
        var c = cpu;
        int w = ins.Mnemonic == Mnemonic.Iretq ? 8 : ins.Mnemonic == Mnemonic.Iretd ? 4 : 2;
        bool lm64 = c.CodeBits == 64;
        ulong sp = c[Reg.Rsp];
        if (!lm64) sp = (uint)sp;
        if (!ReadU(sp, w, out ulong rip) || !ReadU(sp + (ulong)w, w, out ulong cs) || !ReadU(sp + 2 * (ulong)w, w, out ulong fl))
            return PfInject(sp);
        ushort sel = (ushort)cs;
        int rpl = sel & 3;
        if (rpl < c.Cpl) return GpInject((uint)(sel & 0xFFFC));
        if (!CodeDescriptor(sel, out ulong d)) return Emu.Faulted;
        bool outer = rpl > c.Cpl;
        ulong nsp = sp + 3 * (ulong)w;
        ushort nss = c.Ss;
        if (outer || lm64)
        {
            if (!ReadU(sp + 3 * (ulong)w, w, out ulong rsp) || !ReadU(sp + 4 * (ulong)w, w, out ulong ss)) return PfInject(sp);
            nsp = rsp;
            nss = (ushort)ss;
            if ((nss & ~3) != 0)
            {
                var r = Read(nss, out ulong sd, out _);
                if (r != DescriptorLookup.Found || (nss & 3) != rpl || ((sd >> 45) & 3) != (ulong)rpl
                    || (sd & (1UL << 44)) == 0 || (sd & (1UL << 43)) != 0 || (sd & (1UL << 41)) == 0)
                    return GpInject((uint)(nss & 0xFFFC));
            }
            else if (!lm64 || rpl == 3) return GpInject();
        }
        // Flags: at CPL 0 everything but VM/VIF/VIP; IOPL only at CPL 0, IF when CPL <= IOPL.
        ulong old = c.Rflags;
        ulong mask = 0x3F_7FD5UL & ~(CpuState.FlagVm | CpuState.FlagVif | CpuState.FlagVip);
        if (c.Cpl > 0) mask &= ~CpuState.FlagIopl;
        if (c.Cpl > (int)((old >> 12) & 3)) mask &= ~CpuState.FlagIf;
        if (w == 2) mask &= 0xFFFF;
        c.Rflags = (old & ~mask) | (fl & mask) | 2;
        LoadCs(sel, d, rpl);
        c.Rip = c.CodeBits == 64 ? rip : (uint)rip;
        c.Ss = nss;
        c[Reg.Rsp] = c.CodeBits == 64 || lm64 ? nsp : (uint)nsp;
        if (outer)
        {
            // Data segments the new privilege may not use become null.
            if (!DataOk(c.Ds, rpl)) c.Ds = 0;
            if (!DataOk(c.Es, rpl)) c.Es = 0;
            if (!DataOk(c.Fs, rpl)) { c.Fs = 0; }
            if (!DataOk(c.Gs, rpl)) { c.Gs = 0; }
        }
        return Emu.Done;
    }

    private bool DataOk(ushort sel, int cpl)
    {
        if ((sel & ~3) == 0) return true;
        if (Read(sel, out ulong d, out _) != DescriptorLookup.Found) return false;
        bool code = (d & (1UL << 43)) != 0, conforming = code && (d & (1UL << 42)) != 0;
        return conforming || (int)((d >> 45) & 3) >= cpl;
    }
}
