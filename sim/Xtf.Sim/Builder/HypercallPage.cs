namespace Xtf.Sim.Builder;

/// <summary>
/// The 64-bit PV hypercall page (xen/arch/x86/pv/hypercall.c, hypercall_page_initialise_ring3_kernel):
/// 0xCC everywhere, then one 32-byte stub per hypercall number:
/// <c>push rcx; push r11; mov eax, i; syscall; pop r11; pop rcx; ret</c>. Stub 23 (iret) has no
/// return: <c>push rcx; push r11; push rax; mov eax, 23; syscall</c>.
/// </summary>
public static class HypercallPage
{
    public const int Size = 4096;
    public const int StubSize = 32;
    public const int Stubs = Size / StubSize;
    public const int IretStub = 23;
    public const byte Fill = 0xCC;

    /// <summary>The page's 4096 bytes.</summary>
    public static byte[] Build()
    {
        var page = new byte[Size];
        Write(page);
        return page;
    }

    public static void Write(Span<byte> page)
    {
        if (page.Length < Size) throw new ArgumentException("a hypercall page is 4096 bytes", nameof(page));
        page[..Size].Fill(Fill);
        for (int i = 0; i < Stubs; i++)
        {
            var stub = page.Slice(i * StubSize, StubSize);
            int at = 0;
            stub[at++] = 0x51;                     // push %rcx
            stub[at++] = 0x41; stub[at++] = 0x53;  // push %r11
            if (i == IretStub) stub[at++] = 0x50;  // push %rax
            stub[at++] = 0xB8;                     // mov $i, %eax
            BitConverter.TryWriteBytes(stub.Slice(at, 4), (uint)i);
            at += 4;
            stub[at++] = 0x0F; stub[at++] = 0x05;  // syscall
            if (i == IretStub) continue;
            stub[at++] = 0x41; stub[at++] = 0x5B;  // pop %r11
            stub[at++] = 0x59;                     // pop %rcx
            stub[at] = 0xC3;                       // ret
        }
    }
}
