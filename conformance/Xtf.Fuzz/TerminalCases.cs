using FsCheck;
using FsCheck.Fluent;
using Xtf.Abi;
using Xtf.Hosting;
using static Xtf.Fuzz.FuzzArg;

namespace Xtf.Fuzz;

/// <summary>
/// Single-shot cases for the commands that end the domain (SCHEDOP_shutdown, remote_shutdown,
/// shutdown_code, VCPUOP_down of the last vCPU): a few event-channel steps, then the terminal step,
/// one boot per case. What is compared is every record printed and the shutdown reason Xen reports.
/// </summary>
public static class TerminalCases
{
    private static readonly uint[] Reasons = [0, 1, 2, 3, 4, 255, 0x1_03];

    public static readonly Gen<FuzzStep> TerminalStep = Gen.Frequency(
        (3, from r in Gen.Elements(Reasons) from p in FuzzGenerators.Pointer
            select StepWith(FuzzStep.Call((int)Hypercall.SchedOp, (int)SchedOp.Shutdown, p), BitConverter.GetBytes(r))),
        (2, from d in Gen.Elements((ushort)0, DomId.Self, (ushort)1) from r in Gen.Elements(Reasons)
            select StepWith(FuzzStep.Call((int)Hypercall.SchedOp, (int)SchedOp.RemoteShutdown, Buf(0)),
                [(byte)d, (byte)(d >> 8), 0, 0, .. BitConverter.GetBytes(r)])),
        (2, from r in Gen.Elements(Reasons) select StepWith(FuzzStep.Call((int)Hypercall.SchedOp, (int)SchedOp.ShutdownCode, Buf(0)), BitConverter.GetBytes(r))),
        (1, Gen.Constant(FuzzStep.Call((int)Hypercall.VcpuOp, (int)VcpuOp.Down, 0, 0))));

    private static FuzzStep StepWith(FuzzStep s, byte[] buffer) => s with { Buffer = buffer, ZeroBytes = buffer.Length };

    public static FuzzCase Generate(ulong seed) =>
        (from n in Gen.Choose(0, 3)
         from prefix in Gen.ArrayOf(FuzzGenerators.EvtchnStep, n)
         from last in TerminalStep
         select new FuzzCase([.. prefix, last])).Sample(4, new Rnd(seed, 0x9E37_79B9_7F4A_7C15UL), 1).First();

    /// <summary>The model's shutdown reason: the terminal step's own, or poweroff (or a latched code) when it fails and the kernel finishes.</summary>
    public static int ExpectedReason(FuzzCase c)
    {
        var s = c.Steps[^1];
        bool readable = s.BufferArgs != 0;
        uint U32(int at) => BitConverter.ToUInt32(s.Buffer, at);
        if (s.Hypercall == (int)Hypercall.VcpuOp) return 0;
        return s.Args[0] switch
        {
            (ulong)SchedOp.Shutdown => readable ? (int)(U32(0) & 0xFF) : 0,
            (ulong)SchedOp.RemoteShutdown => BitConverter.ToUInt16(s.Buffer, 0) == 0 ? (int)(U32(4) & 0xFF) : 0,
            (ulong)SchedOp.ShutdownCode => (int)(U32(0) & 0xFF),
            _ => throw new ArgumentException("not a terminal step"),
        };
    }

    public sealed record Outcome(string?[] Records, int? Reason, string Host);

    public static async Task<Outcome> RunAsync(ITestHost host, FuzzCase c, CancellationToken cancellation = default)
    {
        var image = ScriptKernel.Build([c]);
        var t = await host.BootAsync(new BootRequest(image.Name, image.Bytes, ScriptKernel.Vcpus, TimeSpan.FromSeconds(60)), cancellation);
        var run = FuzzEngine.Parse(host.Name, t, [c]);
        return new Outcome(run.Records, ConsoleProtocol.ShutdownReason(t.Lines), host.Name);
    }

    /// <summary>The records the model predicts: every step before the last, and the last one only if it fails (and so returns).</summary>
    public static string?[] ExpectedRecords(FuzzCase c)
    {
        var lines = XenModel.RunPrefix(c);
        var last = c.Steps[^1];
        bool fails = last.Hypercall == (int)Hypercall.SchedOp && (last.Args[0] == (ulong)SchedOp.ShutdownCode
            || (last.Args[0] == (ulong)SchedOp.Shutdown && last.BufferArgs == 0)
            || (last.Args[0] == (ulong)SchedOp.RemoteShutdown && BitConverter.ToUInt16(last.Buffer, 0) != 0));
        if (fails)
        {
            long rc = last.Args[0] == (ulong)SchedOp.ShutdownCode ? 0 : last.Args[0] == (ulong)SchedOp.Shutdown ? -Errno.EFAULT : -Errno.ESRCH;
            lines.Add($"@{c.Steps.Count - 1:x}:{rc}");
        }
        else lines.Add(null);
        return lines.ToArray();
    }
}
