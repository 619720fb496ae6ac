using Iced.Intel;
using Xtf.Sim.Cpu;

namespace Xtf.Sim.Tests.Cpu;

/// <summary>
/// Arithmetic results and flags against hand-computed tables. Only the flags the manuals define are
/// compared (the mask column); the preset column is the arithmetic flags loaded (popf) before the operation.
/// </summary>
[Parallelizable(ParallelScope.All)]
public sealed class FlagTests
{
    private static Register RegA(int size) => size switch { 1 => Register.AL, 2 => Register.AX, 4 => Register.EAX, _ => Register.RAX };
    private static Register RegB(int size) => size switch { 1 => Register.BL, 2 => Register.BX, 4 => Register.EBX, _ => Register.RBX };
    private static Code C(string name) => Enum.Parse<Code>(name);

    /// <summary>rax = a, rbx = b, rcx = count, flags = preset, then the instruction, then int3.</summary>
    private static TestMachine Exec(Instruction ins, ulong a, ulong b, ulong preset, ulong rcx = 0)
    {
        var m = new TestMachine();
        m.Load(asm =>
        {
            asm.AddInstruction(Instruction.Create(Code.Mov_r64_imm64, Register.RAX, a));
            asm.AddInstruction(Instruction.Create(Code.Mov_r64_imm64, Register.RBX, b));
            asm.AddInstruction(Instruction.Create(Code.Mov_r64_imm64, Register.RCX, rcx));
            asm.AddInstruction(Instruction.Create(Code.Pushq_imm32, (int)(preset | 0x202)));
            asm.popfq();
            asm.AddInstruction(ins);
            asm.int3();
        });
        m.RunToEnd();
        return m;
    }

    private static void Check(TestMachine m, int size, ulong result, ulong flags, ulong mask, string what)
    {
        ulong sizeMask = size == 8 ? ulong.MaxValue : (1UL << (8 * size)) - 1;
        Assert.That(m[Reg.Rax] & sizeMask, Is.EqualTo(result), $"{what}: result");
        Assert.That(F.Name(m.Arith & mask), Is.EqualTo(F.Name(flags & mask)), $"{what}: flags");
    }

    // ------------------------------------------------------------ add sub adc sbb cmp and or xor

