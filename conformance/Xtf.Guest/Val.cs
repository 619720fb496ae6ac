using Xtf.Abi;

namespace Xtf.Guest;

public enum ValKind { Constant, Memory, Deref, Binary, Unary }

public enum BinaryOp { Add, Sub, Mul, And, Or, Xor, Shl, Shr, Sar }

public enum UnaryOp { Neg, Not }

/// <summary>
/// A 64-bit value as the guest will see it at run time: a constant, a memory location (a variable,
/// a struct field, a byte of the hypercall page), a location reached through a pointer, or an
/// expression of those. A test body builds these; the generator turns them into loads and stores.
/// </summary>
public sealed class Val
{
    private Val(ValKind kind) => Kind = kind;

    public ValKind Kind { get; }
    public long Constant { get; private init; }
    /// <summary>For Memory: the absolute address.</summary>
    public ulong Address { get; private init; }
    /// <summary>For Memory and Deref: the access width in bytes (1, 2, 4, 8).</summary>
    public int Width { get; private init; } = 8;
    /// <summary>For Memory and Deref: sign-extend narrow loads.</summary>
    public bool Signed { get; private init; }
    /// <summary>For Deref: the pointer; for Binary: the left operand; for Unary: the operand.</summary>
    public Val? Left { get; private init; }
    /// <summary>For Binary: the right operand.</summary>
    public Val? Right { get; private init; }
    /// <summary>For Deref: the byte offset added to the pointer.</summary>
    public int Offset { get; private init; }
    public BinaryOp Op { get; private init; }
    public UnaryOp UOp { get; private init; }
    /// <summary>A name for listings and error messages.</summary>
    public string? Name { get; private init; }

    public bool IsLValue => Kind is ValKind.Memory or ValKind.Deref;

    public static Val Const(long value) => new(ValKind.Constant) { Constant = value };

    public static Val Mem(ulong address, int width = 8, bool signed = false, string? name = null)
    {
        CheckWidth(width);
        return new(ValKind.Memory) { Address = address, Width = width, Signed = signed, Name = name };
    }

    /// <summary>The location <paramref name="offset"/> bytes past the address held in <paramref name="pointer"/>.</summary>
    public static Val At(Val pointer, int offset = 0, int width = 8, bool signed = false)
    {
        CheckWidth(width);
        if (pointer.Kind == ValKind.Constant)
            return Mem((ulong)(pointer.Constant + offset), width, signed);
        return new(ValKind.Deref) { Left = pointer, Offset = offset, Width = width, Signed = signed };
    }

    /// <summary>Another view of the same location: a field of a different width.</summary>
    public Val As(int width, bool signed = false)
    {
        if (!IsLValue) throw new InvalidOperationException("only a memory location can be reinterpreted");
        return Kind == ValKind.Memory ? Mem(Address, width, signed, Name) : At(Left!, Offset, width, signed);
    }

    public Val Field(int offset, int width = 8, bool signed = false) => Kind switch
    {
        ValKind.Memory => Mem(Address + (ulong)offset, width, signed),
        ValKind.Deref => At(Left!, Offset + offset, width, signed),
        _ => throw new InvalidOperationException("only a memory location has fields"),
    };

    private static void CheckWidth(int width)
    {
        if (width is not (1 or 2 or 4 or 8)) throw new ArgumentOutOfRangeException(nameof(width), "width must be 1, 2, 4 or 8");
    }

    private static Val Bin(BinaryOp op, Val a, Val b)
    {
        if (a.Kind == ValKind.Constant && b.Kind == ValKind.Constant)
            return Const(Fold(op, a.Constant, b.Constant));
        return new(ValKind.Binary) { Op = op, Left = a, Right = b };
    }

    private static long Fold(BinaryOp op, long a, long b) => op switch
    {
        BinaryOp.Add => unchecked(a + b),
        BinaryOp.Sub => unchecked(a - b),
        BinaryOp.Mul => unchecked(a * b),
        BinaryOp.And => a & b,
        BinaryOp.Or => a | b,
        BinaryOp.Xor => a ^ b,
        BinaryOp.Shl => a << (int)(b & 63),
        BinaryOp.Shr => (long)((ulong)a >> (int)(b & 63)),
        BinaryOp.Sar => a >> (int)(b & 63),
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };

    public static implicit operator Val(long v) => Const(v);
    public static implicit operator Val(ulong v) => Const(unchecked((long)v));
    public static implicit operator Val(int v) => Const(v);
    public static implicit operator Val(char v) => Const(v);
    public static implicit operator Val(ushort v) => Const(v);
    public static implicit operator Val(byte v) => Const(v);
    public static implicit operator Val(uint v) => Const(v);
    public static implicit operator Val(Hypercall v) => Const((int)v);
    public static implicit operator Val(SchedOp v) => Const((int)v);
    public static implicit operator Val(VcpuOp v) => Const((int)v);
    public static implicit operator Val(EvtchnOp v) => Const((int)v);
    public static implicit operator Val(ConsoleIo v) => Const((int)v);
    public static implicit operator Val(XenVer v) => Const((int)v);
    public static implicit operator Val(ShutdownReason v) => Const((int)v);
    public static implicit operator Val(Virq v) => Const((int)v);

