using Iced.Intel;
using Xtf.Elf;
using Xtf.Guest;

namespace Xtf.Suite.Hvm.Tests;

/// <summary>
/// The shape of every hvm64 kernel: one loadable segment at 1 MiB, exactly one Xen note (PHYS32_ENTRY, so
/// Xen's PVH builder takes it and a PV builder would not), and a 32-bit entry stub that saves the registers,
/// turns on PAE, long mode and paging, and ends in a far jump to the 64-bit code selector.
/// </summary>
public sealed class HvmImageTests
{
    private static readonly Lazy<TestCatalog> Catalog = new(() => TestCatalog.FromAssemblies(typeof(Example).Assembly));

    public static IEnumerable<string> Names() => Catalog.Value.Cases.Select(c => c.FullName);

    [TestCaseSource(nameof(Names))]
    public void OnePhys32EntryNoteAndA32BitStub(string name)
    {
        var image = Catalog.Value.Cases.Single(c => c.FullName == name).Build();
        var elf = ElfImage.Parse(image.Bytes);
        Assert.That(elf.Notes.Select(n => n.Type), Is.EqualTo(new[] { (uint)XenElfNote.Phys32Entry }));
        Assert.That(elf.ProgramHeaders.Count(p => p.Type == SegmentType.Load), Is.EqualTo(1));
        ulong entry = elf.Xen.Phys32Entry ?? 0;
        Assert.That(entry, Is.EqualTo(GuestLayout.ImageBase + GuestLayout.Entry32Offset));

        var load = elf.ProgramHeaders.Single(p => p.Type == SegmentType.Load);
        var bytes = elf.FileBytes(load).ToArray();
        var decoder = Decoder.Create(32, new ByteArrayCodeReader(bytes, GuestLayout.Entry32Offset, bytes.Length - GuestLayout.Entry32Offset));
        decoder.IP = entry;
        var seen = new List<Mnemonic>();
        for (int i = 0; i < 64; i++)
        {
            var insn = decoder.Decode();
            Assert.That(insn.IsInvalid, Is.False, $"invalid 32-bit instruction at {insn.IP:x}");
            seen.Add(insn.Mnemonic);
            if (insn.Mnemonic == Mnemonic.Jmp && insn.Op0Kind == OpKind.FarBranch32)
            {
                Assert.That(insn.FarBranchSelector, Is.EqualTo((ushort)0x08), "the 64-bit code selector");
                Assert.That(insn.FarBranch32, Is.EqualTo((uint)image.CodeBase), "the 64-bit entry is the start of the code");
                Assert.That(seen, Does.Contain(Mnemonic.Lgdt).And.Contain(Mnemonic.Wrmsr).And.Contain(Mnemonic.Rdmsr));
                return;
            }
        }
        Assert.Fail("no far jump within 64 instructions of the PHYS32_ENTRY");
    }
}
