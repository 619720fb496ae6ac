using System.Buffers.Binary;
using Xtf.Abi;
using static Xtf.Abi.Tests.V;

namespace Xtf.Abi.Tests;

public class SharedStructLayoutTests
{
    internal static VcpuTimeInfo SampleTime(int k) => new()
    {
        Version = D(k + 1), Pad0 = D(k + 2), TscTimestamp = Q(k + 3), SystemTime = Q(k + 4),
        TscToSystemMul = D(k + 5), TscShift = -5, Flags = B(k + 6), Pad1 = W(k + 7),
    };

    // docs/pv-abi.md §3.1 offsets, written relative to 'at'.
    internal static Image PutTime(Image img, int at, VcpuTimeInfo t) => img
        .U32(at + 0, t.Version).U32(at + 4, t.Pad0).U64(at + 8, t.TscTimestamp).U64(at + 16, t.SystemTime)
        .U32(at + 24, t.TscToSystemMul).I8(at + 28, t.TscShift).U8(at + 29, t.Flags).U16(at + 30, t.Pad1);

    internal static VcpuInfo SampleVcpuInfo(int k) => new()
    {
        EvtchnUpcallPending = B(k + 10), EvtchnUpcallMask = B(k + 11), EvtchnPendingSel = Q(k + 12),
        Arch = new ArchVcpuInfo { Cr2 = Q(k + 13), Pad = Q(k + 14) },
        Time = SampleTime(k + 20),
    };

    // docs/pv-abi.md §3.2 offsets, written relative to 'at'.
    internal static Image PutVcpuInfo(Image img, int at, VcpuInfo v) =>
        PutTime(img.U8(at + 0, v.EvtchnUpcallPending).U8(at + 1, v.EvtchnUpcallMask).U64(at + 8, v.EvtchnPendingSel)
            .U64(at + 16, v.Arch.Cr2).U64(at + 24, v.Arch.Pad), at + 32, v.Time);

