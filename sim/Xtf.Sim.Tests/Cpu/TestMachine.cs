using Iced.Intel;
using Xtf.Sim.Cpu;
using Xtf.Sim.Memory;

namespace Xtf.Sim.Tests.Cpu;

/// <summary>A deterministic CPUID/TSC source for interpreter tests.</summary>
internal sealed class StubPlatform : ICpuPlatform
{
    public ulong Tsc = 0x1_0000_0000;
    public int CpuidCalls;

    /// <summary>Feature leaves (1, 7, 0x80000001) as the interpreter's CPUID gates read them: everything present unless a test clears bits.</summary>
    public uint Leaf1Ecx = ~0u, Leaf1Edx = ~0u, Leaf7Ebx = ~0u, Ext1Ecx = ~0u;
    public ulong RandomSeed = 1;

    public (uint Eax, uint Ebx, uint Ecx, uint Edx) Cpuid(uint leaf, uint subleaf)
    {
        CpuidCalls++;
        return leaf switch
        {
            1 => (0x663, 0, Leaf1Ecx, Leaf1Edx),
            7 when subleaf == 0 => (0, Leaf7Ebx, 0, 0),
            0x8000_0001 => (0, 0, Ext1Ecx, 0),
            _ => (leaf + 0x100, subleaf + 0x200, 0xC0C0_C0C0, 0xD0D0_D0D0),
        };
    }

    /// <summary>A seeded splitmix64 stream.</summary>
    public ulong RandomNumber(bool rdseed)
    {
        ulong z = RandomSeed += 0x9E37_79B9_7F4A_7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D0_49BB_1331_11EBUL;
        return z ^ (z >> 31);
    }

    public ulong Rdtsc()
    {
        Tsc += 1000;
        return Tsc;
    }
}

/// <summary>
/// A tiny machine: 16 MiB of RAM, 4-level page tables built by hand (identity mapped: va = machine
/// address for the test pages), code assembled with Iced at <see cref="CodeVa"/>, a user stack below
/// <see cref="StackTop"/>, data at <see cref="DataVa"/>. The CPU runs at CPL 3 like a PV kernel.
/// </summary>
internal sealed class TestMachine
{
    public const ulong P = 1, RW = 2, US = 4, A = 0x20, D = 0x40, PS = 0x80, NX = 1UL << 63;
    public const ulong CodeVa = 0x40_0000, DataVa = 0x60_0000, StackTop = 0x80_0000;
    public const int CodePages = 16, DataPages = 16, StackPages = 16;

    public readonly MachineMemory Memory = new(0x1000);
    public readonly StubPlatform Platform = new();
    public readonly X86Interpreter Interp;
    public readonly CpuState Cpu = new();
    public readonly ulong L4Mfn;
    private ulong nextTable = 0x900;
    private AssemblerResult? assembled;
    private readonly Dictionary<string, Label> labels = new(StringComparer.Ordinal);

    public TestMachine(ulong codeFlags = P | US, ulong dataFlags = P | RW | US | NX)
    {
        Interp = new X86Interpreter(Memory, Platform);
        L4Mfn = NewTable();
        Cpu.Cr3 = L4Mfn << MachineMemory.PageShift;
        Cpu.Cpl = 3;
        Cpu.Cs = 0xE033;
        Cpu.Ss = 0xE02B;
        Cpu.Rflags = 0x202;
        for (int i = 0; i < CodePages; i++) Map(CodeVa + (ulong)i * 0x1000, (CodeVa >> 12) + (ulong)i, codeFlags);
        for (int i = 0; i < DataPages; i++) Map(DataVa + (ulong)i * 0x1000, (DataVa >> 12) + (ulong)i, dataFlags);
        for (int i = 1; i <= StackPages; i++) Map(StackTop - (ulong)i * 0x1000, (StackTop >> 12) - (ulong)i, P | RW | US | NX);
        Cpu[Reg.Rsp] = StackTop;
        Cpu.Rip = CodeVa;
    }

    public ulong NewTable() => nextTable++;

    /// <summary>Maps one 4 KiB page, creating intermediate tables (P|RW|US unless given).</summary>
    public void Map(ulong va, ulong mfn, ulong flags, ulong upper = P | RW | US)
    {
        ulong table = L4Mfn;
        for (int level = 4; level > 1; level--)
        {
            ulong ea = (table << 12) + (((va >> (12 + 9 * (level - 1))) & 0x1FF) << 3);
            ulong e = Memory.ReadU64(ea);
            if ((e & P) == 0)
            {
                e = (NewTable() << 12) | upper;
                Memory.WriteU64(ea, e);
            }
            table = (e & 0x000F_FFFF_FFFF_F000) >> 12;
        }
        Memory.WriteU64((table << 12) + (((va >> 12) & 0x1FF) << 3), (mfn << 12) | flags);
        Interp.FlushTlb();
    }

