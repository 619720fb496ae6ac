using Iced.Intel;
using Xtf.Abi;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Guest;

/// <summary>
/// What an hvm64 kernel carries besides the common runtime (docs/hvm.md, "The framework's HVM kernels"):
/// a GDT with a 64-bit code segment, an IDT of 256 interrupt gates (the exceptions, and any a test installs), and page tables mapping the
/// first 4 GiB one to one with 2 MiB pages. Xen enters the kernel at its PHYS32_ENTRY in 32-bit
/// protected mode with paging off (docs/dom0.md §4.4); a small 32-bit stub turns on PAE, long mode
/// and paging and jumps to the 64-bit entry, where the rest of the runtime is the same as pv64's.
/// </summary>
internal sealed class HvmTables
{
    public const ushort CodeSelector = 0x08, DataSelector = 0x10;

    /// <summary>MSR_EFER and its long-mode enable bit.</summary>
    public const uint MsrEfer = 0xC000_0080, EferLme = 1 << 8;

    /// <summary>Xen's CPUID leaves start here (docs/dom0.md §4.5); base + 2 names the hypercall-page MSR in ebx.</summary>
    public const uint XenCpuidBase = 0x4000_0000;

    /// <summary>The first bytes of a filled stub 0: <c>mov eax, 0</c> (then vmcall or vmmcall, ret).</summary>
    public const ulong FilledStub0 = 0xB8, FilledStub0Mask = 0xFF_FFFF_FFFF;

    private const int Gates = 256, GateSize = 16, MappedGiB = 4;

    // null, 64-bit ring-0 code, ring-0 data, 32-bit ring-0 code (unused after the switch, kept for a far return)
    private static readonly ulong[] GdtEntries = [0, 0x00AF_9B00_0000_FFFF, 0x00CF_9300_0000_FFFF, 0x00CF_9B00_0000_FFFF];

    public HvmTables(GuestProgram g)
    {
        var d = g.Data;
        Gdt = d.Reserve(8 * GdtEntries.Length, 16);
        for (int i = 0; i < GdtEntries.Length; i++) d.WriteU64(Gdt + (ulong)(8 * i), GdtEntries[i]);
        Gdtr = d.Reserve(10, 16);
        d.Write(Gdtr, BitConverter.GetBytes((ushort)(8 * GdtEntries.Length - 1)));
        d.WriteU64(Gdtr + 2, Gdt);

        Idt = d.Reserve(Gates * GateSize, 16);
        Idtr = d.Reserve(10, 16);
        d.Write(Idtr, BitConverter.GetBytes((ushort)(Gates * GateSize - 1)));
        d.WriteU64(Idtr + 2, Idt);
        GateTargets = new GuestLabel?[Gates];
        g.Runtime.TrapStubs.CopyTo(GateTargets, 0);

        // L4[0] -> L3; L3[i] -> L2 page i; each L2 maps 1 GiB with 2 MiB pages (present, writable, PS).
        L4 = d.Reserve((int)GuestLayout.PageSize, (int)GuestLayout.PageSize);
        ulong l3 = d.Reserve((int)GuestLayout.PageSize, (int)GuestLayout.PageSize);
        ulong l2 = d.Reserve(MappedGiB * (int)GuestLayout.PageSize, (int)GuestLayout.PageSize);
        d.WriteU64(L4, l3 | 0x3);
        for (int i = 0; i < MappedGiB; i++)
        {
            ulong table = l2 + (ulong)i * GuestLayout.PageSize;
            d.WriteU64(l3 + (ulong)(8 * i), table | 0x3);
            for (int j = 0; j < 512; j++) d.WriteU64(table + (ulong)(8 * j), (((ulong)i << 30) + ((ulong)j << 21)) | 0x83);
        }
        Cr2 = g.Var("fault_cr2");
        Entry = new HvmEntryState(
            g.Var("entry_eax"), g.Var("entry_ebx"), g.Var("entry_ecx"), g.Var("entry_edx"),
            g.Var("entry_esi"), g.Var("entry_edi"), g.Var("entry_ebp"), g.Var("entry_esp"),
            g.Var("entry_eflags"), g.Var("entry_cr0"), g.Var("entry_cr3"), g.Var("entry_cr4"), g.Var("entry_efer"),
            g.Var("entry_cs"), g.Var("entry_ds"), g.Var("entry_es"), g.Var("entry_ss"), g.Var("entry_fs"), g.Var("entry_gs"));
        stackTop = g.Runtime.StackTop;
    }

