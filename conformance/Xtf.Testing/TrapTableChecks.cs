using Iced.Intel;
using NUnit.Framework;
using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Testing;

/// <summary>
/// On one generated kernel, the trap table handed to HYPERVISOR_set_trap_table: one trap_info per
/// vector 0..31 pointing at that vector's stub, then a zero entry that ends the table. Shared like
/// <see cref="ImageShapeChecks"/>.
/// </summary>
public static class TrapTableChecks
{
    /// <summary>The table's address: the argument (rdi) of the first set_trap_table call.</summary>
    public static ulong TrapTableAddress(LoadedKernel k)
    {
        var code = k.Decode();
        int call = code.FindIndex(i => i.FlowControl == FlowControl.Call &&
                                       i.NearBranchTarget == GuestLayout.StubAddress((int)Hypercall.SetTrapTable));
        Assert.That(call, Is.Positive, "the prologue calls set_trap_table");
        var arg = code.Take(call).Last(i => i.Op0Kind == OpKind.Register && i.Op0Register.GetFullRegister() == Register.RDI);
        Assert.That(arg.Mnemonic, Is.EqualTo(Mnemonic.Mov), arg.ToString());
        Assert.That(arg.Op1Kind, Is.EqualTo(OpKind.Immediate32).Or.EqualTo(OpKind.Immediate64).Or.EqualTo(OpKind.Immediate32to64));
        return arg.GetImmediate(1);
    }

    public static void EveryVectorHasAnEntry(KernelImage image)
    {
        var k = new LoadedKernel(image);
        ulong table = TrapTableAddress(k);
        Assert.That(table % 8, Is.Zero, "trap_info.address is naturally aligned");
        Assert.That(table, Is.InRange(GuestLayout.DataBase, k.Image.CodeBase - 33 * TrapInfo.Layout.Size));

        for (int v = 0; v < 32; v++)
        {
            var e = TrapInfo.Read(k.At(table + (ulong)(v * TrapInfo.Layout.Size), TrapInfo.Layout.Size));
            Assert.Multiple(() =>
            {
                Assert.That(e.Vector, Is.EqualTo(v), $"entry {v}: vector");
                Assert.That(e.Cs, Is.EqualTo(0xe033), $"entry {v}: cs is FLAT_KERNEL_CS");
                Assert.That(e.Cs, Is.EqualTo(PvLayout.FlatKernelCs));
                Assert.That(e.Flags & (byte)TrapInfoFlags.DplMask, Is.EqualTo(v is 3 or 4 ? 3 : 0), $"entry {v}: DPL");
                Assert.That(e.Flags & ~(byte)TrapInfoFlags.DplMask, Is.Zero, $"entry {v}: no other flags");
                Assert.That(k.InCode(e.Address), $"entry {v}: handler 0x{e.Address:x} is inside the code");
                if (k.Image.Symbols.TryGetValue($"rt_trap{v}", out ulong stub))
                    Assert.That(e.Address, Is.EqualTo(stub), $"entry {v}: handler is rt_trap{v}");
            });
        }

        var end = k.At(table + 32 * TrapInfo.Layout.Size, TrapInfo.Layout.Size).ToArray();
        Assert.That(end, Is.All.Zero, "a zero entry (address 0) terminates the table");
    }

    public static void StubsAreDistinctAndResolved(KernelImage image)
    {
        var stubs = Enumerable.Range(0, 32).Select(v => image.Symbols[$"rt_trap{v}"]).ToList();
        Assert.That(stubs, Is.Unique);
        Assert.That(stubs, Is.Ordered, "stubs are emitted in vector order");
    }

    public static void EachStubNamesItsVectorAndFindsTheFrame(KernelImage image)
    {
        // Xen's PV bounce frame: rcx, r11, [error code], rip, cs, rflags, rsp, ss.
        var k = new LoadedKernel(image);
        var code = k.Decode();
        var byIp = code.Select((ins, n) => (ins, n)).ToDictionary(x => x.ins.IP, x => x.n);
        for (int v = 0; v < 32; v++)
        {
            int at = byIp[k.Image.Symbols[$"rt_trap{v}"]];
            var stub = code.Skip(at).TakeWhile(i => i.FlowControl == FlowControl.Next).ToList();
            var jmp = code[at + stub.Count];
            bool ec = v is 8 or 10 or 11 or 12 or 13 or 14 or 17 or 21 or 29 or 30;
            Assert.Multiple(() =>
            {
                Assert.That(stub[0].Op0Register, Is.EqualTo(Register.EDI), $"#{v}: vector in edi");
                Assert.That(stub[0].GetImmediate(1), Is.EqualTo((ulong)v), $"#{v}: vector number");
                Assert.That(jmp.FlowControl, Is.EqualTo(FlowControl.UnconditionalBranch), $"#{v}: ends in a jmp to the common handler");
                Assert.That(stub.Any(i => i.StackPointerIncrement != 0), Is.False, $"#{v}: the stub does not move rsp");

                var lea = stub.Single(i => i.Mnemonic == Mnemonic.Lea);
                Assert.That((lea.Op0Register, lea.MemoryBase, (long)lea.MemoryDisplacement64),
                    Is.EqualTo((Register.RDX, Register.RSP, ec ? 24L : 16L)), $"#{v}: rdx points at the saved rip");
                if (ec)
                {
                    var load = stub.Single(i => i.Op0Register == Register.RSI);
                    Assert.That((load.Op1Kind, load.MemoryBase, (long)load.MemoryDisplacement64),
                        Is.EqualTo((OpKind.Memory, Register.RSP, 16L)), $"#{v}: error code read above rcx and r11");
                }
            });
        }
        var targets = Enumerable.Range(0, 32).Select(v =>
        {
            int at = byIp[k.Image.Symbols[$"rt_trap{v}"]];
            return code.Skip(at).First(i => i.FlowControl != FlowControl.Next).NearBranchTarget;
        }).Distinct().ToList();
        Assert.That(targets, Has.Count.EqualTo(1), "all stubs share one handler");
    }
}
