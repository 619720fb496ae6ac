using Iced.Intel;
using Xtf.Sim.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static Xtf.Sim.Tests.Cpu.TestMachine;

namespace Xtf.Sim.Tests.Cpu;

/// <summary>The page walk: faults with exact error codes and CR2, state unchanged, accessed/dirty bits, large pages.</summary>
[Parallelizable(ParallelScope.All)]
public sealed class PagingTests
{
    private const uint PfP = 1, PfW = 2, PfU = 4, PfRsvd = 8, PfI = 16;
    private const ulong Far = 0x0000_7F00_1234_5000;   // in an L4 slot the harness never uses

    /// <summary>Runs "op [rbx]" (after setting rbx) and expects a #PF with the given error code at that instruction.</summary>
    private static void ExpectPageFault(TestMachine m, ulong va, uint error, Action<Assembler> access, ulong cr2 = ulong.MaxValue)
    {
        m.Load(a =>
        {
            a.mov(rbx, (long)va);
            a.mov(rax, 0x1111);
            access(a);
            a.int3();
        });
        var e = m.Run(2);
        Assert.That(e.Kind, Is.EqualTo(ExitKind.Budget));
        ulong rip = m.Cpu.Rip;
        string before = m.Snapshot();
        e = m.Run();
        Assert.That(e.Kind, Is.EqualTo(ExitKind.Exception), e.ToString());
        Assert.That(e.Vector, Is.EqualTo(14), e.ToString());
        Assert.That(e.HasErrorCode, Is.True);
        Assert.That(e.ErrorCode, Is.EqualTo(error), $"error code 0x{e.ErrorCode:x}");
        ulong expectedCr2 = cr2 == ulong.MaxValue ? va : cr2;
        Assert.That(e.Cr2, Is.EqualTo(expectedCr2));
        Assert.That(m.Cpu.Cr2, Is.EqualTo(expectedCr2));
        Assert.That(e.Executed, Is.Zero);
        Assert.That(m.Cpu.Rip, Is.EqualTo(rip));
        Assert.That(m.Snapshot(), Is.EqualTo(before), "state unchanged");
    }

    private static void Read(Assembler a) => a.mov(rax, __qword_ptr[rbx]);
    private static void WriteTo(Assembler a) => a.mov(__qword_ptr[rbx], rax);
    private static void ReadModifyWrite(Assembler a) => a.add(__qword_ptr[rbx], 1);

    /// <summary>Builds the tables for <see cref="Far"/> down to <paramref name="presentLevels"/> levels (4 = only the L4 entry).</summary>
    private static void BuildFar(TestMachine m, int presentLevels, ulong leafFlags = P | RW | US | NX)
    {
        ulong table = m.L4Mfn;
        for (int level = 4; level >= 1 && level > 4 - presentLevels; level--)
        {
            ulong ea = (table << 12) + (((Far >> (12 + 9 * (level - 1))) & 0x1FF) << 3);
            ulong next = level == 1 ? 0x700 : m.NewTable();
            m.Memory.WriteU64(ea, (next << 12) | (level == 1 ? leafFlags : P | RW | US));
            table = next;
        }
        m.Interp.FlushTlb();
    }

    [TestCase(0)]
    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    public void NotPresentAtEachLevel(int presentLevels)
    {
        var m = new TestMachine();
        BuildFar(m, presentLevels);
        ExpectPageFault(m, Far + 0x18, PfU, Read);
        ExpectPageFault(m, Far + 0x18, PfU | PfW, WriteTo);
        ExpectPageFault(m, Far + 0x18, PfU | PfW, ReadModifyWrite);
    }

    [Test]
    public void AFullyPresentWalkSucceeds()
    {
        var m = new TestMachine();
        BuildFar(m, 4);
        m.WriteData(0x700_018, 0xABCD);
        m.Load(a =>
        {
            a.mov(rbx, (long)(Far + 0x18));
            a.mov(rax, __qword_ptr[rbx]);
            a.int3();
        });
        m.RunToEnd();
        Assert.That(m[Reg.Rax], Is.EqualTo(0xABCDUL));
    }

