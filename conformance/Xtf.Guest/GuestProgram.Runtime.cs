using System.Reflection;
using Xtf.Abi;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Guest;

/// <summary>Labels and data of the small runtime every kernel carries.</summary>
internal sealed class RuntimeLabels
{
    public const int LineBufferSize = 512;
    public const int MaxErrno = 133;
    public const string Stars = "******************************";

    public RuntimeLabels(GuestProgram g)
    {
        GuestLabel L(string n) => g.NewLabel("rt_" + n);
        Entry = L("entry");
        PutChar = L("putc"); PutString = L("puts"); PutString0 = L("puts0");
        PutDec = L("putdec"); PutErrno = L("puterrno");
        Flush = L("flush"); Report = L("report"); Finish = L("finish");
        PanicBegin = L("panic_begin"); PanicEnd = L("panic_end"); TrapCommon = L("trap");
        HypercallPageNotFilled = L("hcall_page_not_filled");
        MemCmp = L("memcmp"); MemSet = L("memset"); MemCopy = L("memcpy");
        Init = L("init"); Result = L("result"); PutNumber = L("putnum"); PutSigned = L("putsigned"); PutPrefix = L("putprefix");
        TrapStubs = Enumerable.Range(0, 32).Select(v => L($"trap{v}")).ToArray();

        var d = g.Data;
        Stack = d.Reserve(GuestLayout.StackSize, (int)GuestLayout.PageSize);
        StackTop = Stack + (ulong)GuestLayout.StackSize;
        Status = d.Reserve(1);
        WarningsFlag = d.Reserve(1);
        LineLength = d.Reserve(8);
        AtLineStart = d.Reserve(1);
        d.Write(AtLineStart, [1]);
        LineBuffer = d.Reserve(LineBufferSize, 64);
        Digits = d.Reserve(24);
        HexChars = d.String("0123456789abcdef");
        ShutdownPoweroff = d.Reserve(SchedShutdown.Layout.Size, 4);
        ShutdownCrash = d.Reserve(SchedShutdown.Layout.Size, 4);
        d.Write(ShutdownCrash, BitConverter.GetBytes((uint)ShutdownReason.Crash));
        TrapTable = d.Reserve(TrapInfo.Layout.Size * 33, 16);
        TrapVector = d.Reserve(8); TrapError = d.Reserve(8); TrapHasError = d.Reserve(8);
        TrapRip = d.Reserve(8); TrapCs = d.Reserve(8);

        StatusNames = d.Reserve(8 * 5);
        string[] names = ["RUNNING", "SUCCESS", "SKIP", "ERROR", "FAILURE"];
        for (int i = 0; i < names.Length; i++) d.WriteU64(StatusNames + (ulong)(8 * i), d.String(names[i]));

        ErrnoNames = d.Reserve(8 * (MaxErrno + 1));
        foreach (var f in typeof(Errno).GetFields(BindingFlags.Public | BindingFlags.Static))
            if (f.IsLiteral && f.FieldType == typeof(int) && f.GetRawConstantValue() is int e && e is > 0 and <= MaxErrno)
                d.WriteU64(ErrnoNames + (ulong)(8 * e), d.String(f.Name));

        VectorNames = d.Reserve(8 * 32);
        for (int v = 0; v < 32; v++) d.WriteU64(VectorNames + (ulong)(8 * v), d.String(VectorName(v)));
    }

    public GuestLabel Entry, PutChar, PutString, PutString0, PutDec, PutErrno, Flush,
        Report, Finish, PanicBegin, PanicEnd, TrapCommon, HypercallPageNotFilled, MemCmp, MemSet, MemCopy,
        Init, Result, PutNumber, PutSigned, PutPrefix;
    public GuestLabel[] TrapStubs;
    public ulong AtLineStart;
    public ulong Stack, StackTop, Status, WarningsFlag, LineLength, LineBuffer, Digits, HexChars,
        ShutdownPoweroff, ShutdownCrash, TrapTable, TrapVector, TrapError, TrapHasError, TrapRip, TrapCs,
        StatusNames, ErrnoNames, VectorNames;

    public static bool HasErrorCode(int vector) => vector is 8 or 10 or 11 or 12 or 13 or 14 or 17 or 21 or 29 or 30;

