using Iced.Intel;
using Xtf.Abi;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Guest;

/// <summary>XTF's result words, in the order "worst wins".</summary>
public enum GuestStatus : byte { Running = 0, Success = 1, Skip = 2, Error = 3, Failure = 4 }

/// <summary>A jump target a test body can name.</summary>
public sealed class GuestLabel
{
    internal Label Label;
    internal GuestLabel(Label label, string name) { Label = label; Name = name; }
    public string Name { get; }
    /// <summary>Set when the label is placed in the code.</summary>
    internal bool Placed { get; set; }
    /// <summary>Set when code or data refers to the label by name (Goto, AddressOf).</summary>
    internal bool Referenced { get; set; }
}

/// <summary>Out-of-line guest code (a vCPU entry point, a callback, a subroutine).</summary>
public sealed class Routine
{
    internal Routine(GuestLabel entry, Action body) { Entry = entry; Body = body; }
    public GuestLabel Entry { get; }
    internal Action Body { get; }
    public string Name => Entry.Name;
}

/// <summary>
/// The program a test body writes. Every call emits x86-64 code into the kernel; nothing here runs
/// at generation time except the C# that decides what to emit. Values are <see cref="Val"/>s,
/// conditions are <see cref="Cond"/>s, and results follow XTF: success, skip, error, failure and
/// warnings, worst wins.
/// </summary>
public sealed partial class GuestProgram
{
    private static readonly AssemblerRegister64[] ArgRegs = [rdi, rsi, rdx, r10, r8];

    private readonly Assembler a = new(64);
    private readonly List<(ulong DataAddress, GuestLabel Target)> fixups = new();
    private readonly List<Routine> routines = new();
    private readonly List<GuestLabel> marked = new();
    private readonly List<GuestLabel> labels = new();
    private readonly List<Action> initHooks = new();
    private readonly Stack<(GuestLabel Break, GuestLabel Continue)> loops = new();
    private int lastBindAt = -1;
    private int tempCounter;

    public GuestProgram(string title, Environments environment = Environments.Pv64)
    {
        if (EnvironmentNames.Each(environment).Count() != 1) throw new ArgumentException($"not a single environment: {environment}", nameof(environment));
        Title = title;
        Environment = environment;
        Data = new DataSection(GuestLayout.DataBase);
        Runtime = new RuntimeLabels(this);
        StartInfo = Var("start_info");
        BootStackPointer = Var("boot_rsp");
        if (IsHvm) Hvm = new HvmTables(this);
    }

    public string Title { get; }

    /// <summary>The environment the kernel is built for (one of <see cref="Environments"/>).</summary>
    public Environments Environment { get; }

    /// <summary>An HVM environment: a PVH dom0 with its own GDT, IDT and page tables, hypercalls through vmcall/vmmcall stubs.</summary>
    public bool IsHvm => EnvironmentNames.IsHvm(Environment);

    /// <summary>The HVM kernel's own descriptor and page tables; null for PV.</summary>
    internal HvmTables? Hvm { get; }

    /// <summary>Initialised data: strings, variables, buffers, stacks, tables.</summary>
    public DataSection Data { get; }

    /// <summary>The raw assembler, for instructions the API does not cover (ud2, faulting loads, ...).</summary>
    public Assembler Asm => a;

    /// <summary>
    /// PV: the virtual address of start_info that Xen passed in rsi. HVM: the physical address of
    /// hvm_start_info that Xen passed in ebx (the kernel maps memory one to one, so it is also its address).
    /// </summary>
    public Val StartInfo { get; }

    /// <summary>The rsp Xen started vCPU 0 with (the top of the builder's boot stack), saved before the switch to the kernel's own stack.</summary>
    public Val BootStackPointer { get; }

    internal RuntimeLabels Runtime { get; }
    internal IReadOnlyList<(ulong DataAddress, GuestLabel Target)> Fixups => fixups;
    internal IReadOnlyList<Routine> Routines => routines;
    internal IReadOnlyList<GuestLabel> Marked => marked;
    internal IReadOnlyList<GuestLabel> Labels => labels;

    // ---------------------------------------------------------------- storage

    /// <summary>A named 64-bit variable in guest memory.</summary>
    public Val Var(string name, long initial = 0)
    {
        ulong at = Data.Reserve(8, 8);
        if (initial != 0) Data.WriteU64(at, unchecked((ulong)initial));
        return Val.Mem(at, 8, name: name);
    }