    [Test]
    public void VcpuTimeInfoLayout()
    {
        // docs/pv-abi.md §3.1: struct vcpu_time_info, 32 bytes.
        Spec.Layout<VcpuTimeInfo>(("Size", 32), ("Version", 0), ("Pad0", 4), ("TscTimestamp", 8), ("SystemTime", 16),
            ("TscToSystemMul", 24), ("TscShift", 28), ("Flags", 29), ("Pad1", 30));

        var t = SampleTime(0);
        Spec.Codec(t, PutTime(new Image(32), 0, t).ToArray());

        var bytes = t.ToBytes();
        Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(VcpuTimeInfo.Layout.SystemTime)), Is.EqualTo(t.SystemTime));
        Assert.That((sbyte)bytes[28], Is.EqualTo((sbyte)-5), "tsc_shift is signed");
    }

    [Test]
    public void ArchVcpuInfoLayout()
    {
        // docs/pv-abi.md §3.2: arch.cr2 at 16 and arch.pad at 24 of vcpu_info, i.e. 0 and 8 within the 16-byte arch part.
        Spec.Layout<ArchVcpuInfo>(("Size", 16), ("Cr2", 0), ("Pad", 8));

        var a = new ArchVcpuInfo { Cr2 = Q(1), Pad = Q(2) };
        Spec.Codec(a, new Image(16).U64(0, Q(1)).U64(8, Q(2)).ToArray());
        Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(a.ToBytes().AsSpan(ArchVcpuInfo.Layout.Cr2)), Is.EqualTo(Q(1)));
    }

    [Test]
    public void VcpuInfoLayout()
    {
        // docs/pv-abi.md §3.2: struct vcpu_info, 64 bytes.
        Spec.Layout<VcpuInfo>(("Size", 64), ("EvtchnUpcallPending", 0), ("EvtchnUpcallMask", 1), ("EvtchnPendingSel", 8),
            ("Arch", 16), ("ArchCr2", 16), ("ArchPad", 24), ("Time", 32));

        var v = SampleVcpuInfo(0);
        Spec.Codec(v, PutVcpuInfo(new Image(64), 0, v).ToArray());

        var bytes = v.ToBytes();
        Assert.That(bytes[VcpuInfo.Layout.EvtchnUpcallMask], Is.EqualTo(v.EvtchnUpcallMask));
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(VcpuInfo.Layout.Time)), Is.EqualTo(v.Time.Version));
    }

    [Test]
    public void ArchSharedInfoLayout()
    {
        // docs/pv-abi.md §3.3: arch part starts at 3088; fields every 8 bytes.
        Spec.Layout<ArchSharedInfo>(("Size", 48), ("MaxPfn", 0), ("PfnToMfnFrameListList", 8), ("NmiReason", 16),
            ("P2mCr3", 24), ("P2mVaddr", 32), ("P2mGeneration", 40));

        var a = new ArchSharedInfo { MaxPfn = Q(1), PfnToMfnFrameListList = Q(2), NmiReason = Q(3), P2mCr3 = Q(4), P2mVaddr = Q(5), P2mGeneration = Q(6) };
        Spec.Codec(a, new Image(48).U64(0, Q(1)).U64(8, Q(2)).U64(16, Q(3)).U64(24, Q(4)).U64(32, Q(5)).U64(40, Q(6)).ToArray());
        Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(a.ToBytes().AsSpan(ArchSharedInfo.Layout.P2mGeneration)), Is.EqualTo(Q(6)));
    }

    [Test]
    public void SharedInfoLayout()
    {
        // docs/pv-abi.md §3.3: struct shared_info, 3136 bytes used.
        Spec.Layout<SharedInfo>(("Size", 3136), ("VcpuInfo", 0), ("EvtchnPending", 2048), ("EvtchnMask", 2560),
            ("WcVersion", 3072), ("WcSec", 3076), ("WcNsec", 3080), ("WcSecHi", 3084), ("Arch", 3088),
            ("ArchMaxPfn", 3088), ("ArchPfnToMfnFrameListList", 3096), ("ArchNmiReason", 3104),
            ("ArchP2mCr3", 3112), ("ArchP2mVaddr", 3120), ("ArchP2mGeneration", 3128));

        var si = new SharedInfo
        {
            VcpuInfo = Enumerable.Range(0, 32).Select(i => SampleVcpuInfo(i * 3)).ToArray(),
            EvtchnPending = Enumerable.Range(0, 64).Select(i => Q(i)).ToArray(),
            EvtchnMask = Enumerable.Range(0, 64).Select(i => ~Q(i)).ToArray(),
            WcVersion = D(1), WcSec = D(2), WcNsec = D(3), WcSecHi = D(4),
            Arch = new ArchSharedInfo { MaxPfn = Q(71), PfnToMfnFrameListList = Q(72), NmiReason = Q(73), P2mCr3 = Q(74), P2mVaddr = Q(75), P2mGeneration = Q(76) },
        };

        var img = new Image(3136);
        for (var i = 0; i < 32; i++)
            PutVcpuInfo(img, 64 * i, si.VcpuInfo[i]);
        for (var w = 0; w < 64; w++)
            img.U64(2048 + 8 * w, si.EvtchnPending[w]).U64(2560 + 8 * w, si.EvtchnMask[w]);
        img.U32(3072, D(1)).U32(3076, D(2)).U32(3080, D(3)).U32(3084, D(4))
           .U64(3088, Q(71)).U64(3096, Q(72)).U64(3104, Q(73)).U64(3112, Q(74)).U64(3120, Q(75)).U64(3128, Q(76));
        Spec.Codec(si, img.ToArray());

        // Helper offsets: vCPU i at 64·i; port p's words at 2048 + 8·(p/64) and 2560 + 8·(p/64).
        Assert.That(SharedInfo.Layout.VcpuInfoAt(5), Is.EqualTo(320));
        Assert.That(SharedInfo.Layout.VcpuInfoAt(31), Is.EqualTo(1984));
        Assert.That(SharedInfo.Layout.EvtchnPendingWordAt(130), Is.EqualTo(2064));
        Assert.That(SharedInfo.Layout.EvtchnMaskWordAt(4095), Is.EqualTo(3064));
        Assert.Throws<ArgumentOutOfRangeException>(() => SharedInfo.Layout.VcpuInfoAt(32));
        Assert.Throws<ArgumentOutOfRangeException>(() => SharedInfo.Layout.EvtchnPendingWordAt(4096));

        var bytes = si.ToBytes();
        Assert.That(bytes[SharedInfo.Layout.VcpuInfoAt(7) + VcpuInfo.Layout.EvtchnUpcallMask], Is.EqualTo(si.VcpuInfo[7].EvtchnUpcallMask));
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(SharedInfo.Layout.WcSecHi)), Is.EqualTo(D(4)));
    }

    [Test]
    public void SharedInfoDefaultIsAllZeroAndShortArraysAreZeroFilled()
    {
        Assert.That(new SharedInfo().ToBytes(), Is.All.EqualTo((byte)0));

        var partial = new SharedInfo { EvtchnPending = [0x5], VcpuInfo = [new VcpuInfo { EvtchnUpcallMask = 1 }] };
        var bytes = partial.ToBytes();
        Assert.That(bytes[1], Is.EqualTo(1));
        Assert.That(bytes[2048], Is.EqualTo(5));
        Assert.That(bytes.Count(b => b != 0), Is.EqualTo(2));

        Assert.Throws<ArgumentException>(() => new SharedInfo { EvtchnMask = new ulong[65] }.ToBytes());
        Assert.Throws<ArgumentException>(() => new SharedInfo { VcpuInfo = new VcpuInfo[33] }.ToBytes());
    }

    [Test]
    public void StartInfoLayout()
    {
        // docs/pv-abi.md §3.4: struct start_info, 1168 bytes; console union dom0 view per docs/dom0.md §2.9.
        Spec.Layout<StartInfo>(("Size", 1168), ("Magic", 0), ("NrPages", 32), ("SharedInfo", 40), ("Flags", 48),
            ("StoreMfn", 56), ("StoreEvtchn", 64), ("ConsoleMfn", 72), ("ConsoleEvtchn", 80),
            ("ConsoleInfoOff", 72), ("ConsoleInfoSize", 76), ("PtBase", 88), ("NrPtFrames", 96), ("MfnList", 104),
            ("ModStart", 112), ("ModLen", 120), ("CmdLine", 128), ("FirstP2mPfn", 1152), ("NrP2mFrames", 1160));
        Assert.That(StartInfo.MagicLength, Is.EqualTo(32));
        Assert.That(StartInfo.CmdLineLength, Is.EqualTo(1024));

        var si = new StartInfo
        {
            Magic = "xen-3.0-x86_64", NrPages = Q(1), SharedInfo = Q(2), Flags = D(3), StoreMfn = Q(4), StoreEvtchn = D(5),
            ConsoleMfn = Q(6), ConsoleEvtchn = D(7), PtBase = Q(8), NrPtFrames = Q(9), MfnList = Q(10), ModStart = Q(11),
            ModLen = Q(12), CmdLine = "console=hvc0 loglevel=8", FirstP2mPfn = Q(13), NrP2mFrames = Q(14),
        };
        var img = new Image(1168).Ascii(0, "xen-3.0-x86_64").U64(32, Q(1)).U64(40, Q(2)).U32(48, D(3)).U64(56, Q(4))
            .U32(64, D(5)).U64(72, Q(6)).U32(80, D(7)).U64(88, Q(8)).U64(96, Q(9)).U64(104, Q(10)).U64(112, Q(11))
            .U64(120, Q(12)).Ascii(128, "console=hvc0 loglevel=8").U64(1152, Q(13)).U64(1160, Q(14));
        Spec.Codec(si, img.ToArray());

        var bytes = si.ToBytes();
        Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(StartInfo.Layout.NrPages)), Is.EqualTo(si.NrPages));
        Assert.That(bytes[StartInfo.Layout.CmdLine], Is.EqualTo((byte)'c'));
    }

    [Test]
    public void StartInfoDom0ConsoleViewAliasesTheDomUFields()
    {
        // docs/dom0.md §2.9: info_off @0x48 = 0x490, info_size @0x4c = 0x28.
        var si = new StartInfo { ConsoleInfoOff = 0x490, ConsoleInfoSize = 0x28 };
        var bytes = si.ToBytes();
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(0x48)), Is.EqualTo(0x490u));
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(0x4C)), Is.EqualTo(0x28u));
        Assert.That(si.ConsoleMfn, Is.EqualTo(0x0000_0028_0000_0490UL));

        var back = StartInfo.Read(bytes);
        Assert.That((back.ConsoleInfoOff, back.ConsoleInfoSize), Is.EqualTo((0x490u, 0x28u)));

        var changed = back with { ConsoleInfoSize = 0x30 };
        Assert.That((changed.ConsoleInfoOff, changed.ConsoleInfoSize), Is.EqualTo((0x490u, 0x30u)));
    }

    [Test]
    public void StartInfoStrings()
    {
        // A full-length magic carries no terminator; reading stops at the array end.
        var full = new string('m', 32);
        Assert.That(StartInfo.Read(new StartInfo { Magic = full }.ToBytes()).Magic, Is.EqualTo(full));

        // Bytes after the first NUL are not part of the string.
        var img = new Image(1168).Ascii(128, "abc").Ascii(132, "zzz").ToArray();
        Assert.That(StartInfo.Read(img).CmdLine, Is.EqualTo("abc"));

        // High bytes survive a round trip one-to-one.
        Assert.That(StartInfo.Read(new StartInfo { CmdLine = "\u00e9\u00ff" }.ToBytes()).CmdLine, Is.EqualTo("\u00e9\u00ff"));

        Assert.Throws<ArgumentException>(() => new StartInfo { Magic = new string('m', 33) }.ToBytes());
        Assert.Throws<ArgumentException>(() => new StartInfo { CmdLine = new string('c', 1025) }.ToBytes());
        Assert.Throws<ArgumentException>(() => new StartInfo { CmdLine = "\u20ac" }.ToBytes());
    }

    [Test]
    public void Dom0VgaConsoleInfoLayout()
    {
        // docs/dom0.md §2.9: dom0_vga_console_info, 40 bytes, union at 4.
        Spec.Layout<Dom0VgaConsoleInfo>(("Size", 40), ("VideoType", 0),
            ("FontHeight", 4), ("CursorX", 6), ("CursorY", 8), ("Rows", 10), ("Columns", 12),
            ("Width", 4), ("Height", 6), ("BytesPerLine", 8), ("BitsPerPixel", 10), ("LfbBase", 12), ("LfbSize", 16),
            ("RedPos", 20), ("RedSize", 21), ("GreenPos", 22), ("GreenSize", 23),
            ("BluePos", 24), ("BlueSize", 25), ("RsvdPos", 26), ("RsvdSize", 27),
            ("GblCaps", 28), ("ModeAttrs", 32), ("Pad", 34), ("ExtLfbBase", 36));

        var v = new Dom0VgaConsoleInfo
        {
            VideoType = 0x23, Width = W(1), Height = W(2), BytesPerLine = W(3), BitsPerPixel = W(4), LfbBase = D(5),
            LfbSize = D(6), RedPos = B(7), RedSize = B(8), GreenPos = B(9), GreenSize = B(10), BluePos = B(11),
            BlueSize = B(12), RsvdPos = B(13), RsvdSize = B(14), GblCaps = D(15), ModeAttrs = W(16), Pad = W(17),
            ExtLfbBase = D(18),
        };
        var img = new Image(40).U8(0, 0x23).U16(4, W(1)).U16(6, W(2)).U16(8, W(3)).U16(10, W(4)).U32(12, D(5))
            .U32(16, D(6)).U8(20, B(7)).U8(21, B(8)).U8(22, B(9)).U8(23, B(10)).U8(24, B(11)).U8(25, B(12))
            .U8(26, B(13)).U8(27, B(14)).U32(28, D(15)).U16(32, W(16)).U16(34, W(17)).U32(36, D(18));
        Spec.Codec(v, img.ToArray());
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(v.ToBytes().AsSpan(Dom0VgaConsoleInfo.Layout.ExtLfbBase)), Is.EqualTo(D(18)));

        // Text-mode view: font_height @4, cursor_x @6, cursor_y @8, rows @10, columns @12.
        var text = Dom0VgaConsoleInfo.Read(new Image(40).U8(0, 3).U16(4, 16).U16(6, 7).U16(8, 9).U16(10, 25).U16(12, 80).ToArray());
        Assert.That((text.FontHeight, text.CursorX, text.CursorY, text.Rows, text.Columns),
            Is.EqualTo(((ushort)16, (ushort)7, (ushort)9, (ushort)25, (ushort)80)));
        var built = new Dom0VgaConsoleInfo { VideoType = 3, FontHeight = 16, CursorX = 7, CursorY = 9, Rows = 25, Columns = 80 };
        Spec.SameBytes(built.ToBytes(), new Image(40).U8(0, 3).U16(4, 16).U16(6, 7).U16(8, 9).U16(10, 25).U16(12, 80).ToArray(), "text-mode view");
    }

    [Test]
    public void Dom0VgaConsoleInfoTextModeMatchesMeasuredBytes()
    {
        // docs/dom0.md §2.9 measured: 03 00 00 00 10 00 00 00 00 00 19 00 50 00 00 00, rest zero.
        byte[] measured = [0x03, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0x19, 0, 0x50, 0, 0, 0, .. new byte[24]];
        var v = Dom0VgaConsoleInfo.Read(measured);
        Assert.That((v.VideoType, v.FontHeight, v.CursorX, v.CursorY, v.Rows, v.Columns),
            Is.EqualTo((Dom0VgaConsoleInfo.TypeTextMode3, (ushort)16, (ushort)0, (ushort)0, (ushort)25, (ushort)80)));

        var built = new Dom0VgaConsoleInfo { VideoType = 3, FontHeight = 16, Rows = 25, Columns = 80 };
        Spec.SameBytes(built.ToBytes(), measured, "text-mode console info");
    }
}
