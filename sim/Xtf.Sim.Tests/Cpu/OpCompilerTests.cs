using Iced.Intel;
using Xtf.Sim.Cpu;
using Xtf.Sim.Memory;

namespace Xtf.Sim.Tests.Cpu;

/// <summary>The Iced-to-op compiler on its own: decoding from a frame, page-crossing, what an op holds.</summary>
[Parallelizable(ParallelScope.All)]
public sealed class OpCompilerTests
{
    private static Op CompileHex(string hex, ulong ip)
    {
        Assert.That(OpCompiler.TryDecodeBytes(Convert.FromHexString(hex), ip, out var ins), Is.True);
        var op = default(Op);
        OpCompiler.Compile(in ins, ref op);
        return op;
    }

    [Test]
    public void RipRelativeOperandsAndBranchesAreRelativeToTheNextInstruction()
    {
        // lea rax, [rip + 0x10] (7 bytes) and jmp +0x20 (5 bytes), at two different addresses: the same op.
        foreach (ulong ip in new ulong[] { 0x40_0000, 0xFFFF_8000_0000_1000 })
        {
            var lea = CompileHex("488d0510000000", ip);
            Assert.That((lea.H, lea.Len, lea.Base, lea.Disp), Is.EqualTo((H.Lea, (byte)7, Op.RipReg, 0x10L)));
            var jmp = CompileHex("e920000000", ip);
            Assert.That((jmp.H, jmp.Len, jmp.Disp), Is.EqualTo((H.Jmp, (byte)5, 0x20L)));
        }
    }

    [Test]
    public void AnUnimplementedInstructionKeepsItsMnemonic()
    {
        var op = CompileHex("c5f858c1", 0x1000);   // vaddps (VEX: not executed)
        Assert.That(op.H, Is.EqualTo(H.Unimplemented));
        Assert.That(op.Len, Is.EqualTo(4));
        Assert.That(OpCompiler.MnemonicName(op.Imm), Is.EqualTo("Vaddps"));
        Assert.That(OpCompiler.MnemonicName(ulong.MaxValue), Is.EqualTo("unknown"));
    }

    [Test]
    public void AnInstructionRunningOffTheFrameIsDecodedWithTheNextPage()
    {
        var frame = new byte[MachineMemory.PageSize];
        var next = new byte[MachineMemory.PageSize];
        byte[] mov = Convert.FromHexString("48b88877665544332211");   // mov rax, imm64: 10 bytes
        int at = MachineMemory.PageSize - 4;
        mov.AsSpan(0, 4).CopyTo(frame.AsSpan(at));
        mov.AsSpan(4).CopyTo(next);
        var compiler = new OpCompiler();
        Assert.That(compiler.TryDecode(frame, at, 0x1000 + (ulong)at, out _), Is.False);
        compiler.DecodeAcross(next, 0x1000 + (ulong)at, out var ins);
        Assert.That(ins.Mnemonic, Is.EqualTo(Mnemonic.Mov));
        Assert.That(ins.Immediate64, Is.EqualTo(0x1122_3344_5566_7788UL));

        // Ending exactly at the frame end needs nothing more.
        Convert.FromHexString("b801000000").CopyTo(frame, MachineMemory.PageSize - 5);
        Assert.That(compiler.TryDecode(frame, MachineMemory.PageSize - 5, 0x1FFB, out ins), Is.True);
        Assert.That(ins.Length, Is.EqualTo(5));
    }

    [Test]
    public void InvalidBytesCompileToInvalid()
    {
        var frame = new byte[MachineMemory.PageSize];
        frame[0] = 0x06;   // push es: invalid in 64-bit mode
        var compiler = new OpCompiler();
        Assert.That(compiler.TryDecode(frame, 0, 0, out var ins), Is.True);
        var op = default(Op);
        OpCompiler.Compile(in ins, ref op);
        Assert.That(op.H, Is.EqualTo(H.Invalid));
        Assert.That(OpCompiler.TryDecodeBytes([0x06], 0, out _), Is.False);
    }
}
