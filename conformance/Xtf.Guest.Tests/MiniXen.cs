using System.Buffers.Binary;
using System.Text;
using Iced.Intel;
using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Guest.Tests;

/// <summary>How a <see cref="MiniXen"/> run ended.</summary>
public enum MiniStop { Shutdown, StepLimit, Fault }

/// <summary>One hypercall the guest made: its number, the five argument registers, and the result.</summary>
public sealed record MiniHypercall(int Number, ulong[] Args, long Result);

/// <summary>The outcome of running a kernel in <see cref="MiniXen"/>.</summary>
public sealed record MiniRun(
    string Output, MiniStop Stop, ShutdownReason? Reason, string? Fault, long Steps, IReadOnlyList<MiniHypercall> Hypercalls)
{
    /// <summary>The console text split into lines, as the runner sees them (no \r, no trailing empty line).</summary>
    public IReadOnlyList<string> Lines => Output.Replace("\r", "").TrimEnd('\n').Split('\n');

    public string Result => Lines.LastOrDefault(l => l.StartsWith("Test result: ", StringComparison.Ordinal)) ?? "(no result)";
}

/// <summary>
/// A deliberately small x86-64 interpreter plus a fake dom0 Xen, just enough to run the generator's
/// output: the instructions <see cref="GuestProgram"/> emits, the hypercall page, syscall hypercalls
/// (set_trap_table, console_io, sched_op shutdown, xen_version basics) and exception delivery with
/// Xen's PV bounce frame. Like a debug Xen, it overwrites the argument registers of every hypercall on
/// return, so code that relies on them surviving a hypercall is caught. Test-only: it is not the
/// project's simulator and models no paging, privilege or timing.
/// </summary>
public sealed class MiniXen
{
    public const int MemorySize = 4 << 20;
    public const ulong StartInfoAddress = 0x3fd000;
    public const ulong InitialStack = 0x3fc000;
    public const string Magic = "xen-3.0-x86_64p";
    public const ulong ArgPoison = 0xdeadbeefdeadf00d;

    private readonly byte[] mem = new byte[MemorySize];
    private readonly ulong[] regs = new ulong[16];
    private readonly StringBuilder console = new();
    private readonly List<MiniHypercall> hypercalls = new();
    private readonly Dictionary<int, (ulong Address, byte Flags)> traps = new();
    private ulong rip;
    private bool cf, zf, sf, of;
    private MiniStop? stop;
    private ShutdownReason? reason;
    private string? fault;
    private int nestedFaults;

    /// <summary>Leave the hypercall page as the image has it (poisoned), as if Xen had not filled it.</summary>
    public bool FillHypercallPage { get; init; } = true;

    public long StepLimit { get; init; } = 20_000_000;

    /// <summary>Hypercall results by number, for numbers the fake does not implement (default -ENOSYS).</summary>
    public Func<MiniHypercall, long>? Other { get; init; }

    public static MiniRun Run(KernelImage image, bool fillHypercallPage = true, long stepLimit = 20_000_000) =>
        new MiniXen { FillHypercallPage = fillHypercallPage, StepLimit = stepLimit }.Execute(image);

    public MiniRun Execute(KernelImage image)
    {
        var k = new LoadedKernel(image);
        k.Memory.CopyTo(mem, (int)k.Load.VirtualAddress);
        if (FillHypercallPage)
        {
            for (int nr = 0; nr < (int)(GuestLayout.PageSize / GuestLayout.StubSize); nr++)
            {
                int at = (int)GuestLayout.StubAddress(nr);
                mem.AsSpan(at, GuestLayout.StubSize).Fill(0xcc);
                byte[] stub = [0x51, 0x41, 0x53, 0xb8, (byte)nr, 0, 0, 0, 0x0f, 0x05, 0x41, 0x5b, 0x59, 0xc3];
                stub.CopyTo(mem, at);
            }
        }
        Encoding.ASCII.GetBytes(Magic).CopyTo(mem, (int)StartInfoAddress);
        BinaryPrimitives.WriteUInt64LittleEndian(mem.AsSpan((int)StartInfoAddress + StartInfo.Layout.NrPages), 119418);

        rip = k.Elf.Entry;
        regs[Rsi] = StartInfoAddress;
        regs[Rsp] = InitialStack;
        long steps = 0;
        var code = new MemReader(mem);
        var decoder = Iced.Intel.Decoder.Create(64, code);
        while (stop is null)
        {
            if (steps++ >= StepLimit) { stop = MiniStop.StepLimit; break; }
            if (rip >= MemorySize - 16) { Fail($"rip 0x{rip:x} outside memory"); break; }
            decoder.IP = rip;
            code.Position = (int)rip;
            decoder.Decode(out var i);
            try
            {
                Step(i);
            }
            catch (GuestFault f)
            {
                Deliver(f.Vector, f.ErrorCode, f.AfterInstruction ? i.NextIP : i.IP);
            }
        }
        return new MiniRun(console.ToString(), stop!.Value, reason, fault, steps, hypercalls);
    }

