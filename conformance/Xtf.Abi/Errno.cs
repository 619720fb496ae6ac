namespace Xtf.Abi;

/// <summary>
/// Error numbers a guest can see (docs/pv-abi.md §0.2). Hypercalls return them negated. The set and values match
/// Linux on x86; EALREADY, EINTR and ERESTART are deliberately absent.
/// </summary>
public static class Errno
{
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int ESRCH = 3;
    public const int EIO = 5;
    public const int ENXIO = 6;
    public const int E2BIG = 7;
    public const int EAGAIN = 11;
    public const int ENOMEM = 12;
    public const int EACCES = 13;
    public const int EFAULT = 14;
    public const int EBUSY = 16;
    public const int EEXIST = 17;
    public const int ENODEV = 19;
    public const int EINVAL = 22;
    public const int ENOSPC = 28;
    public const int ERANGE = 34;
    public const int ENOSYS = 38;
    public const int ENODATA = 61;
    public const int ETIME = 62;
    public const int EOPNOTSUPP = 95;
    public const int ENOBUFS = 105;
    public const int ETIMEDOUT = 110;

    private static readonly Dictionary<int, string> Names = new()
    {
        [EPERM] = nameof(EPERM), [ENOENT] = nameof(ENOENT), [ESRCH] = nameof(ESRCH), [EIO] = nameof(EIO),
        [ENXIO] = nameof(ENXIO), [E2BIG] = nameof(E2BIG), [EAGAIN] = nameof(EAGAIN), [ENOMEM] = nameof(ENOMEM),
        [EACCES] = nameof(EACCES), [EFAULT] = nameof(EFAULT), [EBUSY] = nameof(EBUSY), [EEXIST] = nameof(EEXIST),
        [ENODEV] = nameof(ENODEV), [EINVAL] = nameof(EINVAL), [ENOSPC] = nameof(ENOSPC), [ERANGE] = nameof(ERANGE),
        [ENOSYS] = nameof(ENOSYS), [ENODATA] = nameof(ENODATA), [ETIME] = nameof(ETIME),
        [EOPNOTSUPP] = nameof(EOPNOTSUPP), [ENOBUFS] = nameof(ENOBUFS), [ETIMEDOUT] = nameof(ETIMEDOUT),
    };

    /// <summary>Every errno value in the public set, ascending.</summary>
    public static IReadOnlyCollection<int> All { get; } = Names.Keys.Order().ToArray();

    public static bool IsKnown(int errnoPositive) => Names.ContainsKey(errnoPositive);

    /// <summary>Symbolic name of a positive errno ("EINVAL"); values outside the set give "errno(N)".</summary>
    public static string Name(int errnoPositive) =>
        Names.TryGetValue(errnoPositive, out var name) ? name : $"errno({errnoPositive})";

    /// <summary>
    /// Renders a hypercall return value: a negative known errno as "-EINVAL (-22)", anything else
    /// (success values, unknown negatives) as the plain decimal number.
    /// </summary>
    public static string Describe(long rc) =>
        rc is < 0 and > int.MinValue && Names.TryGetValue((int)-rc, out var name)
            ? $"-{name} ({rc})"
            : rc.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