    [Test]
    public void InstructionFetchFromANotPresentPage()
    {
        var m = new TestMachine();
        BuildFar(m, 2);
        m.Load(a =>
        {
            a.mov(rbx, (long)Far);
            a.jmp(rbx);
        });
        var e = m.Run();
        Assert.That(e.Vector, Is.EqualTo(14));
        Assert.That(e.ErrorCode, Is.EqualTo(PfU | PfI));
        Assert.That(e.Cr2, Is.EqualTo(Far));
        Assert.That(m.Cpu.Rip, Is.EqualTo(Far), "the jump retired; the fetch faults at the target");
        Assert.That(e.Executed, Is.EqualTo(2));
    }

    [Test]
    public void WriteToAReadOnlyPage()
    {
        var m = new TestMachine();
        m.Map(0x70_0000, 0x700, P | US | NX);
        ExpectPageFault(m, 0x70_0010, PfP | PfW | PfU, WriteTo);
        ExpectPageFault(m, 0x70_0010, PfP | PfW | PfU, ReadModifyWrite);
        ExpectPageFault(m, 0x70_0010, PfP | PfW | PfU, a => a.@lock.xadd(__qword_ptr[rbx], rax));
        ExpectPageFault(m, 0x70_0010, PfP | PfW | PfU, a => a.cmpxchg(__qword_ptr[rbx], rax));   // even when the compare fails
        // Reading it is fine.
        m.WriteData(0x70_0010, 77);
        m.Load(a =>
        {
            a.mov(rbx, 0x70_0010);
            a.mov(rax, __qword_ptr[rbx]);
            a.int3();
        });
        m.RunToEnd();
        Assert.That(m[Reg.Rax], Is.EqualTo(77UL));
    }

    [Test]
    public void ReadOnlyAtAnUpperLevelAlsoBlocksWrites()
    {
        var m = new TestMachine();
        m.Map(0x70_0000, 0x700, P | RW | US | NX);
        ulong l2 = m.Entry(0x70_0000, 2);
        m.SetEntry(0x70_0000, 2, l2 & ~RW);
        ExpectPageFault(m, 0x70_0008, PfP | PfW | PfU, WriteTo);
    }

    [Test]
    public void UserAccessToASupervisorPage()
    {
        var m = new TestMachine();
        m.Map(0x70_0000, 0x700, P | RW | NX);
        ExpectPageFault(m, 0x70_0020, PfP | PfU, Read);
        ExpectPageFault(m, 0x70_0020, PfP | PfW | PfU, WriteTo);

        // US clear in an upper level only.
        var m2 = new TestMachine();
        BuildFar(m2, 4);
        m2.SetEntry(Far, 3, m2.Entry(Far, 3) & ~US);
        ExpectPageFault(m2, Far + 0x20, PfP | PfU, Read);
    }

    [Test]
    public void NoExecuteFetch()
    {
        var m = new TestMachine();
        ulong target = DataVa + 0x100;   // data pages are NX
        m.Load(a =>
        {
            a.mov(rbx, (long)target);
            a.call(rbx);
        });
        var e = m.Run();
        Assert.That(e.Vector, Is.EqualTo(14));
        Assert.That(e.ErrorCode, Is.EqualTo(PfP | PfU | PfI));
        Assert.That(e.Cr2, Is.EqualTo(target));
        Assert.That(m.Cpu.Rip, Is.EqualTo(target));

        // NX in an upper level only.
        var m2 = new TestMachine();
        m2.Map(0x70_0000, 0x700, P | US);
        m2.SetEntry(0x70_0000, 2, m2.Entry(0x70_0000, 2) | NX);
        m2.Load(a =>
        {
            a.mov(rbx, 0x70_0000);
            a.jmp(rbx);
        });
        e = m2.Run();
        Assert.That(e.ErrorCode, Is.EqualTo(PfP | PfU | PfI));
    }