    // ------------------------------------------------------------------ registers

    private const int Rax = 0, Rcx = 1, Rdx = 2, Rbx = 3, Rsp = 4, Rbp = 5, Rsi = 6, Rdi = 7, R8 = 8, R10 = 10, R11 = 11;

    private static int Index(Register r)
    {
        if (r is Register.AH or Register.CH or Register.DH or Register.BH)
            throw new NotSupportedException($"high byte register {r}");
        return r.GetFullRegister() - Register.RAX;
    }

    private ulong Get(Register r) => regs[Index(r)] & Mask(r.GetSize());

    private void Set(Register r, ulong value)
    {
        int size = r.GetSize(), n = Index(r);
        regs[n] = size switch
        {
            8 => value,
            4 => value & 0xffff_ffff,
            _ => (regs[n] & ~Mask(size)) | (value & Mask(size)),
        };
    }

    private static ulong Mask(int size) => size >= 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1;

    private static ulong SignBit(int size) => 1UL << (size * 8 - 1);

    private static ulong SignExtend(ulong v, int size) =>
        size >= 8 ? v : (v & SignBit(size)) != 0 ? v | ~Mask(size) : v & Mask(size);

    // ------------------------------------------------------------------ memory

    private sealed class MemReader(byte[] mem) : CodeReader
    {
        public int Position;
        public override int ReadByte() => Position < mem.Length ? mem[Position++] : -1;
    }

    private ulong Read(ulong address, int size, bool write = false)
    {
        Check(address, size, write);
        ulong v = 0;
        for (int b = size - 1; b >= 0; b--) v = (v << 8) | mem[address + (ulong)b];
        return v;
    }

    private void Write(ulong address, int size, ulong value)
    {
        Check(address, size, true);
        for (int b = 0; b < size; b++) mem[address + (ulong)b] = (byte)(value >> (8 * b));
    }

    private static void Check(ulong address, int size, bool write)
    {
        if (address >= 0x0000_8000_0000_0000 && address < 0xffff_8000_0000_0000)
            throw new GuestFault(13, 0);
        if (address < 0x1000 || address + (ulong)size > MemorySize)
            throw new GuestFault(14, write ? 2UL : 0UL);
    }

    private ulong Address(in Instruction i)
    {
        if (i.IsIPRelativeMemoryOperand) return i.IPRelativeMemoryAddress;
        ulong a = i.MemoryDisplacement64;
        if (i.MemoryBase != Register.None) a += Get(i.MemoryBase);
        if (i.MemoryIndex != Register.None) a += Get(i.MemoryIndex) * (ulong)i.MemoryIndexScale;
        return a;
    }

    private int OperandSize(in Instruction i, int n) => i.GetOpKind(n) switch
    {
        OpKind.Register => i.GetOpRegister(n).GetSize(),
        OpKind.Memory => i.MemorySize.GetSize(),
        _ => throw new NotSupportedException($"operand {n} of {i}"),
    };

    private ulong ReadOp(in Instruction i, int n, int size)
    {
        switch (i.GetOpKind(n))
        {
            case OpKind.Register: return Get(i.GetOpRegister(n));
            case OpKind.Memory: return Read(Address(i), i.MemorySize.GetSize());
            case OpKind.Immediate8 or OpKind.Immediate16 or OpKind.Immediate32 or OpKind.Immediate64
                or OpKind.Immediate8to16 or OpKind.Immediate8to32 or OpKind.Immediate8to64 or OpKind.Immediate32to64:
                return i.GetImmediate(n) & Mask(size);
            default: throw new NotSupportedException($"operand {n} of {i}");
        }
    }

    private void WriteOp(in Instruction i, int n, ulong value)
    {
        if (i.GetOpKind(n) == OpKind.Register) Set(i.GetOpRegister(n), value);
        else Write(Address(i), i.MemorySize.GetSize(), value);
    }

