using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Pv.Isa;

/// <summary>
/// crc32 (SSE4.2), movbe and rdrand/rdseed in a PV guest (docs/pv-abi.md §18). The CRC-32C of
/// "123456789" is 0xE3069283; rdrand/rdseed values differ by nature, so only CF = 1 and the cleared
/// flags are checked.
/// </summary>
public sealed class CrcMovbeRdrand : XtfTest
{
    public override string Name => "isa-crc32-movbe-rdrand";
    public override string Title => "crc32, movbe, rdrand/rdseed";
    public override string Category => "isa";

    public override void Body(GuestProgram g)
    {
        var a = g.Asm;
        var text = g.Str("123456789");
        var crc = g.Var("crc");
        var crcByBytes = g.Var("crc_bytes");
        var buf = g.Var("buf");
        var loaded = g.Var("movbe_load");
        var stored = g.Var("movbe_store");
        var rdrandF = g.Var("rdrand_f");
        var rdseedF = g.Var("rdseed_f");

        a.mov(rsi, text.Constant);
        a.mov(eax, -1);
        a.crc32(rax, __qword_ptr[rsi]);
        a.crc32(eax, __byte_ptr[rsi + 8]);
        a.not(eax);
        a.mov(__qword_ptr[(long)crc.Address], rax);
        a.mov(ebx, -1);
        a.movzx(ecx, __word_ptr[rsi]);
        a.crc32(ebx, cx);
        a.crc32(ebx, __dword_ptr[rsi + 2]);
        a.crc32(ebx, __word_ptr[rsi + 6]);
        a.mov(dl, __byte_ptr[rsi + 8]);
        a.crc32(ebx, dl);
        a.not(ebx);
        a.mov(__qword_ptr[(long)crcByBytes.Address], rbx);

        a.mov(rax, 0x1122_3344_5566_7788);
        a.movbe(__qword_ptr[(long)buf.Address], rax);
        a.mov(rax, __qword_ptr[(long)buf.Address]);
        a.mov(__qword_ptr[(long)stored.Address], rax);
        a.mov(rcx, -1L);
        a.movbe(ecx, __dword_ptr[(long)buf.Address]);
        a.mov(__qword_ptr[(long)loaded.Address], rcx);

        a.xor(eax, eax);
        a.rdrand(rax);
        a.pushfq();
        a.pop(rax);
        a.mov(__qword_ptr[(long)rdrandF.Address], rax);
        a.xor(eax, eax);
        a.rdseed(eax);
        a.pushfq();
        a.pop(rax);
        a.mov(__qword_ptr[(long)rdseedF.Address], rax);

        g.ExpectEq(crc, 0xE306_9283L, "crc32c(\"123456789\")");
        g.ExpectEq(crcByBytes, 0xE306_9283L, "crc32c through r16, m32, m16, r8");
        g.ExpectEq(stored, unchecked((long)0x8877_6655_4433_2211UL), "movbe store");
        g.ExpectEq(loaded, 0x1122_3344L, "movbe load (32-bit: zero-extended)");
        g.ExpectEq(rdrandF & 0x8D5, 1, "rdrand: CF = 1, OF SF ZF AF PF = 0");
        g.ExpectEq(rdseedF & 0x8D5, 1, "rdseed: CF = 1, OF SF ZF AF PF = 0");
        g.Success();
    }
}
