using Xtf.Sim.Cpu;
using Xtf.Sim.Xen;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Sim.Tests.Cpu;

/// <summary>
/// Xen's emulation of privileged instructions for a PV guest kernel (emul-priv-op.c): the
/// interpreter raises #GP(0) at CPL 3 and the model emulates mov from CR0/CR2/CR3/CR4 and mov to
/// CR2 before the fault reaches the guest. Values measured on Xen 4.17.7 under QEMU -cpu max
/// (a probe in test-pv64-vcpu-dom0-initial-state printed cr0 80050033 cr2 0 cr4 660).
/// </summary>
public sealed class PrivilegedOpTests
{
    [Test]
    public void ControlRegisterReadsAreEmulatedWithXensPvView()
    {
        var rig = new ModelRig();
        var v = rig[0];
        rig.M.Load((a, m) =>
        {
            a.mov(rax, cr0);
            a.mov(rbx, cr3);
            a.mov(rcx, cr4);
            a.mov(rdx, cr2);
            a.mov(r9, 0xdead_0000);
            a.mov(cr2, r9);
            a.mov(r12, cr2);
            m.Mark(a, "fault");
            a.mov(rax, cr8);
            a.hlt();
        });
        v.Cpu.CopyFrom(rig.M.Cpu);
        v.GuestCr2 = 0x1234;
        rig.RunGuest(v);

        Assert.That(v.Cpu[Reg.Rax], Is.EqualTo(0x8005_0033UL), "CR0: PE MP ET NE WP AM PG, TS clear");
        Assert.That(v.Cpu[Reg.Rbx], Is.EqualTo(rig.M.L4Mfn << 12), "CR3: the L4's machine address");
        Assert.That(v.Cpu[Reg.Rcx], Is.EqualTo(0x660UL), "CR4: PAE MCE OSFXSR OSXMMEXCPT");
        Assert.That(v.Cpu[Reg.Rdx], Is.EqualTo(0x1234UL), "CR2: the last #PF address Xen delivered");
        Assert.That(v.Cpu[Reg.R12], Is.EqualTo(0xdead_0000UL), "a CR2 write is read back");
        ulong archCr2 = rig.M.Memory.ReadU64((ModelRig.SharedInfoMfn << 12) + 16);
        Assert.That(archCr2, Is.EqualTo(0xdead_0000UL), "a CR2 write also lands in vcpu_info.arch.cr2");

        // CR8 is not emulated for a PV guest: the #GP(0) reaches the guest (no handler: crash).
        Assert.That(rig.Domain.Crashed, Is.True);
        Assert.That(v.Cpu.Rip, Is.EqualTo(rig.M.Address("fault")), "rip stays at the unemulated instruction");
        Assert.That(rig.Serial.Text, Does.Contain("d0v0 Unhandled: vec 13, #GP[0000]"));
        Assert.That(rig.Trace.Text.Split('\n').Count(l => l.Contains("emulated", StringComparison.Ordinal)), Is.EqualTo(6));
    }

    [Test]
    public void AGpWithAnErrorCodeIsNotEmulated()
    {
        // A #GP(sel) never goes through the emulator: Xen emulates only for error code 0.
        var rig = new ModelRig();
        var v = rig[0];
        rig.M.Load(a => a.mov(rax, cr0));
        v.Cpu.CopyFrom(rig.M.Cpu);
        var e = rig.M.Interp.Run(v.Cpu, 10);
        Assert.That((e.Kind, e.Vector, e.ErrorCode), Is.EqualTo((ExitKind.Exception, 13, 0u)));
        rig.Hv.DeliverException(v, e with { ErrorCode = 0x18 });
        Assert.That(rig.Domain.Crashed, Is.True);
        Assert.That(rig.Serial.Text, Does.Contain("#GP[0018]"));
        Assert.That(v.Cpu[Reg.Rax], Is.Zero);
    }
}