    private void Push(ulong v) { regs[Rsp] -= 8; Write(regs[Rsp], 8, v); }
    private ulong Pop() { ulong v = Read(regs[Rsp], 8); regs[Rsp] += 8; return v; }

    // ------------------------------------------------------------------ flags

    private void Logic(ulong r, int size) { r &= Mask(size); cf = of = false; zf = r == 0; sf = (r & SignBit(size)) != 0; }

    private ulong AddFlags(ulong a, ulong b, int size)
    {
        ulong r = (a + b) & Mask(size);
        cf = r < (a & Mask(size));
        of = ((~(a ^ b) & (a ^ r)) & SignBit(size)) != 0;
        zf = r == 0; sf = (r & SignBit(size)) != 0;
        return r;
    }

    private ulong SubFlags(ulong a, ulong b, int size)
    {
        a &= Mask(size); b &= Mask(size);
        ulong r = (a - b) & Mask(size);
        cf = a < b;
        of = (((a ^ b) & (a ^ r)) & SignBit(size)) != 0;
        zf = r == 0; sf = (r & SignBit(size)) != 0;
        return r;
    }

    private bool Condition(ConditionCode c) => c switch
    {
        ConditionCode.o => of, ConditionCode.no => !of,
        ConditionCode.b => cf, ConditionCode.ae => !cf,
        ConditionCode.e => zf, ConditionCode.ne => !zf,
        ConditionCode.be => cf || zf, ConditionCode.a => !cf && !zf,
        ConditionCode.s => sf, ConditionCode.ns => !sf,
        ConditionCode.l => sf != of, ConditionCode.ge => sf == of,
        ConditionCode.le => zf || sf != of, ConditionCode.g => !zf && sf == of,
        _ => throw new NotSupportedException($"condition {c}"),
    };

    // ------------------------------------------------------------------ execution

    private sealed class GuestFault(int vector, ulong? errorCode, bool afterInstruction = false) : Exception($"#{vector}")
    {
        public int Vector { get; } = vector;
        public ulong? ErrorCode { get; } = errorCode;
        public bool AfterInstruction { get; } = afterInstruction;
    }

