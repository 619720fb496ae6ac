using Xtf.Abi;
using Xtf.Guest;
using Xtf.Suite.Pv.Mm;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Pv.Desc;

/// <summary>
/// The PV kernel/user split (docs/pv-abi.md §16.6): with a user base pointer
/// (MMUEXT_NEW_USER_BASEPTR), a kernel stack for bounces (stack_switch) and a syscall callback
/// (callback_op), the iret hypercall enters user mode. From there: int $0x80 through a DPL-3
/// trap-table entry bounces to the kernel on the stack_switch stack with the user's rip, cs, rsp
/// and ss in the frame; int $0x81 through a DPL-1 entry is #GP(0x81 &lt;&lt; 3 | 2); syscall reaches
/// the syscall callback; cli and a mov from CR0 are #GP(0) (Xen emulates privileged instructions
/// for the guest kernel only). From the kernel, int $0x81 (DPL 1) is allowed.
/// </summary>
public sealed class UserMode : XtfTest
{
    public override string Name => "desc-user-mode";
    public override string Title => "iret to user mode, bounces, syscall callback, int DPL from user and kernel";
    public override string Category => "desc";

    private const int Ss = 0xe02b, Cs = 0xe033;

    public override void Body(GuestProgram g)
    {
        var a = g.Asm;
        var mm = new MmKit(g);
        var kernelStack = g.Page("bounce_stack");
        var userStack = g.Page("user_stack");
        var backRsp = g.Var("user_back_rsp");
        var entryRsp = g.Var("bounce_rsp");
        var frame = g.Alloc(7 * 8, name: "bounce_frame");
        var hits = g.Var("bounces");
        var table = g.Alloc(3 * TrapInfo.Layout.Size, 16, "user_traps");
        var cb = g.Alloc(CallbackRegister.Layout.Size, name: "syscall_callback");
        var userTop = g.Var("user_stack_top");
        g.Set(userTop, userStack.Ptr + 4096);

        // A bounce from user mode lands here: keep rsp and the 7-word frame, then go back to the kernel flow.
        Routine Landing(string name) => g.Function(name, () =>
        {
            a.mov(__qword_ptr[(long)entryRsp.Address], rsp);
            for (int i = 0; i < 7; i++)
            {
                a.mov(rax, __qword_ptr[rsp + 8 * i]);
                a.mov(__qword_ptr[(long)frame.Address + 8 * i], rax);
            }
            a.inc(__qword_ptr[(long)hits.Address]);
            a.mov(rsp, __qword_ptr[(long)backRsp.Address]);
            a.ret();
        });
        var int80 = Landing("user_int80");
        var int81 = Landing("user_int81");
        var syscall = Landing("user_syscall");

        void Trap(int i, int vector, int dpl, Routine r)
        {
            int e = i * TrapInfo.Layout.Size;
            g.Set(table.U64(e + TrapInfo.Layout.Vector), vector | dpl << 8 | Cs << 16);   // vector, flags (DPL), cs
            g.Set(table.U64(e + TrapInfo.Layout.Address), g.AddressOf(r));
        }
        Trap(0, 0x80, 3, int80);
        Trap(1, 0x81, 1, int81);
        g.ExpectEq(g.Hypercall(Hypercall.SetTrapTable, table.Ptr), 0, "trap table: 0x80 DPL 3, 0x81 DPL 1");
        g.Set(cb.U16(CallbackRegister.Layout.Type), 2);
        g.Set(cb.U64(CallbackRegister.Layout.Address), g.AddressOf(syscall));
        g.ExpectEq(g.Hypercall(Hypercall.CallbackOp, 0, cb.Ptr), 0, "callback_op register syscall");
        g.ExpectEq(g.Hypercall(Hypercall.StackSwitch, Ss, kernelStack.Ptr + 4096), 0, "stack_switch");
        g.ExpectEq(mm.Ext(MmuextCmd.NewUserBaseptr, mm.Mfn(mm.PtBase)), 0, "new_user_baseptr: the kernel's own L4");

        // From the kernel, a DPL-1 entry may be used.
        g.Set(hits, 0);
        Enter(g, backRsp, () => a.@int(0x81), kernelMode: true);
        g.ExpectEq(hits, 1, "int $0x81 from the kernel");

        FaultRecord User(string what, Action body, long expectedHits)
        {
            g.Set(hits, 0);
            var f = g.Guarded(() => Enter(g, backRsp, body, kernelMode: false, userStackTop: userTop));
            g.ExpectEq(hits, expectedHits, what + ": bounces");
            return f;
        }

        var f = User("int $0x80 from user mode", () => { a.mov(eax, 0x5a); a.@int(0x80); a.ud2(); }, 1);
        g.ExpectEq(f.Vector, -1, "int $0x80 from user mode: no fault");
        g.ExpectEq(entryRsp, kernelStack.Ptr + 4096 - 7 * 8, "the bounce frame is at the top of the stack_switch stack");
        g.ExpectEq(Val.At(frame.Ptr + 24), Cs, "frame cs");
        g.ExpectEq(Val.At(frame.Ptr + 40), userStack.Ptr + 4096, "frame rsp: the user's");
        g.ExpectEq(Val.At(frame.Ptr + 48), Ss, "frame ss");
        g.Print("int $0x80 from user mode: frame rflags %p\n", Val.At(frame.Ptr + 32));

        f = User("int $0x81 from user mode", () => { a.@int(0x81); a.ud2(); }, 0);
        g.ExpectEq(f.Vector, 13, "int $0x81 (DPL 1) from user mode");
        g.ExpectEq(f.ErrorCode, 0x81 * 8 + 2, "int $0x81 from user mode: error code");

        f = User("syscall from user mode", () => { a.mov(ecx, 0x1234); a.syscall(); a.ud2(); }, 1);
        g.ExpectEq(f.Vector, -1, "syscall from user mode: no fault");
        g.ExpectEq(Val.At(frame.Ptr + 24), Cs, "syscall frame cs");
        g.ExpectEq(Val.At(frame.Ptr + 40), userStack.Ptr + 4096, "syscall frame rsp");
        g.Print("syscall from user mode: frame rcx-rip %p, r11 %p\n", Val.At(frame.Ptr) - Val.At(frame.Ptr + 16), Val.At(frame.Ptr + 8));

        f = User("cli from user mode", () => { a.cli(); a.ud2(); }, 0);
        g.ExpectEq(f.Vector, 13, "cli from user mode");
        f = User("mov from cr0 in user mode", () => { a.mov(rax, cr0); a.ud2(); }, 0);
        g.ExpectEq(f.Vector, 13, "mov from cr0 in user mode");
        g.ExpectEq(f.ErrorCode, 0, "mov from cr0 in user mode: error code");
        g.Success();
    }

    /// <summary>
    /// Runs <paramref name="body"/> and comes back when a landing routine restores <paramref name="backRsp"/>:
    /// in user mode through the iret hypercall (the guest pushes ss, rsp, rflags, cs, rip and flags;
    /// Xen's stub adds rcx, r11 and rax), or directly in the kernel.
    /// </summary>
    private static void Enter(GuestProgram g, Val backRsp, Action body, bool kernelMode, Val? userStackTop = null)
    {
        var a = g.Asm;
        var resume = a.CreateLabel();
        var code = a.CreateLabel();
        a.lea(rax, __[resume]);
        a.push(rax);
        a.mov(__qword_ptr[(long)backRsp.Address], rsp);
        if (kernelMode)
        {
            body();
        }
        else
        {
            a.push(Ss);
            a.push(__qword_ptr[(long)userStackTop!.Address]);
            a.push(0x202);
            a.push(Cs);
            a.lea(rax, __[code]);
            a.push(rax);
            a.push(0);              // flags: not in a syscall
            a.jmp(GuestLayout.StubAddress((int)Hypercall.Iret));   // the stub pushes rcx, r11 and rax
            a.Label(ref code);
            body();
        }
        a.Label(ref resume);
    }
}
