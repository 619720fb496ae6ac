using System.Buffers.Binary;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using Xtf.Abi;
using static Xtf.Fuzz.FuzzArg;

namespace Xtf.Fuzz;

/// <summary>The areas a run can fuzz.</summary>
public enum FuzzArea { Evtchn, Vcpu, Sched, Console, Version, All }

/// <summary>
/// FsCheck generators of fuzz steps and cases: valid values, boundaries (ports 0, 63, 64, 1023,
/// 1024, 4095, 4096; vCPU ids 1 = the last, 2 = one past), garbage, and bad pointers
/// (non-canonical, inside Xen's hole, unmapped), weighted towards the interesting. Commands that
/// end the domain or block it for ever (SCHEDOP_shutdown, remote_shutdown, shutdown_code,
/// watchdog, block; VCPUOP_down and send_nmi on vCPU 0) are never generated.
/// </summary>
public static class FuzzGenerators
{
    public const int MaxSteps = 8;

    /// <summary>Pointers that fault: non-canonical, Xen's hole (access_ok refuses), unmapped low and high canonical addresses.</summary>
    public static readonly ulong[] BadPointers =
    [
        0x8000_0000_0000_0000, 0x0000_8000_0000_0000, 0xFFFF_8000_0000_0000, 0xFFFF_8300_0000_1000,
        0x0000_4000_0000_0000, 0x0000_7FFF_FFFF_F000, 0xFFFF_C900_0000_0000, 0xFFFF_FFFF_FFFF_F000,
    ];

    private static Gen<T> Pick<T>(params T[] values) => Gen.Elements(values);

    private static Gen<T> Weighted<T>(params (int Weight, Gen<T> Gen)[] choices) => Gen.Frequency(choices);

    /// <summary>A port number: mostly the few the sequence allocates, then boundaries and garbage.</summary>
    public static readonly Gen<uint> Port = Weighted(
        (12, Gen.Choose(1, 6).Select(p => (uint)p)),
        (2, Gen.Constant(0u)),
        (2, Pick(63u, 64u, 65u, 127u)),
        (2, Pick(1023u, 1024u, 4095u)),
        (2, Pick(4096u, 0x8000_0000u, 0xFFFF_FFFFu)));

    public static readonly Gen<uint> VcpuId = Weighted((8, Gen.Constant(0u)), (4, Gen.Constant(1u)), (1, Gen.Constant(2u)), (1, Gen.Constant(0xFFFF_FFFFu)));

    /// <summary>VIRQs that nothing raises during a run (no timer, no console ring), plus invalid numbers.</summary>
    public static readonly Gen<uint> VirqNumber = Weighted(
        (6, Pick(1u, 2u, 3u, 4u, 7u, 9u, 13u)),
        (2, Pick(5u, 6u, 10u, 11u, 12u, 14u, 15u, 16u, 23u)),
        (2, Pick(24u, 0x8000_0000u, 0xFFFF_FFFFu)));

    public static readonly Gen<ushort> DomainId = Weighted(
        (8, Gen.Constant(DomId.Self)), (2, Gen.Constant((ushort)0)), (1, Pick((ushort)1, DomId.Io, (ushort)0x7FF4, (ushort)0xFFFF)));

    /// <summary>The argument pointer: the scratch buffer, or a pointer that faults.</summary>
    public static readonly Gen<FuzzArg> Pointer = Weighted(
        (14, Gen.Constant(Buf(0))),
        (2, Pick(BadPointers).Select(p => Lit(p))));

    private static FuzzStep WithBuffer(FuzzStep s, byte[] buffer, int report, int zero = 0) =>
        s with { Buffer = buffer, ReportBytes = report, ZeroBytes = Math.Max(zero, buffer.Length) };

    private static byte[] Bytes(int size, params (int Offset, ulong Value, int Width)[] fields)
    {
        var b = new byte[size];
        foreach (var (offset, value, width) in fields)
            for (int i = 0; i < width; i++) b[offset + i] = (byte)(value >> (8 * i));
        return b;
    }

    private static Gen<FuzzStep> Evtchn(EvtchnOp op, Gen<byte[]> buffer, int report) =>
        from p in Pointer
        from b in buffer
        select WithBuffer(FuzzStep.Call((int)Hypercall.EventChannelOp, (int)op, p), b, report);