    [TestCase("Add", 1, 0x7FUL, 0x01UL, 0x80UL, F.AF | F.SF | F.OF, 0UL)]
    [TestCase("Add", 1, 0xFFUL, 0x01UL, 0x00UL, F.CF | F.PF | F.AF | F.ZF, 0UL)]
    [TestCase("Add", 1, 0x80UL, 0x80UL, 0x00UL, F.CF | F.PF | F.ZF | F.OF, 0UL)]
    [TestCase("Add", 1, 0x12UL, 0x34UL, 0x46UL, 0UL, F.All)]
    [TestCase("Add", 2, 0x7FFFUL, 0x0001UL, 0x8000UL, F.PF | F.AF | F.SF | F.OF, 0UL)]
    [TestCase("Add", 4, 0xFFFF_FFFFUL, 0x2UL, 0x1UL, F.CF | F.AF, 0UL)]
    [TestCase("Add", 8, 0x7FFF_FFFF_FFFF_FFFFUL, 0x1UL, 0x8000_0000_0000_0000UL, F.PF | F.AF | F.SF | F.OF, 0UL)]
    [TestCase("Sub", 1, 0x80UL, 0x01UL, 0x7FUL, F.AF | F.OF, 0UL)]
    [TestCase("Sub", 1, 0x00UL, 0x01UL, 0xFFUL, F.CF | F.PF | F.AF | F.SF, 0UL)]
    [TestCase("Sub", 1, 0x05UL, 0x05UL, 0x00UL, F.PF | F.ZF, F.All)]
    [TestCase("Sub", 2, 0x1000UL, 0x0001UL, 0x0FFFUL, F.PF | F.AF, 0UL)]
    [TestCase("Sub", 4, 0x0UL, 0x8000_0000UL, 0x8000_0000UL, F.CF | F.PF | F.SF | F.OF, 0UL)]
    [TestCase("Sub", 8, 0x1UL, 0x2UL, 0xFFFF_FFFF_FFFF_FFFFUL, F.CF | F.PF | F.AF | F.SF, 0UL)]
    [TestCase("Adc", 1, 0x7FUL, 0x00UL, 0x80UL, F.AF | F.SF | F.OF, F.CF)]
    [TestCase("Adc", 1, 0xFFUL, 0x00UL, 0x00UL, F.CF | F.PF | F.AF | F.ZF, F.CF)]
    [TestCase("Adc", 1, 0xFFUL, 0xFFUL, 0xFFUL, F.CF | F.PF | F.AF | F.SF, F.CF)]
    [TestCase("Adc", 4, 0xFFFF_FFFFUL, 0x1UL, 0x0UL, F.CF | F.PF | F.AF | F.ZF, 0UL)]
    [TestCase("Adc", 8, 0x7FFF_FFFF_FFFF_FFFFUL, 0x0UL, 0x8000_0000_0000_0000UL, F.PF | F.AF | F.SF | F.OF, F.CF)]
    [TestCase("Sbb", 1, 0x80UL, 0x00UL, 0x7FUL, F.AF | F.OF, F.CF)]
    [TestCase("Sbb", 1, 0x00UL, 0x00UL, 0xFFUL, F.CF | F.PF | F.AF | F.SF, F.CF)]
    [TestCase("Sbb", 1, 0x05UL, 0x05UL, 0xFFUL, F.CF | F.PF | F.AF | F.SF, F.CF)]
    [TestCase("Sbb", 1, 0xFFUL, 0xFFUL, 0xFFUL, F.CF | F.PF | F.AF | F.SF, F.CF)]
    [TestCase("Sbb", 8, 0x0UL, 0x0UL, 0x0UL, F.PF | F.ZF, 0UL)]
    [TestCase("And", 1, 0xF0UL, 0x0FUL, 0x00UL, F.PF | F.ZF, F.CF | F.OF)]
    [TestCase("Or", 1, 0x80UL, 0x01UL, 0x81UL, F.PF | F.SF, F.CF | F.OF)]
    [TestCase("Xor", 4, 0xFFFF_FFFFUL, 0x7FFF_FFFFUL, 0x8000_0000UL, F.PF | F.SF, F.CF | F.OF)]
    [TestCase("And", 8, 0x8000_0000_0000_0003UL, 0x8000_0000_0000_0001UL, 0x8000_0000_0000_0001UL, F.SF, F.All)]
    [TestCase("Xor", 2, 0x1234UL, 0x1234UL, 0x0UL, F.PF | F.ZF, F.CF | F.OF | F.SF)]
    public void BinaryOperation(string op, int size, ulong a, ulong b, ulong result, ulong flags, ulong preset)
    {
        int bits = size * 8;
        var ins = Instruction.Create(C($"{op}_rm{bits}_r{bits}"), RegA(size), RegB(size));
        ulong mask = op is "And" or "Or" or "Xor" ? F.Logic : F.All;
        var m = Exec(ins, a, b, preset);
        Check(m, size, result, flags, mask, $"{op}{bits} {a:x},{b:x}");
    }

    [TestCase(1, 0x80UL, 0x01UL, F.AF | F.OF)]
    [TestCase(4, 0x0UL, 0x8000_0000UL, F.CF | F.PF | F.SF | F.OF)]
    [TestCase(8, 0x5UL, 0x5UL, F.PF | F.ZF)]
    public void CmpSetsFlagsLikeSubAndKeepsTheOperand(int size, ulong a, ulong b, ulong flags)
    {
        int bits = size * 8;
        var m = Exec(Instruction.Create(C($"Cmp_rm{bits}_r{bits}"), RegA(size), RegB(size)), a, b, 0);
        Check(m, size, a, flags, F.All, "cmp");
    }

