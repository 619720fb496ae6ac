using Iced.Intel;
using NUnit.Framework;
using Xtf.Guest;

namespace Xtf.Testing;

/// <summary>
/// On one generated kernel: the code region decodes cleanly, its control flow stays inside the image,
/// and the prologue does what Xen's entry conditions need. Shared like <see cref="ImageShapeChecks"/>.
/// </summary>
public static class CodeDecodeChecks
{
    /// <summary>Hypercall numbers Xen 4.17 fills stubs for and this suite may use.</summary>
    public const int HypercallLimit = 56;

    public static void EveryInstructionDecodes(KernelImage image)
    {
        var k = new LoadedKernel(image);
        var code = k.Decode();
        Assert.That(code, Is.Not.Empty);
        var invalid = code.Where(i => i.Code == Code.INVALID).Select(i => $"0x{i.IP:x}").ToList();
        Assert.That(invalid, Is.Empty, "undecodable bytes in the code region");
        Assert.That(code[^1].NextIP, Is.EqualTo(k.Image.CodeBase + (ulong)k.Image.CodeSize),
            "the last instruction ends exactly at the end of the code");
        Assert.That(code[^1].Code, Is.EqualTo(Code.Ud2), "nothing falls off the end of the code");
    }

    public static void HypercallsTargetStubBoundaries(KernelImage image)
    {
        var k = new LoadedKernel(image);
        // Calls, and jmps for hypercalls that do not return (iret from an event callback).
        var calls = k.Decode()
            .Where(i => i.FlowControl is FlowControl.Call or FlowControl.UnconditionalBranch && i.Op0Kind == OpKind.NearBranch64)
            .Where(i => i.NearBranchTarget >= GuestLayout.HypercallPage &&
                        i.NearBranchTarget < GuestLayout.HypercallPage + GuestLayout.PageSize)
            .ToList();
        Assert.That(calls, Is.Not.Empty, "a kernel makes hypercalls");
        var numbers = new HashSet<int>();
        foreach (var call in calls)
        {
            ulong offset = call.NearBranchTarget - GuestLayout.HypercallPage;
            Assert.That(offset % GuestLayout.StubSize, Is.Zero, $"call at 0x{call.IP:x} lands inside a stub (0x{call.NearBranchTarget:x})");
            int nr = (int)(offset / GuestLayout.StubSize);
            Assert.That(nr, Is.LessThan(HypercallLimit), $"call at 0x{call.IP:x}: hypercall {nr}");
            numbers.Add(nr);
        }
        // Every kernel installs its trap table, writes to the console and shuts down.
        Assert.That(numbers, Is.SupersetOf(new[]
        {
            (int)Abi.Hypercall.SetTrapTable, (int)Abi.Hypercall.ConsoleIo, (int)Abi.Hypercall.SchedOp,
        }));
    }

    public static void BranchesStayInsideTheCode(KernelImage image)
    {
        var k = new LoadedKernel(image);
        var code = k.Decode();
        var starts = code.Select(i => i.IP).ToHashSet();
        foreach (var i in code)
        {
            if (i.Op0Kind != OpKind.NearBranch64) continue;
            ulong t = i.NearBranchTarget;
            bool stub = t >= GuestLayout.HypercallPage && t < GuestLayout.HypercallPage + GuestLayout.PageSize;
            if (stub)
            {
                Assert.That(i.FlowControl, Is.EqualTo(FlowControl.Call).Or.EqualTo(FlowControl.UnconditionalBranch),
                    $"0x{i.IP:x}: only calls and jmps (iret) go to the hypercall page");
                Assert.That((t - GuestLayout.HypercallPage) % GuestLayout.StubSize, Is.Zero, $"0x{i.IP:x}: lands inside a stub");
                continue;
            }
            Assert.That(starts, Does.Contain(t), $"0x{i.IP:x} {i}: target 0x{t:x} is not an instruction start in the code");
        }
        Assert.That(code.Any(i => i.FlowControl == FlowControl.IndirectBranch || i.FlowControl == FlowControl.IndirectCall),
            Is.False, "the generator emits no indirect jumps or calls");
    }