    public static readonly Gen<FuzzStep> EvtchnStep = Weighted(
        (6, Evtchn(EvtchnOp.BindIpi, VcpuId.Select(v => Bytes(8, (0, v, 4), (4, 0xEEEE_EEEE, 4))), 8)),
        (4, Evtchn(EvtchnOp.AllocUnbound, from d in DomainId from r in DomainId select Bytes(8, (0, d, 2), (2, r, 2), (4, 0xEEEE_EEEE, 4)), 8)),
        (3, Evtchn(EvtchnOp.BindInterdomain, from r in DomainId from p in Port select Bytes(12, (0, r, 2), (4, p, 4), (8, 0xEEEE_EEEE, 4)), 12)),
        (3, Evtchn(EvtchnOp.BindVirq, from q in VirqNumber from v in VcpuId select Bytes(12, (0, q, 4), (4, v, 4), (8, 0xEEEE_EEEE, 4)), 12)),
        (1, Evtchn(EvtchnOp.BindPirq, Pick(0u, 1u, 9u, 415u, 416u, 0xFFFF_FFFFu).Select(q => Bytes(12, (0, q, 4), (8, 0xEEEE_EEEE, 4))), 12)),
        (6, Evtchn(EvtchnOp.Send, Port.Select(p => Bytes(4, (0, p, 4))), 0)),
        (5, Evtchn(EvtchnOp.Unmask, Port.Select(p => Bytes(4, (0, p, 4))), 0)),
        (3, Evtchn(EvtchnOp.Close, Port.Select(p => Bytes(4, (0, p, 4))), 0)),
        (4, Evtchn(EvtchnOp.Status, from d in DomainId from p in Port select Bytes(24, (0, d, 2), (4, p, 4), (8, 0xAAAA_AAAA_AAAA_AAAA, 8), (16, 0xBBBB_BBBB_BBBB_BBBB, 8)), 24)),
        (2, Evtchn(EvtchnOp.BindVcpu, from p in Port from v in VcpuId select Bytes(8, (0, p, 4), (4, v, 4)), 0)),
        (1, Evtchn(EvtchnOp.Reset, DomainId.Select(d => Bytes(2, (0, d, 2))), 0)),
        (1, Evtchn(EvtchnOp.SetPriority, from p in Port from q in Pick(0u, 15u, 16u) select Bytes(8, (0, p, 4), (4, q, 4)), 0)),
        (1, Pick(15, 100, -1).Select(cmd => WithBuffer(FuzzStep.Call((int)Hypercall.EventChannelOp, cmd, Buf(0)), new byte[8], 0))),
        (4, Port.Select(p => FuzzStep.Guest(StepKind.MaskPort, (int)(p & 4095)))),
        (2, Port.Select(p => FuzzStep.Guest(StepKind.ClearMask, (int)(p & 4095)))),
        (2, Port.Select(p => FuzzStep.Guest(StepKind.ClearPending, (int)(p & 4095)))));

    private static Gen<FuzzStep> Vcpu(VcpuOp op, Gen<uint> vcpu, Gen<FuzzArg> arg, Gen<byte[]> buffer, int report, int zero = 0) =>
        from v in vcpu
        from p in arg
        from b in buffer
        select WithBuffer(FuzzStep.Call((int)Hypercall.VcpuOp, (int)op, v, p), b, report, zero);

    private static readonly Gen<byte[]> NoBuffer = Gen.Constant(Array.Empty<byte>());
    private static Gen<byte[]> U64Buffer(params ulong[] values) => Pick(values).Select(x => Bytes(8, (0, x, 8)));

