using System.Buffers.Binary;
using Xtf.Abi;
using Xtf.Guest;

namespace Xtf.Fuzz;

/// <summary>
/// The script-executor kernel: one image that carries a batch of fuzz cases in its data and runs
/// them in order. Before each case it resets what it can (EVTCHNOP_reset on itself, timers, pin
/// override, the pending/mask words, selectors and upcall flags). After each step it prints one
/// record line (see <see cref="StepRecord"/>), then acknowledges the step's selector and
/// upcall_pending flags, as an upcall handler would, so every record shows what that step raised.
/// </summary>
public static class ScriptKernel
{
    public const string Name = "test-pv64-fuzz-batch";
    public const int Vcpus = 2;
    public const int ScratchBytes = 3 * 4096;

    /// <summary>A 64-bit value in this range, as an argument or an 8-byte-aligned buffer word, becomes a pointer into the scratch buffer.</summary>
    public const ulong ScratchToken = 0x5C5C_0000_0000_0000;
    public static ulong ScratchPointer(int offset) => ScratchToken + (ulong)offset;
    public static bool IsScratchPointer(ulong value) => value >= ScratchToken && value < ScratchToken + ScratchBytes;

    private const int StepSize = 64;
    private const int OffKind = 0, OffNr = 4, OffArgs = 8, OffBlob = 48, OffLen = 52, OffReport = 54, OffZero = 56, OffFlags = 60;
    private const uint KindEnd = 0xFF;
    private const uint FlagCaseStart = 1;

    public static KernelImage Build(IReadOnlyList<FuzzCase> cases) => Build(cases, out _, out _);

    /// <summary>Builds the batch image; <paramref name="indexAddress"/> is the guest address of the
    /// step counter (the global index of the step being run), for the simulator's invariant checker;
    /// <paramref name="resetArgument"/> is the argument of the kernel's own EVTCHNOP_reset between cases.</summary>
    public static KernelImage Build(IReadOnlyList<FuzzCase> cases, out ulong indexAddress, out ulong resetArgument)
    {
        foreach (var c in cases)
        {
            if (c.Steps.Count == 0) throw new ArgumentException("a fuzz case has at least one step");
            foreach (var s in c.Steps) s.Validate();
        }
        (ulong Index, ulong Reset) at = default;
        var image = KernelBuilder.Build(Name, "Fuzz batch: hypercall scripts", g => at = Body(g, cases));
        (indexAddress, resetArgument) = at;
        return image;
    }

