using Iced.Intel;
using Xtf.Sim.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Sim.Tests.Cpu;

/// <summary>Instruction semantics other than flag tables: data movement, stack, control flow, strings, bits, atomics.</summary>
[Parallelizable(ParallelScope.All)]
public sealed class InstructionTests
{
    private const ulong Data = TestMachine.DataVa;

    private static TestMachine Run(Action<Assembler> build)
    {
        var m = new TestMachine();
        m.Load(build);
        m.RunToEnd();
        return m;
    }

    // ------------------------------------------------------------ data movement

    [Test]
    public void RegisterWritesZeroExtendOrMergeByOperandSize()
    {
        var m = Run(a =>
        {
            a.mov(rax, -1L);
            a.mov(eax, 0x1234_5678);        // zero-extends
            a.mov(rbx, -1L);
            a.mov(bx, 0x1234);              // merges 16 bits
            a.mov(rcx, -1L);
            a.mov(cl, 0x12);                // merges 8 bits
            a.mov(rdi, rcx);
            a.mov(rdx, -1L);
            a.mov(dh, 0x34);                // high byte
            a.mov(rsi, -1L);
            a.xor(esi, esi);                // 32-bit op zero-extends
            a.mov(r8, 0x1111_2222_3333_4444);
            a.mov(r9, r8);
            a.mov(r9d, r9d);                // 32-bit move zero-extends
            a.mov(r10, 0x7777);
            a.mov(r10b, 0x55);              // REX byte register
            a.mov(r11, 0x1234);
            a.mov(ah, 0x99);
            a.movzx(ecx, ah);
            a.mov(r11, rcx);
            a.int3();
        });
        Assert.That(m[Reg.Rax], Is.EqualTo(0x1234_9978UL), "mov eax zero-extends; mov ah merges");
        Assert.That(m[Reg.Rbx], Is.EqualTo(0xFFFF_FFFF_FFFF_1234UL));
        Assert.That(m[Reg.Rdi], Is.EqualTo(0xFFFF_FFFF_FFFF_FF12UL));
        Assert.That(m[Reg.Rdx], Is.EqualTo(0xFFFF_FFFF_FFFF_34FFUL));
        Assert.That(m[Reg.Rsi], Is.Zero);
        Assert.That(m[Reg.R9], Is.EqualTo(0x3333_4444UL));
        Assert.That(m[Reg.R10], Is.EqualTo(0x7755UL));
        Assert.That(m[Reg.R11], Is.EqualTo(0x99UL));
    }

    [Test]
    public void MovFormsIncludingMoffsImm64AndRipRelative()
    {
        var m = new TestMachine();
        m.WriteData(Data, 0x0102_0304_0506_0708);
        m.WriteData(Data + 0x100, 0xCAFE, 2);
        m.Load((a, t) =>
        {
            var val = t.Label(a, "val");
            a.mov(rax, __qword_ptr[Data]);                     // moffs-style absolute
            a.AddInstruction(Instruction.Create(Code.Mov_RAX_moffs64, Register.RAX, new MemoryOperand(Register.None, (long)Data, 8)));
            a.mov(rbx, rax);
            a.mov(rcx, 0x1122_3344_5566_7788);                  // imm64
            a.mov(__qword_ptr[Data + 8], rcx);
            a.mov(__dword_ptr[Data + 16], 0x89AB_CDEF);
            a.mov(__qword_ptr[Data + 24], -2);                  // imm32 sign-extended to 64
            a.mov(dx, __word_ptr[Data + 0x100]);
            a.mov(rsi, __qword_ptr[val]);                       // rip-relative
            a.lea(rdi, __[val]);
            a.int3();
            t.Mark(a, "val");
            a.dq(0xDEAD_BEEF_0000_0001);
        });
        m.RunToEnd();
        Assert.That(m[Reg.Rbx], Is.EqualTo(0x0102_0304_0506_0708UL));
        Assert.That(m.ReadData(Data + 8), Is.EqualTo(0x1122_3344_5566_7788UL));
        Assert.That(m.ReadData(Data + 16, 4), Is.EqualTo(0x89AB_CDEFUL));
        Assert.That(m.ReadData(Data + 24), Is.EqualTo(0xFFFF_FFFF_FFFF_FFFEUL));
        Assert.That(m[Reg.Rdx] & 0xFFFF, Is.EqualTo(0xCAFEUL));
        Assert.That(m[Reg.Rsi], Is.EqualTo(0xDEAD_BEEF_0000_0001UL));
        Assert.That(m[Reg.Rdi], Is.EqualTo(m.Address("val")));
    }

