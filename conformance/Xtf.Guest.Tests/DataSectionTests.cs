using Xtf.Guest;

namespace Xtf.Guest.Tests;

[TestFixture]
public sealed class DataSectionTests
{
    private const ulong Base = GuestLayout.DataBase;

    [Test]
    public void StartsEmptyAtItsBase()
    {
        var d = new DataSection(Base);
        Assert.That((d.Base, d.Size, d.End), Is.EqualTo((Base, 0, Base)));
        Assert.That(d.ToArray(), Is.Empty);
    }

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(4)]
    [TestCase(8)]
    [TestCase(16)]
    [TestCase(64)]
    [TestCase(4096)]
    public void ReserveAligns(int align)
    {
        var d = new DataSection(Base);
        d.Reserve(3, 1);
        ulong at = d.Reserve(5, align);
        Assert.That(at % (ulong)align, Is.Zero);
        Assert.That(at, Is.GreaterThanOrEqualTo(Base + 3));
        Assert.That(at - (Base + 3), Is.LessThan((ulong)align), "no more padding than needed");
        Assert.That(d.End, Is.EqualTo(at + 5));
    }

    [Test]
    public void ReserveIsZeroedAndContiguous()
    {
        var d = new DataSection(Base);
        ulong a = d.Reserve(8);
        ulong b = d.Reserve(8);
        Assert.That(b, Is.EqualTo(a + 8));
        Assert.That(d.ToArray(), Is.All.Zero);
        Assert.That(d.Reserve(0, 1), Is.EqualTo(d.End), "an empty reservation is at the end");
    }

    [TestCase(0)]
    [TestCase(3)]
    [TestCase(-8)]
    [TestCase(24)]
    public void ReserveRejectsBadAlignment(int align) =>
        Assert.Throws<ArgumentException>(() => new DataSection(Base).Reserve(8, align));

    [Test]
    public void ReserveRejectsNegativeSize() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new DataSection(Base).Reserve(-1));

    [Test]
    public void ReserveRejectsRunawayGrowth() =>
        Assert.Throws<InvalidOperationException>(() => new DataSection(Base).Reserve(GuestLayout.MaxImageBytes + 1, 1));

    [Test]
    public void StringsAreInterned()
    {
        var d = new DataSection(Base);
        ulong a = d.String("hello");
        d.Reserve(13, 1);
        ulong b = d.String("hello");
        ulong c = d.String("world");
        ulong e = d.String("Hello");
        Assert.That(b, Is.EqualTo(a), "same string, same address");
        Assert.That(c, Is.Not.EqualTo(a));
        Assert.That(e, Is.Not.EqualTo(a), "interning is case-sensitive");
        var bytes = d.ToArray();
        Assert.That(bytes.AsSpan((int)(a - Base), 6).ToArray(), Is.EqualTo("hello\0"u8.ToArray()), "NUL-terminated");
        Assert.That(d.String(""), Is.EqualTo(d.String("")));
        Assert.That(bytes.Length + 1, Is.EqualTo(d.Size), "the empty string is one NUL byte");
    }

    [Test]
    public void AddCopiesBytes()
    {
        var d = new DataSection(Base);
        d.Reserve(1, 1);
        ulong at = d.Add(new byte[] { 1, 2, 3 }, 4);
        Assert.That(at % 4, Is.Zero);
        Assert.That(d.ToArray().AsSpan((int)(at - Base)).ToArray(), Is.EqualTo(new byte[] { 1, 2, 3 }));
    }

    [Test]
    public void WriteStaysInside()
    {
        var d = new DataSection(Base);
        ulong at = d.Reserve(16);
        d.Write(at, new byte[16]);
        d.Write(at + 15, new byte[] { 0xaa });
        d.WriteU64(at + 8, 0x0102030405060708);
        Assert.That(d.ToArray()[8..16], Is.EqualTo(new byte[] { 8, 7, 6, 5, 4, 3, 2, 1 }), "little-endian");
        d.Write(d.End, ReadOnlySpan<byte>.Empty);

        Assert.Throws<ArgumentOutOfRangeException>(() => d.Write(at + 1, new byte[16]), "one past the end");
        Assert.Throws<ArgumentOutOfRangeException>(() => d.Write(Base - 1, new byte[1]), "below the base");
        Assert.Throws<ArgumentOutOfRangeException>(() => d.Write(d.End, new byte[1]), "at the end");
        Assert.Throws<ArgumentOutOfRangeException>(() => d.WriteU64(at + 9, 0), "a u64 that straddles the end");
        Assert.Throws<ArgumentOutOfRangeException>(() => d.Write(0, new byte[1]));
    }

    [Test]
    public void WriteNearTheTopOfTheAddressSpaceIsRejected() =>
        // address + length wraps around 2^64: the check must not be fooled into a negative offset.
        Assert.Throws<ArgumentOutOfRangeException>(() => new DataSection(Base).Write(ulong.MaxValue, new byte[2]));

    [Test]
    public void GuestProgramDataIsWhereTheLayoutSays()
    {
        var g = new GuestProgram("t");
        Assert.That(g.Data.Base, Is.EqualTo(GuestLayout.DataBase));
        Assert.That(g.StartInfo.Address, Is.InRange(GuestLayout.DataBase, g.Data.End - 8));
        var v = g.Var("v", -2);
        Assert.That(v.Address % 8, Is.Zero);
        Assert.That(BitConverter.ToInt64(g.Data.ToArray(), (int)(v.Address - GuestLayout.DataBase)), Is.EqualTo(-2));
        var page = g.Page("p", 2);
        Assert.That(page.Address % GuestLayout.PageSize, Is.Zero);
        Assert.That(page.Size, Is.EqualTo(2 * (int)GuestLayout.PageSize));
        Assert.That(g.Str("abc").Constant, Is.EqualTo(g.Str("abc").Constant));
    }
}

