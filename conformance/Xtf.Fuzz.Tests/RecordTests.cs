using Xtf.Fuzz;

namespace Xtf.Fuzz.Tests;

public class RecordTests
{
    [Test]
    public void ParsesEveryPartOfARecordLine()
    {
        var r = StepRecord.TryParse("abc@1f:-22 b0a0b p0=6 m1=8000000000000000 s0=1 u0 s1=3 u1");
        Assert.That(r, Is.Not.Null);
        Assert.That(r!.Index, Is.EqualTo(0x1f));
        Assert.That(r.Rc, Is.EqualTo(-22));
        Assert.That(r.Buffer, Is.EqualTo(new byte[] { 0x0a, 0x0b }));
        Assert.That(r.Pending, Is.EqualTo(new[] { (0, 6UL) }));
        Assert.That(r.Mask, Is.EqualTo(new[] { (1, 0x8000000000000000UL) }));
        Assert.That(r.Selector, Is.EqualTo(new[] { 1UL, 3UL }));
        Assert.That(r.Upcall, Is.EqualTo(new[] { true, true }));
    }

    [TestCase(null)]
    [TestCase("no record here")]
    [TestCase("@zz:0")]
    [TestCase("@1:0 q7")]
    public void RejectsWhatIsNotARecord(string? line) => Assert.That(StepRecord.TryParse(line), Is.Null);

    [Test]
    public void StepTextRejectsOutOfRangeValues()
    {
        Assert.Throws<FormatException>(() => FuzzStep.Parse("hc 200 0x1"));
        Assert.Throws<FormatException>(() => FuzzStep.Parse("mask 5000"));
        Assert.Throws<FormatException>(() => FuzzStep.Parse("hc 32 0x1 &0 report=65 buf=00"));
        Assert.Throws<FormatException>(() => FuzzStep.Parse("jump 1"));
    }

    [Test]
    public void TheModelPredictsAnIpiRoundTrip()
    {
        // bind_ipi(vCPU 0) -> port 1; send(1) -> pending, selector and upcall; unmask(1) when not masked -> nothing.
        var c = FuzzCase.Parse("hc 32 0x7 &0 buf=00000000eeeeeeee report=8\nhc 32 0x4 &0 buf=01000000\nhc 32 0x9 &0 buf=01000000");
        Assert.That(XenModel.Run([c]), Is.EqualTo(new[] { "@0:0 b0000000001000000", "@1:0 p0=2 s0=1 u0", "@2:0" }));
    }
}