    [Test]
    public void ReservedBitsAreRsvdFaults()
    {
        var m = new TestMachine();
        BuildFar(m, 4);
        ulong l4 = m.Entry(Far, 4);
        m.SetEntry(Far, 4, l4 | PS);   // PS is reserved in an L4 entry
        ExpectPageFault(m, Far, PfP | PfU | PfRsvd, Read);
        ExpectPageFault(m, Far, PfP | PfU | PfW | PfRsvd, WriteTo);

        var m2 = new TestMachine();
        BuildFar(m2, 2);
        // A 2 MiB page whose frame address has bit 13 set (reserved: must be 2 MiB aligned).
        m2.SetEntry(Far, 2, (0x200UL << 12) | (1UL << 13) | P | RW | US | PS);
        ExpectPageFault(m2, Far, PfP | PfU | PfRsvd, Read);
    }

    [Test]
    public void LargePages()
    {
        var m = new TestMachine();
        BuildFar(m, 2);
        ulong va2m = Far & ~0x1F_FFFFUL;
        m.SetEntry(va2m, 2, (0x200UL << 12) | P | RW | US | PS | NX);   // 2 MiB at machine 0x200000
        ulong va1g = 0x0000_0080_0000_0000;
        ulong l3 = m.NewTable();
        m.Memory.WriteU64((m.L4Mfn << 12) + (((va1g >> 39) & 0x1FF) << 3), (l3 << 12) | P | RW | US);
        m.Memory.WriteU64(l3 << 12, P | RW | US | PS | NX);             // 1 GiB at machine 0
        m.Interp.FlushTlb();
        m.WriteData(0x200_000 + 0x12_3458, 0x2222);
        m.WriteData(DataVa + 8, 0x1616);
        m.Load(a =>
        {
            a.mov(rbx, (long)(va2m + 0x12_3458));
            a.mov(rax, __qword_ptr[rbx]);
            a.mov(rbx, (long)(va1g + DataVa + 8));
            a.mov(rcx, __qword_ptr[rbx]);
            a.mov(__qword_ptr[rbx + 8], rcx);
            a.int3();
        });
        m.RunToEnd();
        Assert.That(m[Reg.Rax], Is.EqualTo(0x2222UL));
        Assert.That(m[Reg.Rcx], Is.EqualTo(0x1616UL));
        Assert.That(m.ReadData(DataVa + 16), Is.EqualTo(0x1616UL));
        Assert.That(m.Memory.ReadU64(l3 << 12) & (A | D), Is.EqualTo(A | D), "A and D in the 1 GiB leaf");
        Assert.That(m.Entry(va2m, 2) & (A | D), Is.EqualTo(A), "read only: A without D");
    }

    [Test]
    public void NonCanonicalAccessIsGeneralProtection()
    {
        foreach (var access in new Action<Assembler>[] { Read, WriteTo, ReadModifyWrite })
        {
            var m = new TestMachine();
            m.Load(a =>
            {
                a.mov(rbx, unchecked((long)0x8000_0000_0000_0000));
                access(a);
                a.int3();
            });
            m.Run(1);
            string before = m.Snapshot();
            var e = m.Run();
            Assert.That(e.Kind, Is.EqualTo(ExitKind.Exception));
            Assert.That(e.Vector, Is.EqualTo(13));
            Assert.That(e.HasErrorCode, Is.True);
            Assert.That(e.ErrorCode, Is.Zero);
            Assert.That(m.Snapshot(), Is.EqualTo(before));
        }
    }

