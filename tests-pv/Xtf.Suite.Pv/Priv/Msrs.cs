using Xtf.Guest;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Suite.Pv.Priv;

/// <summary>
/// rdmsr and wrmsr in guest kernel mode (docs/pv-abi.md §16.4): EFER 0xd01, APIC_BASE 0xfee00900,
/// PAT and MISC_ENABLE as Xen shows them; DEBUGCTL and an unknown index are #GP(0); the FS base
/// MSR writes and reads back, and a non-canonical value is #GP(0).
/// </summary>
public sealed class Msrs : XtfTest
{
    public override string Name => "priv-msrs";
    public override string Title => "rdmsr/wrmsr: EFER, APIC_BASE, PAT, refusals, the FS base";
    public override string Category => "priv";

    public override void Body(GuestProgram g)
    {
        var index = g.Var("msr_index");
        var value = g.Var("msr_value");
        var a = g.Asm;
        var rd = g.Function("read_msr", () =>
        {
            a.mov(ecx, __dword_ptr[(long)index.Address]);
            a.rdmsr();
            a.shl(rdx, 32);
            a.or(rax, rdx);
            a.mov(__qword_ptr[(long)value.Address], rax);
            a.ret();
        });
        FaultRecord Read(uint msr)
        {
            g.Set(index, msr);
            g.Set(value, -1);
            return g.Guarded(() => g.Call(rd));
        }
        FaultRecord Write(uint msr, Val v)
        {
            g.Set(index, msr);
            g.Set(value, v);
            return g.Guarded(() =>
            {
                a.mov(ecx, __dword_ptr[(long)index.Address]);
                a.mov(rax, __qword_ptr[(long)value.Address]);
                a.mov(rdx, rax);
                a.shr(rdx, 32);
                a.wrmsr();
            });
        }

        foreach (var (msr, expected, name) in new (uint, long, string)[]
                 {
                     (0xc0000080, 0xd01, "EFER"), (0x1b, 0xfee00900, "APIC_BASE"), (0x277, 0x0000050100070406, "PAT"),
                     (0x1a0, 0x801801, "MISC_ENABLE"), (0x179, 2, "MCG_CAP"), (0xce, 0, "PLATFORM_INFO"),
                 })
        {
            var f = Read(msr);
            g.ExpectEq(f.Vector, -1, $"rdmsr {name}");
            g.ExpectEq(value, expected, $"{name} value");
        }
        foreach (var (msr, name) in new (uint, string)[] { (0x1d9, "DEBUGCTL"), (0x3a, "FEATURE_CONTROL"), (0xc0000081, "STAR"), (0x2000, "0x2000") })
        {
            var f = Read(msr);
            g.ExpectEq(f.Vector, 13, $"rdmsr {name}: #GP");
            g.ExpectEq(f.ErrorCode, 0, $"rdmsr {name}: error code");
        }

        var w = Write(0xc0000100, 0x1234_5000);
        g.ExpectEq(w.Vector, -1, "wrmsr FS_BASE");
        Read(0xc0000100);
        g.ExpectEq(value, 0x1234_5000, "FS_BASE reads back");
        w = Write(0xc0000100, 0x0000_8000_0000_0000L);
        g.ExpectEq(w.Vector, 13, "wrmsr FS_BASE non-canonical: #GP");
        Read(0xc0000100);
        g.ExpectEq(value, 0x1234_5000, "FS_BASE unchanged");
        w = Write(0xc0000100, 0);
        g.ExpectEq(w.Vector, -1, "wrmsr FS_BASE = 0");
        w = Write(0x1d9, 0);
        g.ExpectEq(w.Vector, 13, "wrmsr DEBUGCTL: #GP");
        // Writing back the value read, and that value with bit 0 flipped.
        var same = g.Var("same_vector");
        foreach (uint msr in new uint[] { 0x0, 0x1, 0x1b, 0x8b, 0xce, 0x140, 0x179, 0x17a, 0x17b, 0x1a0, 0x277, 0x280, 0x29f, 0x345,
                                          0x400, 0x401, 0x402, 0x403, 0x404, 0x407, 0x408, 0x47f, 0xc0000080, 0xc0000103 })
        {
            Read(msr);
            var old = g.Var($"old_{msr:x}");
            g.Set(old, value);
            g.Set(same, Write(msr, old).Vector);
            var flipped = Write(msr, old ^ 1);
            var fv = g.Var($"flip_{msr:x}");
            g.Set(fv, flipped.Vector);
            Read(msr);
            g.Print($"wrmsr {msr:x}: same %d, bit 0 flipped %d, then reads %p\n", same, fv, value);
            Write(msr, old);
        }
        g.Success();
    }
}