[TestFixture]
public sealed class GuestBufferTests
{
    private static GuestBuffer Buffer(int size = 16) => new GuestProgram("t").Alloc(size, name: "b");

    [Test]
    public void FieldsInsideAreMemoryAtTheRightAddress()
    {
        var b = Buffer();
        Assert.That((b.U8(15).Address, b.U8(15).Width), Is.EqualTo((b.Address + 15, 1)));
        Assert.That((b.U16(14).Address, b.U16(14).Width), Is.EqualTo((b.Address + 14, 2)));
        Assert.That((b.U32(12).Address, b.U32(12).Width, b.U32(12).Signed), Is.EqualTo((b.Address + 12, 4, false)));
        Assert.That((b.S32(12).Width, b.S32(12).Signed), Is.EqualTo((4, true)));
        Assert.That((b.U64(8).Address, b.U64().Address), Is.EqualTo((b.Address + 8, b.Address)));
        Assert.That(b.Ptr.Constant, Is.EqualTo((long)b.Address));
        Assert.That(b.Addr(4).Constant, Is.EqualTo((long)b.Address + 4));
    }

    [Test]
    public void FieldsPastTheEndThrow()
    {
        var b = Buffer();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => b.U64(9))!;
        Assert.That(e.Message, Does.Contain("b:"));
        Assert.Throws<ArgumentOutOfRangeException>(() => b.U8(16));
        Assert.Throws<ArgumentOutOfRangeException>(() => b.U16(15));
        Assert.Throws<ArgumentOutOfRangeException>(() => b.U32(13));
        Assert.Throws<ArgumentOutOfRangeException>(() => b.S32(13));
        Assert.Throws<ArgumentOutOfRangeException>(() => b.U8(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => b.Field(0, 32));
        Assert.Throws<ArgumentOutOfRangeException>(() => Buffer(0).U8(0));
    }

    [Test]
    public void AFieldWithAHugeOffsetThrows() =>
        // offset + width overflows int: the bounds check must still reject it.
        Assert.Throws<ArgumentOutOfRangeException>(() => Buffer().Field(int.MaxValue - 3, 8));

    [Test]
    public void AllocAlignsAndNamesBuffers()
    {
        var g = new GuestProgram("t");
        var a = g.Alloc(3, 1);
        var b = g.Alloc(5, 64);
        Assert.That(b.Address % 64, Is.Zero);
        Assert.That(b.Address, Is.GreaterThanOrEqualTo(a.Address + 3));
        Assert.That(a.Name, Is.Not.EqualTo(b.Name), "unnamed buffers get distinct names");
    }
}
