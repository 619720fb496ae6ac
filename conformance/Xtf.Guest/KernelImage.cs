using Iced.Intel;
using Xtf.Elf;

namespace Xtf.Guest;

/// <summary>A linked test kernel: the ELF bytes Xen (or the simulator) boots, plus where things are.</summary>
public sealed record KernelImage(
    string Name,
    string Title,
    byte[] Bytes,
    ulong Entry,
    ulong CodeBase,
    int CodeSize,
    int DataSize,
    IReadOnlyDictionary<string, ulong> Symbols);

/// <summary>Links a guest program into a pv64 ELF kernel with Xen's notes.</summary>
public static class KernelBuilder
{
    public const string GuestOs = "Xtf.NET";
    public const string GuestVersion = "1";
    public const string Features = "!writable_page_tables|pae_pgdir_above_4gb";

    public static KernelImage Build(XtfTest test, Environments env = Environments.Pv64)
    {
        if (env == Environments.None || !test.Environments.HasFlag(env)) throw new ArgumentException($"{test.Name} does not run in {env}");
        var image = Build(test.FullName(env), test.Title, test.NeedsExactVcpus ? g => { RequireVcpus(g, test.Vcpus); test.Body(g); } : test.Body, env);
        byte[] bytes = test.TransformImage(image.Bytes);
        return ReferenceEquals(bytes, image.Bytes) ? image : image with { Bytes = bytes };
    }

    /// <summary>SKIPs the test (and ends it) unless vCPU <paramref name="vcpus"/> − 1 exists and vCPU <paramref name="vcpus"/> does not.</summary>
    private static void RequireVcpus(GuestProgram g, int vcpus)
    {
        var last = g.VcpuOp(Abi.VcpuOp.IsUp, vcpus - 1, 0);
        var next = g.VcpuOp(Abi.VcpuOp.IsUp, vcpus, 0);
        g.If(last == -Abi.Errno.ENOENT | next != -Abi.Errno.ENOENT, () =>
        {
            g.Skip($"written for a dom0 with exactly {vcpus} vCPU{(vcpus == 1 ? "" : "s")}; this one has " + (vcpus == 1 ? "more" : "another count"));
            g.Exit();
        });
    }

    public static KernelImage Build(string name, string title, Action<GuestProgram> body, Environments env = Environments.Pv64)
    {
        var g = new GuestProgram(title, env);
        g.EmitPrologue();
        body(g);
        g.EmitEpilogue();
        return Link(name, g);
    }

