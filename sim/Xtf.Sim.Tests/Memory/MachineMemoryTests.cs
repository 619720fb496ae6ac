using System.Buffers.Binary;
using Xtf.Sim.Memory;

namespace Xtf.Sim.Tests.Memory;

/// <summary>Machine memory materialised on first touch: zeros, provided (lazily produced) frames, code marks.</summary>
[Parallelizable(ParallelScope.All)]
public sealed class MachineMemoryTests
{
    private const ulong Frames = 0x20000;   // 512 MiB

    [Test]
    public void UntouchedMemoryReadsAsZeroAndCostsNothingUntilTouched()
    {
        var m = new MachineMemory(Frames);
        Assert.That(m.AllocatedFrames, Is.Zero);
        foreach (ulong mfn in new ulong[] { 0, 1, 0x1ff, 0x200, 0x12345, Frames - 1 })
        {
            Assert.That(m.IsAllocated(mfn), Is.False, $"mfn 0x{mfn:x} before");
            Assert.That(m.ReadU64((mfn << 12) + 0xff8), Is.Zero, $"mfn 0x{mfn:x}");
            Assert.That(m.Frame(mfn).All(b => b == 0), $"mfn 0x{mfn:x} all zero");
        }
        Assert.That(m.AllocatedFrames, Is.EqualTo(6));
    }

    [Test]
    public void WritesStickAcrossTheTwoLevelFrameTable()
    {
        var m = new MachineMemory(Frames);
        var written = new Dictionary<ulong, ulong>();
        var random = new Random(7);
        for (int i = 0; i < 2000; i++)
        {
            ulong at = (ulong)random.NextInt64(0, (long)(Frames << 12) - 8) & ~7UL;
            ulong v = (ulong)random.NextInt64();
            m.WriteU64(at, v);
            written[at] = v;
        }
        foreach (var (at, v) in written) Assert.That(m.ReadU64(at), Is.EqualTo(v), $"0x{at:x}");
    }

    [Test]
    public void MaterialisedFramesAreBoundedByTheLimit()
    {
        var m = new MachineMemory(Frames) { MaterialisedFrameLimit = 4 };
        for (ulong f = 0; f < 4; f++) m.WriteU8(f << MachineMemory.PageShift, 1);
        var e = Assert.Throws<MemoryLimitException>(() => m.ReadU8(4UL << MachineMemory.PageShift))!;
        Assert.That(e.Frames, Is.EqualTo(4));
        Assert.That(m.AllocatedFrames, Is.EqualTo(4));
        Assert.That(m.ReadU8(3UL << MachineMemory.PageShift), Is.EqualTo(1), "frames already there stay usable");
    }

    [Test]
    public void FramesBeyondTheMachineAreRefused()
    {
        var m = new MachineMemory(0x300);
        Assert.Throws<ArgumentOutOfRangeException>(() => m.Frame(0x300));
        Assert.That(m.Contains(0x2ff_fff), Is.True);
        Assert.That(m.Contains(0x300_000), Is.False);
        Assert.That(m.IsAllocated(0x300), Is.False);
    }

    private static void Pattern(ulong mfn, Span<byte> frame)
    {
        for (int i = 0; i < frame.Length; i += 8) BinaryPrimitives.WriteUInt64LittleEndian(frame[i..], mfn * 0x1_0000 + (ulong)i);
    }

    [Test]
    public void ProvidedFramesAreProducedOnFirstTouchOnlyAndEqualAnEagerWrite()
    {
        var lazy = new MachineMemory(Frames);
        var eager = new MachineMemory(Frames);
        int calls = 0;
        lazy.Provide(0x1000, 16, (mfn, f) => { calls++; Pattern(mfn, f); });
        var bytes = new byte[4096];
        for (ulong mfn = 0x1000; mfn < 0x1010; mfn++)
        {
            Pattern(mfn, bytes);
            eager.Write(mfn << 12, bytes);
        }
        Assert.That(calls, Is.Zero, "nothing is produced before it is touched");
        Assert.That(lazy.IsAllocated(0x1003), Is.False);
        Assert.That(lazy.ReadU64(0x1003_010), Is.EqualTo(eager.ReadU64(0x1003_010)));
        Assert.That(calls, Is.EqualTo(1));
        for (ulong mfn = 0x1000; mfn < 0x1010; mfn++) Assert.That(lazy.Frame(mfn), Is.EqualTo(eager.Frame(mfn)), $"mfn 0x{mfn:x}");
        Assert.That(calls, Is.EqualTo(16), "each frame once");
        Assert.That(lazy.Frame(0x1010).All(b => b == 0), "the frame after the range is plain zero");
    }

    [Test]
    public void WritesToProvidedFramesStickBeforeAndAfterTheyAreProduced()
    {
        var m = new MachineMemory(Frames);
        m.Provide(0x2000, 2, Pattern);
        m.WriteU32(0x2000_100, 0xdeadbeef);             // first touch is a write: produced, then written
        m.ReadU64(0x2001_000);                           // produced by a read
        m.WriteU8(0x2001_008, 0x5a);
        var expected0 = new byte[4096];
        Pattern(0x2000, expected0);
        BinaryPrimitives.WriteUInt32LittleEndian(expected0.AsSpan(0x100), 0xdeadbeef);
        var expected1 = new byte[4096];
        Pattern(0x2001, expected1);
        expected1[8] = 0x5a;
        Assert.That(m.Frame(0x2000), Is.EqualTo(expected0));
        Assert.That(m.Frame(0x2001), Is.EqualTo(expected1));
    }

    [Test]
    public void ProvidingOverMaterialisedOrProvidedFramesIsRefused()
    {
        var m = new MachineMemory(Frames);
        m.WriteU8(0x3005_000, 1);
        Assert.Throws<InvalidOperationException>(() => m.Provide(0x3000, 8, Pattern));
        m.Provide(0x4000, 8, Pattern);
        Assert.Throws<InvalidOperationException>(() => m.Provide(0x4007, 2, Pattern));
        Assert.Throws<ArgumentOutOfRangeException>(() => m.Provide(Frames - 1, 2, Pattern));
        Assert.DoesNotThrow(() => m.Provide(0x4008, 1, Pattern));
    }

    [Test]
    public void CodeMarksReportTheFirstWriteOnly()
    {
        var m = new MachineMemory(Frames);
        var reported = new List<ulong>();
        m.CodeWritten = reported.Add;
        m.MarkCode(0x63);
        m.MarkCode(0x64);
        Assert.That((m.IsCode(0x63), m.IsCode(0x64), m.IsCode(0x65), m.IsCode(Frames)), Is.EqualTo((true, true, false, false)));
        m.WriteU8(0x63_010, 1);
        m.WriteU8(0x63_020, 2);
        m.UnmarkCode(0x64);
        m.WriteU8(0x64_000, 3);
        Assert.That(reported, Is.EqualTo(new ulong[] { 0x63 }));
        Assert.That(m.IsCode(0x63), Is.False);
    }
}