    public static void PrologueSavesStartInfoThenSwitchesStacks(KernelImage image)
    {
        var k = new LoadedKernel(image);
        var code = k.Decode();
        var first = code[0];
        Assert.That(first.IP, Is.EqualTo(k.Image.Symbols["rt_entry"]));
        Assert.Multiple(() =>
        {
            Assert.That(first.Code, Is.EqualTo(Code.Mov_rm64_r64), first.ToString());
            Assert.That(first.Op0Kind, Is.EqualTo(OpKind.Memory));
            Assert.That(first.Op1Register, Is.EqualTo(Register.RSI), "start_info arrives in rsi");
            Assert.That(first.MemoryBase, Is.EqualTo(Register.None).Or.EqualTo(Register.RIP));
            Assert.That(first.MemoryIndex, Is.EqualTo(Register.None));
            ulong slot = LoadedKernel.MemoryAddress(first);
            Assert.That(slot, Is.InRange(GuestLayout.DataBase, k.Image.CodeBase - 8), "the start_info variable is in data");
            Assert.That(slot % 8, Is.Zero);
            Assert.That(k.U64(slot), Is.Zero, "start_info starts zeroed");
        });

        // Then Xen's rsp is kept (BootStackPointer) and rsp moves to the kernel stack, which lies
        // in data, before anything is pushed.
        var saved = code[1];
        Assert.That((saved.Code, saved.Op1Register), Is.EqualTo((Code.Mov_rm64_r64, Register.RSP)), saved.ToString());
        Assert.That(LoadedKernel.MemoryAddress(saved), Is.InRange(GuestLayout.DataBase, k.Image.CodeBase - 8), "the boot rsp variable is in data");
        var second = code[2];
        Assert.That(second.Op0Register, Is.EqualTo(Register.ESP).Or.EqualTo(Register.RSP), second.ToString());
        Assert.That(second.Op1Kind, Is.EqualTo(OpKind.Immediate32).Or.EqualTo(OpKind.Immediate64).Or.EqualTo(OpKind.Immediate32to64));
        ulong top = second.GetImmediate(1);
        Assert.That(top % 16, Is.Zero, "the stack top is 16-byte aligned");
        Assert.That(top, Is.InRange(GuestLayout.DataBase + (ulong)GuestLayout.StackSize, k.Image.CodeBase));
        Assert.That(code.Take(3).Any(i => i.StackPointerIncrement != 0), Is.False);
    }

    public static void PrologueChecksTheHypercallPageBeforeAnyCall(KernelImage image)
    {
        var code = new LoadedKernel(image).Decode();
        int firstCall = code.FindIndex(i => i.FlowControl == FlowControl.Call);
        int load = code.FindIndex(i => i.Code is Code.Mov_r64_rm64 or Code.Mov_RAX_moffs64 && i.Op0Register == Register.RAX &&
                                      i.Op1Kind == OpKind.Memory && LoadedKernel.MemoryAddress(i) == GuestLayout.HypercallPage);
        Assert.That(load, Is.GreaterThanOrEqualTo(0), "the prologue reads the first stub");
        Assert.That(load, Is.LessThan(firstCall), "before the first call into the page");
        var cmp = code.Skip(load).First(i => i.Mnemonic == Mnemonic.Cmp);
        var jne = code[code.IndexOf(cmp) + 1];
        Assert.That(jne.ConditionCode, Is.EqualTo(ConditionCode.ne));
        var mov = code.Take(code.IndexOf(cmp)).Last(i => i.Mnemonic == Mnemonic.Mov && i.Op0Kind == OpKind.Register &&
                                                         (i.Op0Register == Register.ECX || i.Op0Register == Register.RCX));
        Assert.That(mov.GetImmediate(1), Is.EqualTo(GuestLayout.FilledStub0));
        Assert.That(BitConverter.GetBytes(GuestLayout.FilledStub0), Is.EqualTo(new byte[] { 0x51, 0x41, 0x53, 0xb8, 0, 0, 0, 0 }),
            "push rcx; push r11; mov eax, 0 (Xen's stub 0)");
    }
}