    public static readonly Gen<FuzzStep> VcpuStep = Weighted(
        (3, Vcpu(VcpuOp.IsUp, VcpuId, Gen.Constant(Lit(0)), NoBuffer, 0)),
        (2, Vcpu(VcpuOp.Up, VcpuId, Gen.Constant(Lit(0)), NoBuffer, 0)),
        (2, Vcpu(VcpuOp.Down, Pick(1u, 2u, 0xFFFF_FFFFu), Gen.Constant(Lit(0)), NoBuffer, 0)),
        (3, Vcpu(VcpuOp.GetRunstateInfo, VcpuId, Pointer, Gen.Constant(Bytes(48, (0, 0xFFFF_FFFF, 4))), 4)),
        (3, Vcpu(VcpuOp.Initialise, VcpuId, Pointer,
            Pick(0UL, 0x8000_0000_0000_0000UL).Select(rip => Bytes(8, (0, rip, 8))), 0, zero: VcpuGuestContext.Layout.Size)),
        (2, Vcpu(VcpuOp.SetPeriodicTimer, VcpuId, Pointer, U64Buffer(0, 999_999, 1_000_000, 10_000_000, 0x4000_0000_0000_0000, ulong.MaxValue), 0)),
        (1, Vcpu(VcpuOp.StopPeriodicTimer, VcpuId, Gen.Constant(Lit(0)), NoBuffer, 0)),
        (2, Vcpu(VcpuOp.SetSingleshotTimer, VcpuId, Pointer,
            from t in Pick(0UL, 1UL, 0x7FFF_FFFF_FFFF_FFFFUL) from f in Pick(0u, 1u) select Bytes(16, (0, t, 8), (8, f, 4)), 0)),
        (1, Vcpu(VcpuOp.StopSingleshotTimer, VcpuId, Gen.Constant(Lit(0)), NoBuffer, 0)),
        (2, Vcpu(VcpuOp.RegisterVcpuInfo, VcpuId, Pointer,
            from m in Pick(1UL << 40, 0xDEAD_BEEFUL, ulong.MaxValue) from o in Pick(0u, 8u, 4032u, 4033u, 4040u, 0xFFFF_FFFFu)
            select Bytes(16, (0, m, 8), (8, o, 4)), 0)),
        (2, Vcpu(VcpuOp.RegisterRunstateMemoryArea, VcpuId, Pointer, Pick(BadPointers).Select(x => Bytes(8, (0, x, 8))), 0)),
        (2, Vcpu(VcpuOp.RegisterVcpuTimeMemoryArea, VcpuId, Pointer, Pick(BadPointers).Select(x => Bytes(8, (0, x, 8))), 0)),
        (1, Vcpu(VcpuOp.SendNmi, Pick(1u, 2u), Gen.Constant(Lit(0)), NoBuffer, 0)),
        (1, Vcpu(VcpuOp.SendNmi, VcpuId, Gen.Constant(Lit(1)), NoBuffer, 0)),
        (2, Vcpu(VcpuOp.GetPhysid, VcpuId, Pointer, Gen.Constant(Enumerable.Repeat((byte)0xEE, 8).ToArray()), 8)),
        (1, Pick(14, 0x7FFF_FFFF, -1).Select(cmd => FuzzStep.Call((int)Hypercall.VcpuOp, cmd, 0, 0))));

    public static readonly Gen<FuzzStep> SchedStep = Weighted(
        (2, Gen.Constant(FuzzStep.Call((int)Hypercall.SchedOp, (int)SchedOp.Yield, 0))),
        (4, from p in Pointer
            from list in Weighted((6, Gen.Constant(ScriptKernel.ScratchPointer(64))), (1, Pick(BadPointers)))
            from n in Pick(0u, 1u, 2u, 3u, 129u, 0xFFFF_FFFFu)
            from ports in Gen.ArrayOf(Port, 3)
            select WithBuffer(FuzzStep.Call((int)Hypercall.SchedOp, (int)SchedOp.Poll, p),
                Bytes(76, (0, list, 8), (8, n, 4), (16, 1, 8), (64, ports[0], 4), (68, ports[1], 4), (72, ports[2], 4)), 0)),
        (3, from p in Pointer
            from cpu in Pick(-1, 0, 1, 2, 255, 256, int.MaxValue, int.MinValue)
            select WithBuffer(FuzzStep.Call((int)Hypercall.SchedOp, (int)SchedOp.PinOverride, p), Bytes(4, (0, (ulong)(uint)cpu, 4)), 0)),
        (1, Pick(8, 100, -1).Select(cmd => FuzzStep.Call((int)Hypercall.SchedOp, cmd, 0))));