    public static string VectorName(int vector) => vector switch
    {
        0 => "#DE", 1 => "#DB", 2 => "NMI", 3 => "#BP", 4 => "#OF", 5 => "#BR", 6 => "#UD", 7 => "#NM",
        8 => "#DF", 9 => "#CSO", 10 => "#TS", 11 => "#NP", 12 => "#SS", 13 => "#GP", 14 => "#PF",
        16 => "#MF", 17 => "#AC", 18 => "#MC", 19 => "#XM", 20 => "#VE", 21 => "#CP", 28 => "#HV",
        29 => "#VC", 30 => "#SX", _ => $"#{vector}",
    };
}

public sealed partial class GuestProgram
{
    public const string Banner = "--- Xen Test Framework ---";
    /// <summary>The pv64 environment line (<see cref="EnvironmentNames.Line"/> gives each environment's).</summary>
    public const string EnvironmentLine = "Environment: PV 64bit (Long mode 4 levels)";

    /// <summary>
    /// Start of the kernel: save start_info, switch stacks, check the hypercall page, install traps, banner.
    /// An hvm64 kernel arrives here from its 32-bit stub, in long mode, with hvm_start_info saved.
    /// </summary>
    internal void EmitPrologue()
    {
        var rt = Runtime;
        Bind(rt.Entry);
        if (IsHvm)
        {
            EmitHvmStart();
            a.call(rt.Init.Label);
            PrintBanner();
            return;
        }
        a.mov(__qword_ptr[Abs(StartInfo.Address)], rsi);
        a.mov(__qword_ptr[Abs(BootStackPointer.Address)], rsp);
        MovImm(rsp, (long)rt.StackTop);
        a.mov(rax, __qword_ptr[Abs(GuestLayout.HypercallPage)]);
        MovImm(rcx, (long)GuestLayout.FilledStub0);
        a.cmp(rax, rcx);
        a.jne(rt.HypercallPageNotFilled.Label);

        for (int v = 0; v < 32; v++)
        {
            ulong e = rt.TrapTable + (ulong)(v * TrapInfo.Layout.Size);
            Data.Write(e + TrapInfo.Layout.Vector, [(byte)v]);
            Data.Write(e + TrapInfo.Layout.Flags, [(byte)(v is 3 or 4 ? 3 : 0)]);
            Data.Write(e + TrapInfo.Layout.Cs, BitConverter.GetBytes(PvLayout.FlatKernelCs));
            fixups.Add((e + TrapInfo.Layout.Address, rt.TrapStubs[v]));
        }
        var rc = Hypercall(Abi.Hypercall.SetTrapTable, (long)rt.TrapTable);
        If(rc != 0, () => Panic("set_trap_table failed: %e", rc));
        a.call(rt.Init.Label);
        PrintBanner();
    }

    private void PrintBanner()
    {
        Print(Banner + "\n");
        Print(EnvironmentNames.Line(Environment) + "\n");
        Print(Escape(Title) + "\n");
    }

    /// <summary>After the body: finish, then out-of-line routines and the runtime.</summary>
    internal void EmitEpilogue()
    {
        var rt = Runtime;
        a.call(rt.Finish.Label);
        a.ud2();

        for (int i = 0; i < routines.Count; i++)          // routines may declare routines
        {
            var r = routines[i];
            Bind(r.Entry);
            r.Body();
            a.ud2();
        }
        Bind(rt.Init);                                      // boot-time hooks, then back to the prologue
        for (int i = 0; i < initHooks.Count; i++) initHooks[i]();
        a.ret();

        EmitHypercallPageNotFilled();
        EmitConsole();
        EmitMemory();
        EmitResults();
        EmitTraps();
        a.ud2();    // nothing falls off the end, and no label is left without an instruction
        EmitImageEnd();
    }

    private void EmitHypercallPageNotFilled()
    {
        var rt = Runtime;
        Bind(rt.HypercallPageNotFilled);
        if (IsHvm)
        {
            // Without stubs an HVM kernel has no console (the hypercall instruction depends on the CPU
            // vendor): stop with interrupts off; the host reports the hang.
            var halt = NewLabel("hcall_page_halt");
            a.cli();
            Bind(halt);
            a.hlt();
            a.jmp(halt.Label);
            return;
        }
        // No hypercall page means no stubs: use syscall directly, as the stubs would.
        string text = $"{RuntimeLabels.Stars}\nPANIC: hypercall page not filled by Xen\n{RuntimeLabels.Stars}\n";
        ulong msg = Data.String(text);
        a.mov(eax, (int)Abi.Hypercall.ConsoleIo);
        a.xor(edi, edi);
        a.mov(esi, text.Length);
        a.mov(edx, (uint)msg);
        a.syscall();
        a.mov(eax, (int)Abi.Hypercall.SchedOp);
        a.mov(edi, (int)Abi.SchedOp.Shutdown);
        a.mov(esi, (uint)rt.ShutdownCrash);
        a.syscall();
        Spin();
    }