    [Test]
    public void AluWithImmediateAndMemoryOperands()
    {
        var m = new TestMachine();
        m.WriteData(TestMachine.DataVa, 0x7F, 1);
        m.WriteData(TestMachine.DataVa + 8, 0x10, 8);
        m.Load(a =>
        {
            a.mov(AssemblerRegisters.rsi, TestMachine.DataVa);
            a.add(AssemblerRegisters.__byte_ptr[AssemblerRegisters.rsi], 1);         // 0x7F + 1 in memory
            a.pushfq();
            a.mov(AssemblerRegisters.rax, 0x30);
            a.sub(AssemblerRegisters.rax, AssemblerRegisters.__qword_ptr[AssemblerRegisters.rsi + 8]);   // 0x30 - 0x10
            a.add(AssemblerRegisters.__qword_ptr[AssemblerRegisters.rsi + 8], AssemblerRegisters.rax);   // 0x10 + 0x20
            a.cmp(AssemblerRegisters.__dword_ptr[AssemblerRegisters.rsi + 8], 0x30);
            a.pop(AssemblerRegisters.rdx);
            a.int3();
        });
        m.RunToEnd();
        Assert.That(m.ReadData(TestMachine.DataVa, 1), Is.EqualTo(0x80));
        Assert.That(F.Name(m[Reg.Rdx] & F.All), Is.EqualTo(F.Name(F.AF | F.SF | F.OF)));
        Assert.That(m[Reg.Rax], Is.EqualTo(0x20));
        Assert.That(m.ReadData(TestMachine.DataVa + 8), Is.EqualTo(0x30));
        Assert.That(F.Name(m.Arith), Is.EqualTo(F.Name(F.PF | F.ZF)));
    }

    // ------------------------------------------------------------ inc dec neg not

    [TestCase("Inc", 1, 0x7FUL, 0x80UL, F.AF | F.SF | F.OF, 0UL)]
    [TestCase("Inc", 1, 0x7FUL, 0x80UL, F.CF | F.AF | F.SF | F.OF, F.CF)]
    [TestCase("Inc", 1, 0xFFUL, 0x00UL, F.PF | F.AF | F.ZF, 0UL)]
    [TestCase("Inc", 8, 0xFFFF_FFFF_FFFF_FFFFUL, 0x0UL, F.CF | F.PF | F.AF | F.ZF, F.CF)]
    [TestCase("Dec", 1, 0x80UL, 0x7FUL, F.AF | F.OF, 0UL)]
    [TestCase("Dec", 1, 0x00UL, 0xFFUL, F.CF | F.PF | F.AF | F.SF, F.CF)]
    [TestCase("Dec", 4, 0x1UL, 0x0UL, F.PF | F.ZF, 0UL)]
    [TestCase("Neg", 1, 0x00UL, 0x00UL, F.PF | F.ZF, F.CF)]
    [TestCase("Neg", 1, 0x80UL, 0x80UL, F.CF | F.SF | F.OF, 0UL)]
    [TestCase("Neg", 1, 0x01UL, 0xFFUL, F.CF | F.PF | F.AF | F.SF, 0UL)]
    [TestCase("Neg", 4, 0x05UL, 0xFFFF_FFFBUL, F.CF | F.AF | F.SF, 0UL)]
    [TestCase("Not", 2, 0x00FFUL, 0xFF00UL, F.CF | F.ZF, F.CF | F.ZF)]
    public void UnaryOperation(string op, int size, ulong a, ulong result, ulong flags, ulong preset)
    {
        var m = Exec(Instruction.Create(C($"{op}_rm{size * 8}"), RegA(size)), a, 0, preset);
        Check(m, size, result, flags, F.All, $"{op}{size * 8} {a:x}");
    }

    // ------------------------------------------------------------ shifts and rotates

