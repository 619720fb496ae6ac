using System.Text;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Guest;

// The expression and condition emitter. Convention: values are computed in rax (rcx is scratch);
// runtime routines may clobber every caller-saved register, so nothing lives in a register
// across statements. Every address the guest uses is below 2 GiB, so absolute disp32 operands work.
public sealed partial class GuestProgram
{
    /// <summary>
    /// Xen's forced-emulation prefix for PV guests, <c>ud2; .ascii "xen"</c> (docs/pv-abi.md §12): Xen
    /// emulates a <c>cpuid</c> that follows it from the domain's CPUID policy instead of delivering the #UD.
    /// </summary>
    public static readonly byte[] ForcedEmulationPrefix = [0x0f, 0x0b, 0x78, 0x65, 0x6e];

    /// <summary>Emits <see cref="ForcedEmulationPrefix"/>; the next instruction should be <c>cpuid</c>.</summary>
    public void ForcedEmulation() => a.db(ForcedEmulationPrefix);

    internal static long Abs(ulong address) =>
        FitsDisp32(address) ? unchecked((long)address) : throw new ArgumentOutOfRangeException(nameof(address), $"0x{address:x} is not addressable as disp32");

    /// <summary>An address a sign-extended 32-bit displacement reaches.</summary>
    internal static bool FitsDisp32(ulong address) => address < 0x8000_0000 || address >= 0xFFFF_FFFF_8000_0000;

    internal void Bind(GuestLabel label)
    {
        // Iced allows one label per instruction: separate back-to-back labels with a nop.
        if (label.Placed) throw new InvalidOperationException($"label '{label.Name}' is placed twice");
        if (lastBindAt == a.Instructions.Count) a.nop();
        a.Label(ref label.Label);
        label.Placed = true;
        lastBindAt = a.Instructions.Count;
    }

    internal void MovImm(AssemblerRegister64 reg, long value)
    {
        if (value == 0) a.xor(new AssemblerRegister32(ToR32(reg)), new AssemblerRegister32(ToR32(reg)));
        else if (value > 0 && value <= uint.MaxValue) a.mov(new AssemblerRegister32(ToR32(reg)), (uint)value);
        else a.mov(reg, value);
    }

    private static Register ToR32(AssemblerRegister64 reg) => (Register)((int)reg.Value - (int)Register.RAX + (int)Register.EAX);

    internal void LoadRax(Val v)
    {
        switch (v.Kind)
        {
            case ValKind.Constant:
                MovImm(rax, v.Constant);
                break;
            case ValKind.Memory when FitsDisp32(v.Address):
                LoadFrom(Mem(v.Width, Abs(v.Address)), v.Width, v.Signed);
                break;
            case ValKind.Memory:
                a.mov(rcx, v.Address);
                LoadFrom(Mem(v.Width, rcx + 0), v.Width, v.Signed);
                break;
            case ValKind.Deref:
                LoadRax(v.Left!);
                LoadFrom(Mem(v.Width, rax + v.Offset), v.Width, v.Signed);
                break;
            case ValKind.Unary:
                LoadRax(v.Left!);
                if (v.UOp == UnaryOp.Neg) a.neg(rax); else a.not(rax);
                break;
            case ValKind.Binary:
                EmitBinary(v);
                break;
            default:
                throw new InvalidOperationException($"cannot load {v}");
        }
    }

    private void EmitBinary(Val v)
    {
        var right = v.Right!;
        bool imm32 = right.Kind == ValKind.Constant && right.Constant is >= int.MinValue and <= int.MaxValue;
        LoadRax(v.Left!);
        if (imm32 && v.Op is not BinaryOp.Mul)
        {
            int k = (int)right.Constant;
            switch (v.Op)
            {
                case BinaryOp.Add: a.add(rax, k); return;
                case BinaryOp.Sub: a.sub(rax, k); return;
                case BinaryOp.And: a.and(rax, k); return;
                case BinaryOp.Or: a.or(rax, k); return;
                case BinaryOp.Xor: a.xor(rax, k); return;
                case BinaryOp.Shl: a.shl(rax, (byte)(k & 63)); return;
                case BinaryOp.Shr: a.shr(rax, (byte)(k & 63)); return;
                case BinaryOp.Sar: a.sar(rax, (byte)(k & 63)); return;
            }
        }
        a.push(rax);
        LoadRax(right);
        a.mov(rcx, rax);
        a.pop(rax);
        switch (v.Op)
        {
            case BinaryOp.Add: a.add(rax, rcx); break;
            case BinaryOp.Sub: a.sub(rax, rcx); break;
            case BinaryOp.Mul: a.imul(rax, rcx); break;
            case BinaryOp.And: a.and(rax, rcx); break;
            case BinaryOp.Or: a.or(rax, rcx); break;
            case BinaryOp.Xor: a.xor(rax, rcx); break;
            case BinaryOp.Shl: a.shl(rax, cl); break;
            case BinaryOp.Shr: a.shr(rax, cl); break;
            case BinaryOp.Sar: a.sar(rax, cl); break;
        }
    }

