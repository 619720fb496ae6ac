using Xtf.Abi;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Guest;

/// <summary>
/// What a guarded access saw: <see cref="Vector"/> is -1 when nothing faulted, else the vector
/// (one of <see cref="GuestProgram.CaughtVectors"/>) with Xen's error code (0 for a vector that has
/// none) and the faulting rip. <see cref="Cr2"/> is vCPU 0's
/// <c>vcpu_info.arch.cr2</c>, where Xen puts the faulting address of a #PF for a PV guest.
/// </summary>
public sealed record FaultRecord(Val Vector, Val ErrorCode, Val Rip, Val Cr2);

public sealed partial class GuestProgram
{
    /// <summary>The vectors a guarded access catches: #DE, #UD, #NP, #SS, #GP and #PF.</summary>
    public static readonly int[] CaughtVectors = [0, 6, 11, 12, 13, 14];

    /// <summary>An hvm kernel's guarded access also catches #DB and #BP (traps: rip after the instruction).</summary>
    public static readonly int[] HvmCaughtVectors = [0, 1, 3, 6, 11, 12, 13, 14];

    /// <summary>Vectors whose frame carries an error code.</summary>
    private static bool HasErrorCode(int vector) => vector is 8 or 10 or 11 or 12 or 13 or 14 or 17;

    private (Val Rsp, Val Vector, Val Error, Val Rip)? faultState;

    /// <summary>
    /// Runs <paramref name="access"/> (raw instructions that may fault) with #GP and #PF caught:
    /// a fault resumes after the access with the stack as it was before it. Faults outside a
    /// guarded access still end in the framework's "Unhandled exception" PANIC.
    /// </summary>
    public FaultRecord Guarded(Action access)
    {
        var s = FaultState();
        var resume = NewLabel($"fault_resume{tempCounter++}");
        Set(s.Vector, -1);
        // The resume address goes on the stack and fault_rsp points at it: a caught fault
        // reloads rsp and returns there (no indirect jump); without a fault it is popped.
        a.lea(rax, __[resume.Label]);
        a.push(rax);
        a.mov(__qword_ptr[Abs(s.Rsp.Address)], rsp);
        access();
        a.mov(__qword_ptr[Abs(s.Rsp.Address)], 0);
        a.add(rsp, 8);
        Bind(resume);
        var cr2 = Hvm is { } hvm ? hvm.Cr2 : SharedInfo.U64(Abi.SharedInfo.Layout.VcpuInfoAt(0) + Abi.VcpuInfo.Layout.ArchCr2);
        return new FaultRecord(s.Vector, s.Error, s.Rip, cr2);
    }

    /// <summary>A guarded load of <paramref name="width"/> bytes from <paramref name="address"/>; the value is 0 after a fault.</summary>
    public (FaultRecord Fault, Val Value) GuardedRead(Val address, int width = 8)
    {
        var at = Temp("read_at");
        var value = Temp("read_value");
        Set(at, address);
        Set(value, 0);
        var f = Guarded(() =>
        {
            a.mov(rcx, __qword_ptr[Abs(at.Address)]);
            switch (width)
            {
                case 1: a.movzx(eax, __byte_ptr[rcx]); break;
                case 2: a.movzx(eax, __word_ptr[rcx]); break;
                case 4: a.mov(eax, __dword_ptr[rcx]); break;
                case 8: a.mov(rax, __qword_ptr[rcx]); break;
                default: throw new ArgumentOutOfRangeException(nameof(width));
            }
            a.mov(__qword_ptr[Abs(value.Address)], rax);
        });
        return (f, value);
    }

    /// <summary>A guarded 8-byte store of <paramref name="value"/> to <paramref name="address"/>.</summary>
    public FaultRecord GuardedWrite(Val address, Val value)
    {
        var at = Temp("write_at");
        var v = Temp("write_value");
        Set(at, address);
        Set(v, value);
        return Guarded(() =>
        {
            a.mov(rcx, __qword_ptr[Abs(at.Address)]);
            a.mov(rax, __qword_ptr[Abs(v.Address)]);
            a.mov(__qword_ptr[rcx], rax);
        });
    }

    private (Val Rsp, Val Vector, Val Error, Val Rip) FaultState()
    {
        if (faultState is { } s) return s;
        s = (Var("fault_rsp"), Var("fault_vector", -1), Var("fault_error"), Var("fault_rip"));
        faultState = s;
        var state = s;
        var table = Alloc(TrapInfo.Layout.Size * (CaughtVectors.Length + 1), 16, "fault_trap_table");
        var caught = IsHvm ? HvmCaughtVectors : CaughtVectors;
        for (int i = 0; i < caught.Length; i++)
        {
            int vector = caught[i];
            var catcher = Function($"fault_catch{vector}", () =>
            {
                // Frame: (PV: rcx, r11), [error code], rip, cs, rflags, rsp, ss. Not guarded: the default handler.
                var unguarded = NewLabel($"fault_unguarded{vector}");
                int skip = TrapFrameSkip;
                int ripAt = HasErrorCode(vector) ? skip + 8 : skip;
                a.mov(rax, __qword_ptr[Abs(state.Rsp.Address)]);
                a.test(rax, rax);
                a.jz(unguarded.Label);
                a.mov(__qword_ptr[Abs(state.Vector.Address)], vector);
                if (vector == 14 && Hvm is { } hvm)
                {
                    a.mov(rcx, cr2);
                    a.mov(__qword_ptr[Abs(hvm.Cr2.Address)], rcx);
                }
                if (HasErrorCode(vector)) a.mov(rcx, __qword_ptr[rsp + skip]);
                else a.xor(ecx, ecx);
                a.mov(__qword_ptr[Abs(state.Error.Address)], rcx);
                a.mov(rcx, __qword_ptr[rsp + ripAt]);
                a.mov(__qword_ptr[Abs(state.Rip.Address)], rcx);
                a.mov(__qword_ptr[Abs(state.Rsp.Address)], 0);
                a.mov(rsp, rax);
                a.ret();
                Bind(unguarded);
                a.jmp(Runtime.TrapStubs[vector].Label);
            });
            if (Hvm is { } idt)
            {
                idt.GateTargets[vector] = catcher.Entry;        // the IDT gate itself points at the catcher
                continue;
            }
            ulong e = table.Address + (ulong)(i * TrapInfo.Layout.Size);
            Data.Write(e + TrapInfo.Layout.Vector, [(byte)vector]);
            Data.Write(e + TrapInfo.Layout.Cs, BitConverter.GetBytes(PvLayout.FlatKernelCs));
            StoreAddressAtLink(e + TrapInfo.Layout.Address, catcher.Entry);
        }
        if (Hvm is null) AtBoot(() =>
        {
            var rc = Hypercall(Abi.Hypercall.SetTrapTable, table.Ptr);
            If(rc != 0, () => Panic("set_trap_table(fault catchers) failed: %e", rc));
        });
        return s;
    }
}