    /// <summary>count 0xFF = by CL (rcx holds <paramref name="cl"/>); count 1 uses the D0/D1 form.</summary>
    [TestCase("Shl", 1, 0x81UL, 1, 0UL, 0x02UL, F.CF | F.OF, F.CF | F.OF | F.SF | F.ZF | F.PF, 0UL)]
    [TestCase("Shl", 1, 0x40UL, 1, 0UL, 0x80UL, F.SF | F.OF, F.CF | F.OF | F.SF | F.ZF | F.PF, 0UL)]
    [TestCase("Shl", 4, 0x8000_0001UL, 1, 0UL, 0x2UL, F.CF | F.OF, F.CF | F.OF | F.SF | F.ZF | F.PF, 0UL)]
    [TestCase("Shl", 1, 0xFFUL, 0xFF, 0UL, 0xFFUL, F.CF | F.ZF | F.OF | F.AF, F.All, F.CF | F.ZF | F.OF | F.AF)]   // count 0: nothing changes
    [TestCase("Shl", 1, 0xFFUL, 0xFF, 9UL, 0x00UL, F.ZF | F.PF, F.SF | F.ZF | F.PF, 0UL)]                         // count > width
    [TestCase("Shl", 8, 0x1234UL, 0xFF, 64UL, 0x1234UL, F.CF | F.SF, F.All, F.CF | F.SF)]                        // masked to 0
    [TestCase("Shl", 4, 0x1UL, 0xFF, 33UL, 0x2UL, 0UL, F.CF | F.OF | F.SF | F.ZF | F.PF, F.CF)]                  // masked to 1
    [TestCase("Shl", 2, 0x8001UL, 0xFF, 16UL, 0x0UL, F.ZF | F.PF, F.SF | F.ZF | F.PF, 0UL)]                      // count = width (CF undefined)
    [TestCase("Shr", 1, 0x81UL, 1, 0UL, 0x40UL, F.CF | F.OF, F.CF | F.OF | F.SF | F.ZF | F.PF, 0UL)]
    [TestCase("Shr", 1, 0x01UL, 1, 0UL, 0x00UL, F.CF | F.ZF | F.PF, F.CF | F.OF | F.SF | F.ZF | F.PF, 0UL)]
    [TestCase("Shr", 8, 0x8000_0000_0000_0000UL, 63, 0UL, 0x1UL, 0UL, F.CF | F.SF | F.ZF | F.PF, 0UL)]
    [TestCase("Shr", 4, 0xF0UL, 4, 0UL, 0xFUL, F.PF, F.CF | F.SF | F.ZF | F.PF, 0UL)]
    [TestCase("Sar", 1, 0x81UL, 1, 0UL, 0xC0UL, F.CF | F.SF | F.PF, F.CF | F.OF | F.SF | F.ZF | F.PF, 0UL)]
    [TestCase("Sar", 1, 0x80UL, 7, 0UL, 0xFFUL, F.SF | F.PF, F.CF | F.SF | F.ZF | F.PF, 0UL)]
    [TestCase("Sar", 4, 0x8000_0000UL, 31, 0UL, 0xFFFF_FFFFUL, F.SF | F.PF, F.CF | F.SF | F.ZF | F.PF, 0UL)]
    [TestCase("Sar", 2, 0x4000UL, 0xFF, 15UL, 0x0UL, F.CF | F.ZF | F.PF, F.CF | F.SF | F.ZF | F.PF, 0UL)]
    [TestCase("Rol", 1, 0x81UL, 1, 0UL, 0x03UL, F.CF | F.OF, F.All, 0UL)]
    [TestCase("Rol", 1, 0x81UL, 8, 0UL, 0x81UL, F.CF | F.ZF, F.CF | F.ZF | F.SF | F.PF | F.AF, F.ZF)]           // masked 8: CF = lsb, others kept
    [TestCase("Rol", 8, 0x1UL, 0xFF, 64UL, 0x1UL, F.SF, F.All, F.SF)]                                           // masked to 0
    [TestCase("Ror", 1, 0x01UL, 1, 0UL, 0x80UL, F.CF | F.OF, F.All, 0UL)]
    [TestCase("Ror", 4, 0x1UL, 4, 0UL, 0x1000_0000UL, F.PF, F.CF | F.PF | F.ZF | F.SF | F.AF, F.PF)]
    [TestCase("Rcl", 1, 0x80UL, 1, 0UL, 0x00UL, F.CF | F.OF | F.SF, F.All, F.SF)]
    [TestCase("Rcl", 1, 0x00UL, 1, 0UL, 0x01UL, 0UL, F.All, F.CF)]
    [TestCase("Rcl", 1, 0x81UL, 9, 0UL, 0x81UL, 0UL, F.CF | F.ZF | F.SF | F.PF | F.AF, 0UL)]                     // 9 mod 9 = 0
    [TestCase("Rcl", 8, 0x8000_0000_0000_0000UL, 1, 0UL, 0x1UL, F.CF | F.OF, F.All, F.CF)]
    [TestCase("Rcr", 1, 0x01UL, 1, 0UL, 0x80UL, F.CF | F.OF, F.All, F.CF)]
    [TestCase("Rcr", 4, 0x1UL, 1, 0UL, 0x0UL, F.CF, F.All, 0UL)]
    [TestCase("Rcr", 2, 0x0UL, 0xFF, 17UL, 0x0UL, F.CF, F.CF | F.ZF | F.SF | F.PF | F.AF, F.CF)]                 // 17 mod 17 = 0
    public void ShiftOrRotate(string op, int size, ulong a, int count, ulong cl, ulong result, ulong flags, ulong mask, ulong preset)
    {
        int bits = size * 8;
        var r = RegA(size);
        Instruction ins = count switch
        {
            0xFF => Instruction.Create(C($"{op}_rm{bits}_CL"), r, Register.CL),
            1 => Instruction.Create(C($"{op}_rm{bits}_1"), r, 1),
            _ => Instruction.Create(C($"{op}_rm{bits}_imm8"), r, count),
        };
        var m = Exec(ins, a, 0, preset, cl);
        Check(m, size, result, flags, mask, $"{op}{bits} {a:x} by {(count == 0xFF ? cl : (ulong)count)}");
    }

