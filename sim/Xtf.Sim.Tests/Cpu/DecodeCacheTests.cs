using Xtf.Sim.Cpu;
using Xtf.Sim.Memory;
using static Iced.Intel.AssemblerRegisters;
using static Xtf.Sim.Tests.Cpu.TestMachine;

namespace Xtf.Sim.Tests.Cpu;

/// <summary>The decode cache on its own: one page per machine frame, code marks, drops, reuse.</summary>
[Parallelizable(ParallelScope.All)]
public sealed class DecodeCacheTests
{
    [Test]
    public void AddedPagesAreFoundByMachineFrameAndMarkTheFrameAsCode()
    {
        var memory = new MachineMemory(16);
        var cache = new DecodeCache(memory);
        Assert.That(cache.Find(3, out var stale), Is.Null);
        Assert.That(stale, Is.Null);
        var page = cache.Add(3);
        Assert.That(page.Mfn, Is.EqualTo(3UL));
        Assert.That(page.Frame, Is.SameAs(memory.Frame(3)));
        Assert.That(memory.IsCode(3), Is.True);
        Assert.That(cache.Find(3, out _), Is.SameAs(page));
        Assert.That(cache.Count, Is.EqualTo(1));
        cache.CheckInvariants();
    }

    [Test]
    public void AWriteUnmarksTheFrameAndFindDropsTheStalePage()
    {
        var memory = new MachineMemory(16);
        var cache = new DecodeCache(memory);
        var page = cache.Add(5);
        page.NoteDecoded(7);
        page.Ops[7].H = H.Nop;
        memory.WriteU8(5UL << 12, 0x90);   // nobody listens: the frame is just unmarked
        Assert.That(memory.IsCode(5), Is.False);
        Assert.That(cache.Find(5, out var stale), Is.Null);
        Assert.That(stale, Is.SameAs(page));
        Assert.That(page.IsReset, Is.True, "a stale page is reset before anything new is decoded");
        Assert.That(cache.Count, Is.Zero);
        cache.CheckInvariants();
        Assert.That(cache.Add(5), Is.SameAs(page), "the reset page is reused");
    }

    [Test]
    public void ADroppedPageKeepsItsOpsUntilTheNextFind()
    {
        var memory = new MachineMemory(16);
        var cache = new DecodeCache(memory);
        var page = cache.Add(2);
        page.NoteDecoded(0);
        page.Ops[0].H = H.Nop;
        Assert.That(cache.Drop(2), Is.SameAs(page));
        Assert.That(cache.Drop(2), Is.Null);
        Assert.That(page.Ops[0].H, Is.EqualTo(H.Nop), "the instruction being executed may still read it");
        cache.CheckInvariants();
        cache.Find(9, out _);
        Assert.That(page.Ops[0].H, Is.EqualTo(H.None));
        cache.CheckInvariants();
    }

    [Test]
    public void FreePagesAreBoundedByTheLimit()
    {
        var memory = new MachineMemory(256);
        var cache = new DecodeCache(memory);
        for (ulong mfn = 0; mfn < DecodeCache.FreePageLimit + 8; mfn++) cache.Add(mfn);
        for (ulong mfn = 0; mfn < DecodeCache.FreePageLimit + 8; mfn++) cache.Drop(mfn);
        cache.Find(0, out _);
        cache.CheckInvariants();
        Assert.That(cache.Count, Is.Zero);
    }

    [Test]
    public void LivePagesAreBoundedAndTheOldestIsEvictedFirst()
    {
        const int limit = DecodeCache.LivePageLimit;
        var memory = new MachineMemory(limit + 16);
        var cache = new DecodeCache(memory);
        try
        {
            for (ulong mfn = 0; mfn < limit; mfn++)
            {
                cache.Add(mfn, out var none);
                Assert.That(none, Is.Null, $"page {mfn} of {limit}");
            }
            var oldest = cache.Find(0, out _);
            Assert.That(oldest, Is.Not.Null);
            cache.Add(limit, out var evicted);
            Assert.That(evicted, Is.SameAs(oldest));
            Assert.That(cache.Count, Is.EqualTo(limit), "one run's decoded code stays within 128 MiB");
            Assert.That(cache.Find(0, out _), Is.Null, "an evicted frame is decoded again when it runs again");
            Assert.That(cache.Find(1, out _), Is.Not.Null);
            cache.CheckInvariants();
        }
        finally
        {
            cache.Release();
        }
    }

    [Test]
    public void ReleaseEmptiesTheCacheAndResetsEveryPage()
    {
        var memory = new MachineMemory(16);
        var cache = new DecodeCache(memory);
        var a = cache.Add(1);
        a.NoteDecoded(4);
        a.Ops[4].H = H.Nop;
        cache.Add(2);
        cache.Drop(2);
        cache.Release();
        Assert.That(cache.Count, Is.Zero);
        Assert.That(a.IsReset && a.AllSlotsEmpty(), Is.True);
        cache.CheckInvariants();
        Assert.That(cache.Find(1, out _), Is.Null);
    }

    [Test]
    public void SelfModifyingCodeLeavesTheInterpretersCacheConsistent()
    {
        var m = new TestMachine(codeFlags: P | RW | US);
        m.Load((a, t) =>
        {
            var loop = t.Label(a, "patch");
            a.mov(ecx, 3);
            t.Mark(a, "patch");
            a.mov(eax, 1);
            a.lea(rdx, __[t.Label(a, "patch")]);
            a.mov(__byte_ptr[rdx + 1], 5);
            a.dec(ecx);
            a.jnz(loop);
            a.int3();
        });
        m.RunToEnd();
        Assert.That(m[Reg.Rax], Is.EqualTo(5UL));
        Assert.That(m.Interp.Statistics.CodeInvalidations, Is.GreaterThanOrEqualTo(3));
        m.Interp.DecodeCache.CheckInvariants();
        Assert.That(m.Interp.DecodedPageCount, Is.EqualTo(1));
        m.Interp.ReleaseDecodedPages();
        m.Interp.DecodeCache.CheckInvariants();
        Assert.That(m.Interp.DecodedPageCount, Is.Zero);
    }
}