    private void Step(in Instruction i)
    {
        ulong next = i.NextIP;
        switch (i.Mnemonic)
        {
            case Mnemonic.Nop or Mnemonic.Pause:
                break;
            case Mnemonic.Ud2:
                throw new GuestFault(6, null);
            case Mnemonic.Int3:
                throw new GuestFault(3, null, afterInstruction: true);
            case Mnemonic.Mov:
            {
                int size = OperandSize(i, 0);
                WriteOp(i, 0, ReadOp(i, 1, size));
                break;
            }
            case Mnemonic.Movzx:
                WriteOp(i, 0, ReadOp(i, 1, OperandSize(i, 1)));
                break;
            case Mnemonic.Movsx or Mnemonic.Movsxd:
            {
                int from = OperandSize(i, 1);
                WriteOp(i, 0, SignExtend(ReadOp(i, 1, from), from));
                break;
            }
            case Mnemonic.Lea:
                WriteOp(i, 0, Address(i));
                break;
            case Mnemonic.Add or Mnemonic.Sub or Mnemonic.Cmp or Mnemonic.And or Mnemonic.Or or Mnemonic.Xor or Mnemonic.Test:
            {
                int size = OperandSize(i, 0);
                ulong a = ReadOp(i, 0, size), b = ReadOp(i, 1, size);
                ulong r;
                switch (i.Mnemonic)
                {
                    case Mnemonic.Add: r = AddFlags(a, b, size); WriteOp(i, 0, r); break;
                    case Mnemonic.Sub: r = SubFlags(a, b, size); WriteOp(i, 0, r); break;
                    case Mnemonic.Cmp: SubFlags(a, b, size); break;
                    case Mnemonic.And: r = a & b; Logic(r, size); WriteOp(i, 0, r); break;
                    case Mnemonic.Or: r = a | b; Logic(r, size); WriteOp(i, 0, r); break;
                    case Mnemonic.Xor: r = a ^ b; Logic(r, size); WriteOp(i, 0, r); break;
                    default: Logic(a & b, size); break;
                }
                break;
            }
            case Mnemonic.Inc or Mnemonic.Dec:
            {
                int size = OperandSize(i, 0);
                bool carry = cf;
                ulong r = i.Mnemonic == Mnemonic.Inc ? AddFlags(ReadOp(i, 0, size), 1, size) : SubFlags(ReadOp(i, 0, size), 1, size);
                cf = carry;
                WriteOp(i, 0, r);
                break;
            }
            case Mnemonic.Neg:
            {
                int size = OperandSize(i, 0);
                WriteOp(i, 0, SubFlags(0, ReadOp(i, 0, size), size));
                break;
            }
            case Mnemonic.Not:
            {
                int size = OperandSize(i, 0);
                WriteOp(i, 0, ~ReadOp(i, 0, size) & Mask(size));
                break;
            }
            case Mnemonic.Imul when i.OpCount == 2:
            {
                int size = OperandSize(i, 0);
                long product = unchecked((long)ReadOp(i, 0, size) * (long)ReadOp(i, 1, size));
                WriteOp(i, 0, (ulong)product);
                break;
            }
            case Mnemonic.Div when i.OpCount == 1 && OperandSize(i, 0) == 8:
            {
                ulong divisor = ReadOp(i, 0, 8);
                if (divisor == 0) throw new GuestFault(0, null);
                UInt128 dividend = ((UInt128)regs[Rdx] << 64) | regs[Rax];
                UInt128 q = dividend / divisor;
                if (q > ulong.MaxValue) throw new GuestFault(0, null);
                regs[Rax] = (ulong)q;
                regs[Rdx] = (ulong)(dividend % divisor);
                break;
            }
            case Mnemonic.Shl or Mnemonic.Shr or Mnemonic.Sar:
            {
                int size = OperandSize(i, 0);
                int count = (int)(ReadOp(i, 1, 1) & (size == 8 ? 63UL : 31UL));
                if (count == 0) break;
                ulong a = ReadOp(i, 0, size), r;
                if (i.Mnemonic == Mnemonic.Shl) { cf = ((a >> (size * 8 - count)) & 1) != 0; r = a << count; }
                else if (i.Mnemonic == Mnemonic.Shr) { cf = ((a >> (count - 1)) & 1) != 0; r = a >> count; }
                else { cf = ((a >> (count - 1)) & 1) != 0; r = (ulong)((long)SignExtend(a, size) >> count); }
                r &= Mask(size);
                zf = r == 0; sf = (r & SignBit(size)) != 0; of = false;
                WriteOp(i, 0, r);
                break;
            }
            case Mnemonic.Push:
                Push(ReadOp(i, 0, 8));
                break;
            case Mnemonic.Pop:
                WriteOp(i, 0, Pop());
                break;
            case Mnemonic.Call:
                Push(next);
                next = i.NearBranchTarget;
                break;
            case Mnemonic.Ret:
                next = Pop();
                break;
            case Mnemonic.Jmp:
                next = i.NearBranchTarget;
                break;
            case var _ when i.FlowControl == FlowControl.ConditionalBranch:
                if (Condition(i.ConditionCode)) next = i.NearBranchTarget;
                break;
            case var _ when i.ConditionCode != ConditionCode.None && i.Mnemonic.ToString().StartsWith("Set", StringComparison.Ordinal):
                WriteOp(i, 0, Condition(i.ConditionCode) ? 1UL : 0UL);
                break;
            case Mnemonic.Cmpsb or Mnemonic.Movsb or Mnemonic.Stosb:
                StringOp(i);
                break;
            case Mnemonic.Syscall:
                regs[Rcx] = next;
                regs[R11] = 0x202;
                regs[Rax] = (ulong)Hypercall((int)regs[Rax]);
                foreach (int r in new[] { Rdi, Rsi, Rdx, R10, R8 }) regs[r] = ArgPoison;
                break;
            default:
                Fail($"unsupported instruction at 0x{i.IP:x}: {i} ({i.Code})");
                return;
        }
        rip = next;
    }

    private void StringOp(in Instruction i)
    {
        bool rep = i.HasRepPrefix || i.HasRepePrefix;
        if (i.HasRepnePrefix) throw new NotSupportedException("repne");
        while (!rep || regs[Rcx] != 0)
        {
            switch (i.Mnemonic)
            {
                case Mnemonic.Movsb: Write(regs[Rdi], 1, Read(regs[Rsi], 1)); regs[Rsi]++; regs[Rdi]++; break;
                case Mnemonic.Stosb: Write(regs[Rdi], 1, regs[Rax] & 0xff); regs[Rdi]++; break;
                default: SubFlags(Read(regs[Rsi], 1), Read(regs[Rdi], 1), 1); regs[Rsi]++; regs[Rdi]++; break;
            }
            if (!rep) return;
            regs[Rcx]--;
            if (i.Mnemonic == Mnemonic.Cmpsb && !zf) return;
        }
    }