    [TestCase(true, 4, 0x1234_5678UL, 0x9ABC_DEF0UL, 8, 0x3456_789AUL, F.PF)]
    [TestCase(false, 4, 0x1234_5678UL, 0x9ABC_DEF0UL, 8, 0xF012_3456UL, F.SF | F.PF)]
    [TestCase(true, 8, 0x8000_0000_0000_0000UL, 0x8000_0000_0000_0000UL, 1, 0x1UL, F.CF | F.OF)]
    [TestCase(false, 2, 0x0001UL, 0x0000UL, 1, 0x0000UL, F.CF | F.ZF | F.PF)]
    public void DoubleShift(bool left, int size, ulong dest, ulong src, int count, ulong result, ulong flags)
    {
        int bits = size * 8;
        var ins = Instruction.Create(C($"{(left ? "Shld" : "Shrd")}_rm{bits}_r{bits}_imm8"), RegA(size), RegB(size), count);
        var m = Exec(ins, dest, src, 0);
        ulong mask = count == 1 ? F.CF | F.OF | F.SF | F.ZF | F.PF : F.CF | F.SF | F.ZF | F.PF;
        Check(m, size, result, flags, mask, $"{(left ? "shld" : "shrd")}{bits}");
    }

    // ------------------------------------------------------------ mul imul div idiv

