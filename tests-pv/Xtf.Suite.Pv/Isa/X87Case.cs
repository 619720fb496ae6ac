using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Pv.Isa;

/// <summary>An 80-bit operand: the 64-bit significand and the sign/exponent word.</summary>
internal readonly record struct X80(ulong Mant, ushort Se)
{
    /// <summary>The exact 80-bit value of a (normal or zero) binary64.</summary>
    public static X80 D(double d)
    {
        ulong b = BitConverter.DoubleToUInt64Bits(d);
        ushort sign = (ushort)((b >> 48) & 0x8000);
        int e = (int)((b >> 52) & 0x7FF);
        ulong frac = b & 0xF_FFFF_FFFF_FFFF;
        if (e == 0 && frac == 0) return new X80(0, sign);
        if (e == 0 || e == 0x7FF) throw new ArgumentException("only normal values and zero", nameof(d));
        return new X80((1UL << 63) | (frac << 11), (ushort)(sign | (e - 1023 + 16383)));
    }

    public static readonly X80 Inf = new(1UL << 63, 0x7FFF), NegInf = new(1UL << 63, 0xFFFF);
    public static X80 QNaN(ulong payload = 0, bool neg = false) => new(0xC000_0000_0000_0000UL | payload, (ushort)(neg ? 0xFFFF : 0x7FFF));
    public static X80 SNaN(ulong payload = 1, bool neg = false) => new(0x8000_0000_0000_0000UL | payload, (ushort)(neg ? 0xFFFF : 0x7FFF));
}

/// <summary>
/// One x87 case: fninit, FCW loaded, the operands pushed with fld m80 (first pushed = deepest),
/// the instructions, then FSW (fnstsw) and <c>results</c> values popped with fstp m80; prints the
/// 80-bit results and FSW so that the hosts' transcripts compare bit for bit. FCW masks
/// everything unless a case says otherwise (an unmasked flag only sets ES/B: #MF waits for fwait).
/// </summary>
internal sealed class X87Case
{
    private readonly GuestProgram g;
    private readonly GuestBuffer outBuf;
    private readonly Val sw;

    public X87Case(GuestProgram g)
    {
        this.g = g;
        outBuf = g.Alloc(16 * 8, 16, "x87_out");
        sw = g.Var("x87_sw");
    }

    public GuestBuffer Out => outBuf;
    public Val Sw => sw;

    /// <summary>FCW with every exception masked, precision control pc (0 24-bit, 2 53-bit, 3 64-bit) and rounding control rc.</summary>
    public static ushort Cw(int pc, int rc) => (ushort)(0x7F | (pc << 8) | (rc << 10));

    /// <summary>An initialized 16-byte datum holding an 80-bit value.</summary>
    public ulong Const(X80 v)
    {
        ulong at = g.Data.Reserve(16, 16);
        g.Data.WriteU64(at, v.Mant);
        g.Data.WriteU64(at + 8, v.Se);
        return at;
    }

    /// <summary>An initialized 8-byte datum (a binary32/64 or integer operand).</summary>
    public ulong Raw(ulong bits)
    {
        ulong at = g.Data.Reserve(8, 8);
        g.Data.WriteU64(at, bits);
        return at;
    }

    public void Run(string what, ushort cw, X80[] pushes, Action body, int results = 1)
    {
        var a = g.Asm;
        ulong cwAt = Raw(cw);
        a.fninit();
        a.fldcw(__word_ptr[(long)cwAt]);
        foreach (var p in pushes) a.fld(__tword_ptr[(long)Const(p)]);
        body();
        a.fnstsw(__word_ptr[(long)sw.Address]);
        for (int i = 0; i < results; i++) a.fstp(__tword_ptr[(long)outBuf.Address + 16 * i]);
        a.fninit();
        var fmt = GuestProgram.Escape(what) + ":";
        var args = new List<Val>();
        for (int i = 0; i < results; i++)
        {
            fmt += " %x:%p";
            args.Add(outBuf.U16(16 * i + 8));
            args.Add(outBuf.U64(16 * i));
        }
        fmt += " sw %x\n";
        args.Add(sw);
        g.Print(fmt, args.ToArray());
    }
}
