using Iced.Intel;
using Xtf.Sim.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static Xtf.Sim.Tests.Cpu.TestMachine;

namespace Xtf.Sim.Tests.Cpu;

/// <summary>Why Run stops: budget, syscall, traps, software interrupts, privileged instructions, pause; determinism.</summary>
[Parallelizable(ParallelScope.All)]
public sealed class ExitTests
{
    [Test]
    public void BudgetExitLeavesRipAtTheNextInstruction()
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            for (int i = 0; i < 10; i++) a.nop();
            a.int3();
        });
        var e = m.Run(3);
        Assert.That(e.Kind, Is.EqualTo(ExitKind.Budget));
        Assert.That(e.Executed, Is.EqualTo(3));
        Assert.That(m.Cpu.Rip, Is.EqualTo(CodeVa + 3));
        e = m.Run(100);
        Assert.That(e.Vector, Is.EqualTo(3));
        Assert.That(e.Executed, Is.EqualTo(8));
        Assert.That(m.Interp.InstructionsRetired, Is.EqualTo(11));
        Assert.That(m.Run(0).Kind, Is.EqualTo(ExitKind.Budget));
    }

    [Test]
    public void SyscallExitSetsRcxAndR11()
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            a.mov(eax, 0x11);
            a.stc();
            a.syscall();
            a.int3();
        });
        var e = m.Run();
        Assert.That(e.Kind, Is.EqualTo(ExitKind.Syscall));
        Assert.That(e.Executed, Is.EqualTo(3));
        ulong after = CodeVa + 5 + 1 + 2;
        Assert.That(m.Cpu.Rip, Is.EqualTo(after));
        Assert.That(m[Reg.Rcx], Is.EqualTo(after));
        Assert.That(m[Reg.R11], Is.EqualTo(0x203UL), "IF, CF and bit 1");
        Assert.That(m[Reg.Rax], Is.EqualTo(0x11UL));
    }

    [Test]
    public void Int3AndIntNAreTrapsAfterTheInstruction()
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            a.int3();
            a.@int(0x80);
            a.db(0xF1);   // int1 / icebp
            a.nop();
        });
        var e = m.Run();
        Assert.That((e.Kind, e.Vector, e.SoftwareInterrupt, e.HasErrorCode, e.Executed), Is.EqualTo((ExitKind.Exception, 3, false, false, 1L)));
        Assert.That(m.Cpu.Rip, Is.EqualTo(CodeVa + 1));
        e = m.Run();
        Assert.That((e.Kind, e.Vector, e.SoftwareInterrupt, e.Executed), Is.EqualTo((ExitKind.Exception, 0x80, true, 1L)));
        Assert.That(m.Cpu.Rip, Is.EqualTo(CodeVa + 3));
        e = m.Run();
        Assert.That((e.Vector, e.SoftwareInterrupt), Is.EqualTo((1, false)));
        Assert.That(m.Cpu.Rip, Is.EqualTo(CodeVa + 4));
    }

    [Test]
    public void PauseRetiresAndExits()
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            a.pause();
            a.int3();
        });
        var e = m.Run();
        Assert.That(e.Kind, Is.EqualTo(ExitKind.Pause));
        Assert.That(e.Executed, Is.EqualTo(1));
        Assert.That(m.Cpu.Rip, Is.EqualTo(CodeVa + 2));
    }

    [Test]
    public void PauseWithoutExitIsANop()
    {
        var m = new TestMachine();
        m.Interp.ExitOnPause = false;
        m.Load(a =>
        {
            a.pause();
            a.pause();
            a.int3();
        });
        var e = m.Run();
        Assert.That((e.Kind, e.Vector, e.Executed), Is.EqualTo((ExitKind.Exception, 3, 3L)));
    }

    [Test]
    public void StatisticsCountWhatHappened()
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            a.pause();
            a.mov(rax, __qword_ptr[DataVa]);
            a.syscall();
            a.int3();
        });
        m.Run();
        m.Run();
        m.Run();
        var s = m.Interp.Statistics;
        Assert.That((s.Runs, s.PauseExits, s.SyscallExits, s.ExceptionExits, s.InstructionsRetired), Is.EqualTo((3L, 1L, 1L, 1L, 4L)));
        Assert.That(s.Decodes, Is.EqualTo(4));
        Assert.That(s.DecodedFrames, Is.EqualTo(1));
        Assert.That(s.PageWalks, Is.GreaterThanOrEqualTo(2));
    }

    [TestCase("f4", "hlt")]
    [TestCase("fa", "cli")]
    [TestCase("fb", "sti")]
    [TestCase("ec", "in al, dx")]
    [TestCase("e410", "in al, 0x10")]
    [TestCase("ee", "out dx, al")]
    [TestCase("6c", "insb")]
    [TestCase("f3 6e", "rep outsb")]
    [TestCase("0f22d8", "mov cr3, rax")]
    [TestCase("0f20c0", "mov rax, cr0")]
    [TestCase("0f23c0", "mov dr0, rax")]
    [TestCase("0f21f8", "mov rax, dr7")]
    [TestCase("0f0110", "lgdt [rax]")]
    [TestCase("0f0118", "lidt [rax]")]
    [TestCase("0f0010", "lldt [rax]")]
    [TestCase("0f0018", "ltr [rax]")]
    [TestCase("0f01f8", "swapgs")]
    [TestCase("0f30", "wrmsr")]
    [TestCase("0f32", "rdmsr")]
    [TestCase("0f0138", "invlpg [rax]")]
    [TestCase("0f09", "wbinvd")]
    [TestCase("0f08", "invd")]
    [TestCase("0f06", "clts")]
    [TestCase("0f01f0", "lmsw ax")]
    [TestCase("0f33", "rdpmc")]
    [TestCase("480f07", "sysretq")]
    public void PrivilegedInstructionsAreGeneralProtectionAtCpl3(string hex, string what)
    {
        var m = new TestMachine();
        byte[] bytes = Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));
        m.Load(a =>
        {
            a.mov(eax, (int)DataVa);
            a.db(bytes);
            a.int3();
        });
        m.Run(1);
        string before = m.Snapshot();
        var e = m.Run();
        Assert.That((e.Kind, e.Vector, e.HasErrorCode, e.ErrorCode, e.Executed), Is.EqualTo((ExitKind.Exception, 13, true, 0u, 0L)), what);
        Assert.That(m.Snapshot(), Is.EqualTo(before), what);
    }

    [Test]
    public void BranchToANonCanonicalTargetFaultsOnTheBranch()
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            a.mov(rax, unchecked((long)0x8000_0000_0000_0000));
            a.jmp(rax);
        });
        m.Run(1);
        var e = m.Run();
        Assert.That((e.Vector, e.HasErrorCode, e.ErrorCode), Is.EqualTo((13, true, 0u)));
        Assert.That(m.Cpu.Rip, Is.EqualTo(CodeVa + 10));

        var m2 = new TestMachine();
        m2.Cpu.Rip = 0x0000_9000_0000_0000;
        e = m2.Run();
        Assert.That(e.Vector, Is.EqualTo(13), "fetch at a non-canonical rip");
    }

    [Test]
    public void TrapFlagSingleStepsAfterTheNextInstruction()
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            a.pushfq();
            a.or(__qword_ptr[rsp], 0x100);
            a.popfq();
            a.mov(eax, 1);
            a.mov(ebx, 2);
            a.int3();
        });
        var e = m.Run();
        Assert.That((e.Kind, e.Vector, e.Executed), Is.EqualTo((ExitKind.Exception, 1, 4L)));
        Assert.That(m[Reg.Rax], Is.EqualTo(1UL));
        Assert.That(m[Reg.Rbx], Is.Zero);
        e = m.Run();
        Assert.That((e.Vector, e.Executed), Is.EqualTo((1, 1L)));
        Assert.That(m[Reg.Rbx], Is.EqualTo(2UL));
    }

    [Test]
    public void TheSameProgramGivesTheSameStateTwice()
    {
        static (string, long, ulong) Once()
        {
            var m = new TestMachine();
            m.Load(a =>
            {
                var loop = a.CreateLabel();
                a.mov(rsi, (long)DataVa);
                a.mov(ecx, 5000);
                a.mov(rax, 0x1234_5678_9ABC_DEF1);
                a.Label(ref loop);
                a.imul(rax, rax, 0x5DEECE6);
                a.add(rax, 11);
                a.mov(rdx, rax);
                a.shr(rdx, 52);
                a.xor(__qword_ptr[rsi + rdx * 8], rax);
                a.rdtsc();
                a.dec(ecx);
                a.jnz(loop);
                a.int3();
            });
            var e = m.RunToEnd();
            ulong hash = 0;
            for (ulong i = 0; i < 0x1000 * 8; i += 8) hash = hash * 31 + m.ReadData(DataVa + i);
            return (m.Snapshot(), e.Executed, hash);
        }
        Assert.That(Once(), Is.EqualTo(Once()));
    }

    [Test]
    public void SegmentRegisterMoves()
    {
        var m = new TestMachine();
        m.Cpu.Ds = 0xE02B;
        m.Cpu.FsBase = 0x1234;
        m.Load(a =>
        {
            a.mov(rax, -1L);
            a.mov(eax, ds);
            a.mov(ecx, 0);
            a.mov(fs, ecx);                 // null selector: allowed, base cleared
            a.mov(__word_ptr[DataVa], ss);
            a.mov(edx, 0xE02B);
            a.mov(es, edx);
            a.push(fs);
            a.pop(r8);
            a.int3();
        });
        m.RunToEnd();
        Assert.That(m[Reg.Rax], Is.EqualTo(0xE02BUL));
        Assert.That(m.Cpu.Fs, Is.Zero);
        Assert.That(m.Cpu.FsBase, Is.Zero);
        Assert.That(m.ReadData(DataVa, 2), Is.EqualTo(0xE02BUL));
        Assert.That(m.Cpu.Es, Is.EqualTo((ushort)0xE02B));
        Assert.That(m[Reg.R8], Is.Zero);

        var m2 = new TestMachine();
        m2.Load(a =>
        {
            a.xor(eax, eax);
            a.mov(ss, eax);   // null SS at CPL 3: #GP(0)
        });
        var e = m2.Run();
        Assert.That((e.Vector, e.ErrorCode, e.HasErrorCode), Is.EqualTo((13, 0u, true)));
    }

    [Test]
    public void IretqToTheSamePrivilegeLevel()
    {
        var m = new TestMachine();
        m.Load((a, t) =>
        {
            a.mov(rax, rsp);
            a.push(0xE02B);
            a.push(rax);
            a.push(0x202 | 0x1);            // CF
            a.push(0xE033);
            a.lea(rbx, __[t.Label(a, "target")]);
            a.push(rbx);
            a.iretq();
            a.int3();
            t.Mark(a, "target");
            a.setc(cl);
            a.int3();
        });
        m.RunToEnd();
        Assert.That(m[Reg.Rcx] & 0xFF, Is.EqualTo(1UL));
        Assert.That(m[Reg.Rsp], Is.EqualTo(StackTop));
    }
}