    private static (ulong Index, ulong Reset) Body(GuestProgram g, IReadOnlyList<FuzzCase> cases)
    {
        var d = g.Data;
        var shared = g.SharedInfo;
        var scratch = g.Alloc(ScratchBytes, 4096, "scratch");
        var before = g.Alloc(64, 8, "before");
        var shadow = g.Alloc(1024, 64, "shadow");
        var domidSelf = g.Alloc(8, 8, "domid_self");
        d.Write(domidSelf.Address, BitConverter.GetBytes(DomId.Self));
        var minusOne = g.Alloc(8, 8, "minus_one");
        d.Write(minusOne.Address, BitConverter.GetBytes(-1));

        // The script: one 64-byte entry per step, then an end marker; buffers deduplicated.
        int total = cases.Sum(c => c.Steps.Count);
        ulong table = d.Reserve((total + 1) * StepSize, 64);
        var blobs = new Dictionary<string, ulong>(StringComparer.Ordinal);
        ulong at = table;
        foreach (var c in cases)
        {
            for (int i = 0; i < c.Steps.Count; i++)
            {
                var s = c.Steps[i];
                var e = new byte[StepSize];
                BinaryPrimitives.WriteUInt32LittleEndian(e.AsSpan(OffKind), (uint)s.Kind);
                BinaryPrimitives.WriteUInt32LittleEndian(e.AsSpan(OffNr), (uint)s.Hypercall);
                for (int k = 0; k < 5; k++)
                    BinaryPrimitives.WriteUInt64LittleEndian(e.AsSpan(OffArgs + 8 * k), Resolve(s.IsBufferArg(k) ? ScratchPointer((int)s.Args[k]) : s.Args[k], scratch.Address));
                if (s.Buffer.Length > 0)
                {
                    var bytes = (byte[])s.Buffer.Clone();
                    for (int o = 0; o + 8 <= bytes.Length; o += 8)
                        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(o), Resolve(BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(o)), scratch.Address));
                    string key = Convert.ToHexString(bytes);
                    if (!blobs.TryGetValue(key, out ulong blob)) blobs[key] = blob = d.Add(bytes, 8);
                    BinaryPrimitives.WriteUInt32LittleEndian(e.AsSpan(OffBlob), checked((uint)blob));
                }
                BinaryPrimitives.WriteUInt16LittleEndian(e.AsSpan(OffLen), (ushort)s.Buffer.Length);
                BinaryPrimitives.WriteUInt16LittleEndian(e.AsSpan(OffReport), (ushort)s.ReportBytes);
                BinaryPrimitives.WriteUInt32LittleEndian(e.AsSpan(OffZero), (uint)s.ZeroBytes);
                BinaryPrimitives.WriteUInt32LittleEndian(e.AsSpan(OffFlags), i == 0 ? FlagCaseStart : 0);
                d.Write(at, e);
                at += StepSize;
            }
        }
        d.Write(at + OffKind, BitConverter.GetBytes(KindEnd));

        var step = g.Var("step", (long)table);
        var index = g.Var("index");
        var rc = g.Var("rc");
        var report = g.Var("report");
        var w = g.Var("w");
        var cur = g.Var("cur");
        long pendingBase = (long)shared.Address + SharedInfo.Layout.EvtchnPending;
        long maskBase = (long)shared.Address + SharedInfo.Layout.EvtchnMask;

        Val F(int offset, int width = 8) => Val.At(step, offset, width);

        var reset = g.Function("fuzz_reset", () =>
        {
            g.EvtchnOp(EvtchnOp.Reset, domidSelf.Ptr);
            g.VcpuOp(VcpuOp.StopPeriodicTimer, 0, 0);
            g.VcpuOp(VcpuOp.StopSingleshotTimer, 0, 0);
            g.Hypercall(Hypercall.SetTimerOp, 0);
            g.SchedOp(SchedOp.PinOverride, minusOne.Ptr);
            g.MemSet(pendingBase, 0, 1024);
            g.MemSet(shadow.Ptr, 0, 1024);
            for (int v = 0; v < Vcpus; v++)
            {
                g.Set(g.PendingSel(v), 0);
                g.Set(g.UpcallPending(v), 0);
            }
            g.Return();
        });

        for (int v = 0; v < Vcpus; v++) g.Set(g.UpcallMask(v), 1);     // no upcalls: the kernel reads the bits itself

        // Grow the port storage to the 2-level limit once, so every case sees the same valid_evtchns
        // (Xen never shrinks it); the first case's reset closes these ports again.
        var grow = g.Alloc(8, 8, "grow");
        d.Write(grow.Address, BitConverter.GetBytes(DomId.Self));
        d.Write(grow.Address + 2, BitConverter.GetBytes(DomId.Self));
        g.While(() => g.EvtchnOp(EvtchnOp.AllocUnbound, grow.Ptr) == 0, () => { });

        g.While(F(OffKind, 4) != (long)KindEnd, () =>
        {
            g.If(F(OffFlags, 4).AnyBits((long)FlagCaseStart), () => g.Call(reset));
            var kind = F(OffKind, 4);
            g.If(kind == (long)StepKind.Hypercall, () =>
            {
                g.If(F(OffZero, 4) != 0, () => g.MemSet(scratch.Ptr, 0, F(OffZero, 4)));
                g.MemCopy(scratch.Ptr, F(OffBlob, 4), F(OffLen, 2));
                g.Set(report, F(OffReport, 2));
                g.MemCopy(before.Ptr, scratch.Ptr, report);
                g.Set(rc, g.HypercallByNumber(F(OffNr, 4), F(OffArgs), F(OffArgs + 8), F(OffArgs + 16), F(OffArgs + 24), F(OffArgs + 32)));
            }, () =>
            {
                var port = F(OffArgs) & 4095;
                g.Set(report, 0);
                g.Set(rc, 0);
                g.Set(w, Val.Const((long)shared.Address) + ((port >> 6) << 3));
                var bit = Val.Const(1).ShiftLeft(port & 63);
                var pendingWord = Val.At(w, SharedInfo.Layout.EvtchnPending);
                var maskWord = Val.At(w, SharedInfo.Layout.EvtchnMask);
                g.If(kind == (long)StepKind.MaskPort, () => g.Set(maskWord, maskWord | bit));
                g.If(kind == (long)StepKind.ClearMask, () => g.Set(maskWord, maskWord & ~bit));
                g.If(kind == (long)StepKind.ClearPending, () => g.Set(pendingWord, pendingWord & ~bit));
            });

            g.Print("@%x:%d", index, rc);
            g.If((report != 0) & (g.MemCmp(before.Ptr, scratch.Ptr, report) != 0), () =>
            {
                g.Print(" b");
                g.For(w, 0, report, () => g.Print("%02x", Val.At(scratch.Ptr + w, 0, 1)));
            });
            foreach (var (letter, baseAddress, shadowOffset) in new[] { ('p', pendingBase, 0), ('m', maskBase, 512) })
            {
                g.For(w, 0, 64, () =>
                {
                    g.Set(cur, Val.At(Val.Const(baseAddress) + (w << 3)));
                    var old = Val.At(Val.Const((long)shadow.Address + shadowOffset) + (w << 3));
                    g.If(cur != old, () =>
                    {
                        g.Print($" {letter}%x=%x", w, cur);
                        g.Set(old, cur);
                    });
                });
            }
            for (int v = 0; v < Vcpus; v++)
            {
                var sel = g.PendingSel(v);
                var up = g.UpcallPending(v);
                g.If(sel != 0, () => { g.Print($" s{v}=%x", sel); g.Set(sel, 0); });
                g.If(up != 0, () => { g.Print($" u{v}"); g.Set(up, 0); });
            }
            g.Print("\n");
            g.Set(step, step + StepSize);
            g.Set(index, index + 1);
        });
        g.Print("fuzz: %d steps\n", index);
        g.Success();
        return (index.Address, domidSelf.Address);
    }

    private static ulong Resolve(ulong value, ulong scratch) =>
        IsScratchPointer(value) ? scratch + (value - ScratchToken) : value;
}