    [TestCase("Mul", 1, 0x80UL, 0x02UL, 0x0100UL, 0UL, F.CF | F.OF)]
    [TestCase("Mul", 1, 0x10UL, 0x0FUL, 0x00F0UL, 0UL, 0UL)]
    [TestCase("Mul", 4, 0xFFFF_FFFFUL, 0xFFFF_FFFFUL, 0x1UL, 0xFFFF_FFFEUL, F.CF | F.OF)]
    [TestCase("Mul", 8, 0xFFFF_FFFF_FFFF_FFFFUL, 0x2UL, 0xFFFF_FFFF_FFFF_FFFEUL, 0x1UL, F.CF | F.OF)]
    [TestCase("Mul", 2, 0x1234UL, 0x0010UL, 0x2340UL, 0x1UL, F.CF | F.OF)]
    [TestCase("Imul", 1, 0xFFUL, 0x02UL, 0xFFFEUL, 0UL, 0UL)]
    [TestCase("Imul", 1, 0x40UL, 0x02UL, 0x0080UL, 0UL, F.CF | F.OF)]
    [TestCase("Imul", 8, 0xFFFF_FFFF_FFFF_FFFEUL, 0x3UL, 0xFFFF_FFFF_FFFF_FFFAUL, 0xFFFF_FFFF_FFFF_FFFFUL, 0UL)]
    [TestCase("Imul", 4, 0x8000_0000UL, 0x2UL, 0x0UL, 0xFFFF_FFFFUL, F.CF | F.OF)]
    public void OneOperandMultiply(string op, int size, ulong a, ulong b, ulong low, ulong high, ulong flags)
    {
        var m = Exec(Instruction.Create(C($"{op}_rm{size * 8}"), RegB(size)), a, b, 0);
        if (size == 1)
        {
            Assert.That(m[Reg.Rax] & 0xFFFF, Is.EqualTo(low), "ax");
        }
        else
        {
            Check(m, size, low, flags, F.CF | F.OF, op);
            ulong sizeMask = size == 8 ? ulong.MaxValue : (1UL << (8 * size)) - 1;
            Assert.That(m[Reg.Rdx] & sizeMask, Is.EqualTo(high), "high half");
            if (size == 4) Assert.That(m[Reg.Rax] >> 32, Is.Zero, "32-bit results zero-extend");
        }
        Assert.That(F.Name(m.Arith & (F.CF | F.OF)), Is.EqualTo(F.Name(flags)));
    }