    private void EmitConsole()
    {
        var rt = Runtime;
        long buf = Abs(rt.LineBuffer), len = Abs(rt.LineLength), digitsEnd = Abs(rt.Digits + 24);

        Bind(rt.PutChar);                                   // edi = character
        a.mov(rcx, __qword_ptr[len]);
        a.mov(__byte_ptr[rcx + buf], dil);
        a.inc(rcx);
        a.mov(__qword_ptr[len], rcx);
        a.cmp(dil, (byte)'\n');
        a.sete(__byte_ptr[Abs(rt.AtLineStart)]);           // sete leaves the flags for je
        a.je(rt.Flush.Label);
        a.cmp(rcx, RuntimeLabels.LineBufferSize);
        a.jae(rt.Flush.Label);
        a.ret();

        var done = NewLabel("flush_done");
        Bind(rt.Flush);                                     // console_io(CONSOLEIO_write, len, buf)
        a.mov(rsi, __qword_ptr[len]);
        a.test(rsi, rsi);
        a.jz(done.Label);
        a.xor(edi, edi);
        a.mov(edx, (uint)buf);
        a.call(GuestLayout.StubAddress((int)Abi.Hypercall.ConsoleIo));
        a.mov(__qword_ptr[len], 0);
        Bind(done);
        a.ret();

        EmitStringLoop(rt.PutString, nulTerminated: false);   // rdi = pointer, rsi = length
        EmitStringLoop(rt.PutString0, nulTerminated: true);   // rdi = pointer

        // putnum: rdi = magnitude, esi = base, edx = minimum width, ecx = pad char (' ' or '0'),
        // r8d = prefix: 0, '-' (sign), 'x' ("0x" unless the value is 0, as C's '#'), 'X' ("0x" always).
        // Width counts prefix and digits; zero padding goes between prefix and digits, as in C.
        var numLoop = NewLabel("num_loop");
        var keepPrefix = NewLabel("num_keep_prefix");
        var prefixLen = NewLabel("num_prefix_len");
        var zeroPad = NewLabel("num_zero_pad");
        var spaces = NewLabel("num_spaces");
        var zeros = NewLabel("num_zeros");
        var digits = NewLabel("num_digits");
        var afterSpaces = NewLabel("num_after_spaces");
        Bind(rt.PutNumber);
        a.push(rbx);
        a.push(r12);
        a.push(r13);
        a.push(r14);
        a.push(r15);
        a.mov(r12d, edx);
        a.movsxd(r12, r12d);
        a.mov(r13d, ecx);
        a.mov(r14d, r8d);
        a.mov(r15, rdi);
        a.mov(ebx, (uint)digitsEnd);
        a.mov(rax, rdi);
        a.mov(ecx, esi);
        Bind(numLoop);
        a.xor(edx, edx);
        a.div(rcx);
        a.movzx(edx, __byte_ptr[rdx + Abs(rt.HexChars)]);
        a.dec(rbx);
        a.mov(__byte_ptr[rbx], dl);
        a.test(rax, rax);
        a.jnz(numLoop.Label);
        a.cmp(r14d, 'x');
        a.jne(keepPrefix.Label);
        a.test(r15, r15);
        a.jnz(keepPrefix.Label);
        a.xor(r14d, r14d);                                  // '#' prints no 0x for zero
        Bind(keepPrefix);
        a.xor(r15d, r15d);                                  // r15 = prefix length
        a.test(r14d, r14d);
        a.jz(prefixLen.Label);
        a.mov(r15d, 1);
        a.cmp(r14d, '-');
        a.je(prefixLen.Label);
        a.mov(r15d, 2);
        Bind(prefixLen);
        a.mov(eax, (uint)digitsEnd);
        a.sub(rax, rbx);
        a.add(rax, r15);
        a.sub(r12, rax);                                    // r12 = pad count (may be negative)
        a.cmp(r13d, '0');
        a.je(zeroPad.Label);
        Bind(spaces);
        a.test(r12, r12);
        a.jle(afterSpaces.Label);
        a.mov(edi, ' ');
        a.call(rt.PutChar.Label);
        a.dec(r12);
        a.jmp(spaces.Label);
        Bind(afterSpaces);
        a.call(rt.PutPrefix.Label);
        a.jmp(digits.Label);
        Bind(zeroPad);
        a.call(rt.PutPrefix.Label);
        Bind(zeros);
        a.test(r12, r12);
        a.jle(digits.Label);
        a.mov(edi, '0');
        a.call(rt.PutChar.Label);
        a.dec(r12);
        a.jmp(zeros.Label);
        Bind(digits);
        a.mov(rdi, rbx);
        a.mov(esi, (uint)digitsEnd);
        a.sub(rsi, rbx);
        a.call(rt.PutString.Label);
        a.pop(r15);
        a.pop(r14);
        a.pop(r13);
        a.pop(r12);
        a.pop(rbx);
        a.ret();

        var noPrefix = NewLabel("prefix_none");
        var hexPrefix = NewLabel("prefix_hex");
        Bind(rt.PutPrefix);                                 // r14d = prefix kind
        a.test(r14d, r14d);
        a.jz(noPrefix.Label);
        a.cmp(r14d, '-');
        a.jne(hexPrefix.Label);
        a.mov(edi, '-');
        a.jmp(rt.PutChar.Label);
        Bind(hexPrefix);
        a.mov(edi, '0');
        a.call(rt.PutChar.Label);
        a.mov(edi, 'x');
        a.jmp(rt.PutChar.Label);
        Bind(noPrefix);
        a.ret();

        var positive = NewLabel("signed_pos");
        Bind(rt.PutSigned);                                 // rdi = signed value, edx = width, ecx = pad
        a.xor(r8d, r8d);
        a.test(rdi, rdi);
        a.jns(positive.Label);
        a.neg(rdi);                                         // INT64_MIN stays 2^63, printed unsigned
        a.mov(r8d, '-');
        Bind(positive);
        a.mov(esi, 10);
        a.jmp(rt.PutNumber.Label);

        Bind(rt.PutDec);                                    // rdi = signed value, no width
        a.xor(edx, edx);
        a.mov(ecx, ' ');
        a.jmp(rt.PutSigned.Label);

        var errDone = NewLabel("errno_done");
        Bind(rt.PutErrno);                                  // rdi = hypercall return value
        a.push(rbx);
        a.mov(rbx, rdi);
        a.call(rt.PutDec.Label);
        a.mov(rax, rbx);
        a.cmp(rax, -1);
        a.jg(errDone.Label);
        a.cmp(rax, -RuntimeLabels.MaxErrno);
        a.jl(errDone.Label);
        a.neg(rax);
        a.mov(rbx, __qword_ptr[rax * 8 + Abs(rt.ErrnoNames)]);
        a.test(rbx, rbx);
        a.jz(errDone.Label);
        Print(" (-");
        a.mov(rdi, rbx);
        a.call(rt.PutString0.Label);
        Print(")");
        Bind(errDone);
        a.pop(rbx);
        a.ret();
    }