    [Test]
    public void LeaMovzxMovsxMovsxdAndSignExtensions()
    {
        var m = Run(a =>
        {
            a.mov(rbx, 0x1000);
            a.mov(rcx, 3);
            a.lea(rax, __[rbx + rcx * 8 + 0x10]);       // 0x1028
            a.lea(edx, __[rbx - 0x2000]);               // 32-bit: 0xFFFFF000 zero-extended
            a.mov(r8, 0x80);
            a.movsx(r9, r8b);                           // -128
            a.movzx(r10d, r8b);
            a.mov(r11, 0xFFFF_FFFF);
            a.movsxd(r12, r11d);                        // -1
            a.mov(r13, 0x8000);
            a.movsx(r13d, r13w);                        // 0xFFFF8000, zero-extended
            a.mov(eax, eax);
            a.mov(r14, 0x80);
            a.xchg(rax, r14);
            a.cbw();                                    // ax = 0xFF80
            a.mov(r15, rax);
            a.mov(eax, 0x8000_0000);
            a.cdqe();                                   // rax = 0xFFFFFFFF80000000
            a.cqo();                                    // rdx = -1
            a.mov(rsi, rax);
            a.mov(eax, 0x7FFF);
            a.cwd();                                    // dx = 0 (merged)
            a.int3();
        });
        Assert.That(m[Reg.R14], Is.EqualTo(0x1028UL));
        Assert.That(m[Reg.R9], Is.EqualTo(0xFFFF_FFFF_FFFF_FF80UL));
        Assert.That(m[Reg.R10], Is.EqualTo(0x80UL));
        Assert.That(m[Reg.R12], Is.EqualTo(ulong.MaxValue));
        Assert.That(m[Reg.R13], Is.EqualTo(0xFFFF_8000UL));
        Assert.That(m[Reg.R15] & 0xFFFF, Is.EqualTo(0xFF80UL));
        Assert.That(m[Reg.Rsi], Is.EqualTo(0xFFFF_FFFF_8000_0000UL));
        Assert.That(m[Reg.Rdx], Is.EqualTo(0xFFFF_FFFF_FFFF_0000UL));
    }

    [Test]
    public void FsAndGsPrefixesUseTheSegmentBases()
    {
        var m = new TestMachine();
        m.Cpu.FsBase = Data;
        m.Cpu.GsBase = Data + 0x800;
        m.WriteData(Data + 0x10, 0xF5F5);
        m.WriteData(Data + 0x810, 0x6565);
        m.Load(a =>
        {
            a.mov(rax, __qword_ptr.fs[0x10]);
            a.mov(rbx, __qword_ptr.gs[0x10]);
            a.mov(__qword_ptr.gs[0x18], rax);
            a.lea(rcx, __.fs[0x10]);                    // lea ignores the base
            a.int3();
        });
        m.RunToEnd();
        Assert.That(m[Reg.Rax], Is.EqualTo(0xF5F5UL));
        Assert.That(m[Reg.Rbx], Is.EqualTo(0x6565UL));
        Assert.That(m.ReadData(Data + 0x818), Is.EqualTo(0xF5F5UL));
        Assert.That(m[Reg.Rcx], Is.EqualTo(0x10UL));
    }

    // ------------------------------------------------------------ stack and control flow

    [Test]
    public void CallRetPushPopLeaveAndEnter()
    {
        var m = new TestMachine();
        m.WriteData(Data, 0x4242);
        m.Load((a, t) =>
        {
            var func = t.Label(a, "func");
            var after = t.Label(a, "after");
            a.mov(rdi, 21);
            a.call(func);
            t.Mark(a, "after");
            a.push(0x1234);                 // push imm
            a.pop(__qword_ptr[Data + 8]);   // pop to memory
            a.push(__qword_ptr[Data]);      // push from memory
            a.pop(rbx);
            a.push(-1);                     // sign-extended imm8
            a.pop(rcx);
            a.push(rsp);                    // pushes the old value
            a.pop(rdx);
            a.enter(16, 0);
            a.mov(__qword_ptr[rbp - 8], 7);
            a.mov(r8, __qword_ptr[rbp - 8]);
            a.leave();
            a.int3();
            t.Mark(a, "func");
            a.mov(r15, __qword_ptr[rsp]);
            a.push(rbp);
            a.mov(rbp, rsp);
            a.sub(rsp, 32);
            a.mov(__qword_ptr[rbp - 8], rdi);
            a.mov(rax, __qword_ptr[rbp - 8]);
            a.add(rax, rax);
            a.leave();
            a.ret();
        });
        m.RunToEnd();
        Assert.That(m[Reg.Rax], Is.EqualTo(42UL));
        Assert.That(m[Reg.Rsp], Is.EqualTo(TestMachine.StackTop));
        Assert.That(m.ReadData(Data + 8), Is.EqualTo(0x1234UL));
        Assert.That(m[Reg.Rbx], Is.EqualTo(0x4242UL));
        Assert.That(m[Reg.Rcx], Is.EqualTo(ulong.MaxValue));
        Assert.That(m[Reg.Rdx], Is.EqualTo(TestMachine.StackTop));
        Assert.That(m[Reg.R8], Is.EqualTo(7UL));
        Assert.That(m[Reg.R15], Is.EqualTo(m.Address("after")), "return address");
    }