    private readonly ulong stackTop;

    /// <summary>The registers as Xen started vCPU 0, saved by the 32-bit stub before it changes any.</summary>
    public HvmEntryState Entry { get; }

    public ulong Gdt { get; }
    public ulong Gdtr { get; }
    public ulong Idt { get; }
    public ulong Idtr { get; }
    public ulong L4 { get; }

    /// <summary>Where a guarded #PF leaves CR2 (an HVM guest reads the register itself).</summary>
    public Val Cr2 { get; }

    /// <summary>
    /// The handler each IDT gate points at: for the 32 exceptions the runtime's trap stubs (or the fault catchers of
    /// a guarded access), above them a test's own interrupt handlers; null leaves the gate not present (#NP).
    /// </summary>
    public GuestLabel?[] GateTargets { get; }

    /// <summary>The 16-byte 64-bit interrupt gate for vector <paramref name="v"/> to <paramref name="handler"/>; #BP and #OF may be raised from ring 3.</summary>
    public static byte[] Gate(int v, ulong handler)
    {
        var gate = new byte[GateSize];
        BitConverter.GetBytes((ushort)handler).CopyTo(gate, 0);
        BitConverter.GetBytes(CodeSelector).CopyTo(gate, 2);
        gate[5] = (byte)(v is 3 or 4 ? 0xEE : 0x8E);
        BitConverter.GetBytes((ushort)(handler >> 16)).CopyTo(gate, 6);
        BitConverter.GetBytes((uint)(handler >> 32)).CopyTo(gate, 8);
        return gate;
    }

    public ulong GateAddress(int v) => Idt + (ulong)(v * GateSize);

    /// <summary>
    /// The 32-bit code at the PHYS32_ENTRY: keep ebx (hvm_start_info), load the GDT, enable PAE, point
    /// CR3 at the tables, set EFER.LME, enable paging, and far-jump to <paramref name="entry64"/>.
    /// </summary>
    public byte[] Entry32(ulong at, ulong startInfoVar, ulong entry64)
    {
        var a = new Assembler(32);
        var e = Entry;
        uint At(Val v) => (uint)v.Address;
        a.mov(__dword_ptr[(uint)startInfoVar], ebx);
        a.mov(__dword_ptr[At(e.Eax)], eax);
        a.mov(__dword_ptr[At(e.Ebx)], ebx);
        a.mov(__dword_ptr[At(e.Ecx)], ecx);
        a.mov(__dword_ptr[At(e.Edx)], edx);
        a.mov(__dword_ptr[At(e.Esi)], esi);
        a.mov(__dword_ptr[At(e.Edi)], edi);
        a.mov(__dword_ptr[At(e.Ebp)], ebp);
        a.mov(__dword_ptr[At(e.Esp)], esp);
        a.mov(__word_ptr[At(e.Cs)], cs);
        a.mov(__word_ptr[At(e.Ds)], ds);
        a.mov(__word_ptr[At(e.Es)], es);
        a.mov(__word_ptr[At(e.Ss)], ss);
        a.mov(__word_ptr[At(e.Fs)], fs);
        a.mov(__word_ptr[At(e.Gs)], gs);
        a.mov(esp, (uint)stackTop);                        // Xen starts with esp 0: no stack until now
        a.pushfd();
        a.pop(eax);
        a.mov(__dword_ptr[At(e.Eflags)], eax);
        a.mov(eax, cr0);
        a.mov(__dword_ptr[At(e.Cr0)], eax);
        a.mov(eax, cr3);
        a.mov(__dword_ptr[At(e.Cr3)], eax);
        a.mov(eax, cr4);
        a.mov(__dword_ptr[At(e.Cr4)], eax);
        a.mov(ecx, MsrEfer);
        a.rdmsr();
        a.mov(__dword_ptr[At(e.Efer)], eax);
        a.lgdt(__[(uint)Gdtr]);
        a.mov(eax, cr4);
        a.or(eax, 0x20);                                   // CR4.PAE
        a.mov(cr4, eax);
        a.mov(eax, (uint)L4);
        a.mov(cr3, eax);
        a.mov(ecx, MsrEfer);
        a.rdmsr();
        a.or(eax, (int)EferLme);
        a.wrmsr();
        a.mov(eax, cr0);
        a.or(eax, unchecked((int)0x8000_0001));            // CR0.PG | CR0.PE
        a.mov(cr0, eax);
        a.db(0xEA);                                        // jmp far ptr16:32 to the 64-bit code segment
        a.dd((uint)entry64);
        a.dw(CodeSelector);
        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), at);
        return stream.ToArray();
    }
}

