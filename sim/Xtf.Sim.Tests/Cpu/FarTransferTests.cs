using Xtf.Sim.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Sim.Tests.Cpu;

/// <summary>
/// Indirect far call and jmp (FF /3, FF /5) in 64-bit mode: the m16:64 and m16:32 forms, the
/// selector checks (null, outside the table, a call gate Xen left at DPL 0), and the frame a far
/// call pushes, which lretq takes back.
/// </summary>
public sealed class FarTransferTests
{
    private const ulong Ptr = TestMachine.DataVa + 0x200;

    private sealed class OneGate(ushort gateSelector, ulong descriptor) : IDescriptorTables
    {
        public DescriptorLookup Read(ushort selector, out ulong d, out ulong faultAddress)
        {
            faultAddress = 0;
            d = (selector & ~3) == (gateSelector & ~3) ? descriptor : 0;
            return d != 0 ? DescriptorLookup.Found : DescriptorLookup.OutsideTable;
        }

        public void MarkAccessed(ushort selector) { }
    }

    private static TestMachine FarCall(byte rex, byte modrm)
    {
        var m = new TestMachine();
        m.Load((a, t) =>
        {
            a.mov(rbx, (long)Ptr);
            a.xor(eax, eax);
            if (rex != 0) a.db(rex);
            a.db(0xFF, modrm);
            t.Mark(a, "back");
            a.int3();
            t.Mark(a, "target");
            a.mov(eax, 0x5a);
            a.db(0x48, 0xCB);      // lretq
            t.Mark(a, "jmp-target");
            a.mov(eax, 0x77);
            a.int3();
        });
        return m;
    }

    [Test]
    public void AFarCallThroughM16_64PushesCsAndReturnThenLretqComesBack()
    {
        var m = FarCall(0x48, 0x1B);           // rex.w call far [rbx]
        m.WriteData(Ptr, m.Address("target"));
        m.WriteData(Ptr + 8, 0xE033, 2);
        m.RunToEnd();
        Assert.That(m[Reg.Rax], Is.EqualTo(0x5aUL));
        Assert.That(m.Cpu.Rip, Is.EqualTo(m.Address("back") + 1));
        Assert.That(m[Reg.Rsp], Is.EqualTo(TestMachine.StackTop));
        Assert.That(m.ReadData(TestMachine.StackTop - 8), Is.EqualTo(0xE033UL), "CS pushed first, as 8 bytes");
        Assert.That(m.ReadData(TestMachine.StackTop - 16), Is.EqualTo(m.Address("back")));
        Assert.That(m.Cpu.Cs, Is.EqualTo((ushort)0xE033));
    }

    [Test]
    public void AFarJmpThroughM16_32TakesAFourByteOffset()
    {
        var m = FarCall(0, 0x2B);              // jmp far [rbx] (m16:32)
        m.WriteData(Ptr, m.Address("jmp-target"), 4);
        m.WriteData(Ptr + 4, 0xE033, 2);
        m.RunToEnd();
        Assert.That(m[Reg.Rax], Is.EqualTo(0x77UL));
        Assert.That(m[Reg.Rsp], Is.EqualTo(TestMachine.StackTop), "a jmp pushes nothing");
    }

    [Test]
    public void ANullSelectorIsGpZero()
    {
        var m = FarCall(0x48, 0x1B);
        m.WriteData(Ptr, m.Address("target"));
        m.WriteData(Ptr + 8, 0x0003, 2);
        var e = m.Run();
        Assert.That((e.Vector, e.ErrorCode, e.HasErrorCode), Is.EqualTo((13, 0u, true)));
        Assert.That(m[Reg.Rsp], Is.EqualTo(TestMachine.StackTop), "nothing pushed before the fault");
    }

    [Test]
    public void ASelectorOutsideTheTableIsGpSelector()
    {
        var m = FarCall(0x48, 0x1B);
        m.Cpu.Descriptors = new OneGate(0x1007, 0);
        m.WriteData(Ptr, m.Address("target"));
        m.WriteData(Ptr + 8, 0x100F, 2);
        var e = m.Run();
        Assert.That((e.Vector, e.ErrorCode), Is.EqualTo((13, 0x100Cu)));
    }

    [Test]
    public void ACallGateXenLeftAtDplZeroIsGpSelectorFromRing3()
    {
        // A present 64-bit call gate (type 0xC) to 0xe033:0, DPL 0 as check_descriptor stores it.
        ulong gate = 0x0000_8C00_0000_0000UL | (0xE033UL << 16);
        var m = FarCall(0x48, 0x1B);
        m.Cpu.Descriptors = new OneGate(0x1007, gate);
        m.WriteData(Ptr, 0);
        m.WriteData(Ptr + 8, 0x1007, 2);
        var e = m.Run();
        Assert.That((e.Vector, e.ErrorCode), Is.EqualTo((13, 0x1004u)));
    }

    [Test]
    public void ADataSegmentIsGpSelectorAndANonPresentCodeSegmentIsNp()
    {
        var data = FarCall(0x48, 0x1B);
        data.Cpu.Descriptors = new OneGate(0x1007, 0x00CF_F300_0000_FFFFUL);
        data.WriteData(Ptr + 8, 0x1007, 2);
        Assert.That(data.Run() is { Vector: 13, ErrorCode: 0x1004u });

        var absent = FarCall(0x48, 0x1B);
        absent.Cpu.Descriptors = new OneGate(0x1007, 0x00AF_7B00_0000_FFFFUL);   // DPL 3 code, P clear
        absent.WriteData(Ptr + 8, 0x1007, 2);
        Assert.That(absent.Run() is { Vector: 11, ErrorCode: 0x1004u });
    }

    [TestCase(false, TestName = "A jmp to a non-canonical address: #GP(0) at the jmp (Intel)")]
    [TestCase(true, TestName = "A jmp to a non-canonical address: #GP(0) at the target (QEMU TCG, as measured under Xen)")]
    public void ANearBranchToANonCanonicalAddress(bool atTarget)
    {
        var m = new TestMachine();
        m.Interp.BranchFaultsAtTarget = atTarget;
        m.Load((a, t) =>
        {
            a.mov(rax, unchecked((long)0x0000_8000_0000_0000UL));
            t.Mark(a, "jmp");
            a.jmp(rax);
            a.int3();
        });
        var e = m.Run();
        Assert.That((e.Vector, e.ErrorCode, e.HasErrorCode), Is.EqualTo((13, 0u, true)));
        Assert.That(m.Cpu.Rip, Is.EqualTo(atTarget ? 0x0000_8000_0000_0000UL : m.Address("jmp")));
    }
}
