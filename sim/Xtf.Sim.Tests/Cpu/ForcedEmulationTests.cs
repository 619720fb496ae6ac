using Xtf.Sim.Builder;
using Xtf.Sim.Cpu;
using Xtf.Sim.Xen;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Sim.Tests.Cpu;

/// <summary>
/// Xen's forced emulation for a PV guest's #UD (emul-inv-op.c): <c>ud2; "xen"; cpuid</c> is answered
/// from the domain's CPUID policy (values measured on Xen 4.17.7 under QEMU -cpu max, docs/pv-abi.md
/// §12); the prefix before anything else is a #UD at the ud2; an unreadable prefix or opcode is a #PF
/// with error code 0 at the first unreadable byte; TF gives a #DB after the emulated cpuid.
/// </summary>
public sealed class ForcedEmulationTests
{
    private static readonly byte[] Prefix = [0x0f, 0x0b, 0x78, 0x65, 0x6e];

    [Test]
    public void PrefixAndCpuidAreEmulatedFromThePolicy()
    {
        var rig = new ModelRig();
        var v = rig[0];
        rig.M.Load((a, m) =>
        {
            a.mov(rax, unchecked((long)0xdead_0000_4000_0000));   // only eax is the leaf
            a.mov(rcx, unchecked((long)0xdead_0000_0000_0000));
            a.db(Prefix);
            a.cpuid();
            m.Mark(a, "after");
            a.hlt();
        });
        v.Cpu.CopyFrom(rig.M.Cpu);
        rig.RunGuest(v);

        Assert.That((v.Cpu[Reg.Rax], v.Cpu[Reg.Rbx], v.Cpu[Reg.Rcx], v.Cpu[Reg.Rdx]),
            Is.EqualTo((0x4000_0005UL, 0x566e_6558UL, 0x6558_4d4dUL, 0x4d4d_566eUL)), "XenVMMXenVMM, max leaf 0x40000005, upper halves cleared");
        Assert.That(v.Cpu.Rip, Is.EqualTo(rig.M.Address("after")), "rip past the prefix and cpuid (then hlt's #GP stops the run)");
        Assert.That(rig.Serial.Text, Does.Contain("Unhandled: vec 13, #GP[0000]"));
        Assert.That(rig.Serial.Text, Does.Not.Contain("#UD"));
        Assert.That(rig.Trace.Text, Does.Contain("emulated forced cpuid"));
        Assert.That(rig.M.Platform.CpuidCalls, Is.Zero, "the CPU's own cpuid is not used");
    }

    [Test]
    public void ThePrefixBeforeAnotherInstructionIsAnUd()
    {
        var rig = new ModelRig();
        var v = rig[0];
        rig.M.Load(a =>
        {
            a.db(Prefix);
            a.nop();
        });
        v.Cpu.CopyFrom(rig.M.Cpu);
        rig.RunGuest(v);
        Assert.That(rig.Domain.Crashed, Is.True);
        Assert.That(rig.Serial.Text, Does.Contain("Unhandled: vec 6, #UD[ffffffff]"));
        Assert.That(v.Cpu.Rip, Is.EqualTo(TestMachine.CodeVa), "the #UD is at the ud2");
        Assert.That(rig.Trace.Text, Does.Not.Contain("emulated"));
    }

    [Test]
    public void APlainUd2IsAnUd()
    {
        var rig = new ModelRig();
        var v = rig[0];
        rig.M.Load(a =>
        {
            a.ud2();
            a.ud2();
            a.ud2();
        });
        v.Cpu.CopyFrom(rig.M.Cpu);
        rig.RunGuest(v);
        Assert.That(rig.Serial.Text, Does.Contain("Unhandled: vec 6, #UD[ffffffff]"));
        Assert.That(v.Cpu.Rip, Is.EqualTo(TestMachine.CodeVa));
    }

    [TestCase(3, TestName = "PrefixCutByAnUnmappedPage")]
    [TestCase(5, TestName = "CpuidOpcodeOnAnUnmappedPage")]
    [TestCase(6, TestName = "CpuidOpcodeCutByAnUnmappedPage")]
    public void AnUnreadableByteIsAPageFaultAtIt(int bytesBeforeTheEnd)
    {
        // The code pages end at CodeVa + 16 pages; nothing is mapped after them.
        ulong end = TestMachine.CodeVa + TestMachine.CodePages * 0x1000UL;
        var rig = new ModelRig();
        var v = rig[0];
        rig.M.Load(a =>
        {
            a.db(Prefix);
            a.cpuid();
        }, at: end - (ulong)bytesBeforeTheEnd);
        v.Cpu.CopyFrom(rig.M.Cpu);
        rig.RunGuest(v);
        Assert.That(rig.Serial.Text, Does.Contain("Unhandled: vec 14, #PF[0000]"), "pv_inject_page_fault(0, ...)");
        Assert.That(v.GuestCr2, Is.EqualTo(end), "cr2: the first byte Xen could not read");
        Assert.That(v.Cpu.Rip, Is.EqualTo(end - (ulong)bytesBeforeTheEnd), "rip stays at the ud2");
    }