    // ------------------------------------------------------------------ exceptions

    private void Deliver(int vector, ulong? errorCode, ulong faultRip)
    {
        if (!traps.TryGetValue(vector, out var handler) || handler.Address == 0)
        {
            Fail($"unhandled #{vector} at 0x{faultRip:x} with no trap table entry");
            return;
        }
        if (++nestedFaults > 8) { Fail($"fault loop: #{vector} at 0x{faultRip:x}"); return; }
        ulong oldRsp = regs[Rsp];
        ulong sp = oldRsp & ~15UL;
        void PushFrame(ulong v) { sp -= 8; Write(sp, 8, v); }
        try
        {
            PushFrame(0xe02b);                     // ss
            PushFrame(oldRsp);
            PushFrame(0x202);                      // rflags
            PushFrame(PvLayout.FlatKernelCs);      // cs, upcall mask 0
            PushFrame(faultRip);
            if (errorCode is { } ec) PushFrame(ec);
            PushFrame(regs[R11]);
            PushFrame(regs[Rcx]);
        }
        catch (GuestFault)
        {
            Fail($"cannot write the bounce frame for #{vector} at 0x{sp:x}");
            return;
        }
        regs[Rsp] = sp;
        rip = handler.Address;
    }

    // ------------------------------------------------------------------ hypercalls

    private long Hypercall(int nr)
    {
        var args = new[] { regs[Rdi], regs[Rsi], regs[Rdx], regs[R10], regs[R8] };
        long rc = nr switch
        {
            (int)Abi.Hypercall.SetTrapTable => SetTrapTable(args[0]),
            (int)Abi.Hypercall.ConsoleIo => ConsoleIo(args),
            (int)Abi.Hypercall.SchedOp => SchedOp(args),
            (int)Abi.Hypercall.XenVersion => XenVersion(args),
            _ => Other?.Invoke(new MiniHypercall(nr, args, 0)) ?? -Errno.ENOSYS,
        };
        hypercalls.Add(new MiniHypercall(nr, args, rc));
        return rc;
    }

    private long SetTrapTable(ulong table)
    {
        if (table == 0) { traps.Clear(); return 0; }
        for (int n = 0; n < 256; n++)
        {
            ulong e = table + (ulong)(n * TrapInfo.Layout.Size);
            var ti = TrapInfo.Read(mem.AsSpan((int)e, TrapInfo.Layout.Size));
            if (ti.Address == 0) return 0;
            traps[ti.Vector] = (ti.Address, ti.Flags);
        }
        return -Errno.EINVAL;
    }

    private long ConsoleIo(ulong[] a)
    {
        if (a[0] != (ulong)Abi.ConsoleIo.Write) return -Errno.ENOSYS;
        if (a[1] > 0x10000) return -Errno.EINVAL;
        console.Append(Encoding.Latin1.GetString(mem, (int)a[2], (int)a[1]));
        return 0;
    }

    private long SchedOp(ulong[] a)
    {
        if (a[0] == (ulong)Abi.SchedOp.Yield) return 0;
        if (a[0] != (ulong)Abi.SchedOp.Shutdown) return -Errno.ENOSYS;
        reason = (ShutdownReason)BinaryPrimitives.ReadUInt32LittleEndian(mem.AsSpan((int)a[1]));
        stop = MiniStop.Shutdown;
        return 0;
    }

    private long XenVersion(ulong[] a)
    {
        void Put(string s) => Encoding.ASCII.GetBytes(s + "\0").CopyTo(mem, (int)a[1]);
        switch ((XenVer)(int)a[0])
        {
            case XenVer.Version: return 0x00040011;
            case XenVer.Extraversion: Put(".7"); return 0;
            case XenVer.Capabilities: Put("xen-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64"); return 0;
            case XenVer.Pagesize: return a[1] == 0 ? 4096 : -Errno.EINVAL;
            default: return -Errno.ENOSYS;
        }
    }

    private void Fail(string why)
    {
        fault = why;
        stop = MiniStop.Fault;
    }
}
