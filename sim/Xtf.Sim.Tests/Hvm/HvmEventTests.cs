using Iced.Intel;
using Xtf.Hosting;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Sim.Tests.Hvm;

/// <summary>
/// Event channels and the vector callback of the PVH dom0 model (HvmMachine.Events.cs): shared_info placed in
/// the guest's memory, an IPI port sent with interrupts off and delivered after sti's shadow, and the
/// singleshot timer's VIRQ waking hlt; plus HVMOP's parameter rules.
/// </summary>
[Parallelizable(ParallelScope.All)]
public sealed class HvmEventTests
{
    private const uint SharedGfn = 0x106, Args = 0x105400, Count = 0x105500;

    private static void Call(Assembler a, int nr, uint rdi, uint rsi, uint rdx = 0)
    {
        a.mov(edi, rdi);
        a.mov(esi, rsi);
        a.mov(edx, rdx);
        a.mov(eax, (uint)(PvhKit.HypercallPage + (ulong)nr * 32));
        a.call(rax);
    }

    private static SimResult Run(Action<Assembler> body) =>
        SimMachine.Run(PvhKit.Kernel(more64: body, upcall: u =>
        {
            u.mov(__byte_ptr[SharedGfn << 12], 0);          // evtchn_upcall_pending
            u.inc(__dword_ptr[Count]);
            u.iretq();
        }), new SimOptions { Pvh = true, InstructionLimit = 5_000_000 });

    private static void Setup(Assembler a)
    {
        // XENMEM_add_to_physmap {DOMID_SELF, 0, XENMAPSPACE_shared_info, idx 0, gpfn}
        a.mov(__dword_ptr[Args], 0x7FF0);
        a.mov(__dword_ptr[Args + 4], 0);
        a.mov(__qword_ptr[Args + 8], 0);
        a.mov(__qword_ptr[Args + 16], (int)SharedGfn);
        Call(a, 12, 7, Args);
        // HVMOP_set_param {DOMID_SELF, CALLBACK_IRQ, vector type 2, vector 0x20}
        a.mov(__dword_ptr[Args + 0x40], 0x7FF0);
        a.mov(__dword_ptr[Args + 0x44], 0);
        a.mov(rax, (2L << 56) | 0x20);
        a.mov(__qword_ptr[Args + 0x48], rax);
        Call(a, 34, 0, Args + 0x40);
    }

    [Test]
    public void IpiUpcallWaitsForInterruptsAndTheStiShadow()
    {
        var r = Run(a =>
        {
            Setup(a);
            a.mov(__dword_ptr[Args + 0x80], 0);              // bind_ipi(vcpu 0)
            Call(a, 32, 7, Args + 0x80);
            a.mov(eax, __dword_ptr[Args + 0x84]);
            a.mov(__dword_ptr[Args + 0x90], eax);
            Call(a, 32, 4, Args + 0x90);                     // send, IF clear
            a.mov(eax, __dword_ptr[Count]);
            a.mov(__dword_ptr[Args + 0xA0], eax);            // upcalls before sti
            a.sti();
            a.nop();
            a.cli();
            Call(a, 32, 3, Args + 0x90);                     // close
            Call(a, 32, 4, Args + 0x90);                     // send on the closed port: -EINVAL
            a.mov(eax, __dword_ptr[Args + 0xA0]);
            a.shl(eax, 4);
            a.or(eax, __dword_ptr[Count]);
            a.mov(ebx, eax);
            a.mov(eax, 0xF00D);
            a.mov(edi, 0x99);                                // an unknown sched_op: the trace records the counts
            a.mov(esi, ebx);
            a.mov(eax, (uint)(PvhKit.HypercallPage + 29 * 32));
            a.call(rax);
        });
        Assert.That(r.Trace, Does.Contain("hypercall 12(7, 105400, 0) = 0"), r.Trace);
        Assert.That(r.Trace, Does.Contain("hypercall 34(0, 105440, 0) = 0"), r.Trace);
        Assert.That(r.Trace, Does.Contain("hypercall 32(7, 105480, 0) = 0"), r.Trace);
        Assert.That(r.Trace, Does.Contain("hypercall 32(4, 105490, 0) = 0"), r.Trace);
        Assert.That(r.Trace, Does.Contain("hypercall 32(3, 105490, 0) = 0"), r.Trace);
        Assert.That(r.Trace, Does.Contain("hypercall 32(4, 105490, 0) = -22"), r.Trace);
        // none before sti, one after: (0 << 4) | 1
        Assert.That(r.Trace, Does.Contain("hypercall 29(99, 1, "), r.Trace);
    }

    [Test]
    public void SingleshotTimerWakesHlt()
    {
        var r = Run(a =>
        {
            Setup(a);
            a.mov(__qword_ptr[Args + 0x80], 0);              // bind_virq(VIRQ_TIMER, vcpu 0)
            Call(a, 32, 1, Args + 0x80);
            a.mov(__qword_ptr[Args + 0xC0], 1);              // a deadline already passed, no flags
            a.mov(__qword_ptr[Args + 0xC8], 0);
            Call(a, 24, 8, 0, Args + 0xC0);                  // VCPUOP_set_singleshot_timer
            a.sti();
            a.hlt();
            a.cli();
            a.mov(edi, 0x99);
            a.mov(esi, __dword_ptr[Count]);
            a.mov(eax, (uint)(PvhKit.HypercallPage + 29 * 32));
            a.call(rax);
        });
        Assert.That(r.Trace, Does.Contain("hypercall 32(1, 105480, 0) = 0"), r.Trace);
        Assert.That(r.Trace, Does.Contain("hypercall 24(8, 0, 1054c0) = 0"), r.Trace);
        Assert.That(r.Trace, Does.Contain("hypercall 29(99, 1, "), r.Trace);
        Assert.That(r.End, Is.EqualTo(BootEnd.Shutdown));
    }

    [Test]
    public void HvmParamRules()
    {
        var r = Run(a =>
        {
            foreach (var (op, index) in new[] { (0, 1), (0, 4), (0, 39), (1, 3), (1, 17), (1, 13) })
            {
                a.mov(__dword_ptr[Args], 0x7FF0);
                a.mov(__dword_ptr[Args + 4], index);
                a.mov(__qword_ptr[Args + 8], 0);
                Call(a, 34, (uint)op, Args);
            }
        });
        var rcs = r.Trace.Split('\n').Where(l => l.Contains("hypercall 34(")).Select(l => l[(l.LastIndexOf('=') + 2)..].Trim()).ToArray();
        // set STORE_PFN: -EPERM, set PAE_ENABLED: -EINVAL, index HVM_NR_PARAMS: -EINVAL,
        // get 3: -EPERM, get CONSOLE_PFN: 0, get DM_DOMAIN: -EINVAL
        Assert.That(rcs, Is.EqualTo(new[] { "-1", "-22", "-22", "-1", "0", "-22" }), r.Trace);
    }
}