/// <summary>A platform that fails: the interpreter must turn that into a #UD exit, never an exception.</summary>
[Parallelizable(ParallelScope.All)]
public sealed class InternalErrorTests
{
    private sealed class ThrowingPlatform : ICpuPlatform
    {
        public (uint Eax, uint Ebx, uint Ecx, uint Edx) Cpuid(uint leaf, uint subleaf) => throw new InvalidOperationException("boom");
        public ulong Rdtsc() => 0;
        public ulong RandomNumber(bool rdseed) => 0;
    }

    [Test]
    public void AnInternalErrorIsAUdExitNamedInternal()
    {
        var template = new TestMachine();
        var interp = new X86Interpreter(template.Memory, new ThrowingPlatform());
        template.Load(a =>
        {
            a.nop();
            a.cpuid();
            a.int3();
        });
        var e = interp.Run(template.Cpu, 100);
        Assert.That(e.Kind, Is.EqualTo(ExitKind.Exception));
        Assert.That(e.Vector, Is.EqualTo(6));
        Assert.That(e.Detail, Does.StartWith("internal:").And.Contain("boom"));
        Assert.That(e.Executed, Is.EqualTo(1));
        Assert.That(template.Cpu.Rip, Is.EqualTo(CodeVa + 1), "rip at the instruction that failed");
    }
}