    /// <summary>A zeroed guest buffer; returns its address as a constant.</summary>
    public GuestBuffer Alloc(int size, int align = 8, string? name = null) =>
        new(Data.Reserve(size, align), size, name ?? $"buf{tempCounter++}");

    /// <summary>A zeroed, page-aligned guest page (or several).</summary>
    public GuestBuffer Page(string? name = null, int pages = 1) =>
        Alloc(pages * (int)GuestLayout.PageSize, (int)GuestLayout.PageSize, name);

    /// <summary>The address of a NUL-terminated string constant.</summary>
    public Val Str(string text) => Val.Const((long)Data.String(text));

    /// <summary>The run-time address of a label or routine.</summary>
    public Val AddressOf(GuestLabel label)
    {
        label.Referenced = true;
        var slot = Var($"&{label.Name}");
        fixups.Add((slot.Address, label));
        return slot;
    }

    public Val AddressOf(Routine routine) => AddressOf(routine.Entry);

    /// <summary>Writes a label's final address into guest data at <paramref name="dataAddress"/> when the image is linked.</summary>
    public void StoreAddressAtLink(ulong dataAddress, GuestLabel label)
    {
        label.Referenced = true;
        fixups.Add((dataAddress, label));
    }

    /// <summary>
    /// Code that must run at boot, before the test body, whatever path the body later takes
    /// (for example mapping shared_info). Runs in registration order.
    /// </summary>
    internal void AtBoot(Action emit) => initHooks.Add(emit);

    private Val Temp(string what) => Var($"{what}#{tempCounter++}");

    // ---------------------------------------------------------------- statements

    public void Set(Val location, Val value)
    {
        if (!location.IsLValue) throw new ArgumentException($"cannot assign to {location}", nameof(location));
        LoadRax(value);
        StoreRax(location);
    }

    /// <summary>Performs hypercall <paramref name="nr"/> through the hypercall page; returns rax.</summary>
    public Val Hypercall(Hypercall nr, params Val[] args)
    {
        if (args.Length > ArgRegs.Length) throw new ArgumentException("a hypercall takes at most 5 arguments", nameof(args));
        if ((int)nr < 0 || (int)nr >= (int)(GuestLayout.PageSize / GuestLayout.StubSize))
            throw new ArgumentOutOfRangeException(nameof(nr), "hypercall number outside the hypercall page");
        LoadArgs(args);
        a.call(GuestLayout.StubAddress((int)nr));
        var rc = Temp(nr.ToString());
        StoreRax(rc);
        return rc;
    }

    public Val SchedOp(SchedOp cmd, Val arg) => Hypercall(Abi.Hypercall.SchedOp, cmd, arg);
    public Val VcpuOp(VcpuOp cmd, Val vcpu, Val arg) => Hypercall(Abi.Hypercall.VcpuOp, cmd, vcpu, arg);
    public Val EvtchnOp(EvtchnOp cmd, Val arg) => Hypercall(Abi.Hypercall.EventChannelOp, cmd, arg);
    public Val XenVersion(XenVer cmd, Val arg) => Hypercall(Abi.Hypercall.XenVersion, cmd, arg);
    public Val ConsoleIo(ConsoleIo cmd, Val count, Val buffer) => Hypercall(Abi.Hypercall.ConsoleIo, cmd, count, buffer);