    private void EmitStringLoop(GuestLabel entry, bool nulTerminated)
    {
        var loop = NewLabel(entry.Name + "_loop");
        var done = NewLabel(entry.Name + "_done");
        Bind(entry);
        a.push(rbx);
        a.push(r12);
        a.mov(rbx, rdi);
        if (nulTerminated) a.mov(r12d, 4096); else a.mov(r12, rsi);
        Bind(loop);
        a.test(r12, r12);
        a.jz(done.Label);
        a.movzx(edi, __byte_ptr[rbx]);
        if (nulTerminated)
        {
            a.test(edi, edi);
            a.jz(done.Label);
        }
        a.call(Runtime.PutChar.Label);
        a.inc(rbx);
        a.dec(r12);
        a.jmp(loop.Label);
        Bind(done);
        a.pop(r12);
        a.pop(rbx);
        a.ret();
    }

    private void EmitMemory()
    {
        var rt = Runtime;
        var differ = NewLabel("memcmp_differ");
        Bind(rt.MemCmp);                                    // rdi, rsi, rdx = n -> rax = 0 if equal
        a.mov(rcx, rdx);
        a.xor(eax, eax);
        a.test(rcx, rcx);
        a.jz(differ.Label);                                 // zero length: equal (rax already 0)
        a.repe.cmpsb();
        a.setne(al);
        Bind(differ);
        a.ret();

        Bind(rt.MemSet);                                    // rdi = dst, rsi = byte, rdx = n
        a.mov(eax, esi);
        a.mov(rcx, rdx);
        a.rep.stosb();
        a.ret();

        Bind(rt.MemCopy);                                   // rdi = dst, rsi = src, rdx = n
        a.mov(rcx, rdx);
        a.rep.movsb();
        a.ret();
    }

