using Iced.Intel;
using Xtf.Elf;
using Xtf.Guest;

namespace Xtf.Guest.Tests;

/// <summary>Builds kernels once per test run and reads them back the way Xen's loader would.</summary>
internal static class Kernels
{
    private static readonly Lazy<TestCatalog> LazyCatalog =
        new(() => TestCatalog.FromAssemblies(typeof(Xtf.Suite.Pv.Example).Assembly));

    private static readonly Dictionary<string, KernelImage> Built = new(StringComparer.Ordinal);

    public static TestCatalog Catalog => LazyCatalog.Value;

    /// <summary>Full names of every catalog case, for TestCaseSource.</summary>
    /// <summary>
    /// The generator's kernels: every catalog case except those whose image a test deliberately
    /// breaks (<see cref="XtfTest.ExpectedRefusal"/>), which Xen must refuse and no shape test applies to.
    /// </summary>
    public static IEnumerable<string> CaseNames() => Catalog.Cases.Where(c => c.Test.ExpectedRefusal is null).Select(c => c.FullName);

    public static TestCase Case(string fullName) => Catalog.Cases.Single(c => c.FullName == fullName);

    /// <summary>The kernel of a catalog case, built once.</summary>
    public static KernelImage Get(string fullName)
    {
        lock (Built)
        {
            if (!Built.TryGetValue(fullName, out var image))
                Built[fullName] = image = Case(fullName).Build();
            return image;
        }
    }

    /// <summary>A kernel for a hand-written body.</summary>
    public static KernelImage Build(Action<GuestProgram> body, string title = "unit") =>
        KernelBuilder.Build("test-pv64-unit", title, body);
}

/// <summary>A parsed kernel: the ELF, its single PT_LOAD, and byte access by virtual address.</summary>
internal sealed class LoadedKernel
{
    public LoadedKernel(KernelImage image)
    {
        Image = image;
        Elf = ElfImage.Parse(image.Bytes);
        Load = Elf.ProgramHeaders.Single(p => p.Type == SegmentType.Load);
        Memory = Elf.FileBytes(Load).ToArray();
    }

    public KernelImage Image { get; }
    public ElfImage Elf { get; }
    public ProgramHeader Load { get; }

    /// <summary>The PT_LOAD's file bytes; index 0 is virtual address <see cref="ProgramHeader.VirtualAddress"/>.</summary>
    public byte[] Memory { get; }

    public ReadOnlySpan<byte> At(ulong va, int length)
    {
        if (va < Load.VirtualAddress || va + (ulong)length > Load.VirtualAddress + (ulong)Memory.Length)
            throw new ArgumentOutOfRangeException(nameof(va), $"0x{va:x}+{length} is outside the image");
        return Memory.AsSpan((int)(va - Load.VirtualAddress), length);
    }

    public ulong U64(ulong va) => BitConverter.ToUInt64(At(va, 8));

    public ReadOnlySpan<byte> Code => At(Image.CodeBase, Image.CodeSize);

    public bool InCode(ulong va) => va >= Image.CodeBase && va < Image.CodeBase + (ulong)Image.CodeSize;

    /// <summary>Every instruction of the code region, decoded linearly from the code base.</summary>
    public List<Instruction> Decode()
    {
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(Code.ToArray()), Image.CodeBase);
        var list = new List<Instruction>();
        ulong end = Image.CodeBase + (ulong)Image.CodeSize;
        while (decoder.IP < end)
        {
            decoder.Decode(out var instruction);
            list.Add(instruction);
        }
        return list;
    }

    /// <summary>The absolute address a memory operand names (absolute disp32 or RIP-relative).</summary>
    public static ulong MemoryAddress(in Instruction i) =>
        i.IsIPRelativeMemoryOperand ? i.IPRelativeMemoryAddress : i.MemoryDisplacement64;
}