    [Test]
    public void RetImmCallIndirectAndPopRsp()
    {
        var m = new TestMachine();
        m.Load((a, t) =>
        {
            var f = t.Label(a, "f");
            a.push(1);
            a.push(2);
            a.lea(rax, __[f]);
            a.call(rax);                    // call r64; f returns with ret 16
            a.mov(__qword_ptr[Data], rax);
            a.call(__qword_ptr[Data]);      // call m64
            a.mov(rbx, rsp);
            a.push(0x5000);
            a.pop(rsp);                     // rsp = popped value
            a.mov(rcx, rsp);
            a.mov(rsp, rbx);
            a.int3();
            t.Mark(a, "f");
            a.mov(rdx, __qword_ptr[rsp + 8]);
            a.ret(16);
        });
        // call [Data] pops 16 more bytes than were pushed: start from a deeper stack.
        m[Reg.Rsp] = TestMachine.StackTop - 0x100;
        m.RunToEnd();
        Assert.That(m[Reg.Rbx], Is.EqualTo(TestMachine.StackTop - 0x100 + 16));
        Assert.That(m[Reg.Rcx], Is.EqualTo(0x5000UL));
    }

    [Test]
    public void JumpTableThroughMemory()
    {
        var m = new TestMachine();
        m.Load((a, t) =>
        {
            var c0 = t.Label(a, "c0");
            var c1 = t.Label(a, "c1");
            var c2 = t.Label(a, "c2");
            var done = t.Label(a, "done");
            var loop = t.Label(a, "loop");
            a.xor(ecx, ecx);
            a.xor(ebx, ebx);
            t.Mark(a, "loop");
            a.mov(eax, ecx);
            a.jmp(__qword_ptr[rax * 8 + (int)Data]);
            t.Mark(a, "c0");
            a.add(rbx, 1);
            a.jmp(done);
            t.Mark(a, "c1");
            a.add(rbx, 10);
            a.jmp(done);
            t.Mark(a, "c2");
            a.add(rbx, 100);
            t.Mark(a, "done");
            a.inc(ecx);
            a.cmp(ecx, 3);
            a.jb(loop);
            a.int3();
        });
        m.WriteData(Data, m.Address("c2"));
        m.WriteData(Data + 8, m.Address("c1"));
        m.WriteData(Data + 16, m.Address("c0"));
        m.RunToEnd();
        Assert.That(m[Reg.Rbx], Is.EqualTo(111UL));
    }

    [Test]
    public void LoopJrcxzAndConditionalBranchesBothWays()
    {
        var m = Run(a =>
        {
            var l1 = a.CreateLabel();
            var skip = a.CreateLabel();
            var z = a.CreateLabel();
            a.mov(ecx, 5);
            a.xor(eax, eax);
            a.Label(ref l1);
            a.add(eax, 2);
            a.loop(l1);                     // 5 iterations
            a.jrcxz(z);
            a.mov(eax, 999);
            a.Label(ref z);
            a.mov(edx, 1);
            a.cmp(edx, 2);
            a.jg(skip);                     // not taken
            a.mov(esi, 7);
            a.Label(ref skip);
            a.int3();
        });
        Assert.That(m[Reg.Rax], Is.EqualTo(10UL));
        Assert.That(m[Reg.Rsi], Is.EqualTo(7UL));
    }

