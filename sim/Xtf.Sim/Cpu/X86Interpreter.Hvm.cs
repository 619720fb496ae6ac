using System.Runtime.CompilerServices;
using Iced.Intel;

namespace Xtf.Sim.Cpu;

// The HVM vCPU's part of the interpreter (docs/hvm.md §2): the decoder's mode and the page walker's
// paging mode follow the vCPU's state at each Run; 16/32-bit near branches; system instructions and
// control transfers through descriptors are left to the HVM model (an exit the model emulates).
public sealed partial class X86Interpreter
{
    private bool hvmDecode;
    private PagingMode lastPaging;
    private ulong lastHvmBits;

    /// <summary>Sets the decoder mode and translation from an HVM vCPU's state; a change drops decoded code and the TLBs.</summary>
    private void PrepareHvm(CpuState c)
    {
        hvmDecode = true;
        walker.HvmVcpu = true;
        ulong bits = (ulong)(c.Cr4 & 0x10) | (c.Cr0 & 0x1_0000) | (c.Efer & 0x800);   // CR4.PSE, CR0.WP, EFER.NXE
        if (compiler.Bits != c.CodeBits)
        {
            compiler.SetBits(c.CodeBits);
            decodeCache.Release();
            FlushTlb();
        }
        if (c.Paging != lastPaging || bits != lastHvmBits)
        {
            lastPaging = c.Paging;
            lastHvmBits = bits;
            walker.Mode = c.Paging;
            walker.Pse = (c.Cr4 & 0x10) != 0;
            walker.Wp = (c.Cr0 & 0x1_0000) != 0;
            walker.Nxe = (c.Efer & 0x800) != 0;
            FlushTlb();
            tlbCr3 = c.Cr3;
            tlbCpl = c.Cpl;
        }
    }

    /// <summary>
    /// Instructions whose PV handling (Xen's descriptor model, ring 3 only) does not fit an HVM vCPU become
    /// #UD exits the HVM model emulates: iret, far transfers, descriptor-table stores, syscall, cpuid (always intercepted for HVM).
    /// </summary>
    private static void HvmFilter(in Instruction ins, ref Op op)
    {
        if (op.H is H.Iretq or H.Retf or H.FarBranch or H.StoreSys or H.Syscall or H.SegBase or H.Cpuid)
        {
            byte len = op.Len;
            op = default;
            op.Base = Op.NoReg;
            op.Index = Op.NoReg;
            op.Len = len;
            op.H = H.Unimplemented;
            op.Imm = (ulong)ins.Mnemonic;
        }
    }

    /// <summary>16/32-bit near call, ret and indirect jmp: a 4-byte return address on the stack.</summary>
    private int Near32(ref Op op, ref ulong R)
    {
        var c = cpu;
        ulong sp = Unsafe.Add(ref R, 4);
        switch (op.Aux)
        {
            case 4:
            {
                if (!Read((uint)sp, 4, Op.MfStack, out ulong t)) return StFault;
                Unsafe.Add(ref R, 4) = (uint)(sp + 4 + op.Imm);
                c.Rip = (uint)t;
                return StOk;
            }
            case 3:
            {
                if (!Read(EA(ref op, ref R), 4, op.MemFlags, out ulong t)) return StFault;
                c.Rip = (uint)t;
                return StOk;
            }
            default:
            {
                ulong t;
                if (op.Aux == 0) t = c.Rip + (ulong)op.Disp;
                else if (op.Aux == 1) t = Unsafe.Add(ref R, op.A);
                else if (!Read(EA(ref op, ref R), 4, op.MemFlags, out t)) return StFault;
                ulong nsp = (uint)(sp - 4);
                if (!Write(nsp, 4, Op.MfStack, c.Rip)) return StFault;
                Unsafe.Add(ref R, 4) = nsp;
                c.Rip = (uint)t;
                return StOk;
            }
        }
    }
}

public sealed partial class X86Interpreter
{
    /// <summary>The address of the instruction the last <see cref="Run"/> ended on (the start of a trapping int n/int3).</summary>
    public ulong LastInstructionRip => instructionRip;

    /// <summary>Applies an HVM vCPU's mode (decoder bits, paging) now, e.g. before translating for the hypervisor after a mode change.</summary>
    public void SyncHvm(CpuState c)
    {
        ArgumentNullException.ThrowIfNull(c);
        if (c.Hvm) PrepareHvm(c);
    }
}