    public static Val operator +(Val a, Val b) => Bin(BinaryOp.Add, a, b);
    public static Val operator -(Val a, Val b) => Bin(BinaryOp.Sub, a, b);
    public static Val operator *(Val a, Val b) => Bin(BinaryOp.Mul, a, b);
    public static Val operator &(Val a, Val b) => Bin(BinaryOp.And, a, b);
    public static Val operator |(Val a, Val b) => Bin(BinaryOp.Or, a, b);
    public static Val operator ^(Val a, Val b) => Bin(BinaryOp.Xor, a, b);
    public static Val operator <<(Val a, int n) => Bin(BinaryOp.Shl, a, n);
    public static Val operator >>(Val a, int n) => Bin(BinaryOp.Shr, a, n);
    public Val Sar(int n) => Bin(BinaryOp.Sar, this, n);
    /// <summary>Shifts by a count the guest computes (masked to 0..63 by the CPU).</summary>
    public Val ShiftRight(Val count) => Bin(BinaryOp.Shr, this, count);
    public Val ShiftLeft(Val count) => Bin(BinaryOp.Shl, this, count);
    public static Val operator -(Val a) => a.Kind == ValKind.Constant ? Const(unchecked(-a.Constant)) : new(ValKind.Unary) { UOp = UnaryOp.Neg, Left = a };
    public static Val operator ~(Val a) => a.Kind == ValKind.Constant ? Const(~a.Constant) : new(ValKind.Unary) { UOp = UnaryOp.Not, Left = a };

    // Comparisons build conditions; they are evaluated by the guest, not here.
    public static Cond operator ==(Val a, Val b) => new(CondOp.Eq, a, b);
    public static Cond operator !=(Val a, Val b) => new(CondOp.Ne, a, b);
    public static Cond operator <(Val a, Val b) => new(CondOp.Lt, a, b);
    public static Cond operator >(Val a, Val b) => new(CondOp.Gt, a, b);
    public static Cond operator <=(Val a, Val b) => new(CondOp.Le, a, b);
    public static Cond operator >=(Val a, Val b) => new(CondOp.Ge, a, b);
    public Cond ULt(Val b) => new(CondOp.ULt, this, b);
    public Cond UGt(Val b) => new(CondOp.UGt, this, b);
    public Cond ULe(Val b) => new(CondOp.ULe, this, b);
    public Cond UGe(Val b) => new(CondOp.UGe, this, b);
    /// <summary>True when any bit of <paramref name="mask"/> is set in this value.</summary>
    public Cond AnyBits(Val mask) => new(CondOp.AnyBits, this, mask);
    public Cond NoBits(Val mask) => new(CondOp.NoBits, this, mask);

    public override bool Equals(object? obj) => ReferenceEquals(this, obj);
    public override int GetHashCode() => System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(this);

    public override string ToString() => Kind switch
    {
        ValKind.Constant => Constant.ToString(),
        ValKind.Memory => Name ?? $"[0x{Address:x}]{Width}",
        ValKind.Deref => $"[{Left}+{Offset}]{Width}",
        ValKind.Binary => $"({Left} {Op} {Right})",
        _ => $"{UOp}({Left})",
    };
}

public enum CondOp { Eq, Ne, Lt, Gt, Le, Ge, ULt, UGt, ULe, UGe, AnyBits, NoBits, And, Or, Not }

/// <summary>A condition the guest evaluates: a comparison, or a combination of conditions.</summary>
public sealed class Cond
{
    internal Cond(CondOp op, Val a, Val b) { Op = op; A = a; B = b; }
    private Cond(CondOp op, Cond x, Cond? y) { Op = op; X = x; Y = y; }

    public CondOp Op { get; }
    public Val? A { get; }
    public Val? B { get; }
    public Cond? X { get; }
    public Cond? Y { get; }

    public static Cond operator &(Cond x, Cond y) => new(CondOp.And, x, y);
    public static Cond operator |(Cond x, Cond y) => new(CondOp.Or, x, y);
    public static Cond operator !(Cond x) => new(CondOp.Not, x, null);

    public override string ToString() => Op switch
    {
        CondOp.And => $"({X} && {Y})",
        CondOp.Or => $"({X} || {Y})",
        CondOp.Not => $"!({X})",
        _ => $"{A} {Op} {B}",
    };
}
