using System.Buffers.Binary;
using System.Diagnostics;
using Xtf.Abi;
using Xtf.Sim.Cpu;
using Xtf.Sim.Memory;

namespace Xtf.Sim.Xen;

/// <summary>
/// Guest memory as the hypervisor reaches it (xen/arch/x86/usercopy.c, copy_from_guest and
/// copy_to_guest): through the vCPU's own page tables, page by page.
/// </summary>
public sealed class GuestMemory
{
    /// <summary>The largest guest buffer one copy may touch (a hypercall argument, never a bulk transfer).</summary>
    public const int MaxCopy = 1 << 20;

    private readonly MachineMemory memory;
    private readonly X86Interpreter cpu;

    public GuestMemory(MachineMemory memory, X86Interpreter interpreter)
    {
        this.memory = memory;
        cpu = interpreter;
    }

    /// <summary>access_ok for a 64-bit PV guest: only the start address is tested (docs/pv-abi.md §0.3).</summary>
    public static bool AccessOk(ulong va) => va < 0x0000_8000_0000_0000 || va >= Hypervisor.HypervisorVirtEnd;

    public static bool IsCanonical(ulong va) => (ulong)((long)(va << 16) >> 16) == va;

    public bool CopyFromGuest(Vcpu v, ulong va, Span<byte> into)
    {
        Debug.Assert(into.Length <= MaxCopy);
        if (!AccessOk(va)) return false;
        while (into.Length > 0)
        {
            int inPage = (int)Math.Min((ulong)into.Length, MachineMemory.PageSize - (va & MachineMemory.PageMask));
            if (!cpu.Translate(v.Cpu, va, AccessKind.Read, false, out ulong ma, out _) || !memory.Contains(ma)) return false;
            memory.Read(ma, into[..inPage]);
            into = into[inPage..];
            va += (ulong)inPage;
        }
        return true;
    }

    /// <summary>Writes guest memory page by page; earlier pages stay written if a later one faults (as Xen).</summary>
    public bool CopyToGuest(Vcpu v, ulong va, ReadOnlySpan<byte> data)
    {
        Debug.Assert(data.Length <= MaxCopy);
        if (!AccessOk(va)) return false;
        while (data.Length > 0)
        {
            int inPage = (int)Math.Min((ulong)data.Length, MachineMemory.PageSize - (va & MachineMemory.PageMask));
            if (!cpu.Translate(v.Cpu, va, AccessKind.Write, false, out ulong ma, out _) || !memory.Contains(ma)) return false;
            memory.Write(ma, data[..inPage]);
            data = data[inPage..];
            va += (ulong)inPage;
        }
        return true;
    }

    /// <summary>copy_from_guest of a whole ABI structure, decoded by its codec; false when it faults.</summary>
    public bool TryRead<T>(Vcpu v, ulong va, out T value) where T : IAbiStruct<T>
    {
        Span<byte> b = stackalloc byte[T.Size];
        bool ok = CopyFromGuest(v, va, b);
        value = ok ? T.Read(b) : default!;
        return ok;
    }

    public bool ReadU64(Vcpu v, ulong va, out ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        bool ok = CopyFromGuest(v, va, b);
        value = ok ? BinaryPrimitives.ReadUInt64LittleEndian(b) : 0;
        return ok;
    }

    public bool ReadU32(Vcpu v, ulong va, out uint value)
    {
        Span<byte> b = stackalloc byte[4];
        bool ok = CopyFromGuest(v, va, b);
        value = ok ? BinaryPrimitives.ReadUInt32LittleEndian(b) : 0;
        return ok;
    }

    public bool WriteU64(Vcpu v, ulong va, ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        return CopyToGuest(v, va, b);
    }

    public bool WriteU32(Vcpu v, ulong va, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        return CopyToGuest(v, va, b);
    }
}