    /// <summary>Every condition after cmp a, b (8 bytes): setcc results as a bit string in the order o no b ae e ne be a s ns p np l ge le g.</summary>
    [TestCase(1L, 2L, "0110011010101010")]
    [TestCase(2L, 1L, "0101010101010101")]
    [TestCase(5L, 5L, "0101101001100110")]
    [TestCase(-1L, 1L, "0101010110011010")]
    [TestCase(long.MinValue, 1L, "1001010101101010")]
    public void SetccForEveryCondition(long x, long y, string expected)
    {
        var conds = new Action<Assembler, AssemblerRegister8>[]
        {
            (a, r) => a.seto(r), (a, r) => a.setno(r), (a, r) => a.setb(r), (a, r) => a.setae(r),
            (a, r) => a.sete(r), (a, r) => a.setne(r), (a, r) => a.setbe(r), (a, r) => a.seta(r),
            (a, r) => a.sets(r), (a, r) => a.setns(r), (a, r) => a.setp(r), (a, r) => a.setnp(r),
            (a, r) => a.setl(r), (a, r) => a.setge(r), (a, r) => a.setle(r), (a, r) => a.setg(r),
        };
        var m = new TestMachine();
        m.Load(a =>
        {
            a.mov(rax, x);
            a.mov(rbx, y);
            a.xor(edi, edi);
            a.cmp(rax, rbx);
            for (int i = 0; i < 16; i++)
            {
                conds[i](a, cl);
                a.movzx(edx, cl);
                a.shl(rdx, (byte)(15 - i));
                a.or(rdi, rdx);
                a.cmp(rax, rbx);   // restore the flags or/shl changed
            }
            a.setb(__byte_ptr[Data]);
            a.int3();
        });
        m.RunToEnd();
        string bits = Convert.ToString((long)m[Reg.Rdi], 2).PadLeft(16, '0');
        Assert.That(bits, Is.EqualTo(expected));
        Assert.That(m.ReadData(Data, 1), Is.EqualTo((ulong)(expected[2] - '0')), "setcc to memory");
    }

    [Test]
    public void CmovTakenNotTakenAndZeroExtension()
    {
        var m = new TestMachine();
        m.WriteData(Data, 0x5555);
        m.Load(a =>
        {
            a.mov(rax, -1L);
            a.mov(rbx, 7);
            a.mov(rcx, -1L);
            a.cmp(rbx, rbx);
            a.cmovne(eax, ebx);             // not taken: still zero-extends
            a.cmove(rcx, rbx);              // taken
            a.mov(rdx, 3);
            a.cmovz(rdx, __qword_ptr[Data]);
            a.mov(rsi, -1L);
            a.cmovnz(si, bx);               // not taken, 16-bit: unchanged
            a.int3();
        });
        m.RunToEnd();
        Assert.That(m[Reg.Rax], Is.EqualTo(0xFFFF_FFFFUL));
        Assert.That(m[Reg.Rcx], Is.EqualTo(7UL));
        Assert.That(m[Reg.Rdx], Is.EqualTo(0x5555UL));
        Assert.That(m[Reg.Rsi], Is.EqualTo(ulong.MaxValue));
    }

    // ------------------------------------------------------------ strings

    [Test]
    public void RepMovsbForwardAndRepMovsqBackward()
    {
        var m = new TestMachine();
        for (int i = 0; i < 32; i++) m.WriteData(Data + (ulong)i, (ulong)(i + 1), 1);
        m.Load(a =>
        {
            a.mov(rsi, Data);
            a.mov(rdi, Data + 0x100);
            a.mov(ecx, 10);
            a.rep.movsb();
            a.mov(r8, rsi);
            a.mov(r9, rdi);
            a.std();
            a.mov(rsi, Data + 24);
            a.mov(rdi, Data + 0x224);
            a.mov(ecx, 4);
            a.rep.movsq();
            a.cld();
            a.int3();
        });
        m.RunToEnd();
        for (int i = 0; i < 10; i++) Assert.That(m.ReadData(Data + 0x100 + (ulong)i, 1), Is.EqualTo((ulong)(i + 1)));
        Assert.That(m.ReadData(Data + 0x100 + 10, 1), Is.Zero);
        Assert.That(m[Reg.R8], Is.EqualTo(Data + 10));
        Assert.That(m[Reg.R9], Is.EqualTo(Data + 0x10A));
        Assert.That(m[Reg.Rcx], Is.Zero);
        Assert.That(m[Reg.Rsi], Is.EqualTo(Data + 24 - 32));
        Assert.That(m[Reg.Rdi], Is.EqualTo(Data + 0x224 - 32));
        for (int q = 0; q < 4; q++) Assert.That(m.ReadData(Data + 0x224 - 8 * (ulong)q), Is.EqualTo(m.ReadData(Data + 24 - 8 * (ulong)q)));
    }