/// <summary>vCPU 0's registers at an HVM kernel's PHYS32_ENTRY (the low 32 bits; selectors 16), as guest variables.</summary>
public sealed record HvmEntryState(
    Val Eax, Val Ebx, Val Ecx, Val Edx, Val Esi, Val Edi, Val Ebp, Val Esp,
    Val Eflags, Val Cr0, Val Cr3, Val Cr4, Val Efer,
    Val Cs, Val Ds, Val Es, Val Ss, Val Fs, Val Gs);

public sealed partial class GuestProgram
{
    /// <summary>HVM only: the registers Xen started vCPU 0 with (docs/dom0.md §4.4), saved before the kernel changes them.</summary>
    public HvmEntryState HvmEntry => Hvm?.Entry ?? throw new InvalidOperationException("the entry registers are saved by hvm kernels only");

    /// <summary>
    /// HVM only: points IDT gate <paramref name="vector"/> (32–255) at <paramref name="handler"/>, an interrupt gate
    /// (interrupts off on entry). The handler's body is raw code that saves what it uses and ends in <c>iretq</c>.
    /// </summary>
    public void InterruptGate(int vector, Routine handler)
    {
        if (Hvm is not { } hvm) throw new InvalidOperationException("interrupt gates belong to hvm kernels");
        ArgumentOutOfRangeException.ThrowIfLessThan(vector, 32);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(vector, 255);
        handler.Entry.Referenced = true;
        hvm.GateTargets[vector] = handler.Entry;
    }

    /// <summary>
    /// The 64-bit start of an hvm64 kernel (the 32-bit stub jumps here): flat data segments, the boot
    /// stack, the IDT, then the hypercall page, which Xen writes when the kernel names it in the MSR
    /// that CPUID leaf 0x40000002 gives (docs/dom0.md §4.5).
    /// </summary>
    private void EmitHvmStart()
    {
        var hvm = Hvm!;
        a.mov(eax, (int)HvmTables.DataSelector);
        a.mov(ds, ax);
        a.mov(es, ax);
        a.mov(ss, ax);
        a.xor(eax, eax);
        a.mov(fs, ax);
        a.mov(gs, ax);
        MovImm(rsp, (long)Runtime.StackTop);
        a.lidt(__[Abs(hvm.Idtr)]);
        a.mov(eax, HvmTables.XenCpuidBase + 2);
        a.xor(ecx, ecx);
        a.cpuid();
        a.mov(ecx, ebx);
        a.mov(eax, (uint)GuestLayout.HypercallPage);
        a.xor(edx, edx);
        a.wrmsr();
        a.mov(rax, __qword_ptr[Abs(GuestLayout.HypercallPage)]);
        MovImm(rcx, unchecked((long)HvmTables.FilledStub0Mask));
        a.and(rax, rcx);
        a.cmp(rax, (int)HvmTables.FilledStub0);
        a.jne(Runtime.HypercallPageNotFilled.Label);
    }

    /// <summary>
    /// XENMEM_add_to_physmap(DOMID_SELF, XENMAPSPACE_shared_info, 0, gpfn of <paramref name="window"/>): an HVM
    /// guest places shared_info in its own physical memory (docs/dom0.md §4.5).
    /// </summary>
    private void EmitHvmSharedInfoMapping(GuestBuffer window)
    {
        ulong xatp = Data.Reserve(XenAddToPhysmap.Layout.Size, 8);
        Data.Write(xatp, new XenAddToPhysmap { Domid = DomId.Self, Space = XenAddToPhysmap.SpaceSharedInfo, Gpfn = window.Address >> 12 }.ToBytes());
        var rc = Hypercall(Abi.Hypercall.MemoryOp, (long)Abi.MemoryOp.AddToPhysmap, (long)xatp);
        If(rc != 0, () => Panic("add_to_physmap(shared_info) failed: %e", rc));
    }
}