/// <summary>The run loop allocates nothing once the code is decoded.</summary>
[NonParallelizable]
public sealed class AllocationTests
{
    [Test]
    public void ASteadyStateRunAllocatesNothing()
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            var loop = a.CreateLabel();
            var func = a.CreateLabel();
            a.mov(rsi, (long)DataVa);
            a.mov(ecx, 20_000);
            a.Label(ref loop);
            a.mov(rax, __qword_ptr[rsi]);
            a.add(rax, rcx);
            a.imul(rax, rax, 3);
            a.mov(__qword_ptr[rsi], rax);
            a.call(func);
            a.push(rcx);
            a.mov(rdi, (long)DataVa + 0x100);
            a.mov(ecx, 8);
            a.rep.stosq();
            a.pop(rcx);
            a.bt(rax, 3);
            a.adc(rdx, 0);
            a.dec(ecx);
            a.jnz(loop);
            a.int3();
            a.Label(ref func);
            a.shl(rax, 1);
            a.ret();
        });
        m.RunToEnd();   // decode and warm up
        var vectors = new int[3];
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < vectors.Length; i++)
        {
            m.Cpu.Rip = CodeVa;
            vectors[i] = m.Run(50_000_000).Vector;
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.That(vectors, Is.All.EqualTo(3));
        Assert.That(allocated, Is.Zero, "bytes allocated by three runs of decoded code");
    }
}