    private static KernelImage Link(string name, GuestProgram g)
    {
        var unplaced = g.Labels.FirstOrDefault(l => l.Referenced && !l.Placed);
        if (unplaced is not null) throw new InvalidOperationException($"{name}: label '{unplaced.Name}' is used but never placed (Mark it)");
        ulong codeBase = GuestLayout.AlignUp(g.Data.End, GuestLayout.PageSize);
        var stream = new MemoryStream();
        AssemblerResult result;
        try
        {
            result = g.Asm.Assemble(new StreamCodeWriter(stream), codeBase, BlockEncoderOptions.ReturnNewInstructionOffsets);
        }
        catch (InvalidOperationException e)
        {
            throw new InvalidOperationException($"{name}: guest code does not assemble: {e.Message}", e);
        }
        byte[] code = stream.ToArray();

        var symbols = new SortedDictionary<string, ulong>(StringComparer.Ordinal);
        ulong Resolve(GuestLabel l)
        {
            ulong at = result.GetLabelRIP(l.Label);
            string key = l.Name;
            for (int n = 2; symbols.TryGetValue(key, out ulong other) && other != at; n++) key = $"{l.Name}#{n}";
            symbols[key] = at;
            return at;
        }
        foreach (var (dataAddress, target) in g.Fixups) g.Data.WriteU64(dataAddress, Resolve(target));
        foreach (var r in g.Routines) Resolve(r.Entry);
        foreach (var l in g.Marked) Resolve(l);
        ulong entry = Resolve(g.Runtime.Entry);

        // Page 0: jmp rel32 to the code (hvm64: the 32-bit stub), then the notes. Page 1: the poisoned hypercall page.
        var image = new byte[checked((int)(codeBase - GuestLayout.ImageBase) + code.Length)];
        image[0] = 0xE9;
        BitConverter.GetBytes(checked((int)(entry - (GuestLayout.ImageBase + 5)))).CopyTo(image, 1);
        byte[] notes = g.Hvm is { } hvm ? HvmEntry(g, hvm, image, entry, Resolve, out ulong phys32Entry) : PvNotes();
        const int notesOffset = 0x10;
        if (notesOffset + notes.Length > GuestLayout.Entry32Offset) throw new InvalidOperationException("notes do not fit page 0");
        notes.CopyTo(image, notesOffset);

        int hp = (int)(GuestLayout.HypercallPage - GuestLayout.ImageBase);
        var poison = GuestLayout.PoisonPattern;
        for (int i = 0; i < (int)GuestLayout.PageSize; i++) image[hp + i] = poison[i % poison.Length];

        g.Data.ToArray().CopyTo(image, (int)(GuestLayout.DataBase - GuestLayout.ImageBase));
        code.CopyTo(image, (int)(codeBase - GuestLayout.ImageBase));
        if (image.Length > GuestLayout.MaxImageBytes) throw new InvalidOperationException($"{name}: image is {image.Length} bytes");

        var elf = new ElfBuilder(ElfMachine.X86_64, GuestLayout.ImageBase);
        elf.AddLoad(GuestLayout.ImageBase, GuestLayout.ImageBase, image, (ulong)image.Length,
            SegmentFlags.R | SegmentFlags.W | SegmentFlags.X);
        elf.AddNote(GuestLayout.ImageBase + notesOffset, (ulong)notes.Length);

        symbols["hypercall_page"] = GuestLayout.HypercallPage;
        symbols["data"] = GuestLayout.DataBase;
        symbols["code"] = codeBase;
        return new KernelImage(name, g.Title, elf.Build(), GuestLayout.ImageBase, codeBase, code.Length, g.Data.Size, symbols);
    }

    private static byte[] PvNotes() => ElfNotes.Encode(
        [
            ElfNote.XenString(XenElfNote.GuestOs, GuestOs),
            ElfNote.XenString(XenElfNote.GuestVersion, GuestVersion),
            ElfNote.XenString(XenElfNote.Loader, "generic"),
            ElfNote.XenString(XenElfNote.XenVersion, "xen-3.0"),
            ElfNote.XenString(XenElfNote.Features, Features),
            ElfNote.XenString(XenElfNote.PaeMode, "yes"),
            ElfNote.XenNumeric(XenElfNote.HypercallPage, GuestLayout.HypercallPage),
        ]);

    /// <summary>
    /// hvm64: the 32-bit entry stub in page 0 (PHYS32_ENTRY points at it), the IDT's gates (known only now),
    /// and the one note a PVH kernel needs. XTF's hvm kernels carry no PV notes either.
    /// </summary>
    private static byte[] HvmEntry(GuestProgram g, HvmTables hvm, byte[] image, ulong entry64, Func<GuestLabel, ulong> resolve, out ulong phys32Entry)
    {
        phys32Entry = GuestLayout.ImageBase + GuestLayout.Entry32Offset;
        byte[] stub = hvm.Entry32(phys32Entry, g.StartInfo.Address, entry64);
        if (GuestLayout.Entry32Offset + stub.Length > (int)GuestLayout.PageSize) throw new InvalidOperationException("the 32-bit entry does not fit page 0");
        stub.CopyTo(image, GuestLayout.Entry32Offset);
        for (int v = 0; v < hvm.GateTargets.Length; v++)
            if (hvm.GateTargets[v] is { } target) g.Data.Write(hvm.GateAddress(v), HvmTables.Gate(v, resolve(target)));
        return ElfNotes.Encode([ElfNote.XenNumeric(XenElfNote.Phys32Entry, phys32Entry, size: 4)]);
    }
}
