using System.Buffers.Binary;
using Xtf.Abi;
using static Xtf.Abi.Tests.V;

namespace Xtf.Abi.Tests;

public class VcpuStructLayoutTests
{
    private static CpuUserRegs SampleRegs(int k) => new()
    {
        R15 = Q(k + 1), R14 = Q(k + 2), R13 = Q(k + 3), R12 = Q(k + 4), Rbp = Q(k + 5), Rbx = Q(k + 6),
        R11 = Q(k + 7), R10 = Q(k + 8), R9 = Q(k + 9), R8 = Q(k + 10), Rax = Q(k + 11), Rcx = Q(k + 12),
        Rdx = Q(k + 13), Rsi = Q(k + 14), Rdi = Q(k + 15), ErrorCode = D(k + 16), EntryVector = D(k + 17),
        Rip = Q(k + 18), Cs = W(k + 19), SavedUpcallMask = B(k + 20), Rflags = Q(k + 21), Rsp = Q(k + 22),
        Ss = W(k + 23), Es = W(k + 24), Ds = W(k + 25), Fs = W(k + 26), Gs = W(k + 27),
    };

    // docs/pv-abi.md §3.5 offsets, written relative to 'at'.
    private static Image PutRegs(Image img, int at, CpuUserRegs r) => img
        .U64(at + 0, r.R15).U64(at + 8, r.R14).U64(at + 16, r.R13).U64(at + 24, r.R12).U64(at + 32, r.Rbp)
        .U64(at + 40, r.Rbx).U64(at + 48, r.R11).U64(at + 56, r.R10).U64(at + 64, r.R9).U64(at + 72, r.R8)
        .U64(at + 80, r.Rax).U64(at + 88, r.Rcx).U64(at + 96, r.Rdx).U64(at + 104, r.Rsi).U64(at + 112, r.Rdi)
        .U32(at + 120, r.ErrorCode).U32(at + 124, r.EntryVector).U64(at + 128, r.Rip).U16(at + 136, r.Cs)
        .U8(at + 140, r.SavedUpcallMask).U64(at + 144, r.Rflags).U64(at + 152, r.Rsp).U16(at + 160, r.Ss)
        .U16(at + 168, r.Es).U16(at + 176, r.Ds).U16(at + 184, r.Fs).U16(at + 192, r.Gs);

    private static TrapInfo SampleTrap(int k) => new() { Vector = B(k), Flags = B(k + 1), Cs = W(k + 2), Address = Q(k + 3) };

    // docs/pv-abi.md §3.6 offsets, written relative to 'at'.
    private static Image PutTrap(Image img, int at, TrapInfo t) =>
        img.U8(at + 0, t.Vector).U8(at + 1, t.Flags).U16(at + 2, t.Cs).U64(at + 8, t.Address);