    [Test]
    public void NonCanonicalStackAccessIsStackFault()
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            a.mov(rbp, unchecked((long)0x8000_0000_0000_0010));
            a.mov(rax, __qword_ptr[rbp - 8]);
            a.int3();
        });
        m.Run(1);
        var e = m.Run();
        Assert.That(e.Vector, Is.EqualTo(12));
        Assert.That(e.HasErrorCode, Is.True);
        Assert.That(e.ErrorCode, Is.Zero);

        var m2 = new TestMachine();
        m2.Load(a =>
        {
            a.mov(rsp, unchecked((long)0x8000_0000_0000_0008));
            a.push(rax);
            a.int3();
        });
        m2.Run(1);
        string before = m2.Snapshot();
        e = m2.Run();
        Assert.That(e.Vector, Is.EqualTo(12));
        Assert.That(m2.Snapshot(), Is.EqualTo(before));

        // fs-relative: a #GP even with rsp as the base.
        var m3 = new TestMachine();
        m3.Cpu.FsBase = 0x8000_0000_0000_0000;
        m3.Load(a =>
        {
            a.mov(rax, __qword_ptr.fs[rsp]);
            a.int3();
        });
        e = m3.Run();
        Assert.That(e.Vector, Is.EqualTo(13));
    }

    [Test]
    public void AccessStraddlingIntoAReadOnlyPageWritesNothing()
    {
        var m = new TestMachine();
        ulong page2 = DataVa + 0x1000;
        m.Map(page2, page2 >> 12, P | US | NX);   // read-only
        ulong va = page2 - 4;
        m.WriteData(va, 0x1111_2222_3333_4444);
        m.Load(a =>
        {
            a.mov(rbx, (long)va);
            a.mov(rax, -1L);
            a.mov(__qword_ptr[rbx], rax);
            a.int3();
        });
        m.Run(2);
        var e = m.Run();
        Assert.That(e.Vector, Is.EqualTo(14));
        Assert.That(e.ErrorCode, Is.EqualTo(PfP | PfW | PfU));
        Assert.That(e.Cr2, Is.EqualTo(page2));
        Assert.That(m.ReadData(va), Is.EqualTo(0x1111_2222_3333_4444UL), "the first page was not written");
    }

    [Test]
    public void StraddlingAccessesWork()
    {
        var m = new TestMachine();
        ulong va = DataVa + 0xFFD;
        m.WriteData(va, 0x0102_0304_0506_0708);
        m.Load(a =>
        {
            a.mov(rbx, (long)va);
            a.mov(rax, __qword_ptr[rbx]);
            a.add(rax, 0x11);
            a.mov(__qword_ptr[rbx + 1], rax);
            a.add(__dword_ptr[rbx + 2], 1);
            a.int3();
        });
        m.RunToEnd();
        Assert.That(m[Reg.Rax], Is.EqualTo(0x0102_0304_0506_0719UL));
        Assert.That(m.ReadData(va + 1), Is.EqualTo(0x0102_0304_0506_0719UL + 0x100));
    }

    [Test]
    public void StraddlingReadIntoANotPresentPageReportsTheSecondPage()
    {
        var m = new TestMachine();
        ulong page2 = DataVa + 0x3000;
        m.SetEntry(page2, 1, 0);
        ExpectPageFault(m, page2 - 2, PfU, Read, cr2: page2);
    }

    [Test]
    public void AccessedAndDirtyBits()
    {
        var m = new TestMachine();
        ulong va = DataVa + 0x5000;
        for (int level = 4; level >= 1; level--) Assert.That(m.Entry(va, level) & A, Is.Zero, $"level {level} starts clear");
        m.Load(a =>
        {
            a.mov(rbx, (long)va);
            a.mov(rax, __qword_ptr[rbx]);
            a.int3();
        });
        m.RunToEnd();
        for (int level = 4; level >= 1; level--) Assert.That(m.Entry(va, level) & A, Is.EqualTo(A), $"A at level {level}");
        Assert.That(m.Entry(va, 1) & D, Is.Zero, "a read does not set D");
        Assert.That(m.Entry(CodeVa, 1) & (A | D), Is.EqualTo(A), "instruction fetch sets A");

        m.Load(a =>
        {
            a.mov(rbx, (long)va);
            a.mov(__qword_ptr[rbx], rax);
            a.int3();
        });
        m.RunToEnd();
        Assert.That(m.Entry(va, 1) & D, Is.EqualTo(D), "a write sets D in the leaf");
        Assert.That(m.Entry(va, 2) & D, Is.Zero, "D only in the leaf");

        // A faulting access sets nothing.
        ulong ro = DataVa + 0x6000;
        m.Map(ro, ro >> 12, P | US | NX);
        m.Load(a =>
        {
            a.mov(rbx, (long)ro);
            a.mov(__qword_ptr[rbx], rax);
            a.int3();
        });
        Assert.That(m.Run().Vector, Is.EqualTo(14));
        Assert.That(m.Entry(ro, 1) & (A | D), Is.Zero);
    }

    [Test]
    public void TranslateForTheHypervisor()
    {
        var m = new TestMachine();
        m.Map(0x70_0000, 0x700, P | RW | NX);          // supervisor, writable
        m.Map(0x70_1000, 0x701, P | US | NX);          // user, read-only
        var cpu = m.Cpu;
        Assert.That(m.Interp.Translate(cpu, 0x70_0123, AccessKind.Write, false, out ulong ma, out _), Is.True);
        Assert.That(ma, Is.EqualTo(0x70_0123UL));
        Assert.That(m.Entry(0x70_0000, 1) & (A | D), Is.EqualTo(A | D));
        Assert.That(m.Interp.Translate(cpu, 0x70_0123, AccessKind.Read, true, out _, out uint err), Is.False);
        Assert.That(err, Is.EqualTo(PfP | PfU));
        Assert.That(m.Interp.Translate(cpu, 0x70_1000, AccessKind.Write, false, out _, out err), Is.False, "CR0.WP = 1");
        Assert.That(err, Is.EqualTo(PfP | PfW));
        Assert.That(m.Interp.Translate(cpu, 0x70_2000, AccessKind.Read, false, out _, out err), Is.False);
        Assert.That(err, Is.Zero);
        Assert.That(m.Interp.Translate(cpu, DataVa, AccessKind.Execute, false, out _, out err), Is.False);
        Assert.That(err, Is.EqualTo(PfP | PfI));
        Assert.That(m.Interp.Translate(cpu, 0x8000_0000_0000_0000, AccessKind.Read, false, out _, out err), Is.False);
        Assert.That(err, Is.EqualTo(0xFFFF_FFFFu));
    }

    [Test]
    public void TlbIsFlushedOnRequestAndOnCr3Change()
    {
        var m = new TestMachine();
        ulong va = DataVa + 0x2000;
        m.WriteData(va, 1);
        m.WriteData(0x70_0000, 2);
        m.Load(a =>
        {
            a.mov(rbx, (long)va);
            a.mov(rax, __qword_ptr[rbx]);
            a.int3();
        });
        m.RunToEnd();
        Assert.That(m[Reg.Rax], Is.EqualTo(1UL));

        // Change the PTE behind the TLB's back: the stale translation is used, as on hardware.
        m.Memory.WriteU64(m.EntryAddress(va, 1), (0x700UL << 12) | P | RW | US | NX);
        m.Cpu.Rip = CodeVa;
        m.RunToEnd();
        Assert.That(m[Reg.Rax], Is.EqualTo(1UL), "stale until flushed");

        m.Interp.FlushTlb();
        m.Cpu.Rip = CodeVa;
        m.RunToEnd();
        Assert.That(m[Reg.Rax], Is.EqualTo(2UL));

        // A different CR3 (a copy of the L4 table whose entries are the same) is noticed by Run.
        ulong newL4 = m.NewTable();
        m.Memory.Write(newL4 << 12, m.Memory.Span(m.L4Mfn << 12, 4096));
        m.Memory.WriteU64(m.EntryAddress(va, 1), (0x600UL << 12 | 0x2000) | P | RW | US | NX);
        m.Cpu.Cr3 = newL4 << 12;
        m.Cpu.Rip = CodeVa;
        m.RunToEnd();
        Assert.That(m[Reg.Rax], Is.EqualTo(1UL));
    }
}
