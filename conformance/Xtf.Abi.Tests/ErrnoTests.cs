using Xtf.Abi;

namespace Xtf.Abi.Tests;

public class ErrnoTests
{
    [Test]
    public void ValuesMatchSpec()
    {
        // docs/pv-abi.md §0.2.
        var expected = new Dictionary<string, int>
        {
            ["EPERM"] = 1, ["ENOENT"] = 2, ["ESRCH"] = 3, ["EIO"] = 5, ["ENXIO"] = 6, ["E2BIG"] = 7, ["EAGAIN"] = 11,
            ["ENOMEM"] = 12, ["EACCES"] = 13, ["EFAULT"] = 14, ["EBUSY"] = 16, ["EEXIST"] = 17, ["ENODEV"] = 19,
            ["EINVAL"] = 22, ["ENOSPC"] = 28, ["ERANGE"] = 34, ["ENOSYS"] = 38, ["ENODATA"] = 61, ["ETIME"] = 62,
            ["EOPNOTSUPP"] = 95, ["ENOBUFS"] = 105, ["ETIMEDOUT"] = 110,
        };
        var actual = typeof(Errno).GetFields()
            .Where(f => f.IsLiteral && f.FieldType == typeof(int))
            .ToDictionary(f => f.Name, f => (int)f.GetRawConstantValue()!);
        Assert.That(actual, Is.EquivalentTo(expected));

        Assert.That(Errno.All, Is.EqualTo(expected.Values.Order()));
        foreach (var (name, value) in expected)
            Assert.That(Errno.Name(value), Is.EqualTo(name));
    }

    [Test]
    public void NotInXensSet()
    {
        // docs/pv-abi.md §0.2: EALREADY (114), EINTR (4) and ERESTART (85) are not guest-visible.
        Assert.That(Errno.IsKnown(114) || Errno.IsKnown(4) || Errno.IsKnown(85), Is.False);
        Assert.That(Errno.Name(114), Is.EqualTo("errno(114)"));
    }

    [TestCase(-22L, "-EINVAL (-22)")]
    [TestCase(-38L, "-ENOSYS (-38)")]
    [TestCase(-1L, "-EPERM (-1)")]
    [TestCase(-110L, "-ETIMEDOUT (-110)")]
    [TestCase(0L, "0")]
    [TestCase(1L, "1")]
    [TestCase(22L, "22")]
    [TestCase(4096L, "4096")]
    [TestCase(0x40011L, "262161")]
    [TestCase(-114L, "-114")]
    [TestCase(-4L, "-4")]
    [TestCase(long.MinValue, "-9223372036854775808")]
    [TestCase(-0x1_0000_0016L, "-4294967318")]
    public void Describe(long rc, string expected) => Assert.That(Errno.Describe(rc), Is.EqualTo(expected));
}