    [Test]
    public void CpuUserRegsLayout()
    {
        // docs/pv-abi.md §3.5: struct cpu_user_regs, 200 bytes.
        Spec.Layout<CpuUserRegs>(("Size", 200), ("R15", 0), ("R14", 8), ("R13", 16), ("R12", 24), ("Rbp", 32),
            ("Rbx", 40), ("R11", 48), ("R10", 56), ("R9", 64), ("R8", 72), ("Rax", 80), ("Rcx", 88), ("Rdx", 96),
            ("Rsi", 104), ("Rdi", 112), ("ErrorCode", 120), ("EntryVector", 124), ("Rip", 128), ("Cs", 136),
            ("SavedUpcallMask", 140), ("Rflags", 144), ("Rsp", 152), ("Ss", 160), ("Es", 168), ("Ds", 176),
            ("Fs", 184), ("Gs", 192));

        var r = SampleRegs(0);
        Spec.Codec(r, PutRegs(new Image(200), 0, r).ToArray());
        Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(r.ToBytes().AsSpan(CpuUserRegs.Layout.Rip)), Is.EqualTo(r.Rip));
    }

    [Test]
    public void TrapInfoLayout()
    {
        // docs/pv-abi.md §3.6: struct trap_info, 16 bytes.
        Spec.Layout<TrapInfo>(("Size", 16), ("Vector", 0), ("Flags", 1), ("Cs", 2), ("Address", 8));

        var t = SampleTrap(1);
        Spec.Codec(t, PutTrap(new Image(16), 0, t).ToArray());
        Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(t.ToBytes().AsSpan(TrapInfo.Layout.Cs)), Is.EqualTo(t.Cs));
    }

    [Test]
    public void VcpuGuestContextLayout()
    {
        // docs/pv-abi.md §3.7: struct vcpu_guest_context, 5168 bytes.
        Spec.Layout<VcpuGuestContext>(("Size", 5168), ("FpuCtxt", 0), ("Flags", 512), ("UserRegs", 520),
            ("TrapCtxt", 720), ("LdtBase", 4816), ("LdtEnts", 4824), ("GdtFrames", 4832), ("GdtEnts", 4960),
            ("KernelSs", 4968), ("KernelSp", 4976), ("Ctrlreg", 4984), ("Debugreg", 5048),
            ("EventCallbackEip", 5112), ("FailsafeCallbackEip", 5120), ("SyscallCallbackEip", 5128),
            ("VmAssist", 5136), ("FsBase", 5144), ("GsBaseKernel", 5152), ("GsBaseUser", 5160));

        var ctx = new VcpuGuestContext
        {
            FpuCtxt = Enumerable.Range(0, 512).Select(i => (byte)(i * 7 + 1)).ToArray(),
            Flags = Q(1), UserRegs = SampleRegs(30),
            TrapCtxt = Enumerable.Range(0, 256).Select(SampleTrap).ToArray(),
            LdtBase = Q(2), LdtEnts = Q(3), GdtFrames = Enumerable.Range(40, 16).Select(Q).ToArray(),
            GdtEnts = Q(4), KernelSs = Q(5), KernelSp = Q(6),
            Ctrlreg = Enumerable.Range(60, 8).Select(Q).ToArray(), Debugreg = Enumerable.Range(70, 8).Select(Q).ToArray(),
            EventCallbackEip = Q(7), FailsafeCallbackEip = Q(8), SyscallCallbackEip = Q(9), VmAssist = Q(10),
            FsBase = Q(11), GsBaseKernel = Q(12), GsBaseUser = Q(13),
        };

        var img = new Image(5168).Raw(0, ctx.FpuCtxt).U64(512, Q(1));
        PutRegs(img, 520, ctx.UserRegs);
        for (var i = 0; i < 256; i++)
            PutTrap(img, 720 + 16 * i, ctx.TrapCtxt[i]);
        img.U64(4816, Q(2)).U64(4824, Q(3));
        for (var i = 0; i < 16; i++)
            img.U64(4832 + 8 * i, ctx.GdtFrames[i]);
        img.U64(4960, Q(4)).U64(4968, Q(5)).U64(4976, Q(6));
        for (var i = 0; i < 8; i++)
            img.U64(4984 + 8 * i, ctx.Ctrlreg[i]).U64(5048 + 8 * i, ctx.Debugreg[i]);
        img.U64(5112, Q(7)).U64(5120, Q(8)).U64(5128, Q(9)).U64(5136, Q(10)).U64(5144, Q(11)).U64(5152, Q(12)).U64(5160, Q(13));
        Spec.Codec(ctx, img.ToArray());

        var bytes = ctx.ToBytes();
        Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(VcpuGuestContext.Layout.Ctrlreg + 8 * 3)), Is.EqualTo(ctx.Ctrlreg[3]));
        Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(VcpuGuestContext.Layout.UserRegs + CpuUserRegs.Layout.Rsp)), Is.EqualTo(ctx.UserRegs.Rsp));
        Assert.Throws<ArgumentException>(() => new VcpuGuestContext { FpuCtxt = new byte[513] }.ToBytes());
    }

    [Test]
    public void VcpuRunstateInfoLayout()
    {
        // docs/pv-abi.md §4.6: struct vcpu_runstate_info, 48 bytes.
        Spec.Layout<VcpuRunstateInfo>(("Size", 48), ("State", 0), ("StateEntryTime", 8), ("Time", 16));

        var r = new VcpuRunstateInfo { State = -3, StateEntryTime = Q(1), Time = [Q(2), Q(3), Q(4), Q(5)] };
        Spec.Codec(r, new Image(48).I32(0, -3).U64(8, Q(1)).U64(16, Q(2)).U64(24, Q(3)).U64(32, Q(4)).U64(40, Q(5)).ToArray());
        Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(r.ToBytes().AsSpan(VcpuRunstateInfo.Layout.Time + 8 * 3)), Is.EqualTo(Q(5)));
        Assert.That(VcpuRunstateInfo.UpdateFlag, Is.EqualTo(0x8000_0000_0000_0000UL), "docs/pv-abi.md §2.3: bit 63");
    }

    [Test]
    public void VcpuRegisterRunstateMemoryAreaLayout()
    {
        // docs/pv-abi.md §4.7: one u64 address, 8 bytes.
        Spec.Layout<VcpuRegisterRunstateMemoryArea>(("Size", 8), ("Addr", 0));
        var a = new VcpuRegisterRunstateMemoryArea { Addr = Q(1) };
        Spec.Codec(a, new Image(8).U64(0, Q(1)).ToArray());
        Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(a.ToBytes().AsSpan(VcpuRegisterRunstateMemoryArea.Layout.Addr)), Is.EqualTo(Q(1)));
    }

    [Test]
    public void VcpuSetPeriodicTimerLayout()
    {
        // docs/pv-abi.md §4.8: { u64 period_ns; }, 8 bytes.
        Spec.Layout<VcpuSetPeriodicTimer>(("Size", 8), ("PeriodNs", 0));
        var t = new VcpuSetPeriodicTimer { PeriodNs = Q(2) };
        Spec.Codec(t, new Image(8).U64(0, Q(2)).ToArray());
        Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(t.ToBytes().AsSpan(VcpuSetPeriodicTimer.Layout.PeriodNs)), Is.EqualTo(Q(2)));
    }

    [Test]
    public void VcpuSetSingleshotTimerLayout()
    {
        // docs/pv-abi.md §4.9: timeout_abs_ns @0, flags @8, pad to 16.
        Spec.Layout<VcpuSetSingleshotTimer>(("Size", 16), ("TimeoutAbsNs", 0), ("Flags", 8));
        var t = new VcpuSetSingleshotTimer { TimeoutAbsNs = Q(1), Flags = D(2) };
        Spec.Codec(t, new Image(16).U64(0, Q(1)).U32(8, D(2)).ToArray());
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(t.ToBytes().AsSpan(VcpuSetSingleshotTimer.Layout.Flags)), Is.EqualTo(D(2)));
    }

    [Test]
    public void VcpuRegisterVcpuInfoLayout()
    {
        // docs/pv-abi.md §4.11: mfn @0, offset @8, rsvd @12; 16 bytes.
        Spec.Layout<VcpuRegisterVcpuInfo>(("Size", 16), ("Mfn", 0), ("Offset", 8), ("Rsvd", 12));
        var r = new VcpuRegisterVcpuInfo { Mfn = Q(1), Offset = D(2), Rsvd = D(3) };
        Spec.Codec(r, new Image(16).U64(0, Q(1)).U32(8, D(2)).U32(12, D(3)).ToArray());
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(r.ToBytes().AsSpan(VcpuRegisterVcpuInfo.Layout.Offset)), Is.EqualTo(D(2)));
    }

    [Test]
    public void VcpuGetPhysidLayout()
    {
        // docs/pv-abi.md §4.13 names the struct only; Xen's vcpu.h defines it as a single u64 (APIC id low, ACPI id high).
        Spec.Layout<VcpuGetPhysid>(("Size", 8), ("PhysId", 0));
        var p = new VcpuGetPhysid { PhysId = 0x0000_0007_0000_0003 };
        Spec.Codec(p, new Image(8).U64(0, 0x0000_0007_0000_0003).ToArray());
        Assert.That((p.ApicId, p.AcpiId), Is.EqualTo((3u, 7u)));
    }

    [Test]
    public void VcpuRegisterTimeMemoryAreaLayout()
    {
        // docs/pv-abi.md §4.14: one u64 address, 8 bytes.
        Spec.Layout<VcpuRegisterTimeMemoryArea>(("Size", 8), ("Addr", 0));
        var a = new VcpuRegisterTimeMemoryArea { Addr = Q(3) };
        Spec.Codec(a, new Image(8).U64(0, Q(3)).ToArray());
        Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(a.ToBytes().AsSpan(VcpuRegisterTimeMemoryArea.Layout.Addr)), Is.EqualTo(Q(3)));
    }
}