    [Test]
    public void SingleStepTrapsAfterTheEmulatedCpuid()
    {
        var rig = new ModelRig();
        var v = rig[0];
        rig.M.Load((a, m) =>
        {
            a.xor(eax, eax);
            m.Mark(a, "fep");
            a.db(Prefix);
            a.cpuid();
            m.Mark(a, "after");
            a.nop();
        });
        v.Cpu.CopyFrom(rig.M.Cpu);
        v.Cpu.Rip = rig.M.Address("fep");
        v.Cpu.Rflags |= Traps.FlagTf;
        rig.RunGuest(v);
        Assert.That(rig.Serial.Text, Does.Contain("Unhandled: vec 1, #DB[ffffffff]"));
        Assert.That(v.Cpu.Rip, Is.EqualTo(rig.M.Address("after")), "the #DB is a trap after the cpuid (measured: rip after it)");
        Assert.That(v.Cpu[Reg.Rax], Is.EqualTo(0xdUL), "leaf 0 was emulated");
    }

    [Test]
    public void GuestCpuidFollowsXensRangeRules()
    {
        var cpuid = new GuestCpuid(MachineProfile.For(512, 1, 1));
        Assert.That(cpuid.Leaf(0, 0), Is.EqualTo((0xdu, 0x6874_7541u, 0x444d_4163u, 0x6974_6e65u)), "AuthenticAMD, max basic leaf 0xd");
        Assert.That(cpuid.Leaf(0xe, 0), Is.EqualTo(((uint, uint, uint, uint))default), "beyond the max basic leaf: zeros");
        Assert.That(cpuid.Leaf(1, 5), Is.EqualTo(cpuid.Leaf(1, 0)), "leaf 1 ignores the subleaf");
        Assert.That(cpuid.Leaf(7, 1).Eax, Is.EqualTo(0x1c00u));
        Assert.That(cpuid.Leaf(7, 2), Is.EqualTo(((uint, uint, uint, uint))default));
        Assert.That(cpuid.Leaf(0x4000_0001, 0).Eax, Is.EqualTo(0x0004_0011u), "Xen 4.17");
        Assert.That(cpuid.Leaf(0x4000_0002, 7), Is.EqualTo((1u, 0x4000_0000u, 1u, 0u)));
        Assert.That(cpuid.Leaf(0x4000_0003, 0), Is.EqualTo((4u, 0u, 0u, 0u)));
        Assert.That(cpuid.Leaf(0x4000_0005, 0), Is.EqualTo((0u, 29u, 0u, 0u)), "measured: 0x1d at 512 MiB");
        Assert.That(cpuid.Leaf(0x4000_0005, 1), Is.EqualTo(((uint, uint, uint, uint))default));
        Assert.That(cpuid.Leaf(0x4000_0006, 0), Is.EqualTo(((uint, uint, uint, uint))default));
        Assert.That(cpuid.Leaf(0x4000_0100, 0), Is.EqualTo(((uint, uint, uint, uint))default), "not Viridian: past the limit");
        Assert.That(cpuid.Leaf(0x8000_0000, 0).Eax, Is.EqualTo(0x8000_000au));
        Assert.That(cpuid.Leaf(0x8000_000b, 0), Is.EqualTo(((uint, uint, uint, uint))default));
        Assert.That(cpuid.Leaf(0xc000_0000, 0), Is.EqualTo(((uint, uint, uint, uint))default));
        Assert.That(new GuestCpuid(MachineProfile.For(4096, 1, 1)).Leaf(0x4000_0005, 0).Ebx, Is.EqualTo(33u), "frames up to 0x13ffff (not measured)");
    }

    [Test]
    public void PlainCpuidIsTheCpusOwnAsMeasured()
    {
        var p = MachineProfile.For(512, 1, 1);
        Assert.That(p.CpuidFaulting, Is.False);
        Assert.That(p.NativeCpuid(0x4000_0000, 0), Is.EqualTo((0x4000_0001u, 0x5447_4354u, 0x4354_4743u, 0x4743_5447u)), "QEMU's TCGTCGTCGTCG");
        Assert.That(p.NativeCpuid(0x4000_0001, 0), Is.EqualTo(((uint, uint, uint, uint))default));
        Assert.That(p.NativeCpuid(0xe, 1), Is.EqualTo(p.NativeCpuid(0xd, 1)), "above the max basic leaf: leaf 0xd, same subleaf");
        Assert.That(p.NativeCpuid(0x4000_0003, 1), Is.EqualTo((5u, 0x3c8u, 0u, 0u)), "measured");
        Assert.That(p.NativeCpuid(0x8000_000b, 0), Is.EqualTo((0x21fu, 0x240u, 0xa88u, 0u)), "measured");
        Assert.That(p.NativeCpuid(0xb, 3), Is.EqualTo((0u, 0u, 3u, 0u)), "measured");
        Assert.That(p.NativeCpuid(1, 0).Ecx & (1u << 3), Is.Not.Zero, "MONITOR is the CPU's (the policy hides it)");
    }
}
