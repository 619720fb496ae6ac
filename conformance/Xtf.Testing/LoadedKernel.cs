using Iced.Intel;
using Xtf.Elf;
using Xtf.Guest;

namespace Xtf.Testing;

/// <summary>A parsed kernel: the ELF, its single PT_LOAD, and byte access by virtual address.</summary>
public sealed class LoadedKernel
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
        byte[] bytes = Code.ToArray();
        var reader = new ByteArrayCodeReader(bytes);
        var decoder = Decoder.Create(64, reader, Image.CodeBase);
        var list = new List<Instruction>();
        ulong end = Image.CodeBase + (ulong)Image.CodeSize;
        var marker = GuestProgram.ForcedEmulationPrefix.AsSpan(2);
        while (decoder.IP < end)
        {
            decoder.Decode(out var instruction);
            list.Add(instruction);
            // Xen's forced-emulation prefix is ud2 followed by the bytes "xen": data, not instructions.
            if (instruction.Code == Iced.Intel.Code.Ud2 && reader.Position + marker.Length <= bytes.Length &&
                bytes.AsSpan(reader.Position, marker.Length).SequenceEqual(marker))
            {
                reader.Position += marker.Length;
                decoder.IP += (ulong)marker.Length;
            }
        }
        return list;
    }

    /// <summary>The absolute address a memory operand names (absolute disp32 or RIP-relative).</summary>
    public static ulong MemoryAddress(in Instruction i) =>
        i.IsIPRelativeMemoryOperand ? i.IPRelativeMemoryAddress : i.MemoryDisplacement64;
}
