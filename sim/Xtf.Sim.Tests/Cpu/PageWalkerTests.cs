using Xtf.Sim.Cpu;
using static Xtf.Sim.Tests.Cpu.TestMachine;

namespace Xtf.Sim.Tests.Cpu;

/// <summary>The page walker on its own (the interpreter-level paging behaviour is in PagingTests).</summary>
[Parallelizable(ParallelScope.All)]
public sealed class PageWalkerTests
{
    [Test]
    public void ASuccessfulWriteWalkSetsAccessedEverywhereAndDirtyInTheLeaf()
    {
        var m = new TestMachine();
        var walker = new PageWalker(m.Memory);
        ulong va = DataVa + 0x123;
        Assert.That(walker.Walk(m.Cpu.Cr3, va, AccessKind.Write, user: true, out ulong maddr, out uint error, out bool fastWrite), Is.True);
        Assert.That((maddr, error, fastWrite), Is.EqualTo((va, 0u, true)));
        for (int level = 4; level >= 2; level--)
            Assert.That(m.Entry(va, level) & (A | D), Is.EqualTo(A), $"level {level}");
        Assert.That(m.Entry(va, 1) & (A | D), Is.EqualTo(A | D));
        Assert.That(walker.Walks, Is.EqualTo(1));
    }

    [Test]
    public void AFaultingWalkGivesTheHardwareErrorCodeAndChangesNothing()
    {
        var m = new TestMachine();
        var walker = new PageWalker(m.Memory);
        ulong before = m.Entry(CodeVa, 1);
        // Write to read-only user code: present (1) | write (2) | user (4).
        Assert.That(walker.Walk(m.Cpu.Cr3, CodeVa, AccessKind.Write, user: true, out _, out uint error, out _), Is.False);
        Assert.That(error, Is.EqualTo(7u));
        // Execute from a no-execute data page: present | user | instruction fetch (16).
        Assert.That(walker.Walk(m.Cpu.Cr3, DataVa, AccessKind.Execute, user: true, out _, out error, out _), Is.False);
        Assert.That(error, Is.EqualTo(1u | 4u | 16u));
        // Not mapped: only the access bits.
        Assert.That(walker.Walk(m.Cpu.Cr3, 0x7000_0000, AccessKind.Read, user: false, out _, out error, out _), Is.False);
        Assert.That(error, Is.Zero);
        Assert.That(m.Entry(CodeVa, 1), Is.EqualTo(before));
    }

    [Test]
    public void AReadOfACleanPageAllowsNoFastWrite()
    {
        var m = new TestMachine();
        var walker = new PageWalker(m.Memory);
        Assert.That(walker.Walk(m.Cpu.Cr3, DataVa, AccessKind.Read, user: true, out _, out _, out bool fastWrite), Is.True);
        Assert.That(fastWrite, Is.False, "the leaf is not dirty yet: the first write must walk to set D");
    }
}