    private void EmitResults()
    {
        var rt = Runtime;
        long status = Abs(rt.Status);

        var keep = NewLabel("report_keep");
        Bind(rt.Report);                                    // edi = status; worst wins
        a.cmp(__byte_ptr[status], dil);
        a.jae(keep.Label);
        a.mov(__byte_ptr[status], dil);
        Bind(keep);
        a.ret();

        Bind(rt.Finish);
        a.call(rt.Result.Label);
        a.mov(edi, (int)Abi.SchedOp.Shutdown);
        a.mov(esi, (uint)rt.ShutdownPoweroff);
        a.call(GuestLayout.StubAddress((int)Abi.Hypercall.SchedOp));
        Spin();

        Bind(rt.Result);                                    // prints the result line; returns
        If(Val.Mem(rt.AtLineStart, 1) == 0, () => Print("\n"));   // the result line starts a line
        a.call(rt.Flush.Label);
        var statusByte = Val.Mem(rt.Status, 1);
        If(statusByte == 0, () =>
        {
            Print("Test did not report a status\n");
            a.mov(__byte_ptr[status], (byte)GuestStatus.Error);
        });
        Print("Test result: %s", Val.At(Val.Const((long)rt.StatusNames) + (statusByte << 3)));
        If((statusByte == (int)GuestStatus.Success) & (Val.Mem(rt.WarningsFlag, 1) != 0), () => Print(" with warnings"));
        Print("\n");
        a.ret();

        Bind(rt.PanicBegin);
        If(Val.Mem(rt.AtLineStart, 1) == 0, () => Print("\n"));
        a.call(rt.Flush.Label);
        Print(RuntimeLabels.Stars + "\nPANIC: ");
        a.ret();

        Bind(rt.PanicEnd);
        Print("\n" + RuntimeLabels.Stars + "\n");
        a.mov(edi, (int)Abi.SchedOp.Shutdown);
        a.mov(esi, (uint)rt.ShutdownCrash);
        a.call(GuestLayout.StubAddress((int)Abi.Hypercall.SchedOp));
        Spin();
    }

    /// <summary>
    /// Bytes above the stack pointer before the hardware-shaped part of an exception frame: Xen's PV
    /// bounce frame starts with rcx and r11; an HVM guest gets the CPU's own frame.
    /// </summary>
    internal int TrapFrameSkip => IsHvm ? 0 : 16;

    private void EmitTraps()
    {
        // The frame on the kernel stack, lowest address first: PV (Xen's bounce frame) rcx, r11, then
        // [error code], rip, cs (PV: upcall mask in bits 32-39), rflags, rsp, ss, as an HVM guest's CPU pushes it.
        var rt = Runtime;
        int skip = TrapFrameSkip;
        for (int v = 0; v < 32; v++)
        {
            Bind(rt.TrapStubs[v]);
            a.mov(edi, v);
            if (RuntimeLabels.HasErrorCode(v))
            {
                a.mov(rsi, __qword_ptr[rsp + skip]);
                a.lea(rdx, __[rsp + (skip + 8)]);
                a.mov(ecx, 1);
            }
            else
            {
                a.xor(esi, esi);
                a.lea(rdx, __[rsp + skip]);
                a.xor(ecx, ecx);
            }
            a.jmp(rt.TrapCommon.Label);
        }

        Bind(rt.TrapCommon);
        a.mov(__qword_ptr[Abs(rt.TrapVector)], rdi);
        a.mov(__qword_ptr[Abs(rt.TrapError)], rsi);
        a.mov(__qword_ptr[Abs(rt.TrapHasError)], rcx);
        a.mov(rax, __qword_ptr[rdx]);
        a.mov(__qword_ptr[Abs(rt.TrapRip)], rax);
        a.movzx(eax, __word_ptr[rdx + 8]);
        a.mov(__qword_ptr[Abs(rt.TrapCs)], rax);

        var vec = Val.Mem(rt.TrapVector);
        var name = Val.At(Val.Const((long)rt.VectorNames) + (vec << 3));
        var rip = Val.Mem(rt.TrapRip);
        var cs = Val.Mem(rt.TrapCs);
        If(Val.Mem(rt.TrapHasError) != 0,
            () => Panic("Unhandled exception: vec %u %s[%04x] at %04x:%016lx", vec, name, Val.Mem(rt.TrapError), cs, rip),
            () => Panic("Unhandled exception: vec %u %s at %04x:%016lx", vec, name, cs, rip));
    }
}
