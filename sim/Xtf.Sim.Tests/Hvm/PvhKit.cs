using Iced.Intel;
using Xtf.Elf;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Sim.Tests.Hvm;

/// <summary>
/// A small PVH kernel (ELF64 container, one PT_LOAD at 1 MiB, only a PHYS32_ENTRY note) that walks the HVM
/// vCPU through its modes: 32-bit protected mode with paging off, its own GDT, the hypercall page through
/// the Xen MSR, console_io from 32-bit code, PAE + EFER.LME + CR0.PG, a far jump into 64-bit code,
/// console_io from 64-bit code, a #UD delivered through a 64-bit IDT gate, and SCHEDOP_shutdown.
/// </summary>
internal static class PvhKit
{
    public const ulong Base = 0x100000, HypercallPage = 0x101000, Pml4 = 0x102000, Gdt = 0x105000, GdtPtr = 0x105100,
        IdtPtr = 0x105110, Strings = 0x105200, Reason = 0x105300, Idt = 0x107000, Code64 = 0x100800, Handler = 0x100C00, Upcall = 0x100E00;
    public const int Size = 0x8000;

    public static byte[] Kernel(bool withEntryNote = true, Action<Assembler>? more64 = null, Action<Assembler>? upcall = null)
    {
        var image = new byte[Size];
        // 4-level tables: identity map of the first 2 MiB with one large page.
        W64(image, Pml4, 0x103003);
        W64(image, 0x103000, 0x104003);
        W64(image, 0x104000, 0x83);
        // GDT: 0x08 64-bit code, 0x10 flat data, 0x18 flat 32-bit code.
        W64(image, Gdt + 8, 0x00AF_9A00_0000_FFFF);
        W64(image, Gdt + 16, 0x00CF_9200_0000_FFFF);
        W64(image, Gdt + 24, 0x00CF_9A00_0000_FFFF);
        W16(image, GdtPtr, 0x1F);
        W64(image, GdtPtr + 2, Gdt);
        // IDT: vector 6 → Handler through a 64-bit interrupt gate.
        ulong gate = Idt + 6 * 16;
        W16(image, gate, unchecked((ushort)Handler));
        W16(image, gate + 2, 0x08);
        image[gate + 5 - Base] = 0x8E;
        W16(image, gate + 6, (ushort)(Handler >> 16));
        W16(image, IdtPtr, 16 * 48 - 1);
        W64(image, IdtPtr + 2, Idt);
        "A\n"u8.CopyTo(image.AsSpan((int)(Strings - Base)));
        "B\n"u8.CopyTo(image.AsSpan((int)(Strings + 0x10 - Base)));
        "C\n"u8.CopyTo(image.AsSpan((int)(Strings + 0x20 - Base)));

        var a = new Assembler(32);
        a.mov(esi, ebx);                                   // hvm_start_info
        a.lgdt(__dword_ptr[(uint)GdtPtr]);
        a.db(0xEA); a.dd((uint)Base + 0x40); a.dw(0x18);   // jmp 0x18:Base+0x40
        var entry = Assemble(a, Base);
        a = new Assembler(32);
        a.mov(eax, 0x10);
        a.mov(ds, ax);
        a.mov(es, ax);
        a.mov(ss, ax);
        a.mov(esp, (uint)(Base + Size));
        a.mov(ecx, 0x4000_0000u);
        a.mov(eax, (uint)HypercallPage);
        a.xor(edx, edx);
        a.wrmsr();
        a.mov(ebx, 0);                                     // CONSOLEIO_write
        a.mov(ecx, 2);
        a.mov(edx, (uint)Strings);
        a.mov(eax, (uint)(HypercallPage + 18 * 32));
        a.call(eax);
        a.mov(eax, 0x20);
        a.mov(cr4, eax);                                   // PAE
        a.mov(eax, (uint)Pml4);
        a.mov(cr3, eax);
        a.mov(ecx, 0xC000_0080u);
        a.rdmsr();
        a.or(eax, 0x100);                                  // EFER.LME
        a.wrmsr();
        a.mov(eax, cr0);
        a.or(eax, 0x8000_0001u);
        a.mov(cr0, eax);
        a.db(0xEA); a.dd((uint)Code64); a.dw(0x08);        // jmp 0x08:Code64
        var code32 = Assemble(a, Base + 0x40);

        var b = new Assembler(64);
        b.lidt(__qword_ptr[(uint)IdtPtr]);
        b.mov(edi, 0);
        b.mov(esi, 2);
        b.mov(edx, (uint)(Strings + 0x10));
        b.mov(eax, (uint)(HypercallPage + 18 * 32));
        b.call(rax);
        more64?.Invoke(b);
        b.ud2();
        var code64 = Assemble(b, Code64);
        if (upcall is not null)
        {
            // Vector 0x20 → Upcall through a 64-bit interrupt gate.
            ulong g = Idt + 0x20 * 16;
            W16(image, g, unchecked((ushort)Upcall));
            W16(image, g + 2, 0x08);
            image[g + 5 - Base] = 0x8E;
            W16(image, g + 6, (ushort)(Upcall >> 16));
            var u = new Assembler(64);
            upcall(u);
            Assemble(u, Upcall).CopyTo(image, (int)(Upcall - Base));
        }

        var h = new Assembler(64);
        h.mov(edi, 0);
        h.mov(esi, 2);
        h.mov(edx, (uint)(Strings + 0x20));
        h.mov(eax, (uint)(HypercallPage + 18 * 32));
        h.call(rax);
        h.mov(__dword_ptr[(uint)Reason], 0);
        h.mov(edi, 2);                                     // SCHEDOP_shutdown
        h.mov(esi, (uint)Reason);
        h.mov(eax, (uint)(HypercallPage + 29 * 32));
        h.call(rax);
        h.hlt();
        var handler = Assemble(h, Handler);

        entry.CopyTo(image, 0);
        code32.CopyTo(image, 0x40);
        code64.CopyTo(image, (int)(Code64 - Base));
        handler.CopyTo(image, (int)(Handler - Base));

        var builder = new ElfBuilder(ElfMachine.X86_64, Base)
            .AddLoad(Base, Base, image, Size, SegmentFlags.R | SegmentFlags.W | SegmentFlags.X);
        if (withEntryNote) builder.AddNoteSegment(ElfNotes.Encode([ElfNote.XenNumeric(XenElfNote.Phys32Entry, Base, 4)]));
        else builder.AddNoteSegment(ElfNotes.Encode([ElfNote.XenString(XenElfNote.GuestOs, "XTF")]));
        return builder.Build();
    }

    private static byte[] Assemble(Assembler a, ulong ip)
    {
        var w = new StreamCodeWriter(new MemoryStream());
        var s = (MemoryStream)w.Stream;
        a.Assemble(w, ip);
        return s.ToArray();
    }

    private static void W64(byte[] image, ulong at, ulong v) => BitConverter.TryWriteBytes(image.AsSpan((int)(at - Base)), v);
    private static void W16(byte[] image, ulong at, ushort v) => BitConverter.TryWriteBytes(image.AsSpan((int)(at - Base)), v);
}
