namespace Xtf.Guest;

/// <summary>
/// Where things live in a pv64 test kernel. The image is one RWX PT_LOAD at VA = PA = 0x100000,
/// the shape measured as accepted by Xen 4.17's dom0 builder (docs/dom0.md §2.2; no VIRT_BASE,
/// so Xen maps 0..4 MiB one to one).
/// </summary>
public static class GuestLayout
{
    public const ulong PageSize = 0x1000;

    /// <summary>Entry point: a jmp to the generated code, followed by the ELF notes.</summary>
    public const ulong ImageBase = 0x100000;

    /// <summary>The page Xen fills with hypercall stubs (HYPERCALL_PAGE note).</summary>
    public const ulong HypercallPage = 0x101000;

    /// <summary>Data, strings, variables and stacks grow upward from here; code follows them.</summary>
    public const ulong DataBase = 0x102000;

    /// <summary>hvm64: where in page 0 the 32-bit entry stub (XEN_ELFNOTE_PHYS32_ENTRY) starts; the notes end before it.</summary>
    public const int Entry32Offset = 0x800;

    /// <summary>Size of one hypercall stub in the hypercall page.</summary>
    public const int StubSize = 32;

    /// <summary>
    /// Bytes the unfilled hypercall page holds: ud2 repeated, so a call into a page Xen did not
    /// fill is a #UD, never a silent slide.
    /// </summary>
    public static ReadOnlySpan<byte> PoisonPattern => [0x0F, 0x0B];

    /// <summary>First 8 bytes of stub 0 once Xen filled the page: push rcx; push r11; mov eax, 0.</summary>
    public const ulong FilledStub0 = 0x00000000_B8534151;

    /// <summary>Default kernel stack size for vCPU 0.</summary>
    public const int StackSize = 4 * (int)PageSize;

    /// <summary>Upper bound on one image, so a runaway generator fails clearly.</summary>
    public const int MaxImageBytes = 2 * 1024 * 1024;

    public static ulong StubAddress(int hypercall) => HypercallPage + (ulong)(hypercall * StubSize);

    public static ulong AlignUp(ulong value, ulong align) => (value + align - 1) & ~(align - 1);
}