    [Test]
    public void TwoAndThreeOperandImul()
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            a.mov(AssemblerRegisters.eax, 0x4000_0000);
            a.mov(AssemblerRegisters.ebx, 2);
            a.imul(AssemblerRegisters.eax, AssemblerRegisters.ebx);
            a.pushfq();
            a.mov(AssemblerRegisters.rbx, 5);
            a.imul(AssemblerRegisters.rcx, AssemblerRegisters.rbx, -3);
            a.pushfq();
            a.mov(AssemblerRegisters.dx, 0x100);
            a.imul(AssemblerRegisters.dx, AssemblerRegisters.dx);
            a.pushfq();
            a.pop(AssemblerRegisters.r10);
            a.pop(AssemblerRegisters.r9);
            a.pop(AssemblerRegisters.r8);
            a.int3();
        });
        m.RunToEnd();
        Assert.That(m[Reg.Rax], Is.EqualTo(0x8000_0000UL));
        Assert.That(m[Reg.R8] & (F.CF | F.OF), Is.EqualTo(F.CF | F.OF));
        Assert.That(m[Reg.Rcx], Is.EqualTo(unchecked((ulong)-15L)));
        Assert.That(m[Reg.R9] & (F.CF | F.OF), Is.Zero);
        Assert.That(m[Reg.Rdx] & 0xFFFF, Is.Zero);
        Assert.That(m[Reg.R10] & (F.CF | F.OF), Is.EqualTo(F.CF | F.OF));
    }

    [TestCase("Div", 1, 0x0105UL, 0UL, 0x10UL, 0x10UL, 0x05UL)]
    [TestCase("Div", 2, 0x0005UL, 0x0001UL, 0x0010UL, 0x1000UL, 0x0005UL)]
    [TestCase("Div", 4, 0x0000_0007UL, 0x1UL, 0x2UL, 0x8000_0003UL, 0x1UL)]
    [TestCase("Div", 8, 100UL, 0UL, 7UL, 14UL, 2UL)]
    [TestCase("Div", 8, 0x0UL, 0x1UL, 0x2UL, 0x8000_0000_0000_0000UL, 0UL)]
    [TestCase("Idiv", 1, 0xFFF9UL, 0UL, 0x02UL, 0xFDUL, 0xFFUL)]
    [TestCase("Idiv", 4, 0xFFFF_FFF9UL, 0xFFFF_FFFFUL, 0x2UL, 0xFFFF_FFFDUL, 0xFFFF_FFFFUL)]
    [TestCase("Idiv", 8, 0xFFFF_FFFF_FFFF_FF9CUL, 0xFFFF_FFFF_FFFF_FFFFUL, 7UL, 0xFFFF_FFFF_FFFF_FFF2UL, 0xFFFF_FFFF_FFFF_FFFEUL)]
    public void Divide(string op, int size, ulong rax, ulong rdx, ulong divisor, ulong quotient, ulong remainder)
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            a.AddInstruction(Instruction.Create(Code.Mov_r64_imm64, Register.RAX, rax));
            a.AddInstruction(Instruction.Create(Code.Mov_r64_imm64, Register.RDX, rdx));
            a.AddInstruction(Instruction.Create(Code.Mov_r64_imm64, Register.RBX, divisor));
            a.AddInstruction(Instruction.Create(C($"{op}_rm{size * 8}"), RegB(size)));
            a.int3();
        });
        m.RunToEnd();
        if (size == 1)
        {
            Assert.That(m[Reg.Rax] & 0xFF, Is.EqualTo(quotient), "al");
            Assert.That((m[Reg.Rax] >> 8) & 0xFF, Is.EqualTo(remainder), "ah");
        }
        else
        {
            ulong mask = size == 8 ? ulong.MaxValue : (1UL << (8 * size)) - 1;
            Assert.That(m[Reg.Rax] & mask, Is.EqualTo(quotient), "quotient");
            Assert.That(m[Reg.Rdx] & mask, Is.EqualTo(remainder), "remainder");
        }
    }

    [TestCase("Div", 1, 0x0105UL, 0UL, 0UL)]             // divide by zero
    [TestCase("Div", 1, 0x1000UL, 0UL, 0x10UL)]          // quotient 0x100 does not fit
    [TestCase("Div", 8, 0x0UL, 0x1UL, 0x1UL)]            // 2^64 / 1
    [TestCase("Idiv", 1, 0x8000UL, 0UL, 0xFFUL)]         // -32768 / -1
    [TestCase("Idiv", 4, 0x8000_0000UL, 0xFFFF_FFFFUL, 0xFFFF_FFFFUL)]   // -2^31 / -1
    [TestCase("Idiv", 8, 0x0UL, 0x8000_0000_0000_0000UL, 0xFFFF_FFFF_FFFF_FFFFUL)]   // -2^127 / -1
    [TestCase("Idiv", 8, 0x0UL, 0x1UL, 0x2UL)]           // 2^64 / 2 = 2^63 > long.MaxValue
    public void DivideErrorIsAFaultWithStateUnchanged(string op, int size, ulong rax, ulong rdx, ulong divisor)
    {
        var m = new TestMachine();
        m.Load(a =>
        {
            a.AddInstruction(Instruction.Create(Code.Mov_r64_imm64, Register.RAX, rax));
            a.AddInstruction(Instruction.Create(Code.Mov_r64_imm64, Register.RDX, rdx));
            a.AddInstruction(Instruction.Create(Code.Mov_r64_imm64, Register.RBX, divisor));
            a.AddInstruction(Instruction.Create(C($"{op}_rm{size * 8}"), RegB(size)));
            a.int3();
        });
        var e = m.Run(3);
        Assert.That(e.Kind, Is.EqualTo(ExitKind.Budget));
        string before = m.Snapshot();
        e = m.Run();
        Assert.That(e.Kind, Is.EqualTo(ExitKind.Exception));
        Assert.That(e.Vector, Is.EqualTo(0));
        Assert.That(e.HasErrorCode, Is.False);
        Assert.That(e.Executed, Is.Zero);
        Assert.That(m.Snapshot(), Is.EqualTo(before));
    }
}
