using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Pv.Isa;

/// <summary>
/// BMI1, BMI2 and ADX in a PV guest (docs/pv-abi.md §18): results and the defined flags of andn,
/// bextr, blsi, blsmsk, blsr, tzcnt, lzcnt, popcnt, bzhi, mulx, pdep, pext, rorx, sarx, shlx, shrx,
/// adcx and adox. The measured CPU (QEMU TCG -cpu max) advertises all of them.
/// </summary>
public sealed class BmiAdx : XtfTest
{
    public override string Name => "isa-bmi-adx";
    public override string Title => "BMI1/BMI2/ADX/LZCNT/POPCNT: results and defined flags";
    public override string Category => "isa";

    public override void Body(GuestProgram g)
    {
        var a = g.Asm;
        Val V(string name) => g.Var(name);
        void Store(Val v, Iced.Intel.AssemblerRegister64 r) => a.mov(__qword_ptr[(long)v.Address], r);
        void Flags(Val v)
        {
            a.pushfq();
            a.pop(rax);
            a.and(eax, 0x8C5);      // OF SF ZF PF CF... masked below per instruction
            a.mov(__qword_ptr[(long)v.Address], rax);
        }

        var andn = V("andn"); var andnF = V("andn_f");
        var bextr = V("bextr"); var bextrF = V("bextr_f");
        var blsi = V("blsi"); var blsiF = V("blsi_f");
        var blsmsk = V("blsmsk"); var blsmskF = V("blsmsk_f");
        var blsr = V("blsr"); var blsrF = V("blsr_f");
        var blsr0F = V("blsr0_f");
        var tz = V("tzcnt"); var tzF = V("tzcnt_f"); var tz0 = V("tzcnt0"); var tz0F = V("tzcnt0_f");
        var lz = V("lzcnt"); var lzF = V("lzcnt_f");
        var pop = V("popcnt"); var popF = V("popcnt_f");
        var bzhi = V("bzhi"); var bzhiF = V("bzhi_f"); var bzhi64F = V("bzhi64_f");
        var mulxHi = V("mulx_hi"); var mulxLo = V("mulx_lo");
        var pdep = V("pdep"); var pext = V("pext");
        var rorx = V("rorx"); var sarx = V("sarx"); var shlx = V("shlx"); var shrx = V("shrx");
        var adcx = V("adcx"); var adox = V("adox"); var adF = V("adx_f");

        a.mov(rbx, 0x1234_5678_9ABC_DEF0);
        a.mov(rcx, unchecked((long)0xFF00_FF00_FF00_FF00UL));
        a.andn(rdx, rcx, rbx); Store(andn, rdx); Flags(andnF);
        a.mov(ecx, 0x1008);                               // start 8, length 16
        a.bextr(rdx, rbx, rcx); Store(bextr, rdx); Flags(bextrF);
        a.blsi(rdx, rbx); Store(blsi, rdx); Flags(blsiF);
        a.blsmsk(rdx, rbx); Store(blsmsk, rdx); Flags(blsmskF);
        a.blsr(rdx, rbx); Store(blsr, rdx); Flags(blsrF);
        a.xor(esi, esi);
        a.blsr(rdx, rsi); Flags(blsr0F);
        a.tzcnt(rdx, rbx); Store(tz, rdx); Flags(tzF);
        a.tzcnt(rdx, rsi); Store(tz0, rdx); Flags(tz0F);
        a.lzcnt(rdx, rbx); Store(lz, rdx); Flags(lzF);
        a.popcnt(rdx, rbx); Store(pop, rdx); Flags(popF);
        a.mov(ecx, 20);
        a.bzhi(rdx, rbx, rcx); Store(bzhi, rdx); Flags(bzhiF);
        a.mov(ecx, 200);
        a.bzhi(rdx, rbx, rcx); Flags(bzhi64F);
        a.mov(rdx, rbx);
        a.mov(rcx, rbx);
        a.mulx(rdi, rsi, rcx); Store(mulxHi, rdi); Store(mulxLo, rsi);
        a.mov(ecx, 0xF0F0);
        a.pdep(rdx, rbx, rcx); Store(pdep, rdx);
        a.pext(rdx, rbx, rcx); Store(pext, rdx);
        a.rorx(rdx, rbx, 12); Store(rorx, rdx);
        a.mov(ecx, 68);                                   // masked to 4
        a.mov(rdi, unchecked((long)0x8000_0000_0000_0010UL));
        a.sarx(rdx, rdi, rcx); Store(sarx, rdx);
        a.shlx(rdx, rdi, rcx); Store(shlx, rdx);
        a.shrx(rdx, rdi, rcx); Store(shrx, rdx);
        a.xor(eax, eax);                                  // CF = OF = 0
        a.stc();
        a.mov(rdx, -1L);
        a.mov(rcx, 1);
        a.adcx(rdx, rcx); Store(adcx, rdx);               // -1 + 1 + CF: 1, CF = 1
        a.mov(rdi, 5);
        a.adox(rdi, rcx); Store(adox, rdi);               // OF was 0: 6, OF = 0
        Flags(adF);

        const long ZF = 0x40, CF = 1, SF = 0x80, OF = 0x800;
        g.ExpectEq(andn, 0x0034_0078_00BC_00F0L, "andn");
        g.ExpectEq(andnF & (ZF | SF | CF | OF), 0, "andn flags");
        g.ExpectEq(bextr, 0xBCDEL, "bextr");
        g.ExpectEq(bextrF & (ZF | CF | OF), 0, "bextr flags");
        g.ExpectEq(blsi, 0x10L, "blsi");
        g.ExpectEq(blsiF & (ZF | SF | CF | OF), CF, "blsi flags");
        g.ExpectEq(blsmsk, 0x1FL, "blsmsk");
        g.ExpectEq(blsmskF & (ZF | SF | CF | OF), 0, "blsmsk flags");
        g.ExpectEq(blsr, 0x1234_5678_9ABC_DEE0L, "blsr");
        g.ExpectEq(blsrF & (ZF | SF | CF | OF), 0, "blsr flags");
        g.ExpectEq(blsr0F & (ZF | SF | CF | OF), ZF | CF, "blsr 0 flags");
        g.ExpectEq(tz, 4, "tzcnt");
        g.ExpectEq(tzF & (ZF | CF), 0, "tzcnt flags");
        g.ExpectEq(tz0, 64, "tzcnt 0");
        g.ExpectEq(tz0F & (ZF | CF), CF, "tzcnt 0 flags");
        g.ExpectEq(lz, 3, "lzcnt");
        g.ExpectEq(lzF & (ZF | CF), 0, "lzcnt flags");
        g.ExpectEq(pop, 32, "popcnt");
        g.ExpectEq(popF, 0, "popcnt flags");
        g.ExpectEq(bzhi, 0xCDEF0L, "bzhi");
        g.ExpectEq(bzhiF & (ZF | SF | CF | OF), 0, "bzhi flags");
        g.ExpectEq(bzhi64F & (ZF | CF | OF), CF, "bzhi 200 flags");
        g.ExpectEq(mulxHi, 0x014B_66DC_33F6_ACDCL, "mulx high");
        g.ExpectEq(mulxLo, unchecked((long)0xA5E2_0890_F2A5_2100UL), "mulx low");
        g.ExpectEq(pdep, 0xF000L, "pdep");
        g.ExpectEq(pext, 0xDFL, "pext");
        g.ExpectEq(rorx, unchecked((long)0xEF01_2345_6789_ABCDUL), "rorx");
        g.ExpectEq(sarx, unchecked((long)0xF800_0000_0000_0001UL), "sarx");
        g.ExpectEq(shlx, 0x100L, "shlx");
        g.ExpectEq(shrx, 0x0800_0000_0000_0001L, "shrx");
        g.ExpectEq(adcx, 1, "adcx");
        g.ExpectEq(adox, 6, "adox");
        g.ExpectEq(adF & (CF | OF), CF, "adcx/adox flags");
        g.Print("mulx %p:%p andn-flags %p bextr-flags %p\n", mulxHi, mulxLo, andnF, bextrF);
        g.Success();
    }
}