    /// <summary>Machine address of the page-table entry at <paramref name="level"/> (4 = L4) for <paramref name="va"/>.</summary>
    public ulong EntryAddress(ulong va, int level)
    {
        ulong table = L4Mfn;
        for (int l = 4; ; l--)
        {
            ulong ea = (table << 12) + (((va >> (12 + 9 * (l - 1))) & 0x1FF) << 3);
            if (l == level) return ea;
            table = (Memory.ReadU64(ea) & 0x000F_FFFF_FFFF_F000) >> 12;
        }
    }

    public ulong Entry(ulong va, int level) => Memory.ReadU64(EntryAddress(va, level));

    public void SetEntry(ulong va, int level, ulong value)
    {
        Memory.WriteU64(EntryAddress(va, level), value);
        Interp.FlushTlb();
    }

    /// <summary>Assembles at <see cref="CodeVa"/> (or <paramref name="at"/>) and copies the code into memory.</summary>
    public byte[] Load(Action<Assembler, TestMachine> build, ulong at = CodeVa)
    {
        var a = new Assembler(64);
        labels.Clear();
        build(a, this);
        var stream = new MemoryStream();
        assembled = a.Assemble(new StreamCodeWriter(stream), at, BlockEncoderOptions.ReturnNewInstructionOffsets);
        byte[] code = stream.ToArray();
        Memory.Write(at, code);   // identity mapped
        Cpu.Rip = at;
        return code;
    }

    public byte[] Load(Action<Assembler> build, ulong at = CodeVa) => Load((a, _) => build(a), at);

    /// <summary>A named label for use inside <see cref="Load"/>; resolve it afterwards with <see cref="Address"/>.</summary>
    public Label Label(Assembler a, string name)
    {
        if (!labels.TryGetValue(name, out var l))
        {
            l = a.CreateLabel(name);
            labels[name] = l;
        }
        return l;
    }

    /// <summary>Places the named label here (creating it if needed).</summary>
    public void Mark(Assembler a, string name)
    {
        var l = Label(a, name);
        a.Label(ref l);
        labels[name] = l;
    }

    public ulong Address(string name) => assembled!.Value.GetLabelRIP(labels[name]);

    public VmExit Run(long budget = 1_000_000) => Interp.Run(Cpu, budget);

    /// <summary>Runs to the terminating int3 and checks that it was reached.</summary>
    public VmExit RunToEnd(long budget = 10_000_000)
    {
        var e = Run(budget);
        Assert.That(e.Kind, Is.EqualTo(ExitKind.Exception), $"exit {e}");
        Assert.That(e.Vector, Is.EqualTo(3), $"expected the closing int3, got {e} at rip 0x{Cpu.Rip:x}");
        return e;
    }

    public ulong this[Reg r]
    {
        get => Cpu[r];
        set => Cpu[r] = value;
    }

    public ulong Arith => Cpu.Rflags & CpuState.ArithmeticFlags;

    /// <summary>Reads machine memory at an identity-mapped address (may cross frames).</summary>
    public ulong ReadData(ulong va, int size = 8)
    {
        Span<byte> b = stackalloc byte[8];
        b.Clear();
        Memory.Read(va, b[..size]);
        return BitConverter.ToUInt64(b);
    }

    public void WriteData(ulong va, ulong value, int size = 8)
    {
        Span<byte> b = stackalloc byte[8];
        BitConverter.TryWriteBytes(b, value);
        Memory.Write(va, b[..size]);
    }

    /// <summary>Registers, rip, flags and segment state, for "state unchanged" checks.</summary>
    public string Snapshot() =>
        string.Join(",", Cpu.Gpr.Select(v => v.ToString("x"))) + $"|rip={Cpu.Rip:x}|fl={Cpu.Rflags:x}|fs={Cpu.FsBase:x}|gs={Cpu.GsBase:x}|ss={Cpu.Ss:x}";
}

/// <summary>Flag constants for expected-value tables.</summary>
internal static class F
{
    public const ulong CF = 1, PF = 4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800;
    public const ulong All = CF | PF | AF | ZF | SF | OF;
    public const ulong Logic = CF | PF | ZF | SF | OF;   // AF undefined

    public static string Name(ulong f)
    {
        var parts = new List<string>();
        if ((f & CF) != 0) parts.Add("CF");
        if ((f & PF) != 0) parts.Add("PF");
        if ((f & AF) != 0) parts.Add("AF");
        if ((f & ZF) != 0) parts.Add("ZF");
        if ((f & SF) != 0) parts.Add("SF");
        if ((f & OF) != 0) parts.Add("OF");
        return parts.Count == 0 ? "-" : string.Join("|", parts);
    }
}