    public static readonly Gen<FuzzStep> ConsoleStep = Weighted(
        (4, from text in Gen.Choose(1, 12).SelectMany(n => Gen.ArrayOf(Gen.Choose('a', 'z').Select(c => (byte)c), n))
            from cut in Gen.Choose(0, 2)
            from p in Pointer
            select WithBuffer(FuzzStep.Call((int)Hypercall.ConsoleIo, (int)Abi.ConsoleIo.Write, Math.Max(0, text.Length - cut), p), text, 0)),
        (1, Pick(BadPointers).Select(p => FuzzStep.Call((int)Hypercall.ConsoleIo, (int)Abi.ConsoleIo.Write, 300, Lit(p)))),
        (1, Pick(0u, 10u, 0x8000_0000u).Select(n => FuzzStep.Call((int)Hypercall.ConsoleIo, (int)Abi.ConsoleIo.Read, (long)n, Buf(0)))),
        (1, Pick(2, 100, -1).Select(cmd => FuzzStep.Call((int)Hypercall.ConsoleIo, cmd, 0, Buf(0)))));

    private static Gen<FuzzStep> Version(XenVer cmd, Gen<FuzzArg> arg, byte[] buffer, int report) =>
        arg.Select(p => WithBuffer(FuzzStep.Call((int)Hypercall.XenVersion, (int)cmd, p), buffer, report));

    private static readonly byte[] Fill16 = Enumerable.Repeat((byte)0x55, 16).ToArray();

    public static readonly Gen<FuzzStep> VersionStep = Weighted(
        (1, Gen.Constant(FuzzStep.Call((int)Hypercall.XenVersion, (int)XenVer.Version, 0))),
        (2, Version(XenVer.Extraversion, Pointer, Fill16, 16)),
        (2, Pick(0L, 1L, 4096L).Select(a => FuzzStep.Call((int)Hypercall.XenVersion, (int)XenVer.Pagesize, a))),
        (2, Version(XenVer.PlatformParameters, Pointer, Fill16[..8], 8)),
        (2, Version(XenVer.GuestHandle, Pointer, Fill16, 16)),
        (3, from p in Pointer from idx in Pick(0u, 1u, 0xFFFF_FFFFu)
            select WithBuffer(FuzzStep.Call((int)Hypercall.XenVersion, (int)XenVer.GetFeatures, p), Bytes(8, (0, idx, 4), (4, 0x5555_5555, 4)), 8)),
        (1, Pick(11, 12, 0x7FFF_FFFF, -1).Select(cmd => FuzzStep.Call((int)Hypercall.XenVersion, cmd, 0))));

    public static Gen<FuzzStep> StepOf(FuzzArea area) => area switch
    {
        FuzzArea.Evtchn => EvtchnStep,
        FuzzArea.Vcpu => Weighted((6, VcpuStep), (2, EvtchnStep), (1, SchedStep)),
        FuzzArea.Sched => Weighted((3, SchedStep), (2, EvtchnStep)),
        FuzzArea.Console => ConsoleStep,
        FuzzArea.Version => VersionStep,
        _ => Weighted((6, EvtchnStep), (3, VcpuStep), (2, SchedStep), (1, ConsoleStep), (1, VersionStep)),
    };

    public static Gen<FuzzCase> CaseOf(FuzzArea area) =>
        from n in Gen.Choose(1, MaxSteps)
        from steps in Gen.ArrayOf(StepOf(area), n)
        select new FuzzCase(steps);

    /// <summary>The case a seed stands for: the same seed gives the same case on any machine.</summary>
    public static FuzzCase Generate(FuzzArea area, ulong caseSeed) =>
        CaseOf(area).Sample(MaxSteps, new Rnd(caseSeed, 0x9E37_79B9_7F4A_7C15UL), 1).First();

    /// <summary>The seed of case <paramref name="index"/> of a run seeded with <paramref name="runSeed"/> (splitmix64).</summary>
    public static ulong CaseSeed(ulong runSeed, int index)
    {
        ulong z = runSeed + 0x9E37_79B9_7F4A_7C15UL * (ulong)(index + 1);
        z = (z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D0_49BB_1331_11EBUL;
        return z ^ (z >> 31);
    }
}