    private void LoadArgs(Val[] args)
    {
        // Non-constant arguments are evaluated onto the stack first (evaluation uses rax/rcx),
        // then popped into their registers; constants go straight into theirs.
        var computed = new List<int>();
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i].Kind == ValKind.Constant) continue;
            LoadRax(args[i]);
            a.push(rax);
            computed.Add(i);
        }
        for (int k = computed.Count - 1; k >= 0; k--) a.pop(ArgRegs[computed[k]]);
        for (int i = 0; i < args.Length; i++)
            if (args[i].Kind == ValKind.Constant) MovImm(ArgRegs[i], args[i].Constant);
    }

    /// <summary>0 when the <paramref name="length"/> bytes at the two addresses are equal, else 1.</summary>
    public Val MemCmp(Val first, Val second, Val length)
    {
        LoadArgs([first, second, length]);
        a.call(Runtime.MemCmp.Label);
        var r = Temp("memcmp");
        StoreRax(r);
        return r;
    }

    /// <summary>True when guest memory at <paramref name="address"/> holds the ASCII bytes of <paramref name="text"/> (no NUL).</summary>
    public Cond BytesAre(Val address, string text) => MemCmp(address, Str(text), text.Length) == 0;

    public void MemSet(Val destination, Val value, Val length)
    {
        LoadArgs([destination, value, length]);
        a.call(Runtime.MemSet.Label);
    }

    public void MemCopy(Val destination, Val source, Val length)
    {
        LoadArgs([destination, source, length]);
        a.call(Runtime.MemCopy.Label);
    }

    // ---------------------------------------------------------------- control flow

    public GuestLabel NewLabel(string name)
    {
        var l = new GuestLabel(a.CreateLabel(name), name);
        labels.Add(l);
        return l;
    }

    /// <summary>Places a label here. Marked labels appear in the kernel's symbol table.</summary>
    public void Mark(GuestLabel label)
    {
        Bind(label);
        marked.Add(label);
    }

    public void Goto(GuestLabel label)
    {
        label.Referenced = true;
        a.jmp(label.Label);
    }

    public void If(Cond condition, Action then, Action? otherwise = null)
    {
        var elseLabel = NewLabel("else");
        Branch(condition, elseLabel, when: false);
        then();
        if (otherwise is null)
        {
            Bind(elseLabel);
            return;
        }
        var end = NewLabel("endif");
        a.jmp(end.Label);
        Bind(elseLabel);
        otherwise();
        Bind(end);
    }

    /// <summary>
    /// <c>while (condition())</c> with the condition's code emitted at the top of every pass: use
    /// this form when the condition contains a hypercall or any other statement, which the
    /// <see cref="Cond"/> form would run only once, before the loop.
    /// </summary>
    public void While(Func<Cond> condition, Action body)
    {
        var top = NewLabel("while");
        var end = NewLabel("wend");
        Bind(top);
        Branch(condition(), end, when: false);
        loops.Push((end, top));
        body();
        loops.Pop();
        a.jmp(top.Label);
        Bind(end);
    }

    /// <summary>
    /// <c>while (condition)</c>. The condition is re-evaluated from memory each pass, but a
    /// hypercall used inside it was emitted before the loop and runs once: use the
    /// <see cref="While(Func{Cond}, Action)"/> form for that.
    /// </summary>
    public void While(Cond condition, Action body)
    {
        var top = NewLabel("while");
        var end = NewLabel("wend");
        Bind(top);
        Branch(condition, end, when: false);
        loops.Push((end, top));
        body();
        loops.Pop();
        a.jmp(top.Label);
        Bind(end);
    }

    /// <summary><c>for (i = from; i &lt; to; i++)</c>, signed comparison.</summary>
    public void For(Val i, Val from, Val to, Action body)
    {
        Set(i, from);
        var top = NewLabel("for");
        var next = NewLabel("fnext");
        var end = NewLabel("fend");
        Bind(top);
        Branch(i < to, end, when: false);
        loops.Push((end, next));
        body();
        loops.Pop();
        Bind(next);
        Set(i, i + 1);
        a.jmp(top.Label);
        Bind(end);
    }

    public void Break() => a.jmp(CurrentLoop().Break.Label);
    public void Continue() => a.jmp(CurrentLoop().Continue.Label);

    private (GuestLabel Break, GuestLabel Continue) CurrentLoop() =>
        loops.Count > 0 ? loops.Peek() : throw new InvalidOperationException("Break/Continue outside a loop");

    /// <summary>Declares out-of-line code; it is emitted after the test body.</summary>
    public Routine Function(string name, Action body)
    {
        var r = new Routine(NewLabel(name), body);
        routines.Add(r);
        return r;
    }

    /// <summary>Calls a routine declared with <see cref="Function"/>. Routines end with <see cref="Return"/>.</summary>
    public void Call(Routine routine) => a.call(routine.Entry.Label);

    public void Return() => a.ret();

    /// <summary>Loops forever (a runaway guest, for timeout tests).</summary>
    public void Spin()
    {
        var l = NewLabel("spin");
        Bind(l);
        a.pause();
        a.jmp(l.Label);
    }

    /// <summary>Ends the test now: prints the result and shuts down. Never returns.</summary>
    public void Exit() => a.call(Runtime.Finish.Label);

    /// <summary>
    /// Prints the "Test result:" line now, from the status reported so far, without shutting
    /// down: for tests whose last step makes Xen end the domain (the last vCPU going down, a
    /// watchdog expiring, remote_shutdown of itself). Declare the reason Xen will use in
    /// <see cref="XtfTest.ExpectedShutdownReason"/>.
    /// </summary>
    public void ReportResultNow() => a.call(Runtime.Result.Label);

    /// <summary>
    /// Ends the test now: prints the result line, then SCHEDOP_shutdown with
    /// <paramref name="reason"/> instead of poweroff. Declare the reason in
    /// <see cref="XtfTest.ExpectedShutdownReason"/>. Never returns.
    /// </summary>
    public void FinishWith(Val reason)
    {
        Set(Val.Mem(Runtime.ShutdownPoweroff, 4), reason);
        Exit();
    }

    // ---------------------------------------------------------------- console

    /// <summary>
    /// printk-style output. Conversions: %d %i (signed), %u, %x, %0Nx, %#x, %p, %s (NUL-terminated
    /// string at an address), %c, %e (a hypercall return value: decimal, plus the errno name when
    /// negative), %%. Length modifiers l/ll/z are accepted and ignored: every value is 64-bit.
    /// The formatting runs in guest code.
    /// </summary>
    public void Print(string format, params Val[] args) => EmitFormat(format, args);

    // ---------------------------------------------------------------- results

    public void Success() => Report(GuestStatus.Success);

    public void Skip(string format, params Val[] args) => ReportWith(GuestStatus.Skip, format, args);
    public void Error(string format, params Val[] args) => ReportWith(GuestStatus.Error, format, args);
    public void Failure(string format, params Val[] args) => ReportWith(GuestStatus.Failure, format, args);

    /// <summary>A warning does not change the status; a successful run ends "SUCCESS with warnings".</summary>
    public void Warning(string format, params Val[] args)
    {
        EmitFormat(WithNewline(format), args);
        a.mov(__byte_ptr[Abs(Runtime.WarningsFlag)], 1);
    }

    /// <summary>Fails the test when <paramref name="actual"/> differs from <paramref name="expected"/>.</summary>
    public void ExpectEq(Val actual, Val expected, string what) =>
        If(actual != expected, () => Failure($"Fail: {Escape(what)}: expected %e, got %e", expected, actual));

    public void ExpectNe(Val actual, Val unexpected, string what) =>
        If(actual == unexpected, () => Failure($"Fail: {Escape(what)}: got %e", actual));

    /// <summary>Fails the test when <paramref name="condition"/> does not hold.</summary>
    public void Expect(Cond condition, string what, string? detailFormat = null, params Val[] detail) =>
        If(!condition, () => Failure($"Fail: {Escape(what)}" + (detailFormat is null ? "" : ": " + detailFormat), detail));

    /// <summary>Prints a PANIC block and crashes the domain (SHUTDOWN_crash). Never returns.</summary>
    public void Panic(string format, params Val[] args)
    {
        a.call(Runtime.PanicBegin.Label);
        EmitFormat(format, args);
        a.call(Runtime.PanicEnd.Label);
    }

    private void Report(GuestStatus status)
    {
        a.mov(edi, (int)status);
        a.call(Runtime.Report.Label);
    }

    private void ReportWith(GuestStatus status, string format, Val[] args)
    {
        EmitFormat(WithNewline(format), args);
        Report(status);
    }

    private static string WithNewline(string format) => format.EndsWith('\n') ? format : format + "\n";

    /// <summary>Escapes '%' in text that is not meant as a format.</summary>
    public static string Escape(string text) => text.Replace("%", "%%");
}

/// <summary>A zeroed region of guest memory with typed field access.</summary>
public sealed record GuestBuffer(ulong Address, int Size, string Name)
{
    public Val Ptr => Val.Const((long)Address);
    public Val U8(int offset) => Field(offset, 1);
    public Val U16(int offset) => Field(offset, 2);
    public Val U32(int offset) => Field(offset, 4);
    public Val U64(int offset = 0) => Field(offset, 8);
    public Val S32(int offset) => Field(offset, 4, signed: true);
    public Val Addr(int offset) => Val.Const((long)(Address + (ulong)offset));

    public Val Field(int offset, int width, bool signed = false)
    {
        if (offset < 0 || (long)offset + width > Size)
            throw new ArgumentOutOfRangeException(nameof(offset), $"{Name}: field at {offset}+{width} is outside its {Size} bytes");
        return Val.Mem(Address + (ulong)offset, width, signed);
    }
}