    [Test]
    public void StosLodsAndOverlappingMovsReplicates()
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            a.mov(rdi, Data);
            a.mov(eax, 0xA1B2_C3D4);
            a.mov(ecx, 3);
            a.rep.stosd();
            a.mov(r8, rdi);
            a.mov(rsi, Data + 4);
            a.lodsw();
            a.mov(r9, rsi);
            a.mov(__byte_ptr[Data + 0x100], 0x5A);
            a.mov(rsi, Data + 0x100);
            a.mov(rdi, Data + 0x101);
            a.mov(ecx, 7);
            a.rep.movsb();                  // forward byte copy with overlap: the pattern repeats
            a.mov(ecx, 0);
            a.rep.stosb();                  // count 0: nothing
            a.int3();
        });
        m.RunToEnd();
        Assert.That(m.ReadData(Data, 4), Is.EqualTo(0xA1B2_C3D4UL));
        Assert.That(m.ReadData(Data + 8, 4), Is.EqualTo(0xA1B2_C3D4UL));
        Assert.That(m.ReadData(Data + 12, 4), Is.Zero);
        Assert.That(m[Reg.R8], Is.EqualTo(Data + 12));
        Assert.That(m[Reg.Rax] & 0xFFFF, Is.EqualTo(0xC3D4UL));
        Assert.That(m[Reg.Rax] >> 16, Is.EqualTo(0xA1B2UL), "lodsw merges");
        Assert.That(m[Reg.R9], Is.EqualTo(Data + 6));
        Assert.That(m.ReadData(Data + 0x100), Is.EqualTo(0x5A5A_5A5A_5A5A_5A5AUL));
    }

    [Test]
    public void RepeCmpsAndRepneScas()
    {
        var m = new TestMachine();
        m.Memory.Write(Data, "hello, world\0"u8);
        m.Memory.Write(Data + 0x40, "hello, there\0"u8);
        m.Load(a =>
        {
            a.mov(rsi, Data);
            a.mov(rdi, Data + 0x40);
            a.mov(ecx, 13);
            a.repe.cmpsb();
            a.pushfq();
            a.mov(r8, rcx);
            a.mov(r9, rsi);
            a.mov(rdi, Data);
            a.xor(eax, eax);
            a.mov(rcx, -1L);
            a.repne.scasb();                // strlen
            a.not(rcx);
            a.dec(rcx);
            a.mov(r10, rcx);
            a.pop(r11);
            a.int3();
        });
        m.RunToEnd();
        Assert.That(m[Reg.R8], Is.EqualTo(13UL - 8), "stopped after the mismatching 'w' / 't'");
        Assert.That(m[Reg.R9], Is.EqualTo(Data + 8));
        Assert.That(m[Reg.R11] & F.ZF, Is.Zero);
        Assert.That(m[Reg.R11] & F.CF, Is.Zero, "'w' > 't'");
        Assert.That(m[Reg.R10], Is.EqualTo(12UL));
    }

    [Test]
    public void RepStringIsSplitAcrossBudgetsWithRipAtTheInstruction()
    {
        var m = new TestMachine();
        ulong count = (ulong)X86Interpreter.RepChunk * 2 + 100;
        m.Load(a =>
        {
            a.mov(rdi, Data);
            a.AddInstruction(Instruction.Create(Code.Mov_r64_imm64, Register.RCX, count));
            a.mov(al, 0x77);
            a.rep.stosb();
            a.int3();
        });
        var e = m.Run(4);
        Assert.That(e.Kind, Is.EqualTo(ExitKind.Budget));
        Assert.That(e.Executed, Is.EqualTo(3), "the unfinished rep does not retire");
        ulong repRip = m.Cpu.Rip;
        Assert.That(m[Reg.Rcx], Is.EqualTo(count - (ulong)X86Interpreter.RepChunk));
        e = m.Run(1);
        Assert.That(m.Cpu.Rip, Is.EqualTo(repRip));
        Assert.That(m[Reg.Rcx], Is.EqualTo(count - 2 * (ulong)X86Interpreter.RepChunk));
        e = m.Run(1);
        Assert.That(e.Executed, Is.EqualTo(1));
        Assert.That(m[Reg.Rcx], Is.Zero);
        Assert.That(m.Cpu.Rip, Is.Not.EqualTo(repRip));
        Assert.That(m.ReadData(Data + count - 1, 1), Is.EqualTo(0x77UL));
        Assert.That(m.ReadData(Data + count, 1), Is.Zero);
        m.RunToEnd();
    }

    // ------------------------------------------------------------ atomics

    [Test]
    public void CmpxchgXaddXchg()
    {
        var m = new TestMachine();
        m.WriteData(Data, 5);
        m.WriteData(Data + 8, 100);
        m.WriteData(Data + 16, 0xAAAA);
        m.Load(a =>
        {
            a.mov(eax, 5);
            a.mov(ebx, 9);
            a.@lock.cmpxchg(__qword_ptr[Data], rbx);   // equal: [Data] = 9
            a.setz(r8b);
            a.mov(eax, 1);
            a.cmpxchg(__qword_ptr[Data], rbx);          // not equal: rax = 9
            a.setz(r9b);
            a.mov(r10, rax);
            a.mov(ecx, 10);
            a.@lock.xadd(__qword_ptr[Data + 8], rcx);   // [Data+8] = 110, rcx = 100
            a.mov(rdx, 0x5555);
            a.xchg(__qword_ptr[Data + 16], rdx);
            a.mov(eax, 0x1234);
            a.xchg(al, ah);
            a.mov(r11, rax);
            a.mov(esi, 3);
            a.mov(edi, 4);
            a.xadd(esi, edi);                           // esi = 7, edi = 3
            a.mov(eax, 3);
            a.mov(r12d, 3);
            a.mov(r13d, 8);
            a.cmpxchg(r12d, r13d);                      // register form: r12 = 8
            a.int3();
        });
        m.RunToEnd();
        Assert.That(m[Reg.R8] & 0xFF, Is.EqualTo(1UL));
        Assert.That(m[Reg.R9] & 0xFF, Is.Zero);
        Assert.That(m[Reg.R10], Is.EqualTo(9UL));
        Assert.That(m.ReadData(Data), Is.EqualTo(9UL));
        Assert.That(m.ReadData(Data + 8), Is.EqualTo(110UL));
        Assert.That(m[Reg.Rcx], Is.EqualTo(100UL));
        Assert.That(m.ReadData(Data + 16), Is.EqualTo(0x5555UL));
        Assert.That(m[Reg.Rdx], Is.EqualTo(0xAAAAUL));
        Assert.That(m[Reg.R11], Is.EqualTo(0x3412UL));
        Assert.That(m[Reg.Rsi], Is.EqualTo(7UL));
        Assert.That(m[Reg.Rdi], Is.EqualTo(3UL));
        Assert.That(m[Reg.R12], Is.EqualTo(8UL));
    }

    [Test]
    public void Cmpxchg8bAnd16b()
    {
        var m = new TestMachine();
        m.WriteData(Data, 0x1111_1111_2222_2222);
        m.WriteData(Data + 0x10, 0xAAAA);
        m.WriteData(Data + 0x18, 0xBBBB);
        m.Load(a =>
        {
            a.mov(edx, 0x1111_1111);
            a.mov(eax, 0x2222_2222);
            a.mov(ecx, 0x3333_3333);
            a.mov(ebx, 0x4444_4444);
            a.@lock.cmpxchg8b(__qword_ptr[Data]);      // equal
            a.setz(r8b);
            a.mov(rax, 0xAAAA);
            a.mov(rdx, 0);                              // mismatch on the high half
            a.@lock.cmpxchg16b(__xmmword_ptr[Data + 0x10]);
            a.setz(r9b);
            a.int3();
        });
        m.RunToEnd();
        Assert.That(m.ReadData(Data), Is.EqualTo(0x3333_3333_4444_4444UL));
        Assert.That(m[Reg.R8] & 0xFF, Is.EqualTo(1UL));
        Assert.That(m[Reg.R9] & 0xFF, Is.Zero);
        Assert.That(m[Reg.Rax], Is.EqualTo(0xAAAAUL));
        Assert.That(m[Reg.Rdx], Is.EqualTo(0xBBBBUL));
        Assert.That(m.ReadData(Data + 0x18), Is.EqualTo(0xBBBBUL));
    }

    // ------------------------------------------------------------ bits

    [Test]
    public void BitScansAndCounts()
    {
        var m = Run(a =>
        {
            a.mov(ebx, 0x80);
            a.bsf(eax, ebx);
            a.mov(r8, rax);
            a.mov(rbx, 0x8000_0000_0000_0001);
            a.bsr(rax, rbx);
            a.mov(r9, rax);
            a.mov(rcx, 0x1234);
            a.xor(ebx, ebx);
            a.bsf(rcx, rbx);                // zero source: ZF = 1, destination unchanged
            a.pushfq();
            a.mov(rbx, 0xFF_00FF);
            a.popcnt(r10, rbx);
            a.mov(ebx, 1);
            a.lzcnt(r11d, ebx);
            a.xor(ebx, ebx);
            a.lzcnt(r12d, ebx);             // 32, CF = 1
            a.pushfq();
            a.mov(bx, 8);
            a.tzcnt(r13w, bx);
            a.xor(ebx, ebx);
            a.tzcnt(r14, rbx);              // 64
            a.popcnt(r15, rbx);             // 0, ZF
            a.pushfq();
            a.pop(rsi);
            a.pop(rdi);
            a.pop(rdx);
            a.int3();
        });
        Assert.That(m[Reg.R8], Is.EqualTo(7UL));
        Assert.That(m[Reg.R9], Is.EqualTo(63UL));
        Assert.That(m[Reg.Rcx], Is.EqualTo(0x1234UL));
        Assert.That(m[Reg.Rdx] & F.ZF, Is.EqualTo(F.ZF));
        Assert.That(m[Reg.R10], Is.EqualTo(16UL));
        Assert.That(m[Reg.R11], Is.EqualTo(31UL));
        Assert.That(m[Reg.R12], Is.EqualTo(32UL));
        Assert.That(m[Reg.Rdi] & F.CF, Is.EqualTo(F.CF));
        Assert.That(m[Reg.R13] & 0xFFFF, Is.EqualTo(3UL));
        Assert.That(m[Reg.R14], Is.EqualTo(64UL));
        Assert.That(m[Reg.R15], Is.Zero);
        Assert.That(m[Reg.Rsi] & (F.ZF | F.CF | F.OF | F.SF | F.PF), Is.EqualTo(F.ZF));
    }

    [Test]
    public void BtFamilyWithRegisterImmediateAndMemoryBitOffsets()
    {
        var m = new TestMachine();
        m.WriteData(Data + 0x20, 0);
        m.Load(a =>
        {
            a.mov(eax, 0b1010);
            a.bt(eax, 1);
            a.setc(r8b);
            a.bts(eax, 0);                  // 0b1011
            a.btr(eax, 3);                  // 0b0011
            a.mov(ecx, 33);                 // register offset masked to 1
            a.btc(eax, ecx);                // 0b0001, CF = 1
            a.setc(r9b);
            a.mov(r10, rax);
            a.mov(rsi, Data + 0x20);
            a.mov(rcx, 70);
            a.bts(__qword_ptr[rsi], rcx);   // bit 70 = byte 8, bit 6
            a.mov(rcx, -1L);
            a.bts(__qword_ptr[rsi + 16], rcx);   // bit -1 of [rsi+16] = bit 63 of [rsi+8]
            a.bt(__dword_ptr[rsi], 2);
            a.setc(r11b);
            a.int3();
        });
        m.RunToEnd();
        Assert.That(m[Reg.R8] & 0xFF, Is.EqualTo(1UL));
        Assert.That(m[Reg.R9] & 0xFF, Is.EqualTo(1UL));
        Assert.That(m[Reg.R10], Is.EqualTo(1UL));
        Assert.That(m.ReadData(Data + 0x28), Is.EqualTo(0x8000_0000_0000_0040UL));
        Assert.That(m.ReadData(Data + 0x20), Is.Zero);
        Assert.That(m[Reg.R11] & 0xFF, Is.Zero);
    }

    [Test]
    public void BswapXlatAndFlagInstructions()
    {
        var m = new TestMachine();
        m.WriteData(Data + 5, 0xEE, 1);
        m.Load(a =>
        {
            a.mov(rax, 0x0102_0304_0506_0708);
            a.bswap(rax);
            a.mov(r8, rax);
            a.mov(rbx, -1L);
            a.mov(ebx, 0x1122_3344);
            a.bswap(ebx);
            a.mov(rbx, Data);
            a.mov(eax, 5);
            a.xlatb();
            a.mov(r9, rax);
            a.stc();
            a.setc(r10b);
            a.cmc();
            a.setc(r11b);
            a.std();
            a.pushfq();
            a.cld();
            a.pop(r12);
            a.mov(ah, 0xD5);               // SF ZF AF PF CF
            a.sahf();
            a.lahf();
            a.mov(r13, rax);
            a.int3();
        });
        m.RunToEnd();
        Assert.That(m[Reg.R8], Is.EqualTo(0x0807_0605_0403_0201UL));
        Assert.That(m[Reg.Rbx], Is.EqualTo(Data));
        Assert.That(m[Reg.R9] & 0xFF, Is.EqualTo(0xEEUL));
        Assert.That(m[Reg.R10] & 0xFF, Is.EqualTo(1UL));
        Assert.That(m[Reg.R11] & 0xFF, Is.Zero);
        Assert.That(m[Reg.R12] & 0x400, Is.EqualTo(0x400UL), "DF");
        Assert.That((m[Reg.R13] >> 8) & 0xFF, Is.EqualTo(0xD7UL), "lahf: bit 1 reads as 1");
        Assert.That(m.Cpu.Rflags & 0x400, Is.Zero);
    }

    [Test]
    public void BswapOf32BitRegisterZeroExtends()
    {
        var m = Run(a =>
        {
            a.mov(rbx, -1L);
            a.mov(ebx, 0x1122_3344);
            a.bswap(ebx);
            a.int3();
        });
        Assert.That(m[Reg.Rbx], Is.EqualTo(0x4433_2211UL));
    }

    // ------------------------------------------------------------ privileged-level details

    [Test]
    public void PopfAtCpl3CannotChangeIfOrIopl()
    {
        var m = Run(a =>
        {
            a.pushfq();
            a.and(__qword_ptr[rsp], ~0x200);        // clear IF
            a.or(__qword_ptr[rsp], 0x3000 | 0x400 | 0x1);   // IOPL 3, DF, CF
            a.popfq();
            a.pushfq();
            a.pop(rax);
            a.cld();
            a.int3();
        });
        ulong f = m[Reg.Rax];
        Assert.That(f & 0x200, Is.EqualTo(0x200UL), "IF unchanged");
        Assert.That(f & 0x3000, Is.Zero, "IOPL unchanged");
        Assert.That(f & 0x401, Is.EqualTo(0x401UL), "DF and CF changed");
        Assert.That(f & 2, Is.EqualTo(2UL));
    }

    [Test]
    public void CpuidRdtscAndRdtscpUseThePlatform()
    {
        var m = Run(a =>
        {
            a.mov(eax, 7);
            a.mov(ecx, 1);
            a.cpuid();
            a.mov(r8, rax);
            a.mov(r9, rbx);
            a.mov(r10, rcx);
            a.mov(r11, rdx);
            a.rdtsc();
            a.shl(rdx, 32);
            a.or(rax, rdx);
            a.mov(r12, rax);
            a.rdtscp();
            a.int3();
        });
        Assert.That(m[Reg.R8], Is.EqualTo(0x107UL));
        Assert.That(m[Reg.R9], Is.EqualTo(0x201UL));
        Assert.That(m[Reg.R10], Is.EqualTo(0xC0C0_C0C0UL));
        Assert.That(m[Reg.R11], Is.EqualTo(0xD0D0_D0D0UL));
        Assert.That(m[Reg.R12], Is.EqualTo(0x1_0000_0000UL + 1000));
        Assert.That(m[Reg.Rax], Is.EqualTo(2000UL));   // low 32 bits of 0x1_0000_07D0
        Assert.That(m[Reg.Rcx], Is.Zero);
    }

    [Test]
    public void NopFormsAndFencesDoNothing()
    {
        var m = Run(a =>
        {
            a.mov(rax, 1);
            a.nop();
            a.nop(__dword_ptr[rax + rax * 1 + 0x12345]);   // never accessed
            a.AddInstruction(Instruction.Create(Code.Nop_rm16, new MemoryOperand(Register.RAX, Register.RAX, 1, 0, 8)));
            a.endbr64();
            a.lfence();
            a.mfence();
            a.sfence();
            a.prefetchnta(__byte_ptr[0x1234_5678]);
            a.db(0x66, 0x66, 0x2E, 0x0F, 0x1F, 0x84, 0, 0, 0, 0, 0);   // data16 cs nopw
            a.int3();
        });
        Assert.That(m[Reg.Rax], Is.EqualTo(1UL));
    }
}