    private static AssemblerMemoryOperand Mem(int width, long address) => width switch
    {
        1 => __byte_ptr[address],
        2 => __word_ptr[address],
        4 => __dword_ptr[address],
        _ => __qword_ptr[address],
    };

    private static AssemblerMemoryOperand Mem(int width, AssemblerMemoryOperand m) => width switch
    {
        1 => __byte_ptr[m],
        2 => __word_ptr[m],
        4 => __dword_ptr[m],
        _ => __qword_ptr[m],
    };

    private void LoadFrom(AssemblerMemoryOperand m, int width, bool signed)
    {
        switch (width, signed)
        {
            case (8, _): a.mov(rax, m); break;
            case (4, false): a.mov(eax, m); break;
            case (4, true): a.movsxd(rax, m); break;
            case (2, false): a.movzx(eax, m); break;
            case (2, true): a.movsx(rax, m); break;
            case (1, false): a.movzx(eax, m); break;
            default: a.movsx(rax, m); break;
        }
    }

    private void StoreTo(AssemblerMemoryOperand m, int width)
    {
        switch (width)
        {
            case 8: a.mov(m, rax); break;
            case 4: a.mov(m, eax); break;
            case 2: a.mov(m, ax); break;
            default: a.mov(m, al); break;
        }
    }

    /// <summary>Stores rax into a location, preserving rax.</summary>
    internal void StoreRax(Val location)
    {
        switch (location.Kind)
        {
            case ValKind.Memory when FitsDisp32(location.Address):
                StoreTo(Mem(location.Width, Abs(location.Address)), location.Width);
                break;
            case ValKind.Memory:
                a.mov(rcx, location.Address);
                StoreTo(Mem(location.Width, rcx + 0), location.Width);
                break;
            case ValKind.Deref:
                a.push(rax);
                LoadRax(location.Left!);
                a.mov(rcx, rax);
                a.pop(rax);
                StoreTo(Mem(location.Width, rcx + location.Offset), location.Width);
                break;
            default:
                throw new ArgumentException($"cannot store to {location}");
        }
    }

    /// <summary>Jumps to <paramref name="target"/> when <paramref name="c"/> evaluates to <paramref name="when"/>.</summary>
    internal void Branch(Cond c, GuestLabel target, bool when)
    {
        switch (c.Op)
        {
            case CondOp.Not:
                Branch(c.X!, target, !when);
                return;
            case CondOp.And when when:
            {
                var skip = NewLabel("and");
                Branch(c.X!, skip, false);
                Branch(c.Y!, target, true);
                Bind(skip);
                return;
            }
            case CondOp.And:
                Branch(c.X!, target, false);
                Branch(c.Y!, target, false);
                return;
            case CondOp.Or when when:
                Branch(c.X!, target, true);
                Branch(c.Y!, target, true);
                return;
            case CondOp.Or:
            {
                var skip = NewLabel("or");
                Branch(c.X!, skip, true);
                Branch(c.Y!, target, false);
                Bind(skip);
                return;
            }
        }

        var b = c.B!;
        bool imm32 = b.Kind == ValKind.Constant && b.Constant is >= int.MinValue and <= int.MaxValue;
        LoadRax(c.A!);
        if (imm32)
        {
            if (c.Op is CondOp.AnyBits or CondOp.NoBits) a.test(rax, (int)b.Constant);
            else a.cmp(rax, (int)b.Constant);
        }
        else
        {
            a.push(rax);
            LoadRax(b);
            a.mov(rcx, rax);
            a.pop(rax);
            if (c.Op is CondOp.AnyBits or CondOp.NoBits) a.test(rax, rcx);
            else a.cmp(rax, rcx);
        }

        var op = when ? c.Op : Negate(c.Op);
        var l = target.Label;
        switch (op)
        {
            case CondOp.Eq: a.je(l); break;
            case CondOp.Ne: a.jne(l); break;
            case CondOp.Lt: a.jl(l); break;
            case CondOp.Gt: a.jg(l); break;
            case CondOp.Le: a.jle(l); break;
            case CondOp.Ge: a.jge(l); break;
            case CondOp.ULt: a.jb(l); break;
            case CondOp.UGt: a.ja(l); break;
            case CondOp.ULe: a.jbe(l); break;
            case CondOp.UGe: a.jae(l); break;
            case CondOp.AnyBits: a.jne(l); break;
            case CondOp.NoBits: a.je(l); break;
        }
    }

    private static CondOp Negate(CondOp op) => op switch
    {
        CondOp.Eq => CondOp.Ne,
        CondOp.Ne => CondOp.Eq,
        CondOp.Lt => CondOp.Ge,
        CondOp.Ge => CondOp.Lt,
        CondOp.Gt => CondOp.Le,
        CondOp.Le => CondOp.Gt,
        CondOp.ULt => CondOp.UGe,
        CondOp.UGe => CondOp.ULt,
        CondOp.UGt => CondOp.ULe,
        CondOp.ULe => CondOp.UGt,
        CondOp.AnyBits => CondOp.NoBits,
        CondOp.NoBits => CondOp.AnyBits,
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };

    // ---------------------------------------------------------------- printk

    private void EmitFormat(string format, Val[] args)
    {
        var literal = new StringBuilder();
        int next = 0;

        void FlushLiteral()
        {
            if (literal.Length == 0) return;
            string text = literal.ToString();
            literal.Clear();
            if (text.Length == 1)
            {
                a.mov(edi, (int)text[0]);
                a.call(Runtime.PutChar.Label);
                return;
            }
            ulong at = Data.String(text);
            a.mov(edi, (uint)at);
            a.mov(esi, (uint)text.Length);
            a.call(Runtime.PutString.Label);
        }

        Val NextArg(string spec) => next < args.Length
            ? args[next++]
            : throw new ArgumentException($"format \"{format}\": no argument for {spec}");

        for (int i = 0; i < format.Length; i++)
        {
            char ch = format[i];
            if (ch > 0x7e || (ch < 0x20 && ch is not ('\n' or '\t')))
                throw new ArgumentException($"format \"{format}\": only printable ASCII, tab and newline are allowed");
            if (ch != '%') { literal.Append(ch); continue; }
            if (++i >= format.Length) throw new ArgumentException($"format \"{format}\" ends in '%'");
            if (format[i] == '%') { literal.Append('%'); continue; }

            bool alt = false, zero = false;
            int width = 0;
            while (format[i] is '#' or '0' or '-' or '+' or ' ')
            {
                if (format[i] is '-' or '+' or ' ')
                    throw new ArgumentException($"format \"{format}\": the '{format[i]}' flag is not supported");
                if (format[i] == '#') alt = true; else zero = true;
                if (++i >= format.Length) throw new ArgumentException($"format \"{format}\": incomplete conversion");
            }
            while (char.IsAsciiDigit(format[i]))
            {
                width = width * 10 + (format[i] - '0');
                if (width > 64) throw new ArgumentException($"format \"{format}\": field width above 64");
                if (++i >= format.Length) throw new ArgumentException($"format \"{format}\": incomplete conversion");
            }
            int halves = 0;
            while (format[i] is 'l' or 'z' or 'h')
            {
                if (format[i] == 'h') halves++;
                if (++i >= format.Length) throw new ArgumentException($"format \"{format}\": incomplete conversion");
            }
            if (halves > 2) throw new ArgumentException($"format \"{format}\": too many 'h' modifiers");

            char conv = format[i];
            string spec = "%" + conv;
            FlushLiteral();
            if (width > 0 && conv is 's' or 'c' or 'e' or 'p')
                throw new ArgumentException($"format \"{format}\": field widths are supported for %d %i %u %x only");

            Val Narrow(Val v, bool signed) => halves switch
            {
                0 => v,
                1 => signed ? (v << 48).Sar(48) : v & 0xFFFF,
                _ => signed ? (v << 56).Sar(56) : v & 0xFF,
            };

            switch (conv)
            {
                case 'd' or 'i':
                    LoadRax(Narrow(NextArg(spec), signed: true));
                    a.mov(rdi, rax);
                    a.mov(edx, width);
                    a.mov(ecx, zero ? '0' : ' ');
                    a.call(Runtime.PutSigned.Label);
                    break;
                case 'u' or 'x':
                    LoadRax(Narrow(NextArg(spec), signed: false));
                    a.mov(rdi, rax);
                    a.mov(esi, conv == 'x' ? 16 : 10);
                    a.mov(edx, width);
                    a.mov(ecx, zero ? '0' : ' ');
                    a.mov(r8d, conv == 'x' && alt ? 'x' : 0);
                    a.call(Runtime.PutNumber.Label);
                    break;
                case 'p':
                    LoadRax(NextArg(spec));
                    a.mov(rdi, rax);
                    a.mov(esi, 16);
                    a.mov(edx, 18);
                    a.mov(ecx, '0');
                    a.mov(r8d, 'X');
                    a.call(Runtime.PutNumber.Label);
                    break;
                case 's':
                    CallWith(Runtime.PutString0, NextArg(spec));
                    break;
                case 'c':
                    CallWith(Runtime.PutChar, NextArg(spec));
                    break;
                case 'e':
                    CallWith(Runtime.PutErrno, NextArg(spec));
                    break;
                default:
                    throw new ArgumentException($"format \"{format}\": unsupported conversion %{conv}");
            }
        }
        FlushLiteral();
        if (next != args.Length) throw new ArgumentException($"format \"{format}\": {args.Length - next} unused argument(s)");
    }

    private void CallWith(GuestLabel routine, Val arg)
    {
        LoadRax(arg);
        a.mov(rdi, rax);
        a.call(routine.Label);
    }
}
